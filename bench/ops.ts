/**
 * npm run bench:ops — the queue across worker processes on PostgreSQL.
 *
 * Scaling: BENCH_WAVES (24) waves of operations, each taking 1 s in the engine (test double), one
 * environment each, run by 1, 2 and 4 worker processes (bench/opsWorker.ts: createPostgresStore +
 * Worker + test double) of BENCH_WORKER_CONCURRENCY (4) runs each, so 96, 192 and 384 operations;
 * the global cap (64) never binds. Goals: 2 workers >= 1.8x and 4 workers >= 3.2x the throughput
 * of one, and the service's own overhead per operation <= 20 ms: the slot time not spent in the
 * engine, (makespan x concurrency - engine time) / operations. Two figures: with the makespan
 * from the moment the processes are told to start (their start-up recovery and first claims
 * included, spread over the waves), and from the first engine start. "peak running" is what the
 * stored start and finish times show running at once: the runs in the engines, plus those whose
 * outcomes are still being stored while their slots have taken the next runs. A start is stamped
 * as its claim is asked for, before the claim waits its turn, so by those times the drain can
 * read a few over the global cap; the cap itself is counted inside the claim, and the drain also
 * prints the most the store counted running at once, polled.
 *
 * Floor: the same three scaling runs by bench/opsFloorWorker.ts, a queue of one claim and one finish
 * statement per operation with the same engine, reported beside each overhead (not a goal): what
 * this machine charges any durable queue for the shape, so the rest is the service's own work.
 *
 * Drain: 10,000 operations (10 per environment over 1,000 environments, 20 ms each) enqueued in
 * one go before 4 worker processes start. Every one must succeed on its first attempt (none
 * lost, none run twice: each engine start is reported and counted), and no environment may
 * ever have two runs overlapping.
 *
 *   BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test; a temporary schema per run)
 *   BENCH_DRAIN_OPERATIONS (10000)
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { Client, escapeIdentifier } from "pg";
import type { Operation, OperationKind } from "../automation/domain/ports";
import { createPostgresStore, type PostgresStore } from "../automation/store/postgres";
import { BENCH_SPEC, startWorkerProcess } from "./shared";

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 4);
const GLOBAL_CAP = 64;
const WORKER = path.join(__dirname, "opsWorker.ts");
/** The same shape run by a two-statement queue (bench/opsFloorWorker.ts): what this machine costs any durable queue. */
const FLOOR_WORKER = path.join(__dirname, "opsFloorWorker.ts");
const WAVES = Number(process.env.BENCH_WAVES ?? 24);
const scaling = (workers: number): Shape => {
    const operations = WAVES * workers * WORKER_CONCURRENCY;
    return { operations, environments: operations, latencyMs: 1_000 };
};
const DRAIN = { operations: Number(process.env.BENCH_DRAIN_OPERATIONS ?? 10_000), environments: 1_000, latencyMs: 20, workers: 4 };

interface Shape {
    operations: number;
    environments: number;
    latencyMs: number;
}

interface Run {
    workers: number;
    makespanMs: number;
    /** From the first engine start instead of from "go". */
    engineMakespanMs: number;
    opsPerS: number;
    problems: string[];
    peakRunning: number;
    /** The most operations the store counted running at once, polled every 50 ms. */
    peakPolled: number;
    /** Engine starts per operation id, as the workers reported them. */
    engineStarts: Map<string, number>;
}

/** Starts one worker process, counting the engine starts it reports; settles once it is ready. */
async function startWorker(script: string, schema: string, latencyMs: number, starts: Map<string, number>, firstStart: { at: number }, children: ChildProcess[]): Promise<void> {
    const { child, ready } = startWorkerProcess(script, {
        BENCH_DATABASE_URL: DATABASE_URL, BENCH_SCHEMA: schema, BENCH_LATENCY_MS: String(latencyMs),
        BENCH_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY), BENCH_GLOBAL_CAP: String(GLOBAL_CAP), BENCH_REPORT_STARTS: "1",
    }, (line) => {
        if (!line.startsWith("{")) return;
        const { start, at } = JSON.parse(line) as { start: string; at: number };
        starts.set(start, (starts.get(start) ?? 0) + 1);
        firstStart.at = Math.min(firstStart.at, at);
    });
    children.push(child);
    await ready;
}

/** Problems found in the stored record: anything but a first-attempt success, and overlaps per environment. */
export function checkRecord(ops: Operation[], expected: number): { problems: string[]; peakRunning: number } {
    const problems: string[] = [];
    if (ops.length !== expected) problems.push(`${ops.length} operations stored, ${expected} enqueued`);
    for (const op of ops) {
        if (op.state !== "succeeded") problems.push(`${op.id} ended ${op.state}${op.error ? ` (${op.error.code}: ${op.error.message})` : ""}`);
        else if (op.attempt !== 1) problems.push(`${op.id} needed ${op.attempt} attempts`);
        if (!op.startedAt || !op.finishedAt) problems.push(`${op.id} has no start or finish`);
    }
    const byEnvironment = new Map<string, Operation[]>();
    for (const op of ops) byEnvironment.set(op.environment, [...(byEnvironment.get(op.environment) ?? []), op]);
    for (const [environment, list] of byEnvironment) {
        const sorted = list.filter((o) => o.startedAt && o.finishedAt).sort((a, b) => a.startedAt!.localeCompare(b.startedAt!));
        for (let i = 1; i < sorted.length; i++) {
            if (sorted[i].startedAt! < sorted[i - 1].finishedAt!) {
                problems.push(`${environment}: ${sorted[i].id} started at ${sorted[i].startedAt} before ${sorted[i - 1].id} finished at ${sorted[i - 1].finishedAt}`);
            }
        }
    }
    const edges = ops.filter((o) => o.startedAt && o.finishedAt)
        .flatMap((o) => [{ at: o.startedAt!, delta: 1 }, { at: o.finishedAt!, delta: -1 }])
        .sort((a, b) => a.at.localeCompare(b.at) || a.delta - b.delta);
    let running = 0;
    let peakRunning = 0;
    for (const e of edges) peakRunning = Math.max(peakRunning, (running += e.delta));
    return { problems, peakRunning };
}

/** Environments, then every operation, in transactions of a few hundred rows: what a busy queue holds at once. */
async function enqueueAll(store: PostgresStore, shape: Shape): Promise<void> {
    const now = new Date().toISOString();
    const kinds: OperationKind[] = ["preview", "refresh"];
    const batch = 500;
    for (let start = 0; start < shape.environments; start += batch) {
        await store.transaction(async (tx) => {
            for (let e = start; e < Math.min(shape.environments, start + batch); e++) {
                await tx.upsertEnvironment({ name: `ops-env-${e}`, team: "bench", spec: BENCH_SPEC, specHash: "h", status: "ready", expiresAt: null, now });
            }
        });
    }
    for (let start = 0; start < shape.operations; start += batch) {
        await store.transaction(async (tx) => {
            for (let i = start; i < Math.min(shape.operations, start + batch); i++) {
                await tx.enqueueOperation({
                    id: `op-${String(i).padStart(5, "0")}`, environment: `ops-env-${i % shape.environments}`, team: "bench",
                    kind: kinds[Math.floor(i / shape.environments) % 2], requestedBy: "token:bench", maxAttempts: 1, now,
                });
            }
        });
    }
}

async function runWith(workers: number, shape: Shape, script = WORKER): Promise<Run> {
    const schema = `kvp_bench_ops_${randomBytes(4).toString("hex")}`;
    const store = await createPostgresStore({ connectionString: DATABASE_URL, schema, applicationName: "kvp-bench-ops" });
    const children: ChildProcess[] = [];
    const engineStarts = new Map<string, number>();
    const firstStart = { at: Infinity };
    try {
        // No ANALYZE after the bulk enqueue: the claim must be quick with the statistics of an empty queue, as in production.
        await enqueueAll(store, shape);
        await Promise.all(Array.from({ length: workers }, () => startWorker(script, schema, shape.latencyMs, engineStarts, firstStart, children)));
        const started = Date.now();
        for (const child of children) child.stdin!.end("go\n");
        // A guard against a hang, not a goal: the drain's runs are 20 ms, so its time is mostly the
        // service's own per-run work, 6-9x the engine time on a slow machine (90-107 s against 12.5 s).
        const limitMs = 120_000 + (shape.operations * shape.latencyMs) / (workers * WORKER_CONCURRENCY) * 10;
        let peakPolled = 0;
        for (;;) {
            const counts = await store.countOperations();
            peakPolled = Math.max(peakPolled, counts.find((c) => c.state === "running")?.count ?? 0);
            const open = counts.filter((c) => c.state === "queued" || c.state === "running").reduce((n, c) => n + c.count, 0);
            if (open === 0) break;
            if (Date.now() - started > limitMs) throw new Error(`${open} operations still open after ${limitMs} ms`);
            await new Promise((r) => setTimeout(r, 50));
        }
        const ops = (await Promise.all(["succeeded", "failed", "canceled", "interrupted"].map((s) => store.listOperationsByState(s as Operation["state"], shape.operations + 1)))).flat();
        const lastFinish = Math.max(...ops.map((o) => Date.parse(o.finishedAt ?? o.createdAt)));
        const makespanMs = lastFinish - started;
        const record = checkRecord(ops, shape.operations);
        for (const op of ops) {
            const n = engineStarts.get(op.id) ?? 0;
            if (n !== 1) record.problems.push(`${op.id} reached the engine ${n} times`);
        }
        return { workers, makespanMs, engineMakespanMs: lastFinish - firstStart.at, opsPerS: shape.operations / (makespanMs / 1000), engineStarts, peakPolled, ...record };
    } finally {
        await Promise.all(children.map((child) => new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(undefined);
            child.once("exit", resolve);
            child.kill("SIGTERM");
        })));
        await store.close();
        const admin = new Client({ connectionString: DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`).finally(() => admin.end());
    }
}

function recordText(r: Run): string {
    return r.problems.length === 0 ? "clean" : `${r.problems.length} PROBLEMS: ${r.problems.slice(0, 5).join("; ")}`;
}

async function main(): Promise<void> {
    console.log(`bench:ops compares: throughput of 1, 2 and 4 worker processes against one, and a 10,000-operation drain; PostgreSQL, ${WORKER_CONCURRENCY} runs per worker process, global cap ${GLOBAL_CAP}, node ${process.version}`);
    console.log(`scaling: ${WAVES} waves of ${WORKER_CONCURRENCY} runs per worker process, one environment each, 1000 ms each; drain: ${DRAIN.operations} operations over ${DRAIN.environments} environments, ${DRAIN.latencyMs} ms each, ${DRAIN.workers} workers`);
    const runs: Run[] = [];
    for (const workers of [1, 2, 4]) {
        const r = await runWith(workers, scaling(workers));
        console.log(`${workers} worker(s): makespan ${(r.makespanMs / 1000).toFixed(2)} s, ${r.opsPerS.toFixed(2)} ops/s`);
        runs.push(r);
    }
    const floors: Run[] = [];
    for (const workers of [1, 2, 4]) floors.push(await runWith(workers, scaling(workers), FLOOR_WORKER));
    const drain = await runWith(DRAIN.workers, DRAIN);
    const base = runs[0].opsPerS;
    console.log("");
    console.log("workers  operations  makespan   ops/s    vs 1 worker  peak running  overhead/op  from 1st engine start  floor overhead/op  record");
    const overheadOf = (makespanMs: number, r: Run) => {
        const shape = scaling(r.workers);
        return (makespanMs * r.workers * WORKER_CONCURRENCY - shape.operations * shape.latencyMs) / shape.operations;
    };
    const overhead = (r: Run) => overheadOf(r.makespanMs, r);
    for (const [i, r] of runs.entries()) {
        console.log(`${String(r.workers).padEnd(9)}${String(scaling(r.workers).operations).padEnd(12)}${`${(r.makespanMs / 1000).toFixed(2)} s`.padEnd(11)}${r.opsPerS.toFixed(2).padEnd(9)}`
            + `${`${(r.opsPerS / base).toFixed(2)}x`.padEnd(13)}${String(r.peakRunning).padEnd(14)}${`${overhead(r).toFixed(1)} ms`.padEnd(13)}`
            + `${`${overheadOf(r.engineMakespanMs, r).toFixed(1)} ms`.padEnd(23)}${`${overhead(floors[i]).toFixed(1)} ms${floors[i].problems.length ? " (floor record not clean)" : ""}`.padEnd(19)}${recordText(r)}`);
    }
    console.log(`drain: ${DRAIN.operations} operations, ${DRAIN.workers} workers, ${(drain.makespanMs / 1000).toFixed(1)} s, ${drain.opsPerS.toFixed(0)} ops/s, `
        + `peak running ${drain.peakRunning} by the stored times and ${drain.peakPolled} polled (global cap ${GLOBAL_CAP}), `
        + `${drain.engineStarts.size} distinct operations reached the engine; record ${recordText(drain)}`);
    const goals: Array<[string, string, string, boolean]> = [
        ["throughput, 2 workers vs 1", `${(runs[1].opsPerS / base).toFixed(2)}x`, ">= 1.8x", runs[1].opsPerS / base >= 1.8],
        ["throughput, 4 workers vs 1", `${(runs[2].opsPerS / base).toFixed(2)}x`, ">= 3.2x", runs[2].opsPerS / base >= 3.2],
        ...runs.map((r): [string, string, string, boolean] => [`service overhead per operation, ${r.workers} worker${r.workers > 1 ? "s" : ""}`, `${overhead(r).toFixed(1)} ms`, "<= 20 ms", overhead(r) <= 20]),
        // Proposed where 20 ms is out of reach on a small machine: the floor alone, a two-statement
        // queue, measured 16.6-26.1 ms at 2 workers and 20.3-29.3 ms at 4 on two shared cores (bench/README).
        ...runs.slice(1).map((r, i): [string, string, string, boolean] => [`(proposed) overhead minus floor, ${r.workers} workers`,
            `${(overhead(r) - overhead(floors[i + 1])).toFixed(1)} ms`, "<= 10 ms", overhead(r) - overhead(floors[i + 1]) <= 10]),
        [`drain of ${DRAIN.operations}: none lost, none run twice, no overlap`, drain.problems.length === 0 ? "clean" : `${drain.problems.length} problems`, "clean", drain.problems.length === 0],
        ["scaling runs: none lost, none run twice, no overlap", runs.every((r) => r.problems.length === 0) ? "clean" : "problems", "clean", runs.every((r) => r.problems.length === 0)],
    ];
    console.log("");
    console.log(`${"figure".padEnd(56)}${"value".padEnd(12)}${"goal".padEnd(10)}result`);
    for (const [figure, value, goal, met] of goals) console.log(`${figure.padEnd(56)}${value.padEnd(12)}${goal.padEnd(10)}${met ? "met" : "MISSED"}`);
    process.exitCode = goals.every(([, , , met]) => met) ? 0 : 1;
}

if (require.main === module) {
    main().catch((e: unknown) => {
        console.error(e instanceof Error ? e.stack : e);
        process.exit(1);
    });
}
