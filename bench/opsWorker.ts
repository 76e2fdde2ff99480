/**
 * One worker process of `npm run bench:ops` (and of the fault suite's queue checks): a
 * PostgresStore, a Worker and the test-double engine, as a worker replica would run
 * them, minus HTTP. Prints `ready` once connected, starts claiming at the first line on
 * stdin (so every process starts together), and stops gracefully on SIGTERM.
 *
 *   BENCH_DATABASE_URL, BENCH_SCHEMA        the shared store
 *   BENCH_WORKER_CONCURRENCY (4)            runs this process takes on at once
 *   BENCH_GLOBAL_CAP (64)                   cap across every process (KVP_MAX_CONCURRENCY)
 *   BENCH_LATENCY_MS (200)                  how long each test-double operation takes
 *   BENCH_REPORT_STARTS (unset)             "1": print `{"start": <operation id>, "at": <epoch ms>}` as the engine starts each run
 *   BENCH_PROGRESS_EVENTS (3)               resource events the test double emits per run (two each)
 *   BENCH_POLL_MS (50)                      how long an idle worker naps when nothing woke it
 *   BENCH_WAIT_FOR_GO (1)                   "0": start claiming at once instead of at the first stdin line
 */
import { EventHub } from "../automation/domain/eventHub";
import type { EngineResult, EngineRunRequest } from "../automation/domain/ports";
import { TestDoubleEngine } from "../automation/engine/testDouble";
import { createPostgresStore } from "../automation/store/postgres";
import { bridgeStoreNotifications } from "../automation/store/postgresNotify";
import { Worker } from "../automation/worker/worker";
import { withGlobalCap } from "../automation/worker/capacity";

/**
 * The test double, stamping the moment each run reaches the engine, and each event's data with
 * `emittedAt`, the moment the engine emitted it (epoch ms with sub-ms precision, comparable
 * across processes on one machine), so a follower can tell how late it was delivered.
 */
export class StampingEngine extends TestDoubleEngine {
    constructor(latencyMs: number, private readonly onStart: (operationId: string, at: number) => void, progressEvents?: number) {
        super({ latencyMs, progressEvents });
    }

    override run(req: EngineRunRequest): Promise<EngineResult> {
        this.onStart(req.operationId, performance.timeOrigin + performance.now());
        return super.run({
            ...req,
            onEvent: (e) => req.onEvent({ ...e, data: { ...(e.data as Record<string, unknown>), emittedAt: performance.timeOrigin + performance.now() } }),
        });
    }
}

/**
 * BENCH_PROFILE=1: times every store call of this process (count, total and p50/p99 per method)
 * and prints the table to stderr when the process stops, to see where a run's time goes.
 */
function profiled<T extends object>(target: T): { store: T; report: () => string } {
    const times = new Map<string, number[]>();
    const store = new Proxy(target, {
        get(t, key, receiver) {
            const value = Reflect.get(t, key, receiver) as unknown;
            if (typeof value !== "function" || typeof key !== "string") return value;
            return (...args: unknown[]) => {
                const started = performance.now();
                const result = (value as (...a: unknown[]) => unknown).apply(t, args);
                if (!(result instanceof Promise)) return result;
                return result.finally(() => {
                    const list = times.get(key) ?? [];
                    list.push(performance.now() - started);
                    times.set(key, list);
                });
            };
        },
    });
    const report = () => [...times].sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0)).map(([name, list]) => {
        const sorted = [...list].sort((a, b) => a - b);
        const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)].toFixed(1);
        return `${name.padEnd(24)} n ${String(list.length).padEnd(7)} total ${(list.reduce((x, y) => x + y, 0) / 1000).toFixed(2).padEnd(8)} s  p50 ${at(0.5).padEnd(7)} p99 ${at(0.99)} ms`;
    }).join("\n");
    return { store, report };
}

function required(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
}

async function main(): Promise<void> {
    const concurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 4);
    // As a worker replica's pool (KVP_DATABASE_POOL_SIZE, 10 by default), opened up front as there:
    // 50 runs with 52 connections each, in two processes beside the API replica, passed
    // PostgreSQL's max_connections of 100.
    const poolSize = Math.min(concurrency + 2, 10);
    const store = await createPostgresStore({
        connectionString: required("BENCH_DATABASE_URL"), schema: required("BENCH_SCHEMA"),
        maxConnections: poolSize, minConnections: poolSize, applicationName: `kvp-bench-ops:${required("BENCH_SCHEMA")}`,
    });
    const profile = process.env.BENCH_PROFILE === "1" ? profiled(store) : undefined;
    const hub = new EventHub();
    const stopBridge = await bridgeStoreNotifications(store, hub);
    const worker = new Worker({
        store: withGlobalCap(profile?.store ?? store, Number(process.env.BENCH_GLOBAL_CAP ?? 64)),
        engine: new StampingEngine(Number(process.env.BENCH_LATENCY_MS ?? 200), (id, at) => {
            if (process.env.BENCH_REPORT_STARTS === "1") process.stdout.write(`${JSON.stringify({ start: id, at })}\n`);
        }, process.env.BENCH_PROGRESS_EVENTS === undefined ? undefined : Number(process.env.BENCH_PROGRESS_EVENTS)),
        hub,
        // A short poll only bounds how long an idle worker waits when no notification woke it.
        settings: { maxConcurrent: concurrency, pollMs: Number(process.env.BENCH_POLL_MS ?? 50) },
    });
    process.stdout.write("ready\n");
    if (process.env.BENCH_WAIT_FOR_GO !== "0") await new Promise((resolve) => process.stdin.once("data", resolve));
    await worker.start();
    process.once("SIGTERM", () => {
        void (async () => {
            await worker.stop();
            if (profile) process.stderr.write(`store calls of worker ${process.pid}:\n${profile.report()}\n`);
            await stopBridge();
            await store.close();
            process.exit(0);
        })();
    });
}

if (require.main === module) {
    main().catch((e: unknown) => {
        process.stderr.write(`bench worker failed: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    });
}
