/**
 * npm run bench:events — live events for a thousand watchers.
 *
 * 100 operations run at once in two worker processes (bench/opsWorker.ts, 50 runs each, the
 * test double emitting BENCH_PROGRESS_EVENTS x 2 + 1 engine events over 6 s) on PostgreSQL, and
 * 1,000 SSE followers (10 per operation) watch them through one API replica (automation/server/main.ts,
 * KVP_ROLE=api), connected before the workers start claiming, together, once both have loaded. Checks and goals:
 *   - every follower receives every stored event of its operation, in order, with no gap and no
 *     duplicate (ids 1..n, n the operation's last stored event), and then `end`;
 *   - p99 delivery <= 250 ms from the engine's emit (the worker stamps `emittedAt` into each engine
 *     event's data; the follower compares it with its own receive time, same machine clock);
 *   - the replica's RSS grows by at most 150 MB (peak while streaming minus before the followers);
 *   - the replica's store connections (pg_stat_activity, its application_name) stay at most its
 *     pool (KVP_DATABASE_POOL_SIZE) plus one listener.
 * It also prints the delivery per event type (not a goal), to show whether the late events are
 * the first of each run, the progress ones, or the summaries.
 *
 *   BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test; a temporary schema)
 *   BENCH_FOLLOWERS (1000)  BENCH_OPERATIONS (100)  BENCH_PROGRESS_EVENTS (10)
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as path from "node:path";
import { Client, escapeIdentifier } from "pg";
import { createPostgresStore } from "../automation/store/postgres";
import { BENCH_SPEC, startWorkerProcess, stdoutLines } from "./shared";

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;
const FOLLOWERS = Number(process.env.BENCH_FOLLOWERS ?? 1_000);
const OPERATIONS = Number(process.env.BENCH_OPERATIONS ?? 100);
const PROGRESS_EVENTS = Number(process.env.BENCH_PROGRESS_EVENTS ?? 10);
const WORKERS = 2;
const POOL = 10;
const TOKEN = "bench-events-admin-token-0123456789";
const REPLICA = "bench-events-api";
const REPO = path.resolve(__dirname, "..");
const GOAL = { p99Ms: 250, rssMb: 150, connections: POOL + 1 };

const now = () => performance.timeOrigin + performance.now();

interface Follower {
    operationId: string;
    seqs: number[];
    ended: boolean;
    delays: number[];
    /** The SSE event type of each delay, in the same order. */
    types: string[];
    error?: string;
}

/**
 * One SSE client: reads frames until `end` (or an error), recording ids and delivery delays.
 * On node:http rather than fetch: the followers share two cores with the replica, the workers and
 * PostgreSQL, and fetch's web streams cost this process more CPU per frame, which delayed its own
 * reading of a burst (1,000 followers each receive their run's first events at once). That is the
 * bench's own cost, not delivery (bench/README, twelfth session).
 */
function follow(base: string, operationId: string, connected: () => void): Promise<Follower> {
    const f: Follower = { operationId, seqs: [], ended: false, delays: [], types: [] };
    return new Promise((resolve) => {
        const done = (error?: string) => {
            if (error !== undefined && !f.ended) f.error ??= error;
            resolve(f);
        };
        const req = http.get(`${base}/v1/operations/${operationId}/events`, { headers: { authorization: `Bearer ${TOKEN}`, accept: "text/event-stream" } }, (res) => {
            if (res.statusCode !== 200) {
                res.resume();
                return done(`status ${res.statusCode}`);
            }
            connected();
            res.setEncoding("utf8");
            let buffered = "";
            res.on("data", (chunk: string) => {
                const receivedAt = now();
                buffered += chunk;
                let cut: number;
                while ((cut = buffered.indexOf("\n\n")) >= 0) {
                    const frame = buffered.slice(0, cut);
                    buffered = buffered.slice(cut + 2);
                    let id: number | undefined;
                    let event: string | undefined;
                    let data: string | undefined;
                    for (const line of frame.split("\n")) {
                        if (line.startsWith("id: ")) id = Number(line.slice(4));
                        else if (line.startsWith("event: ")) event = line.slice(7);
                        else if (line.startsWith("data: ")) data = line.slice(6);
                    }
                    if (event === "end") {
                        f.ended = true;
                        res.destroy();
                        return done();
                    }
                    if (id === undefined) continue;
                    f.seqs.push(id);
                    const emittedAt = (JSON.parse(data ?? "null") as { emittedAt?: number } | null)?.emittedAt;
                    if (typeof emittedAt === "number") {
                        f.delays.push(receivedAt - emittedAt);
                        f.types.push(event ?? "message");
                    }
                }
            });
            // A stream that closes before `end` is reported as such by the checks (f.ended stays false).
            res.on("close", () => done());
            res.on("error", (e) => done(e.message));
        });
        req.on("error", (e) => done(e.message));
    });
}

/** The p-th percentile of ascending `sorted` (nearest rank). */
function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function rssMb(pid: number): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
}

async function main(): Promise<void> {
    console.log(`bench:events compares: engine emit time against follower receive time for ${FOLLOWERS} SSE followers over ${OPERATIONS} running operations, one API replica (pool ${POOL}), ${WORKERS} worker processes, PostgreSQL; node ${process.version}`);
    const schema = `kvp_bench_events_${randomBytes(4).toString("hex")}`;
    const dataDir = mkdtempSync(path.join(tmpdir(), "kvp-bench-events-"));
    const children: ChildProcess[] = [];
    const admin = new Client({ connectionString: DATABASE_URL });
    await admin.connect();
    const store = await createPostgresStore({ connectionString: DATABASE_URL, schema, applicationName: "kvp-bench-events-setup", notify: false });
    try {
        const at = new Date().toISOString();
        const ids: string[] = [];
        await store.transaction(async (tx) => {
            for (let i = 0; i < OPERATIONS; i++) {
                await tx.upsertEnvironment({ name: `events-env-${i}`, team: "bench", spec: BENCH_SPEC, specHash: "h", status: "ready", expiresAt: null, now: at });
                const { operation } = await tx.enqueueOperation({ id: `events-op-${i}`, environment: `events-env-${i}`, team: "bench", kind: "preview", requestedBy: "token:bench", maxAttempts: 1, now: at });
                ids.push(operation.id);
            }
        });
        await store.close();

        const api = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", "automation/server/main.ts"], {
            cwd: REPO, stdio: ["ignore", "pipe", "inherit"],
            env: {
                PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOST: "127.0.0.1", PORT: "0", KVP_DATA_DIR: dataDir, KVP_ENGINE: "test-double",
                KVP_ADMIN_TOKEN: TOKEN, LOG_LEVEL: "info", DATABASE_URL, KVP_DATABASE_SCHEMA: schema, KVP_DATABASE_POOL_SIZE: String(POOL),
                KVP_REPLICA_NAME: REPLICA, KVP_ROLE: "api", KVP_BACKEND_URL: "azblob://kvp-bench-events", KVP_RATE_LIMIT_PER_MIN: "1000000",
                PULUMI_CONFIG_PASSPHRASE: "bench-events-passphrase",
            },
        });
        children.push(api);
        const base = await new Promise<string>((resolve, reject) => {
            stdoutLines(api, (l) => {
                const m = /listening on (http:\/\/[^ "]+)/.exec(l);
                if (m) resolve(m[1]);
            });
            api.once("exit", (code) => reject(new Error(`the API replica exited with ${code}`)));
            setTimeout(() => reject(new Error("the API replica did not listen within 30 s")), 30_000).unref();
        });
        await fetch(`${base}/v1/environments?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.arrayBuffer());
        const rssBefore = rssMb(api.pid!);

        let connected = 0;
        const following = Array.from({ length: FOLLOWERS }, (_, i) => follow(base, ids[i % OPERATIONS], () => connected++));
        const deadline = Date.now() + 60_000;
        while (connected < FOLLOWERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (connected < FOLLOWERS) throw new Error(`only ${connected} of ${FOLLOWERS} followers connected within 60 s`);

        let peakRss = rssMb(api.pid!);
        let peakConnections = 0;
        let registryConnections = 0;
        const sample = async () => {
            peakRss = Math.max(peakRss, rssMb(api.pid!));
            const { rows } = await admin.query<{ app: string; n: string }>(
                "SELECT application_name AS app, count(*) AS n FROM pg_stat_activity WHERE application_name LIKE $1 GROUP BY application_name",
                [`keyvault-platform:${REPLICA}%`],
            );
            for (const r of rows) {
                if (r.app === `keyvault-platform:${REPLICA}`) peakConnections = Math.max(peakConnections, Number(r.n));
                else registryConnections = Math.max(registryConnections, Number(r.n));
            }
        };
        const sampler = setInterval(() => void sample().catch(() => undefined), 200);

        // The workers load first and start claiming together, on a line on stdin, as bench:ops's do: a
        // worker still loading (about 1.5 s of CPU under tsx) would otherwise compete with the first
        // runs of the other, and a worker replica in service has long finished loading when runs start.
        const workers = Array.from({ length: WORKERS }, () => startWorkerProcess(path.join(__dirname, "opsWorker.ts"), {
            BENCH_DATABASE_URL: DATABASE_URL, BENCH_SCHEMA: schema, BENCH_LATENCY_MS: "6000", BENCH_PROGRESS_EVENTS: String(PROGRESS_EVENTS),
            BENCH_WORKER_CONCURRENCY: String(Math.ceil(OPERATIONS / WORKERS)), BENCH_GLOBAL_CAP: String(OPERATIONS),
        }));
        children.push(...workers.map((w) => w.child));
        await Promise.all(workers.map((w) => w.ready));
        for (const { child } of workers) child.stdin!.end("go\n");
        const started = Date.now();
        // How late this process itself was to read what arrived: part of every delay measured, not the product's.
        const followerLag = monitorEventLoopDelay({ resolution: 10 });
        followerLag.enable();
        const followers = await Promise.all(following);
        followerLag.disable();
        clearInterval(sampler);
        await sample();
        const elapsedS = (Date.now() - started) / 1000;

        const { rows: last } = await admin.query<{ operation_id: string; n: string }>(
            `SELECT operation_id, max(seq) AS n FROM ${escapeIdentifier(schema)}.events GROUP BY operation_id`,
        );
        const stored = new Map(last.map((r) => [r.operation_id, Number(r.n)]));
        const problems: string[] = [];
        for (const f of followers) {
            const n = stored.get(f.operationId) ?? 0;
            const expected = Array.from({ length: n }, (_, i) => i + 1);
            if (f.error) problems.push(`${f.operationId}: ${f.error}`);
            else if (!f.ended) problems.push(`${f.operationId}: no end`);
            else if (f.seqs.join(",") !== expected.join(",")) problems.push(`${f.operationId}: got ids ${f.seqs.join(",")}, stored 1..${n}`);
        }
        const delays = followers.flatMap((f) => f.delays).sort((a, b) => a - b);
        const pct = (p: number) => percentile(delays, p);
        const events = followers.reduce((n, f) => n + f.seqs.length, 0);
        console.log(`${events} events delivered to ${FOLLOWERS} followers in ${elapsedS.toFixed(1)} s (${delays.length} engine events timed); `
            + `delivery p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${delays[delays.length - 1].toFixed(1)} ms`);
        // Which events are late: the first of each run (runs start together), the progress ones, or the summary (runs end together).
        const byType = new Map<string, number[]>();
        for (const f of followers) {
            f.types.forEach((t, i) => {
                const list = byType.get(t) ?? [];
                list.push(f.delays[i]);
                byType.set(t, list);
            });
        }
        console.log(`delivery by event type: ${[...byType].map(([t, list]) => {
            const sorted = list.sort((a, b) => a - b);
            return `${t} p50 ${percentile(sorted, 0.5).toFixed(1)} / p99 ${percentile(sorted, 0.99).toFixed(1)} ms`;
        }).join("; ")}`);
        console.log(`the followers' own process (not a goal): event-loop delay p99 ${(followerLag.percentile(99) / 1e6).toFixed(1)} ms, max ${(followerLag.max / 1e6).toFixed(1)} ms`);
        console.log(`replica RSS ${rssBefore.toFixed(0)} MB before the followers, peak ${peakRss.toFixed(0)} MB; store connections peak ${peakConnections}, replica registry ${registryConnections}`);
        if (problems.length > 0) console.log(`problems: ${problems.slice(0, 10).join("; ")}`);
        const goals: Array<[string, string, string, boolean]> = [
            ["every follower: every event, in order, no gap or duplicate, then end", `${FOLLOWERS - problems.length}/${FOLLOWERS}`, "all", problems.length === 0],
            ["delivery p99 from engine emit", `${pct(0.99).toFixed(1)} ms`, `<= ${GOAL.p99Ms} ms`, pct(0.99) <= GOAL.p99Ms],
            ["replica RSS growth", `${(peakRss - rssBefore).toFixed(1)} MB`, `<= ${GOAL.rssMb} MB`, peakRss - rssBefore <= GOAL.rssMb],
            ["replica store connections (pool + listener)", String(peakConnections), `<= ${GOAL.connections}`, peakConnections <= GOAL.connections],
        ];
        console.log("");
        console.log(`${"figure".padEnd(72)}${"value".padEnd(12)}${"goal".padEnd(12)}result`);
        for (const [figure, value, goal, met] of goals) console.log(`${figure.padEnd(72)}${value.padEnd(12)}${goal.padEnd(12)}${met ? "met" : "MISSED"}`);
        process.exitCode = goals.every(([, , , met]) => met) ? 0 : 1;
    } finally {
        for (const c of children) {
            if (c.exitCode === null && c.signalCode === null) {
                const exited = new Promise((r) => c.once("exit", r));
                c.kill("SIGKILL");
                await exited;
            }
        }
        await store.close().catch(() => undefined);
        await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`).catch(() => undefined);
        await admin.end();
        rmSync(dataDir, { recursive: true, force: true });
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
});
