/**
 * A worker process for storeMultiProcess.spec.ts, run as `node --import tsx <this file>`.
 * It talks to the schema named in KVP_CHILD_SCHEMA through its own PostgresStore, as a
 * separate server replica would.
 *
 *   KVP_CHILD_MODE=work  prints `ready`, waits for a line on stdin (so every process starts
 *                        together), then claims and finishes operations on KVP_CHILD_LOOPS
 *                        concurrent loops until none is queued or running; each run is logged
 *                        in `run_log` with the database clock, strictly inside its claim and
 *                        its finish.
 *   KVP_CHILD_MODE=hang  claims one operation with a short lease, prints `claimed <id>`,
 *                        and waits to be killed.
 */
import { Client } from "pg";
import type { Operation } from "../../automation/domain/ports";
import type { PostgresStore } from "../../automation/store/postgres";
import { openTestStore, TEST_DATABASE_URL } from "./storePostgresHarness";
import { claimOne } from "./domainFixtures";

const schema = required("KVP_CHILD_SCHEMA");
const workerId = required("KVP_CHILD_ID");
const mode = required("KVP_CHILD_MODE");
const maxRunning = Number(process.env.KVP_CHILD_MAX_RUNNING ?? 3);
const leaseMs = Number(process.env.KVP_CHILD_LEASE_MS ?? 30_000);
const loops = Number(process.env.KVP_CHILD_LOOPS ?? 2);

function required(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function claim(store: PostgresStore): Promise<Operation | undefined> {
    return claimOne(store, { workerId, leaseMs, maxRunning, now: new Date().toISOString() });
}

async function work(store: PostgresStore, log: Client): Promise<void> {
    for (;;) {
        const op = await claim(store);
        if (!op) {
            const open = (await store.countOperations()).filter((c) => c.state === "queued" || c.state === "running").reduce((n, c) => n + c.count, 0);
            if (open === 0) return;
            await sleep(2 + Math.random() * 5);
            continue;
        }
        await log.query("INSERT INTO run_log (op_id, environment, worker, started_at) VALUES ($1, $2, $3, clock_timestamp())", [op.id, op.environment, workerId]);
        await sleep(10 + Math.random() * 20);
        await log.query("UPDATE run_log SET finished_at = clock_timestamp() WHERE op_id = $1 AND finished_at IS NULL", [op.id]);
        await store.finishOperation({ id: op.id, workerId, state: "succeeded", now: new Date().toISOString() });
    }
}

async function main(): Promise<void> {
    const store = await openTestStore(schema, { maxConnections: loops + 1 });
    if (mode === "hang") {
        const op = await claim(store);
        process.stdout.write(`claimed ${op?.id ?? "nothing"}\n`);
        setInterval(() => undefined, 60_000);
        return;
    }
    // Each loop logs on its own connection: one shared client would serialize the loops.
    const logs = await Promise.all(Array.from({ length: loops }, async () => {
        const client = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
        await client.connect();
        return client;
    }));
    process.stdout.write("ready\n");
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.destroy();
    await Promise.all(logs.map((log) => work(store, log)));
    await Promise.all(logs.map((log) => log.end()));
    await store.close();
}

main().catch((e: unknown) => {
    process.stderr.write(`${workerId}: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
});
