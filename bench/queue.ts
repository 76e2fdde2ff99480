/**
 * npm run bench:queue — how long an accepted request waits before the engine starts it.
 * The figure is the time from the client receiving `202 Accepted` for a PUT to the engine's
 * `run` being called for that operation (a run that starts before the 202 reaches the client
 * counts as 0 ms). PUTs go one at a time, each to a new environment, and the next is sent
 * once the previous one started, so this is the hand-off on an otherwise idle system.
 *
 *   embedded    one process: the real app, the embedded store and a worker, in this process
 *   postgres    an API replica (automation/server/main.ts, KVP_ROLE=api) and a worker process
 *               (bench/opsWorker.ts) on PostgreSQL; the worker naps 60 s between polls, so only
 *               the LISTEN/NOTIFY wake-up can make it fast: no polling sleep is on the path
 *
 *   BENCH_QUEUE_REQUESTS (200)  BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test; a temporary schema)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import { Client, escapeIdentifier } from "pg";
import { EnvironmentService } from "../automation/domain/service";
import { createApp, startWebServer, stopWebServer } from "../automation/http/app";
import { createAuthenticator } from "../automation/http/auth";
import { createLogger } from "../automation/http/logger";
import { createMetrics } from "../automation/http/metrics";
import { sha256Hex } from "../automation/server/settings";
import { SqliteStore } from "../automation/store/sqlite";
import { Worker } from "../automation/worker/worker";
import { StampingEngine } from "./opsWorker";
import { BENCH_SPEC, startWorkerProcess, stdoutLines } from "./shared";

const REQUESTS = Number(process.env.BENCH_QUEUE_REQUESTS ?? 200);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;
const TOKEN = "bench-queue-admin-token-0123456789";
const REPO = path.resolve(__dirname, "..");

const now = () => performance.timeOrigin + performance.now();

/** Engine starts, by operation id, as they are reported; `waitFor` resolves once one is. */
class Starts {
    private readonly at = new Map<string, number>();
    private readonly waiting = new Map<string, (at: number) => void>();
    record(id: string, at: number): void {
        this.at.set(id, at);
        this.waiting.get(id)?.(at);
    }
    waitFor(id: string, withinMs = 10_000): Promise<number> {
        const known = this.at.get(id);
        if (known !== undefined) return Promise.resolve(known);
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`operation ${id} did not start within ${withinMs} ms`)), withinMs);
            this.waiting.set(id, (at) => {
                clearTimeout(timer);
                resolve(at);
            });
        });
    }
}

async function handOffs(base: string, starts: Starts): Promise<number[]> {
    const delays: number[] = [];
    // A few unmeasured requests first: the first statement of each kind is parsed and planned.
    for (let i = -5; i < REQUESTS; i++) {
        const res = await fetch(`${base}/v1/environments/${BENCH_SPEC.team}-${randomBytes(4).toString("hex")}`, {
            method: "PUT", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(BENCH_SPEC),
        });
        const acceptedAt = now();
        const text = await res.text();
        if (res.status !== 202) throw new Error(`PUT answered ${res.status}: ${text.slice(0, 300)}`);
        const id = (JSON.parse(text) as { operation: { id: string } }).operation.id;
        const startedAt = await starts.waitFor(id).catch(async (e: unknown) => {
            const op = await fetch(`${base}/v1/operations/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
            throw new Error(`${e instanceof Error ? e.message : String(e)}; the operation now: ${op.slice(0, 500)}`);
        });
        if (i >= 0) delays.push(Math.max(0, startedAt - acceptedAt));
    }
    return delays;
}

async function embedded(): Promise<number[]> {
    const dataDir = mkdtempSync(path.join(tmpdir(), "kvp-bench-queue-"));
    const store = await SqliteStore.open({ dataDir });
    const starts = new Starts();
    const engine = new StampingEngine(5, (id, at) => starts.record(id, at));
    const logger = createLogger({ level: "info", destination: pino.destination({ dest: "/dev/null", sync: false }) });
    const service = new EnvironmentService({ store, engine, logger, settings: { maxConcurrent: 4 } });
    // A 60 s nap: only the in-process wake-up on enqueue can start a run quickly.
    const worker = new Worker({ store, engine, hub: service.hub, logger, settings: { maxConcurrent: 4, pollMs: 60_000 } });
    await worker.start();
    const metrics = createMetrics({ operationCounts: async () => ({ byKindAndState: [], queueDepth: 0 }) });
    const app = createApp({
        service, logger, metrics, auth: createAuthenticator({ adminTokenSha256: sha256Hex(TOKEN) }),
        settings: { bodyLimitBytes: 64 * 1024, rateLimitPerMin: 1_000_000_000, engine: "test-double" },
    });
    const server = await startWebServer(app, { host: "127.0.0.1", port: 0 });
    try {
        const address = server.address();
        return await handOffs(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`, starts);
    } finally {
        await stopWebServer(server, 1_000);
        await worker.stop();
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
    }
}

function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGKILL");
    return exited;
}

async function postgres(): Promise<number[]> {
    const schema = `kvp_bench_queue_${randomBytes(4).toString("hex")}`;
    const dataDir = mkdtempSync(path.join(tmpdir(), "kvp-bench-queue-api-"));
    const children: ChildProcess[] = [];
    const starts = new Starts();
    try {
        const api = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", "automation/server/main.ts"], {
            cwd: REPO, stdio: ["ignore", "pipe", "inherit"],
            env: {
                PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOST: "127.0.0.1", PORT: "0", KVP_DATA_DIR: dataDir,
                KVP_ENGINE: "test-double", KVP_ADMIN_TOKEN: TOKEN, LOG_LEVEL: "info", DATABASE_URL, KVP_DATABASE_SCHEMA: schema,
                KVP_REPLICA_NAME: "bench-queue-api", KVP_ROLE: "api", KVP_BACKEND_URL: "azblob://kvp-bench-queue", KVP_RATE_LIMIT_PER_MIN: "100000", PULUMI_CONFIG_PASSPHRASE: "bench-queue-passphrase",
            },
        });
        children.push(api);
        const url = await new Promise<string>((resolve, reject) => {
            stdoutLines(api, (l) => {
                const m = /listening on (http:\/\/[^ ]+)/.exec(l);
                if (m) resolve(m[1]);
            });
            api.once("exit", (code) => reject(new Error(`the API replica exited with ${code}`)));
        });
        const worker = startWorkerProcess(path.join(__dirname, "opsWorker.ts"), {
            BENCH_DATABASE_URL: DATABASE_URL, BENCH_SCHEMA: schema, BENCH_LATENCY_MS: "5", BENCH_WORKER_CONCURRENCY: "4",
            BENCH_REPORT_STARTS: "1", BENCH_WAIT_FOR_GO: "0", BENCH_POLL_MS: "60000",
        }, (l) => {
            if (!l.startsWith("{")) return;
            const { start, at } = JSON.parse(l) as { start: string; at: number };
            starts.record(start, at);
        });
        children.push(worker.child);
        await worker.ready;
        // The worker's first claim pass and its LISTEN are done shortly after "ready".
        await new Promise((r) => setTimeout(r, 500));
        return await handOffs(url, starts);
    } finally {
        for (const c of children) await stop(c);
        rmSync(dataDir, { recursive: true, force: true });
        const admin = new Client({ connectionString: DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`).finally(() => admin.end());
    }
}

function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Goal {
    figure: string;
    value: number;
    goal: number;
}

async function main(): Promise<void> {
    console.log(`bench:queue compares: hand-off from an accepted PUT to the engine start, one process on SQLite against an API and a worker replica on PostgreSQL; ${REQUESTS} PUTs one at a time per setup, 202 received -> engine run called; node ${process.version}`);
    const goals: Goal[] = [];
    const e = (await embedded()).sort((a, b) => a - b);
    goals.push({ figure: "embedded, one process: p50", value: percentile(e, 50), goal: 20 });
    goals.push({ figure: "embedded, one process: p99", value: percentile(e, 99), goal: 100 });
    const p = (await postgres()).sort((a, b) => a - b);
    goals.push({ figure: "PostgreSQL, API + worker replica: p50", value: percentile(p, 50), goal: Number.POSITIVE_INFINITY });
    goals.push({ figure: "PostgreSQL, API + worker replica: p99", value: percentile(p, 99), goal: 250 });
    console.log("");
    console.log(`${"figure".padEnd(42)}${"ms".padEnd(10)}${"goal".padEnd(10)}result`);
    let missed = 0;
    for (const g of goals) {
        const met = g.value <= g.goal;
        if (!met) missed++;
        console.log(`${g.figure.padEnd(42)}${g.value.toFixed(1).padEnd(10)}${(Number.isFinite(g.goal) ? `<= ${g.goal}` : "-").padEnd(10)}${Number.isFinite(g.goal) ? (met ? "met" : "MISSED") : "(reported)"}`);
    }
    console.log(`max: embedded ${e[e.length - 1].toFixed(1)} ms, PostgreSQL ${p[p.length - 1].toFixed(1)} ms`);
    process.exitCode = missed === 0 ? 0 : 1;
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
});
