import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import nodeModule from "node:module";
import { dirname, join, relative, resolve } from "node:path";

/**
 * Loads the Pulumi program from an esbuild bundle that is rebuilt whenever any file it
 * was built from changes. Run through tsx, program.ts pulls in ~20 project modules plus
 * zod, yaml and uuid (~190 files), and resolving, transforming and compiling each one was
 * about a third of the program's own cost on every `pulumi up` (npm run bench:program).
 * One bundle file removes most of that; @pulumi/* stays external because the Pulumi
 * runtime has already loaded it and must share its instance with the program.
 *
 * Staleness is decided from esbuild's own list of inputs (its metafile): every input's
 * size and mtime are recorded next to the bundle, and any difference (or a missing
 * stamp, another esbuild, another entry) rebuilds before loading. Editing a source and
 * running `pulumi up` therefore never runs old code. KVP_PROGRAM_BUNDLE=off loads the
 * sources directly instead.
 */

export interface BundleOptions {
    /** The program's entry module (TypeScript). */
    entry: string;
    /**
     * Where the bundle and its stamp go. It must sit at the same depth below the
     * repository as the sources that use __dirname (components/, config/), because a
     * bundle has one __dirname for all of them; test/programBundle.spec.ts checks this.
     */
    outDir: string;
    /** Packages left to Node's resolution rather than bundled. */
    external?: string[];
}

export interface LoadedBundle<T> {
    module: T;
    /** Whether this call ran esbuild (false when the stamp matched). */
    built: boolean;
    bundlePath: string;
}

/** Packages the Pulumi runtime loads itself, or that carry native binaries. */
export const DEFAULT_EXTERNAL = ["@pulumi/*", "esbuild", "@azure/*"];

interface Stamp {
    recipe: string;
    entry: string;
    inputs: Record<string, [size: number, mtimeMs: number]>;
}

/** Bump when the build options below change, so bundles built with the old ones are rebuilt. */
const RECIPE = "cjs-node22-v1";

function recipeFor(external: string[]): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- only the version, and only here
    const { version } = require("esbuild/package.json") as { version: string };
    return `${RECIPE};esbuild ${version};external ${external.join(",")}`;
}

function fingerprint(path: string): [number, number] | undefined {
    try {
        const s = statSync(path);
        return [s.size, s.mtimeMs];
    } catch {
        return undefined;
    }
}

function readStamp(stampPath: string): Stamp | undefined {
    try {
        return JSON.parse(readFileSync(stampPath, "utf8")) as Stamp;
    } catch {
        return undefined;
    }
}

/** True when the stamp describes this build recipe and every input is unchanged. */
export function isFresh(stamp: Stamp | undefined, entry: string, recipe: string, base: string): boolean {
    if (!stamp || stamp.recipe !== recipe || stamp.entry !== entry) return false;
    for (const [input, [size, mtimeMs]] of Object.entries(stamp.inputs)) {
        const now = fingerprint(resolve(base, input));
        if (!now || now[0] !== size || now[1] !== mtimeMs) return false;
    }
    return true;
}

/** Writes to a temporary name and renames, so a concurrent reader never sees half a file. */
function writeAtomic(path: string, contents: string | Uint8Array): void {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
}

function build(options: Required<BundleOptions>, bundlePath: string, stampPath: string, recipe: string, base: string): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- esbuild is only needed when the bundle is stale
    const esbuild = require("esbuild") as typeof import("esbuild");
    const result = esbuild.buildSync({
        entryPoints: [options.entry],
        absWorkingDir: base,
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node22",
        external: options.external,
        metafile: true,
        write: false,
        outfile: bundlePath,
        logLevel: "silent",
        // Errors from the program print positions in the bundle; the sources are one esbuild away.
        sourcemap: false,
    });
    // Metafile paths are relative to absWorkingDir, which is also what the stamp is relative to.
    const inputs: Stamp["inputs"] = {};
    for (const input of Object.keys(result.metafile!.inputs)) {
        const fp = fingerprint(resolve(base, input));
        if (fp) inputs[input] = fp;
    }
    mkdirSync(dirname(bundlePath), { recursive: true });
    writeAtomic(bundlePath, result.outputFiles![0].contents);
    writeAtomic(stampPath, JSON.stringify({ recipe, entry: options.entry, inputs } satisfies Stamp));
}

/** Builds the bundle if any of its inputs changed, then requires it. */
export function loadBundle<T>(options: BundleOptions): LoadedBundle<T> {
    const resolved: Required<BundleOptions> = { external: DEFAULT_EXTERNAL, ...options, entry: resolve(options.entry), outDir: resolve(options.outDir) };
    const base = dirname(resolved.entry);
    const name = relative(base, resolved.entry).replace(/\.[cm]?tsx?$/, "");
    const bundlePath = join(resolved.outDir, `${name}.bundle.cjs`);
    const stampPath = join(resolved.outDir, `${name}.bundle.json`);
    const recipe = recipeFor(resolved.external);
    const built = !isFresh(readStamp(stampPath), resolved.entry, recipe, base);
    if (built) build(resolved, bundlePath, stampPath, recipe, base);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle's path is only known at run time
    return { module: require(bundlePath) as T, built, bundlePath };
}

/**
 * V8's code cache, in .build/v8, for every module the process loads from now on (the bundle,
 * the azure-native resource modules): compiling them was the next largest start-up cost after
 * module count. Process-wide, so only the program's entry point calls it.
 */
export function enableProgramCompileCache(): void {
    if (typeof nodeModule.enableCompileCache === "function") nodeModule.enableCompileCache(join(resolve(__dirname, ".."), ".build", "v8"));
}

/** The Pulumi program, from its bundle unless KVP_PROGRAM_BUNDLE=off. */
export function loadProgram(): typeof import("../program") {
    if (process.env.KVP_PROGRAM_BUNDLE === "off") {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the unbundled path, for debugging with source positions
        return require("../program") as typeof import("../program");
    }
    const root = resolve(__dirname, "..");
    return loadBundle<typeof import("../program")>({ entry: join(root, "program.ts"), outDir: join(root, ".build") }).module;
}
