/**
 * Loads the real Pulumi.<stack>.yaml files and evaluates the real program under
 * mocks, the way `pulumi up` would hand them over: project defaults from
 * Pulumi.yaml, then stack values, every value serialized as Pulumi serializes it.
 */
import "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { installMockCloud, record, Recording } from "./mocks";
import { runProgram } from "../program";

export const STACKS = ["dev", "staging", "prod"] as const;
export type StackName = (typeof STACKS)[number];

const ROOT = join(__dirname, "..");
const NAMESPACE = "keyvault-platform";

interface ProjectFile {
    config: Record<string, { description?: string; default?: unknown; type?: string }>;
}

export function projectFile(): ProjectFile {
    return parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as ProjectFile;
}

/** The stack file's config, keyed without namespace, as typed YAML values. */
export function stackYaml(stack: StackName): Record<string, unknown> {
    const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc.config)) {
        if (k.startsWith(`${NAMESPACE}:`)) out[k.slice(NAMESPACE.length + 1)] = v;
    }
    return out;
}

/** Raw config (project defaults overlaid by stack values); `mutate` edits it before serialization. */
export function rawConfigFor(stack: StackName, mutate?: (raw: Record<string, unknown>) => void): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [k, decl] of Object.entries(projectFile().config)) {
        if (decl.default !== undefined) raw[k] = decl.default;
    }
    Object.assign(raw, structuredClone(stackYaml(stack)));
    mutate?.(raw);
    return raw;
}

/** Pulumi passes every config value to the program as a string; structured ones as JSON. */
export function asPulumiConfig(raw: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
        out[`${NAMESPACE}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return out;
}

/**
 * Evaluates the real program for a stack under mocks and returns what it registered:
 * through program.ts, which index.ts calls for `pulumi up`.
 */
export async function runStack(
    stack: StackName,
    mutate?: (raw: Record<string, unknown>) => void,
): Promise<Recording & { outputs: Record<string, unknown> }> {
    // The stack name is the Environment tag, as under `pulumi up -s <stack>`.
    await installMockCloud("keyvault-platform", stack, false);
    pulumi.runtime.setAllConfig(asPulumiConfig(rawConfigFor(stack, mutate)));
    const holder: { outputs: Record<string, pulumi.Output<unknown>> } = { outputs: {} };
    const rec = await record(() => {
        holder.outputs = runProgram();
    });
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(holder.outputs)) {
        resolved[k] = await new Promise<unknown>((resolve) => v.apply((x) => resolve(x)));
    }
    // Other specs build components on the "test" stack the mocks start with.
    await installMockCloud("keyvault-platform", "test", false);
    return Object.assign(rec, { outputs: resolved });
}
