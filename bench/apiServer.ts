/**
 * The server side of `npm run bench:api`, run as a child process so the load
 * generator and the server do not share an event loop:
 *
 *   node --import tsx bench/apiServer.ts sqlite|postgres   seeds BENCH_ENVIRONMENTS environments through the
 *                                                          store, then serves the real app (no worker)
 *   node --import tsx bench/apiServer.ts bare <bodies.json> a bare express 5 app answering the given JSON bodies
 *
 * Prints one JSON line `{"port": ..., ...}` once it listens, and runs until killed.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import express from "express";
import pino from "pino";
import { EnvironmentService } from "../automation/domain/service";
import type { Store } from "../automation/domain/store";
import { TestDoubleEngine } from "../automation/engine/testDouble";
import { createApp, startWebServer } from "../automation/http/app";
import { createAuthenticator } from "../automation/http/auth";
import { createLogger } from "../automation/http/logger";
import { createMetrics } from "../automation/http/metrics";
import { sha256Hex } from "../automation/server/settings";
import { createPostgresStore } from "../automation/store/postgres";
import { SqliteStore } from "../automation/store/sqlite";

export const BENCH_TOKEN = "bench-admin-token-0123456789abcdef";
const TEAMS = ["payments", "billing", "search", "identity", "checkout", "ledger", "risk", "growth"];
const BATCH = 250;

/** Environment names the bench seeds and the detail route asks for. */
export function benchName(i: number): string {
    return `env-${String(i).padStart(5, "0")}`;
}

function seedSpec(team: string, i: number): Record<string, unknown> {
    return {
        tier: i % 10 === 0 ? "prod" : i % 3 === 0 ? "staging" : "dev", location: "westeurope", team,
        network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
        access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
        alerts: { emails: [`${team}-oncall@example.com`] },
    };
}

/** Batched, through the store's own transactions: what a busy platform would have written over time. */
async function seed(store: Store, count: number): Promise<void> {
    const now = new Date().toISOString();
    for (let start = 0; start < count; start += BATCH) {
        await store.transaction(async (tx) => {
            for (let i = start; i < Math.min(count, start + BATCH); i++) {
                const name = benchName(i);
                const team = TEAMS[i % TEAMS.length];
                await tx.upsertEnvironment({ name, team, spec: seedSpec(team, i), specHash: `hash-${i}`, status: "pending", expiresAt: null, now });
                const { operation } = await tx.enqueueOperation({ id: `op-${name}`, environment: name, team, kind: "preview", requestedBy: "token:bench", maxAttempts: 3, now });
                await tx.updateEnvironment(name, {
                    status: "ready", lastOperationId: operation.id, now,
                    outputs: { vaultName: `kv-${name}`, vaultUri: `https://kv-${name}.vault.azure.net/`, resourceGroupName: `rg-${name}`, adminPassword: "[secret]" },
                });
            }
        });
    }
}

async function serveApp(kind: "sqlite" | "postgres"): Promise<void> {
    const count = Number(process.env.BENCH_ENVIRONMENTS ?? 10_000);
    const store: Store = kind === "sqlite"
        ? await SqliteStore.open({ dataDir: mkdtempSync(path.join(tmpdir(), "kvp-bench-")) })
        : await createPostgresStore({ connectionString: required("BENCH_DATABASE_URL"), schema: required("BENCH_SCHEMA"), applicationName: "kvp-bench" });
    const seedStarted = Date.now();
    await seed(store, count);
    const seedMs = Date.now() - seedStarted;
    // Production logging (one JSON access line per request) into /dev/null: its cost is part of the figure.
    const logger = createLogger({ level: "info", destination: pino.destination({ dest: "/dev/null", sync: false }) });
    const engine = new TestDoubleEngine();
    const service = new EnvironmentService({ store, engine, logger });
    const metrics = createMetrics({ operationCounts: () => service.operationStats().then((s) => ({ byKindAndState: s.counts, queueDepth: s.queueDepth })) });
    const app = createApp({
        service, logger, metrics,
        auth: createAuthenticator({ adminTokenSha256: sha256Hex(BENCH_TOKEN) }),
        // One credential drives all the load, so the per-credential limiter is lifted for the bench.
        settings: { bodyLimitBytes: 64 * 1024, rateLimitPerMin: 1_000_000_000, engine: "test-double" },
    });
    const server = await startWebServer(app, { host: "127.0.0.1", port: 0 });
    announce(server, { seedMs, environments: count });
}

async function serveBare(bodiesFile: string): Promise<void> {
    const bodies = JSON.parse(readFileSync(bodiesFile, "utf8")) as { list: unknown; detail: unknown };
    const app = express();
    app.get("/list", (_req, res) => { res.json(bodies.list); });
    app.get("/detail/:name", (_req, res) => { res.json(bodies.detail); });
    const server = await startWebServer(app, { host: "127.0.0.1", port: 0 });
    announce(server, {});
}

function announce(server: Server, extra: Record<string, unknown>): void {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ port, ...extra })}\n`);
}

function required(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
}

if (require.main === module) {
    // A clean exit on SIGTERM lets `node --cpu-prof bench/apiServer.ts ...` write its profile.
    process.once("SIGTERM", () => process.exit(0));
    const [kind, arg] = process.argv.slice(2);
    const started = kind === "bare" ? serveBare(arg) : kind === "sqlite" || kind === "postgres" ? serveApp(kind) : Promise.reject(new Error(`unknown server kind ${kind}`));
    started.catch((e: unknown) => {
        process.stderr.write(`bench server failed: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    });
}
