import * as esbuild from "esbuild";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { BUNDLE_FILE, hashFunctionSources, isBuilt, PACKAGE_DIR, PACKAGE_FILES, STAMP_FILE } from "./stamp";

/**
 * The deployable Functions package: one esbuild bundle plus host.json and a package.json whose
 * `main` points at the bundle, in dist/. `npm run build` here (or `npm run build:function` at the
 * repository root) runs it; the program only reads the result, because a program writes no file
 * while it loads, and bundling takes seconds. Skips the bundling when the stamp matches.
 */

/**
 * Modules that must stay out of the bundle:
 * - `@azure/functions-core` is injected by the Functions Node worker at run time (it is not on npm);
 * - `pg-native` is an optional native binding that `pg` only loads when asked to;
 * - `cloudflare:sockets` is `pg`'s Workers-only transport.
 */
export const EXTERNAL_MODULES = ["@azure/functions-core", "pg-native", "cloudflare:sockets"];

export interface BuildOptions {
    /** Optional. The function project directory. Defaults to this package. */
    projectDir?: string;
    /** Optional. Entry module, relative to projectDir. Defaults to src/index.ts. */
    entry?: string;
    /** Optional. Output directory. Defaults to <projectDir>/dist. */
    outDir?: string;
    /** Optional. Rebuild even when the stamp matches. Defaults to false. */
    force?: boolean;
}

export interface BuiltPackage {
    /** SHA-256 of everything the bundle was built from; changes exactly when the package does. */
    hash: string;
    /** Absolute path of the output directory. */
    dir: string;
    /** Whether this call ran esbuild (false when the stamp matched). */
    built: boolean;
}

/** A build that cannot succeed: a missing entry or host.json, or a compile error. */
export class FunctionBuildError extends Error {
    constructor(message: string) {
        super(`buildFunctionPackage: ${message}`);
        this.name = "FunctionBuildError";
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
    // No "type": the bundle is CommonJS, which the v4 Node worker loads from `main`. No
    // dependencies: everything is in the bundle.
    return `${JSON.stringify({ name, version, main: BUNDLE_FILE }, null, 2)}\n`;
}

function bundle(projectDir: string, entryPath: string, outDir: string, hash: string): void {
    // Build next to the output and move files in one by one, so a concurrent run of the
    // program never sees a half-written bundle; the stamp goes last.
    const staging = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    mkdirSync(staging, { recursive: true });
    try {
        esbuild.buildSync({
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
        writeFileSync(join(staging, "host.json"), readFileSync(join(projectDir, "host.json")));
        writeFileSync(join(staging, "package.json"), packageJson(projectDir));
        mkdirSync(outDir, { recursive: true });
        for (const file of PACKAGE_FILES) renameSync(join(staging, file), join(outDir, file));
        writeFileSync(join(outDir, STAMP_FILE), `${hash}\n`);
    } catch (e) {
        const errors = (e as { errors?: esbuild.Message[] }).errors;
        throw new FunctionBuildError(`esbuild failed for ${relative(projectDir, entryPath)}: ${errors?.length
            ? errors.map((m) => `${m.location?.file ?? ""}:${m.location?.line ?? ""} ${m.text}`).join("; ")
            : (e as Error).message}`);
    } finally {
        rmSync(staging, { recursive: true, force: true });
    }
}

/** Builds (or reuses) the deployable package. Throws FunctionBuildError when it cannot. */
export function buildFunctionPackage(options: BuildOptions = {}): BuiltPackage {
    const projectDir = resolve(options.projectDir ?? PACKAGE_DIR);
    const entry = options.entry ?? join("src", "index.ts");
    const entryPath = join(projectDir, entry);
    const outDir = resolve(options.outDir ?? join(projectDir, "dist"));
    if (!existsSync(entryPath) || !statSync(entryPath).isFile()) {
        throw new FunctionBuildError(`entry ${entry} does not exist in ${projectDir}; the function project must have it, registering its functions with @azure/functions (v4 model)`);
    }
    if (!existsSync(join(projectDir, "host.json"))) {
        throw new FunctionBuildError(`host.json does not exist in ${projectDir}; the Functions host needs it at the package root`);
    }
    const hash = hashFunctionSources(projectDir, entry);
    const upToDate = !options.force && isBuilt(outDir, hash);
    if (!upToDate) bundle(projectDir, entryPath, outDir, hash);
    return { hash, dir: outDir, built: !upToDate };
}

if (require.main === module) {
    try {
        const pkg = buildFunctionPackage({ force: process.argv.includes("--force") });
        console.log(`${relative(process.cwd(), pkg.dir) || "."}: ${pkg.built ? "built" : "up to date"} (sources ${pkg.hash.slice(0, 12)})`);
    } catch (e) {
        // The message names the file and line; the stack adds nothing for a compile error.
        console.error(e instanceof FunctionBuildError ? e.message : e);
        process.exitCode = 1;
    }
}
