/**
 * npm run bench:ops — queue throughput across worker processes on PostgreSQL.
 * 200 operations (previews and refreshes) over 40 environments, each taking 200 ms in
 * the engine test double, run by 1, 2 and 4 worker processes (bench/opsWorker.ts:
 * createPostgresStore + Worker + TestDoubleEngine). Each process runs at most
 * BENCH_WORKER_CONCURRENCY (4) operations at once; the global cap (64) is set high so it
 * never binds. Prints makespan, operations/s and the scaling ratios; checks from the
 * stored operations that every one succeeded on its first attempt and that no
 * environment ever had two overlapping; goal: 2 workers >= 1.8x the throughput of 1.
 *
 *   BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test; a temporary schema per run)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { Client, escapeIdentifier } from "pg";
import type { Operation, OperationKind } from "../automation/domain/ports";
import { createPostgresStore } from "../automation/store/postgres";

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;
const OPERATIONS = 200;
const ENVIRONMENTS = 40;
const LATENCY_MS = 200;
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 4);
const GLOBAL_CAP = 64;
const WORKER_COUNTS = [1, 2, 4];
const GOAL_SCALING = 1.8;
const WORKER = path.join(__dirname, "opsWorker.ts");
/** A valid spec: the worker derives the stack config from it before every run. */
const BENCH_SPEC = {
    tier: "dev", location: "westeurope", team: "bench",
    network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
    access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
    alerts: { emails: ["bench@example.com"] },
};

interface Run {
    workers: number;
    makespanMs: number;
    opsPerS: number;
    problems: string[];
    peakRunning: number;
}

function startWorker(schema: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", WORKER], {
        env: {
            ...process.env, BENCH_DATABASE_URL: DATABASE_URL, BENCH_SCHEMA: schema, BENCH_LATENCY_MS: String(LATENCY_MS),
            BENCH_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY), BENCH_GLOBAL_CAP: String(GLOBAL_CAP),
        },
        stdio: ["pipe", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
        child.stdout!.setEncoding("utf8").on("data", (chunk: string) => { if (chunk.includes("ready")) resolve(child); });
        child.once("exit", (code) => reject(new Error(`bench worker exited with ${code}`)));
    });
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

async function runWith(workers: number): Promise<Run> {
    const schema = `kvp_bench_ops_${randomBytes(4).toString("hex")}`;
    const store = await createPostgresStore({ connectionString: DATABASE_URL, schema, applicationName: "kvp-bench-ops" });
    const children: ChildProcess[] = [];
    try {
        const now = new Date().toISOString();
        const kinds: OperationKind[] = ["preview", "refresh"];
        for (let e = 0; e < ENVIRONMENTS; e++) {
            await store.upsertEnvironment({ name: `ops-env-${e}`, team: "bench", spec: BENCH_SPEC, specHash: "h", status: "ready", expiresAt: null, now });
        }
        for (let i = 0; i < OPERATIONS; i++) {
            await store.enqueueOperation({
                id: `op-${String(i).padStart(3, "0")}`, environment: `ops-env-${i % ENVIRONMENTS}`, team: "bench",
                kind: kinds[Math.floor(i / ENVIRONMENTS) % 2], requestedBy: "token:bench", maxAttempts: 1, now,
            });
        }
        children.push(...(await Promise.all(Array.from({ length: workers }, () => startWorker(schema)))));
        const started = Date.now();
        for (const child of children) child.stdin!.end("go\n");
        for (;;) {
            const open = (await store.countOperations()).filter((c) => c.state === "queued" || c.state === "running").reduce((n, c) => n + c.count, 0);
            if (open === 0) break;
            if (Date.now() - started > 120_000) throw new Error(`${open} operations still open after 120 s`);
            await new Promise((r) => setTimeout(r, 20));
        }
        const ops = (await Promise.all(["succeeded", "failed", "canceled", "interrupted"].map((s) => store.listOperationsByState(s as Operation["state"], 1000)))).flat();
        const lastFinish = Math.max(...ops.map((o) => Date.parse(o.finishedAt ?? o.createdAt)));
        const makespanMs = lastFinish - started;
        return { workers, makespanMs, opsPerS: OPERATIONS / (makespanMs / 1000), ...checkRecord(ops, OPERATIONS) };
    } finally {
        await Promise.all(children.map((c) => new Promise((resolve) => {
            if (c.exitCode !== null) return resolve(undefined);
            c.once("exit", resolve);
            c.kill("SIGTERM");
        })));
        await store.close();
        const admin = new Client({ connectionString: DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`).finally(() => admin.end());
    }
}

async function main(): Promise<void> {
    console.log("bench:ops compares: operation throughput with 1, 2 and 4 worker processes sharing one PostgreSQL store (ops/s against 1 worker)");
    console.log(`bench:ops — ${OPERATIONS} operations over ${ENVIRONMENTS} environments, ${LATENCY_MS} ms each (test double), PostgreSQL, `
        + `${WORKER_CONCURRENCY} runs per worker process, global cap ${GLOBAL_CAP}, node ${process.version}`);
    console.log(`ideal makespan with one process: ${(OPERATIONS * LATENCY_MS) / WORKER_CONCURRENCY / 1000} s; shortest possible (5 operations in series per environment): ${(OPERATIONS / ENVIRONMENTS) * LATENCY_MS / 1000} s`);
    const runs: Run[] = [];
    for (const workers of WORKER_COUNTS) runs.push(await runWith(workers));
    const base = runs[0].opsPerS;
    console.log("");
    console.log("workers  makespan   ops/s    vs 1 worker  peak running  record");
    for (const r of runs) {
        console.log(`${String(r.workers).padEnd(9)}${`${(r.makespanMs / 1000).toFixed(2)} s`.padEnd(11)}${r.opsPerS.toFixed(1).padEnd(9)}${`${(r.opsPerS / base).toFixed(2)}x`.padEnd(13)}${String(r.peakRunning).padEnd(14)}`
            + (r.problems.length === 0 ? "all succeeded first time, no overlap on any environment" : `${r.problems.length} PROBLEMS: ${r.problems.slice(0, 5).join("; ")}`));
    }
    const scaling2 = runs[1].opsPerS / base;
    const clean = runs.every((r) => r.problems.length === 0);
    console.log("");
    console.log(`scaling 2 vs 1: ${scaling2.toFixed(2)}x (goal >= ${GOAL_SCALING}x) ${scaling2 >= GOAL_SCALING ? "PASS" : "MISSED"}; 4 vs 1: ${(runs[2].opsPerS / base).toFixed(2)}x`);
    console.log(`record: ${clean ? "PASS" : "FAILED"} (every operation succeeded once, never two at once on one environment)`);
    process.exitCode = scaling2 >= GOAL_SCALING && clean ? 0 : 1;
}

if (require.main === module) {
    main().catch((e: unknown) => {
        console.error(e instanceof Error ? e.stack : e);
        process.exit(1);
    });
}
