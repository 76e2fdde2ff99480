/**
 * The floor that `npm run bench:ops` reports beside each worker count: a worker process reduced to
 * what any durable queue must do, on the same store, engine and machine. Each of its
 * BENCH_WORKER_CONCURRENCY slots claims with one statement (FOR UPDATE SKIP LOCKED, no global cap,
 * no lease, no per-environment order), runs the same test-double engine (its events dropped), and
 * finishes with one statement. No events, audit, environment status, leases or recovery: the
 * service's overhead minus this floor is what those cost. Not a product component.
 *
 *   BENCH_DATABASE_URL, BENCH_SCHEMA, BENCH_WORKER_CONCURRENCY, BENCH_LATENCY_MS, BENCH_REPORT_STARTS as for opsWorker.ts
 */
import { Pool } from "pg";
import type { OperationKind } from "../automation/domain/ports";
import { StampingEngine } from "./opsWorker";

const CLAIM = `UPDATE operations SET state = 'running', attempt = attempt + 1, started_at = now()
    WHERE id = (SELECT id FROM operations WHERE state = 'queued' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, environment, kind`;
const FINISH = "UPDATE operations SET state = 'succeeded', finished_at = now() WHERE id = $1";

async function main(): Promise<void> {
    const slots = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 4);
    const pool = new Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: slots, options: `-c search_path=${process.env.BENCH_SCHEMA}` });
    const engine = new StampingEngine(Number(process.env.BENCH_LATENCY_MS ?? 200), (id, at) => {
        if (process.env.BENCH_REPORT_STARTS === "1") process.stdout.write(`${JSON.stringify({ start: id, at })}\n`);
    });
    process.stdout.write("ready\n");
    await new Promise((resolve) => process.stdin.once("data", resolve));
    let stopping = false;
    process.once("SIGTERM", () => {
        stopping = true;
        void pool.end().then(() => process.exit(0));
    });
    const slot = async () => {
        while (!stopping) {
            const [op] = (await pool.query<{ id: string; environment: string; kind: OperationKind }>(CLAIM)).rows;
            if (!op) {
                await new Promise((resolve) => setTimeout(resolve, 50));
                continue;
            }
            await engine.run({ operationId: op.id, kind: op.kind, stackName: op.environment, config: {} as never, signal: new AbortController().signal, onEvent: () => undefined });
            await pool.query(FINISH, [op.id]);
        }
    };
    await Promise.all(Array.from({ length: slots }, slot));
}

if (require.main === module) {
    main().catch((e: unknown) => {
        process.stderr.write(`bench floor worker failed: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    });
}
