/**
 * npm run bench:program — evaluates the prod program under mocks several times,
 * each in a fresh process, next to a bare one-resource-group program, and prints
 * median wall time and peak RSS for both plus the ratios against the ceilings
 * (<= 2x the bare time, <= +60 MB peak RSS). They guard against regressions; the
 * program is not tuned to them (what a user waits for is the Azure provider's start-up).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { join } from "node:path";
import { asPulumiConfig, rawConfigFor } from "../test/stackRun";

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const runner = join(__dirname, "programRun.ts");
const PULUMI_NODE_ARGS = (parse(readFileSync(join(__dirname, "..", "Pulumi.yaml"), "utf8")).runtime.options.nodeargs as string).split(/\s+/);
// Config exactly as Pulumi would hand it to the program, computed once here rather than in every run.
const pulumiConfig = JSON.stringify(asPulumiConfig(rawConfigFor("prod")));

interface Sample { wallMs: number; cpuMs: number; maxRssMb: number; resources: number }

function once(kind: string): Sample {
    const start = process.hrtime.bigint();
    // The same node flags Pulumi.yaml gives `pulumi up`, for both programs.
    const r = spawnSync(process.execPath, [...PULUMI_NODE_ARGS, runner, kind], {
        encoding: "utf8",
        cwd: join(__dirname, ".."),
        env: { ...process.env, BENCH_PULUMI_CONFIG: pulumiConfig },
    });
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${kind} run failed (exit ${r.status}):\n${r.stderr}`);
    const line = JSON.parse(r.stdout.trim().split("\n").pop()!);
    return { wallMs, cpuMs: line.cpuMs, maxRssMb: line.maxRssMb, resources: line.resources };
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

type Figures = { wall: number; cpu: number; rss: number; resources: number };

function summarize(samples: Sample[]): Figures {
    return { wall: median(samples.map((s) => s.wallMs)), cpu: median(samples.map((s) => s.cpuMs)), rss: Math.max(...samples.map((s) => s.maxRssMb)), resources: samples[0].resources };
}

console.log("bench:program compares: the prod program under mocks, loaded through index.ts as pulumi up loads it, against a bare one-resource-group program (wall time, CPU, peak RSS)");
// Warms the OS file cache and tsx's transpile cache; not counted.
once("bare");
once("prod");
// Interleaved, so a change in background load over the run shifts both programs alike rather than the ratio.
const samples: Record<"bare" | "prod", Sample[]> = { bare: [], prod: [] };
for (let i = 0; i < RUNS; i++) {
    samples.bare.push(once("bare"));
    samples.prod.push(once("prod"));
}
const bare = summarize(samples.bare);
const prod = summarize(samples.prod);
const ratio = prod.wall / bare.wall;
const extraRss = prod.rss - bare.rss;
console.log(`runs per program: ${RUNS}, interleaved (fresh process each; median wall time, max peak RSS)`);
const row = (name: string, m: Figures) =>
    console.log(`${name}: ${m.wall.toFixed(0).padStart(6)} ms wall  ${m.cpu.toFixed(0).padStart(6)} ms cpu  ${m.rss.toFixed(1).padStart(7)} MB peak RSS  ${m.resources} registrations`);
row("bare ", bare);
row("prod ", prod);
console.log(`cpu   : ${(prod.cpu / bare.cpu).toFixed(2)}x (informational: steadier than wall time on a busy machine)`);
console.log(`ratio : ${ratio.toFixed(2)}x time (ceiling <= 2.00x: ${ratio <= 2 ? "met" : "MISSED"}), +${extraRss.toFixed(1)} MB peak RSS (ceiling <= 60 MB: ${extraRss <= 60 ? "met" : "MISSED"})`);
