import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { asPulumiConfig, rawConfigFor } from "./stackRun";

/** The program loads like any Pulumi TypeScript program: default stack depth under `pulumi up`'s own node flags. */

const ROOT = join(__dirname, "..");
const NODE_ARGS = (parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")).runtime.options.nodeargs as string).split(/\s+/);

/** Every file in the working tree but node_modules and .git, with its size and modification time. */
function treeSnapshot(dir = ROOT, out = new Map<string, string>()): Map<string, string> {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === "node_modules" || entry.name === ".git") continue;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) treeSnapshot(full, out);
        else {
            const st = statSync(full);
            out.set(full.slice(ROOT.length + 1), `${st.size}@${st.mtimeMs}`);
        }
    }
    return out;
}

describe("the program under pulumi up's node flags", () => {
    it("writes no file into the repository while the prod program runs under mocks", function () {
        this.timeout(120_000);
        const before = treeSnapshot();
        // bench/programRun.ts prod loads index.ts exactly as Pulumi's run.js would, in a fresh process.
        const r = spawnSync(process.execPath, [...NODE_ARGS, join(ROOT, "bench", "programRun.ts"), "prod"], {
            cwd: ROOT, encoding: "utf8", env: { ...process.env, BENCH_PULUMI_CONFIG: JSON.stringify(asPulumiConfig(rawConfigFor("prod"))) },
        });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(JSON.parse(r.stdout.trim().split("\n").pop()!).resources > 50, `the prod program registered too little: ${r.stdout}`);
        const after = treeSnapshot();
        const changed = [...new Set([...before.keys(), ...after.keys()])].filter((f) => before.get(f) !== after.get(f));
        assert.deepEqual(changed, []);
    });

    it("prints the full stack of an exception thrown inside a component, naming the component's file", function () {
        this.timeout(60_000);
        const r = spawnSync(process.execPath, [...NODE_ARGS, join(__dirname, "fixtures", "componentThrows.ts")], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const frames = r.stdout.split("\n").filter((l) => /^\s+at /.test(l));
        assert.ok(frames.length > 1, `expected more than one frame, got:\n${r.stdout}`);
        assert.match(frames.join("\n"), /components[\\/]keyVault\.ts/);
        assert.match(frames.join("\n"), /fixtures[\\/]componentThrows\.ts/, "the caller's frame is there too");
    });
});
