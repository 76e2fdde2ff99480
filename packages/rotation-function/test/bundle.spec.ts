import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

describe("rotation function package", function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), "kvp-rotation-bundle-"));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("bundles from src/index.ts and registers the three triggers when loaded", async () => {
        const outfile = join(dir, "dist", "index.js");
        await build({
            entryPoints: [join(__dirname, "..", "src", "index.ts")],
            bundle: true, platform: "node", target: "node22", format: "cjs", outfile, logLevel: "silent",
            // Provided by the Functions Node worker at run time; pg-native is an optional pg add-on.
            external: ["@azure/functions-core", "pg-native"],
        });
        // Outside the Functions host the library runs in test mode and names each registration it skips.
        const run = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(outfile)})`], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        const registered = [...run.stderr.matchAll(/register function "([^"]+)"/g)].map((m) => m[1]).sort();
        assert.deepEqual(registered, ["rotateSecret", "rotationSafetyNet", "secretNearExpiry"]);
    });
});
