/**
 * npm run bench:program — evaluates the prod program under mocks several times,
 * each in a fresh process, next to a bare one-resource-group program, and prints
 * median wall time and peak RSS for both plus the ratios against the goal
 * (<= 1.5x the bare time, <= +60 MB peak RSS).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const runner = join(__dirname, "programRun.ts");

interface Sample { wallMs: number; maxRssMb: number; resources: number }

function once(kind: string): Sample {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", runner, kind], { encoding: "utf8", cwd: join(__dirname, "..") });
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${kind} run failed (exit ${r.status}):\n${r.stderr}`);
    const line = JSON.parse(r.stdout.trim().split("\n").pop()!);
    return { wallMs, maxRssMb: line.maxRssMb, resources: line.resources };
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function measure(kind: string): { wall: number; rss: number; resources: number } {
    once(kind); // warm the OS file cache and tsx's transpile cache; not counted
    const samples = Array.from({ length: RUNS }, () => once(kind));
    return { wall: median(samples.map((s) => s.wallMs)), rss: Math.max(...samples.map((s) => s.maxRssMb)), resources: samples[0].resources };
}

const bare = measure("bare");
const prod = measure("prod");
const ratio = prod.wall / bare.wall;
const extraRss = prod.rss - bare.rss;
console.log(`runs per program: ${RUNS} (fresh process each; median wall time, max peak RSS)`);
console.log(`bare  : ${bare.wall.toFixed(0).padStart(6)} ms  ${bare.rss.toFixed(1).padStart(7)} MB  ${bare.resources} resources`);
console.log(`prod  : ${prod.wall.toFixed(0).padStart(6)} ms  ${prod.rss.toFixed(1).padStart(7)} MB  ${prod.resources} resources`);
console.log(`ratio : ${ratio.toFixed(2)}x time (goal <= 1.50x: ${ratio <= 1.5 ? "met" : "MISSED"}), +${extraRss.toFixed(1)} MB peak RSS (goal <= 60 MB: ${extraRss <= 60 ? "met" : "MISSED"})`);
