import * as pulumi from "@pulumi/pulumi";
import { BUILD_COMMAND, BUNDLE_FILE, hashFunctionSources, PACKAGE_DIR, PACKAGE_FILES, readStamp } from "@keyvault-platform/rotation-function/stamp";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The rotation function's deployable package, as the program reads it: the build that
 * `npm run build:function` left in the function package's dist/ (the build itself lives in
 * that package). Reading never builds, because a program writes no file while it loads.
 */

export interface FunctionPackage {
    /** The package contents (bundle, host.json, package.json), ready for a storage blob. */
    archive: pulumi.asset.AssetArchive;
    /** SHA-256 of everything the bundle was built from; changes exactly when the package does. */
    hash: string;
    /** Absolute path of the built package. */
    dir: string;
}

export interface ReadOptions {
    /** Optional. The function project directory. Defaults to the rotation function package. */
    projectDir?: string;
    /** Optional. Entry module, relative to projectDir. Defaults to src/index.ts. */
    entry?: string;
    /** Optional. The build's directory. Defaults to <projectDir>/dist. */
    outDir?: string;
}

/** The built package as an archive. Throws pulumi.RunError when it is missing or older than its sources. */
export function readFunctionPackage(options: ReadOptions = {}): FunctionPackage {
    const projectDir = resolve(options.projectDir ?? PACKAGE_DIR);
    const outDir = resolve(options.outDir ?? join(projectDir, "dist"));
    const hash = hashFunctionSources(projectDir, options.entry ?? join("src", "index.ts"));
    const stamp = readStamp(outDir);
    if (stamp === undefined || !PACKAGE_FILES.every((f) => existsSync(join(outDir, f)))) {
        throw new pulumi.RunError(`readFunctionPackage: ${outDir} holds no built function package; run ${BUILD_COMMAND}`);
    }
    if (stamp !== hash) {
        throw new pulumi.RunError(`readFunctionPackage: ${outDir} was built from other sources than ${projectDir} holds now; run ${BUILD_COMMAND}`);
    }
    return {
        archive: new pulumi.asset.AssetArchive({
            [BUNDLE_FILE]: new pulumi.asset.FileAsset(join(outDir, BUNDLE_FILE)),
            "host.json": new pulumi.asset.FileAsset(join(outDir, "host.json")),
            "package.json": new pulumi.asset.FileAsset(join(outDir, "package.json")),
        }),
        hash,
        dir: outDir,
    };
}
