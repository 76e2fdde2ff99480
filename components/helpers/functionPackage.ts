import * as pulumi from "@pulumi/pulumi";
import * as esbuild from "esbuild";
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/**
 * The rotation function's deployable package: one esbuild bundle plus host.json and a
 * package.json whose `main` points at the bundle. `npm run build:function` builds it into
 * functions/rotation/dist (buildFunctionPackage); the program only reads that build
 * (readFunctionPackage), because a program writes no file while it loads, and bundling the
 * function takes seconds. The stamp records the hash of the sources the build came from, so a
 * stale build fails the run instead of deploying old code.
 */

const COMPONENT = "buildFunctionPackage";

/** Bump when the bundling options below change, so old stamps stop matching. */
const BUILD_RECIPE = "esbuild-cjs-node22-v2";

/** The bundle's file name inside the package, and what package.json `main` names. */
export const BUNDLE_FILE = "index.js";

const STAMP_FILE = ".build-stamp";

/**
 * Modules that must stay out of the bundle:
 * - `@azure/functions-core` is injected by the Functions Node worker at run time (it is not on npm);
 * - `pg-native` is an optional native binding that `pg` only loads when asked to;
 * - `cloudflare:sockets` is `pg`'s Workers-only transport.
 */
export const EXTERNAL_MODULES = ["@azure/functions-core", "pg-native", "cloudflare:sockets"];

export interface FunctionPackageOptions {
    /** Optional. The function project directory. Defaults to functions/rotation at the repository root. */
    projectDir?: string;
    /** Optional. Entry module, relative to projectDir. Defaults to src/index.ts. */
    entry?: string;
    /** Optional. Output directory. Defaults to <projectDir>/dist. */
    outDir?: string;
    /** Optional. Rebuild even when the stamp matches. Defaults to false. */
    force?: boolean;
}

export interface FunctionPackage {
    /** The package contents (bundle, host.json, package.json), ready for a storage blob. */
    archive: pulumi.asset.AssetArchive;
    /** SHA-256 of everything the bundle was built from; changes exactly when the package does. */
    hash: string;
    /** Absolute path of the output directory. */
    dir: string;
    /** Whether this call ran esbuild (false when the stamp matched). */
    built: boolean;
}

const REPO_ROOT = resolve(__dirname, "..", "..");

function fail(message: string): never {
    throw new pulumi.RunError(`${COMPONENT}: ${message}`);
}

function listFiles(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => join(d.parentPath, d.name))
        .sort();
}

/** The nearest package-lock.json at or above `dir`: bundled dependencies resolve through it. */
function findLockFile(dir: string): string | undefined {
    for (let d = dir; ; d = dirname(d)) {
        const candidate = join(d, "package-lock.json");
        if (existsSync(candidate)) return candidate;
        if (dirname(d) === d) return undefined;
    }
}

/**
 * Hashes every input of the build: the sources under src/, host.json, the project's
 * package.json, the lock file the dependencies resolve through, the esbuild version
 * and the recipe. Paths are hashed relative to the project so a moved checkout still matches.
 */
export function hashFunctionSources(projectDir: string, entry = "src/index.ts"): string {
    const h = createHash("sha256").update(`${BUILD_RECIPE}\0${esbuild.version}\0${entry}\0`);
    const srcRoot = join(projectDir, dirname(entry).split(sep)[0] || ".");
    const inputs = [...listFiles(srcRoot), join(projectDir, "host.json"), join(projectDir, "package.json")];
    const lock = findLockFile(projectDir);
    if (lock) inputs.push(lock);
    for (const file of inputs) {
        if (!existsSync(file)) continue;
        h.update(relative(projectDir, file)).update("\0").update(readFileSync(file)).update("\0");
    }
    return h.digest("hex");
}

function readStamp(outDir: string): string | undefined {
    try {
        return readFileSync(join(outDir, STAMP_FILE), "utf8").trim();
    } catch {
        return undefined;
    }
}

function packageJson(projectDir: string): string {
    let name = "rotation-function";
    let version = "1.0.0";
    const own = join(projectDir, "package.json");
    if (existsSync(own)) {
        const parsed = JSON.parse(readFileSync(own, "utf8")) as { name?: string; version?: string };
        name = parsed.name ?? name;
        version = parsed.version ?? version;
    }
    // No "type": the bundle is CommonJS, which the v4 Node worker loads from `main`.
    return `${JSON.stringify({ name, version, main: BUNDLE_FILE }, null, 2)}\n`;
}

function build(projectDir: string, entryPath: string, outDir: string, hash: string): void {
    // Build next to the output and move files in one by one, so a concurrent run of the
    // program never sees a half-written bundle; the stamp goes last.
    const staging = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    mkdirSync(staging, { recursive: true });
    try {
        const result = esbuild.buildSync({
            entryPoints: [entryPath],
            outfile: join(staging, BUNDLE_FILE),
            bundle: true,
            platform: "node",
            target: "node22",
            format: "cjs",
            external: EXTERNAL_MODULES,
            // Whitespace and syntax only: a smaller package starts faster, while kept identifiers
            // keep stack traces in Application Insights readable.
            minifyWhitespace: true,
            minifySyntax: true,
            keepNames: true,
            sourcemap: false,
            legalComments: "none",
            logLevel: "silent",
            absWorkingDir: projectDir,
        });
        if (result.errors.length > 0) fail(`esbuild failed: ${result.errors.map((e) => e.text).join("; ")}`);
        writeFileSync(join(staging, "host.json"), readFileSync(join(projectDir, "host.json")));
        writeFileSync(join(staging, "package.json"), packageJson(projectDir));
        mkdirSync(outDir, { recursive: true });
        for (const file of [BUNDLE_FILE, "host.json", "package.json"]) renameSync(join(staging, file), join(outDir, file));
        writeFileSync(join(outDir, STAMP_FILE), `${hash}\n`);
    } catch (e) {
        if (e instanceof pulumi.RunError) throw e;
        const errors = (e as { errors?: esbuild.Message[] }).errors;
        fail(`esbuild failed for ${relative(REPO_ROOT, entryPath)}: ${errors?.length ? errors.map((m) => `${m.location?.file ?? ""}:${m.location?.line ?? ""} ${m.text}`).join("; ") : (e as Error).message}`);
    } finally {
        rmSync(staging, { recursive: true, force: true });
    }
}

/**
 * Builds (or reuses) the function package and returns it as an archive: npm run build:function.
 * Throws pulumi.RunError when the entry or host.json is missing, or esbuild fails.
 */
export function buildFunctionPackage(options: FunctionPackageOptions = {}): FunctionPackage {
    const projectDir = resolve(options.projectDir ?? join(REPO_ROOT, "functions", "rotation"));
    const entry = options.entry ?? join("src", "index.ts");
    const entryPath = join(projectDir, entry);
    const outDir = resolve(options.outDir ?? join(projectDir, "dist"));
    if (!existsSync(entryPath) || !statSync(entryPath).isFile()) {
        fail(`entry ${relative(REPO_ROOT, entryPath) || entryPath} does not exist; the function project must have ${entry} registering its functions with @azure/functions (v4 model)`);
    }
    if (!existsSync(join(projectDir, "host.json"))) {
        fail(`${relative(REPO_ROOT, join(projectDir, "host.json"))} does not exist; the Functions host needs it at the package root`);
    }
    const hash = hashFunctionSources(projectDir, entry);
    const upToDate = !options.force && readStamp(outDir) === hash && [BUNDLE_FILE, "host.json", "package.json"].every((f) => existsSync(join(outDir, f)));
    if (!upToDate) build(projectDir, entryPath, outDir, hash);
    return { archive: archiveOf(outDir), hash, dir: outDir, built: !upToDate };
}

/**
 * The package `npm run build:function` built, as an archive, without writing anything.
 * Throws pulumi.RunError when it is missing or older than the sources it must come from.
 */
export function readFunctionPackage(options: Pick<FunctionPackageOptions, "projectDir" | "entry" | "outDir"> = {}): FunctionPackage {
    const projectDir = resolve(options.projectDir ?? join(REPO_ROOT, "functions", "rotation"));
    const entry = options.entry ?? join("src", "index.ts");
    const outDir = resolve(options.outDir ?? join(projectDir, "dist"));
    const hash = hashFunctionSources(projectDir, entry);
    const stamp = readStamp(outDir);
    if (stamp === undefined || ![BUNDLE_FILE, "host.json", "package.json"].every((f) => existsSync(join(outDir, f)))) {
        fail(`${relative(REPO_ROOT, outDir) || outDir} holds no built function package; run npm run build:function`);
    }
    if (stamp !== hash) fail(`${relative(REPO_ROOT, outDir) || outDir} was built from other sources than ${relative(REPO_ROOT, projectDir) || projectDir} holds now; run npm run build:function`);
    return { archive: archiveOf(outDir), hash, dir: outDir, built: false };
}

function archiveOf(outDir: string): pulumi.asset.AssetArchive {
    return new pulumi.asset.AssetArchive({
        [BUNDLE_FILE]: new pulumi.asset.FileAsset(join(outDir, BUNDLE_FILE)),
        "host.json": new pulumi.asset.FileAsset(join(outDir, "host.json")),
        "package.json": new pulumi.asset.FileAsset(join(outDir, "package.json")),
    });
}

/** A function the package registers with the Functions host, as the worker would see it. */
export interface RegisteredFunction {
    name: string;
    /** The trigger binding's type, e.g. eventGridTrigger, timerTrigger, httpTrigger. */
    trigger: string;
}

/**
 * Loads a built bundle with a stand-in for the worker's `@azure/functions-core` and returns the
 * functions it registers. Used by tests to prove the Event Grid subscription names a function
 * the code really registers; too slow for the program itself, which takes the name as an arg.
 */
export function registeredFunctions(bundlePath: string): RegisteredFunction[] {
    const found: RegisteredFunction[] = [];
    const core = {
        setProgrammingModel: () => undefined,
        registerHook: () => ({ dispose: () => undefined }),
        log: () => undefined,
        registerFunction: (metadata: { name: string; bindings: Record<string, { type: string; direction: string }> }) => {
            const trigger = Object.values(metadata.bindings).find((b) => b.direction === "in" && /Trigger$/.test(b.type));
            found.push({ name: metadata.name, trigger: trigger?.type ?? "unknown" });
            return { dispose: () => undefined };
        },
    };
    const realRequire = createRequire(bundlePath);
    const fakeRequire = (id: string) => (id === "@azure/functions-core" ? core : realRequire(id));
    const module = { exports: {} };
    const code = readFileSync(bundlePath, "utf8");
    new Function("require", "module", "exports", "__filename", "__dirname", code)(fakeRequire, module, module.exports, bundlePath, dirname(bundlePath));
    return found;
}
