import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, rawStackConfig } from "../config/load";
import { parseStackConfig, StackConfigError } from "../config/schema";

/**
 * `npm run check:config -- <stack>`: validates Pulumi.<stack>.yaml without the Pulumi CLI,
 * Azure or a state backend. It hands the stack file's values to the program's own reader
 * (config/load.ts rawStackConfig, then config/schema.ts parseStackConfig) in the form Pulumi
 * passes them to a program (scalars as strings, structured values as JSON), so it prints
 * exactly the problems `pulumi up` would stop on, and passes exactly when the program's
 * validation would. It also counts the values the file marks as PLACEHOLDER, which are valid
 * but are examples to replace before deploying.
 */

const ROOT = path.resolve(__dirname, "..");
const STACK_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

function stacks(): string[] {
    return readdirSync(ROOT).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => s !== undefined).sort();
}

function usage(problem: string): never {
    process.stderr.write(`check:config: ${problem}\nUsage: npm run check:config -- <stack>   (stacks here: ${stacks().join(", ")})\n`);
    process.exit(2);
}

/** What Pulumi hands a program for a stack file's `config:` map: every value as a string, structured ones as JSON. */
export function configAsPulumiPassesIt(config: Record<string, unknown>): { all: Record<string, string>; encrypted: string[] } {
    const all: Record<string, string> = {};
    const encrypted: string[] = [];
    for (const [key, value] of Object.entries(config)) {
        if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && "secure" in value) {
            encrypted.push(key);
            continue;
        }
        all[key] = value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
    }
    return { all, encrypted };
}

function main(): void {
    const arg = process.argv[2];
    if (!arg) usage("name the stack to check");
    // npm runs scripts from the package root; a path is meant relative to where the user typed it.
    const file = arg.endsWith(".yaml") ? path.resolve(process.env.INIT_CWD ?? process.cwd(), arg) : path.join(ROOT, `Pulumi.${arg}.yaml`);
    if (!arg.endsWith(".yaml") && !STACK_NAME.test(arg)) usage(`${JSON.stringify(arg)} is not a stack name`);
    const relative = path.relative(ROOT, file);
    const shown = relative && !relative.startsWith("..") ? relative : file;
    if (!existsSync(file)) usage(`${shown} does not exist`);

    const text = readFileSync(file, "utf8");
    let doc: unknown;
    try {
        doc = parse(text);
    } catch (e) {
        process.stderr.write(`${shown}: not valid YAML: ${(e as Error).message}\n`);
        process.exit(1);
    }
    const config = (doc as { config?: unknown } | null)?.config;
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
        process.stderr.write(`${shown}: has no config: map (every stack sets at least ${CONFIG_NAMESPACE}:tier)\n`);
        process.exit(1);
    }
    const { all, encrypted } = configAsPulumiPassesIt(config as Record<string, unknown>);
    try {
        const parsed = parseStackConfig(rawStackConfig(all));
        const placeholders = text.split("\n").filter((l) => /#\s*PLACEHOLDER\b/.test(l)).length;
        const lines = [`${shown}: valid (tier ${parsed.tier}, team ${parsed.team}, location ${parsed.location}).`];
        if (encrypted.length) lines.push(`  Encrypted values are not checked offline (pulumi up decrypts them): ${encrypted.join(", ")}.`);
        if (placeholders) lines.push(`  ${placeholders} line(s) are marked PLACEHOLDER: example ids and addresses to replace with your own before pulumi up.`);
        process.stdout.write(`${lines.join("\n")}\n`);
    } catch (e) {
        if (!(e instanceof StackConfigError)) throw e;
        process.stderr.write(`${shown}: pulumi up would stop here.\n${e.message}\n`);
        process.exit(1);
    }
}

main();
