import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { buildFunctionPackage } from "@keyvault-platform/rotation-function/build";
import { BUNDLE_FILE } from "@keyvault-platform/rotation-function/stamp";
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readFunctionPackage } from "../components/helpers/functionPackage";

// The function package's own small test app; the package tests its build, this tests what the program reads.
const FIXTURE = join(__dirname, "..", "packages", "rotation-function", "test", "fixtures", "minimal-app");

describe("readFunctionPackage, what the program deploys", () => {
    let project: string;

    beforeEach(() => {
        // Beside the fixture, so the bundle resolves @azure/functions through the workspace.
        project = mkdtempSync(join(FIXTURE, "..", ".tmp-read-"));
        cpSync(FIXTURE, project, { recursive: true });
    });
    afterEach(() => rmSync(project, { recursive: true, force: true }));

    it("refuses a project that was never built, naming the command that builds it", () => {
        assert.throws(() => readFunctionPackage({ projectDir: project }), (e: Error) => {
            assert.ok(pulumi.RunError.isInstance(e));
            assert.match(e.message, /holds no built function package; run npm run build:function/);
            return true;
        });
        assert.ok(!existsSync(join(project, "dist")), "reading must not build");
    });

    it("reads the build without touching it, and refuses it once a source changed", () => {
        const built = buildFunctionPackage({ projectDir: project });
        const mtime = statSync(join(built.dir, BUNDLE_FILE)).mtimeMs;
        const read = readFunctionPackage({ projectDir: project });
        assert.deepEqual([read.hash, read.dir], [built.hash, built.dir]);
        assert.equal(statSync(join(built.dir, BUNDLE_FILE)).mtimeMs, mtime);
        writeFileSync(join(project, "src", "greeting.ts"), "export const greeting = (s: string): string => `rotating ${s}`;\n");
        assert.throws(() => readFunctionPackage({ projectDir: project }), /built from other sources .*run npm run build:function/);
    });

    it("archives exactly the bundle, host.json and package.json", async () => {
        buildFunctionPackage({ projectDir: project });
        const pkg = readFunctionPackage({ projectDir: project });
        assert.ok(pkg.archive instanceof pulumi.asset.AssetArchive);
        const assets = await (pkg.archive as unknown as { assets: Promise<Record<string, pulumi.asset.FileAsset>> }).assets;
        assert.deepEqual(Object.keys(assets).sort(), ["host.json", BUNDLE_FILE, "package.json"].sort());
    });
});
