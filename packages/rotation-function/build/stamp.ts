import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";

/**
 * What a build of the deployable package is: its files, and the stamp that records which
 * sources it came from. The build (build.ts) writes the stamp; the program reads it, so a
 * stale build fails the deployment instead of shipping old code. No esbuild here: reading a
 * build must not load the bundler.
 */

/** This package's own directory, the default project to build. */
export const PACKAGE_DIR = join(__dirname, "..");

/** Bump when the bundling options in build.ts change, so old stamps stop matching. */
export const BUILD_RECIPE = "esbuild-cjs-node22-v2";

/** The bundle's file name inside the package, and what its package.json `main` names. */
export const BUNDLE_FILE = "index.js";

/** Every file the deployable package holds. */
export const PACKAGE_FILES = [BUNDLE_FILE, "host.json", "package.json"] as const;

export const STAMP_FILE = ".build-stamp";

/** The command that builds this package from the repository root, for error messages. */
export const BUILD_COMMAND = "npm run build:function";

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
 * Hashes every input of the build: the sources under the entry's folder, host.json, the
 * project's package.json, the lock file its dependencies (esbuild included) resolve through,
 * and the recipe. Paths are hashed relative to the project, so a moved checkout still matches.
 */
export function hashFunctionSources(projectDir: string, entry = join("src", "index.ts")): string {
    const h = createHash("sha256").update(`${BUILD_RECIPE}\0${entry}\0`);
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

export function readStamp(outDir: string): string | undefined {
    try {
        return readFileSync(join(outDir, STAMP_FILE), "utf8").trim();
    } catch {
        return undefined;
    }
}

/** Whether outDir holds every package file and a stamp for exactly these sources. */
export function isBuilt(outDir: string, hash: string): boolean {
    return readStamp(outDir) === hash && PACKAGE_FILES.every((f) => existsSync(join(outDir, f)));
}
