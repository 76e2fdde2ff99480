import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** The program loads like any Pulumi TypeScript program: default stack depth under `pulumi up`'s own node flags. */

const ROOT = join(__dirname, "..");
const NODE_ARGS = (parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")).runtime.options.nodeargs as string).split(/\s+/);

describe("the program under pulumi up's node flags", () => {
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
