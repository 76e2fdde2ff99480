/**
 * The server side of `npm run bench:api`, run as a child process so the load generator and
 * the server do not share an event loop (and so its RSS is the server's alone):
 *
 *   node --import tsx bench/apiServer.ts sqlite <dataDir>...  the real app (no worker) on an embedded store seeded by `seedSqlite`
 *   node --import tsx bench/apiServer.ts postgres             the same on PostgreSQL (BENCH_DATABASE_URL, BENCH_SCHEMA), seeded by `seedPostgres`
 *   node --import tsx bench/apiServer.ts bare <bodies.json>   a bare express 5 app answering the given JSON bodies
 *
 * Several data directories (or schemas, comma-separated in BENCH_SCHEMA) serve one app each, on a
 * port each, from one process: bench:api times both sizes in one process, so that nothing that
 * differs between two processes (where the JIT placed code, heap layout, which core) differs
 * between the sizes. Prints one JSON line `{"ports": [...]}` once every app listens, and runs until killed.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { DatabaseSync } from "node:sqlite";
import * as path from "node:path";
import express from "express";
import pino from "pino";
import { Client, escapeIdentifier } from "pg";
import { EnvironmentService } from "../automation/domain/service";
import type { Store } from "../automation/domain/store";
import { TestDoubleEngine } from "../automation/engine/testDouble";
import { createApp, startWebServer } from "../automation/http/app";
import { createAuthenticator } from "../automation/http/auth";
import { createLogger } from "../automation/http/logger";
import { createMetrics } from "../automation/http/metrics";
import { sha256Hex } from "../automation/server/settings";
import { createPostgresStore } from "../automation/store/postgres";
import { DATABASE_FILE, SqliteStore } from "../automation/store/sqlite";

export const BENCH_TOKEN = "bench-admin-token-0123456789abcdef";
export const TEAMS = ["payments", "billing", "search", "identity", "checkout", "ledger", "risk", "growth"];

/** Environment names the bench seeds and asks for; zero-padded, so name order is number order. */
export function benchName(i: number): string {
    return `env-${String(i).padStart(6, "0")}`;
}

/** What a seeded environment looks like; `__TEAM__` and `__NAME__` are filled in by the SQL. */
const SPEC = JSON.stringify({
    tier: "dev", location: "westeurope", team: "__TEAM__",
    network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
    access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
    alerts: { emails: ["__TEAM__-oncall@example.com"] },
});
const OUTPUTS = JSON.stringify({ vaultName: "kv-__NAME__", vaultUri: "https://kv-__NAME__.vault.azure.net/", resourceGroupName: "rg-__NAME__", adminPassword: "[secret]" });
const SUMMARY = JSON.stringify({ same: 12 });
/** One environment in 20 is `failed`, the rest `ready`: a team+status filter for `ready` matches about 1 in 8.4. */
const FAILED_EVERY = 20;

/**
 * Bulk seeding, one INSERT ... SELECT per table inside one transaction: 100,000 environments in
 * seconds, where the API or the store's own transactions would take minutes. Each environment
 * has one finished update as its last operation, so the detail route reads the join it reads in
 * production. The store must have been opened once before (its migrations create the tables).
 */
export async function seedPostgres(connectionString: string, schema: string, count: number): Promise<void> {
    const client = new Client({ connectionString });
    await client.connect();
    const s = escapeIdentifier(schema);
    const now = new Date().toISOString();
    try {
        await client.query("BEGIN");
        await client.query(
            `INSERT INTO ${s}.environments (name, team, spec, spec_hash, status, outputs, created_at, updated_at, last_operation_id)
             SELECT n, t, replace($1, '__TEAM__', t)::json, 'hash-' || i, CASE WHEN i % ${FAILED_EVERY} = 0 THEN 'failed' ELSE 'ready' END,
                    replace($2, '__NAME__', n)::json, $3, $3, 'op-' || n
             FROM (SELECT i, 'env-' || lpad(i::text, 6, '0') AS n, ($4::text[])[1 + i % ${TEAMS.length}] AS t FROM generate_series(0, $5 - 1) AS i) AS g`,
            [SPEC, OUTPUTS, now, TEAMS, count],
        );
        await client.query(
            `INSERT INTO ${s}.operations (id, environment, team, kind, state, spec_hash, requested_by, attempt, max_attempts, created_at, started_at, finished_at, summary)
             SELECT 'op-' || name, name, team, 'update', 'succeeded', spec_hash, 'token:bench', 1, 3, $1, $1, $1, $2::json FROM ${s}.environments`,
            [now, SUMMARY],
        );
        await client.query("COMMIT");
        await client.query(`ANALYZE ${s}.environments`);
        await client.query(`ANALYZE ${s}.operations`);
    } finally {
        await client.end();
    }
}

/** The same rows as `seedPostgres`, in the embedded store's file. */
export async function seedSqlite(dataDir: string, count: number): Promise<void> {
    await (await SqliteStore.open({ dataDir })).close();
    const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE));
    const now = new Date().toISOString();
    const team = `json_extract(?, '$[' || (i % ${TEAMS.length}) || ']')`;
    try {
        db.exec("BEGIN");
        db.prepare(
            `WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < ?),
                  r(i, n, t) AS (SELECT i, printf('env-%06d', i), ${team} FROM g)
             INSERT INTO environments (name, team, spec, spec_hash, status, outputs, created_at, updated_at, last_operation_id)
             SELECT n, t, replace(?, '__TEAM__', t), 'hash-' || i, CASE WHEN i % ${FAILED_EVERY} = 0 THEN 'failed' ELSE 'ready' END,
                    replace(?, '__NAME__', n), ?, ?, 'op-' || n FROM r`,
        ).run(count, JSON.stringify(TEAMS), SPEC, OUTPUTS, now, now);
        db.prepare(
            `INSERT INTO operations (id, environment, team, kind, state, spec_hash, requested_by, attempt, max_attempts, created_at, started_at, finished_at, summary)
             SELECT 'op-' || name, name, team, 'update', 'succeeded', spec_hash, 'token:bench', 1, 3, ?, ?, ?, ? FROM environments`,
        ).run(now, now, now, SUMMARY);
        db.exec("COMMIT");
        db.exec("ANALYZE");
    } finally {
        db.close();
    }
}

async function serveApps(kind: "sqlite" | "postgres", dataDirs: string[]): Promise<void> {
    const ports: number[] = [];
    const names = kind === "sqlite" ? dataDirs : required("BENCH_SCHEMA").split(",");
    if (names.length === 0) throw new Error("no data directory given");
    for (const name of names) {
        const store: Store = kind === "sqlite"
            ? await SqliteStore.open({ dataDir: name })
            : await createPostgresStore({ connectionString: required("BENCH_DATABASE_URL"), schema: name, applicationName: "kvp-bench-api" });
        ports.push(portOf(await startWebServer(createBenchApp(store), { host: "127.0.0.1", port: 0 })));
    }
    announce(ports);
}

/** The real app over one store, as a replica serves it, minus the worker. */
function createBenchApp(store: Store): express.Express {
    // Production logging (one JSON access line per request) into /dev/null: its cost is part of the figure.
    const logger = createLogger({ level: "info", destination: pino.destination({ dest: "/dev/null", sync: false }) });
    const service = new EnvironmentService({ store, engine: new TestDoubleEngine(), logger });
    const metrics = createMetrics({ operationCounts: () => service.operationStats().then((s) => ({ byKindAndState: s.counts, queueDepth: s.queueDepth })) });
    return createApp({
        service, logger, metrics,
        auth: createAuthenticator({ adminTokenSha256: sha256Hex(BENCH_TOKEN) }),
        // One credential drives all the load, so the per-credential limiter is lifted for the bench.
        settings: { bodyLimitBytes: 64 * 1024, rateLimitPerMin: 1_000_000_000, engine: "test-double" },
    });
}

async function serveBare(bodiesFile: string): Promise<void> {
    const bodies = JSON.parse(readFileSync(bodiesFile, "utf8")) as Record<string, unknown>;
    const app = express();
    app.get("/bare/:route", (req, res) => { res.json(bodies[req.params.route]); });
    announce([portOf(await startWebServer(app, { host: "127.0.0.1", port: 0 }))]);
}

function portOf(server: Server): number {
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
}

function announce(ports: number[]): void {
    process.stdout.write(`${JSON.stringify({ ports })}\n`);
}

function required(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
}

if (require.main === module) {
    // A clean exit on SIGTERM lets `node --cpu-prof bench/apiServer.ts ...` write its profile.
    process.once("SIGTERM", () => process.exit(0));
    const [kind, ...args] = process.argv.slice(2);
    const started = kind === "bare" ? serveBare(args[0]) : kind === "sqlite" || kind === "postgres" ? serveApps(kind, args) : Promise.reject(new Error(`unknown server kind ${kind}`));
    started.catch((e: unknown) => {
        process.stderr.write(`bench server failed: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    });
}
