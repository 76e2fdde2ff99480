import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFunctionPackage } from "../build/build";
import { BUNDLE_FILE } from "../build/stamp";

describe("rotation function package", function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), "kvp-rotation-bundle-"));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("builds, with the package's own build, a bundle that registers the three triggers when loaded", () => {
        const pkg = buildFunctionPackage({ outDir: dir, force: true });
        // Outside the Functions host the library runs in test mode and names each registration it skips.
        const run = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(join(pkg.dir, BUNDLE_FILE))})`], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        const registered = [...run.stderr.matchAll(/register function "([^"]+)"/g)].map((m) => m[1]).sort();
        assert.deepEqual(registered, ["rotateSecret", "rotationSafetyNet", "secretNearExpiry"]);
    });
});
