import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { TEST_DATABASE_URL } from "./automation/storePostgresHarness";

/**
 * Each bench still runs to its table, at a tiny size. Not a timed test: no figure is checked,
 * only that the script gets through every step and prints a result for every goal. A bench is
 * code nobody runs every day, and one that rots (a request the API now refuses, a renamed
 * module) should fail here rather than on the day someone needs its figures.
 */

const ROOT = path.join(__dirname, "..");

interface Ran { code: number | null; out: string }

function runBench(script: string, env: Record<string, string>): Promise<Ran> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", path.join("bench", script)], {
            cwd: ROOT, env: { ...process.env, BENCH_DATABASE_URL: TEST_DATABASE_URL, ...env }, stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (s: string) => { out += s; });
        child.stderr.setEncoding("utf8").on("data", (s: string) => { out += s; });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, out }));
    });
}

/** The goals table's rows, which end with met or MISSED (a tiny run may miss; it must not crash); not the closing summary line. */
function resultRows(out: string): string[] {
    return out.split("\n").map((l) => l.trimEnd()).filter((l) => /\s(met|MISSED)$/.test(l) && !/^bench:/.test(l));
}

const BENCHES: Array<{ script: string; env: Record<string, string>; goals: number }> = [
    { script: "queue.ts", env: { BENCH_QUEUE_REQUESTS: "5" }, goals: 3 },
    { script: "events.ts", env: { BENCH_FOLLOWERS: "6", BENCH_OPERATIONS: "3", BENCH_PROGRESS_EVENTS: "2" }, goals: 4 },
    { script: "ops.ts", env: { BENCH_WAVES: "1", BENCH_DRAIN_OPERATIONS: "12" }, goals: 9 },
    { script: "api.ts", env: { BENCH_SIZES: "1000,2000", BENCH_ROUNDS: "1", BENCH_ROUND_S: "0.2", BENCH_WARMUP_S: "0.5", BENCH_STORES: "sqlite" }, goals: 17 },
];

describe("benches run to their tables at a tiny size", function () {
    this.timeout(180_000);
    for (const b of BENCHES) {
        it(`bench/${b.script} prints a result for each of its ${b.goals} goals`, async () => {
            const { code, out } = await runBench(b.script, b.env);
            const rows = resultRows(out);
            assert.equal(rows.length, b.goals, `expected ${b.goals} goal rows (exit ${code}); output:\n${out.slice(-3000)}`);
            assert.doesNotMatch(out, /\n\s+at .*\(.*:\d+:\d+\)/, `a stack trace in the output:\n${out.slice(-3000)}`);
        });
    }
});
