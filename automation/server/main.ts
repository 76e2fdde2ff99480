import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { OperationSettings } from "../domain/operationSettings";
import type { Store } from "../domain/store";
import { EnvironmentService } from "../domain/service";
import { createEngine } from "../engine";
import { boundAddress, createApp, startWebServer, stopWebServer } from "../http/app";
import { createAuthenticator, readTokensFile } from "../http/auth";
import { createLogger } from "../http/logger";
import { createMetrics, observeFinishedOperations } from "../http/metrics";
import { ReplicaConflictError, ReplicaRegistry } from "./replicas";
import { ensureDataDir, loadSettings, resolvePassphrase, SettingsError, type Settings } from "./settings";
import { createPostgresStore, type PostgresStore } from "../store/postgres";
import { bridgeStoreNotifications } from "../store/postgresNotify";
import { SqliteStore } from "../store/sqlite";
import { Worker } from "../worker/worker";
import { withGlobalCap } from "../worker/capacity";

/**
 * The server's entry point: wiring only. Settings fail fast; the store is the embedded
 * one, or PostgreSQL when DATABASE_URL is set, where this process first registers as a
 * replica (and refuses to run beside others on a file:// backend). KVP_ROLE picks the
 * API, the worker or both. The worker recovers what a crash left running before the
 * port opens; SIGTERM/SIGINT stop accepting, let the worker wind down (queued
 * operations stay queued), close the store and exit well inside 10 seconds.
 */

const SHUTDOWN_LIMIT_MS = 9_500;
/** Exit code for a configuration the operator must change (bad settings, a refused replica). */
const EXIT_CONFIG = 2;

function settingsOrExit(): Settings {
    try {
        return loadSettings();
    } catch (e) {
        if (e instanceof SettingsError) {
            process.stderr.write(`${e.message}\nSee docs/settings.md for every setting.\n`);
            process.exit(EXIT_CONFIG);
        }
        throw e;
    }
}

function operationSettings(s: Settings): Partial<OperationSettings> {
    return {
        maxConcurrent: s.workerConcurrency,
        maxAttempts: s.maxAttempts,
        idleTimeoutMs: s.opIdleTimeoutS * 1000,
        operationTimeoutMs: s.opTimeoutS * 1000,
        leaseMs: s.leaseMs,
        heartbeatMs: Math.floor(s.leaseMs / 3),
    };
}

/** The backend URL as logs and the replica registry show it: user info dropped. */
function publicBackendUrl(url: string): string {
    return url.startsWith("file://") ? url : url.replace(/\/\/[^/]*@/, "//");
}

/** What to change when the port cannot be bound for a reason the operator controls; undefined for anything else. */
function listenHint(e: unknown, s: Pick<Settings, "host" | "port">): string | undefined {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    const where = `${s.host}:${s.port}`;
    if (code === "EADDRINUSE") return `${where} is already in use (another server?): stop it, or set PORT to a free port (PORT=0 picks one).`;
    if (code === "EACCES") return `not allowed to listen on ${where}: set PORT to 1024 or above.`;
    if (code === "EADDRNOTAVAIL") return `${s.host} is not an address of this machine: set HOST to one (127.0.0.1, or 0.0.0.0 for every interface).`;
    return undefined;
}

async function main(): Promise<void> {
    const settings = settingsOrExit();
    // Only the hash of the token is kept, and the store has the URL; the Pulumi CLI (a child process) must inherit neither.
    delete process.env.KVP_ADMIN_TOKEN;
    delete process.env.DATABASE_URL;
    const logger = createLogger({ level: settings.logLevel });
    const processId = `${settings.replicaName}:${process.pid}:${randomUUID().slice(0, 8)}`;

    ensureDataDir(settings.dataDir);
    const passphrase = settings.secretsProvider === "passphrase" ? resolvePassphrase(settings) : undefined;
    if (passphrase) logger.info({ source: passphrase.source, file: passphrase.source === "environment" ? undefined : `${settings.dataDir}/passphrase` }, "stack passphrase ready");
    const staticTokens = settings.tokensFile ? readTokensFile(settings.tokensFile) : [];
    if (settings.role !== "worker" && !settings.adminTokenSha256 && staticTokens.length === 0 && !settings.oidc) {
        logger.warn("no KVP_ADMIN_TOKEN, KVP_TOKENS_FILE or KVP_OIDC_ISSUER: every /v1 request will be refused with 401 (to try the API without Azure: npm run quickstart)");
    }

    let pg: PostgresStore | undefined;
    let store: Store;
    if (settings.database) {
        const db = settings.database;
        pg = await createPostgresStore({
            connectionString: db.url,
            schema: db.schema,
            maxConnections: db.poolSize,
            // A process that runs a worker opens its pool up front: its runs end, and the next ones
            // are claimed, in bursts (npm run bench:ops). An API replica opens connections on demand.
            minConnections: settings.role === "api" ? 0 : db.poolSize,
            applicationName: `keyvault-platform:${settings.replicaName}`,
            onConnectionError: (err) => logger.warn({ err, database: db.display }, "a PostgreSQL connection broke; the pool reconnects on demand"),
        });
        store = pg;
        logger.info({ store: "postgres", database: db.display, schema: pg.schema, schemaVersion: pg.version }, "store ready");
    } else {
        store = await SqliteStore.open({ dataDir: settings.dataDir });
        logger.info({ store: "sqlite", dataDir: settings.dataDir }, "store ready");
    }

    let registry: ReplicaRegistry | undefined;
    let stopping = false;
    const shutdownHooks: { stop?: (reason: string, code: number) => Promise<void> } = {};
    if (pg && settings.database) {
        try {
            registry = await ReplicaRegistry.join({
                connectionString: settings.database.url,
                schema: pg.schema,
                applicationName: `keyvault-platform:${settings.replicaName}:replicas`,
                self: {
                    id: processId,
                    name: settings.replicaName,
                    role: settings.role,
                    backendUrl: publicBackendUrl(settings.backendUrl),
                    secrets: settings.secretsProvider === "passphrase" ? `passphrase:${passphrase?.source === "environment" ? "environment" : "file"}` : settings.secretsProvider,
                },
                logger,
                onConflict: (err) => {
                    logger.fatal({ replica: processId }, err.message);
                    void shutdownHooks.stop?.("replica conflict", EXIT_CONFIG);
                },
            });
        } catch (e) {
            await store.close();
            if (e instanceof ReplicaConflictError) {
                process.stderr.write(`Refusing to start: ${e.message}\nSee docs/scale-out.md.\n`);
                process.exit(EXIT_CONFIG);
            }
            throw e;
        }
    }

    const engine = createEngine({
        engine: settings.engine,
        dataDir: settings.dataDir,
        backendUrl: settings.backendUrl,
        secretsProvider: settings.secretsProvider,
        passphrase: passphrase?.passphrase,
        policyPack: settings.policyPack,
        testDouble: { latencyMs: settings.testDoubleLatencyMs },
        logger,
    });
    const opSettings = operationSettings(settings);
    const service = new EnvironmentService({ store, engine, settings: opSettings, logger });
    // Other replicas' events, enqueues and cancels reach this process's SSE streams and worker at once.
    const stopBridge = pg ? await bridgeStoreNotifications(pg, service.hub, logger) : undefined;
    const worker = settings.role === "api" ? undefined : new Worker({ store: withGlobalCap(store, settings.maxConcurrency), engine, hub: service.hub, settings: opSettings, logger, workerId: processId, profile: settings.platformProfile });

    const closeAll = async () => {
        await stopBridge?.();
        await registry?.leave();
        await store.close();
    };

    await worker?.start();
    let server: Server | undefined;
    if (settings.role !== "worker") {
        const metrics = createMetrics({
            operationCounts: async () => {
                const stats = await service.operationStats();
                return { byKindAndState: stats.counts, queueDepth: stats.queueDepth };
            },
        });
        observeFinishedOperations(service.hub, (id) => store.getOperation(id), metrics);
        const auth = createAuthenticator({ adminTokenSha256: settings.adminTokenSha256, staticTokens, oidc: settings.oidc });
        const app = createApp({ service, settings, logger, metrics, auth, profile: settings.platformProfile, portal: { oidc: settings.oidc } });
        try {
            server = await startWebServer(app, { host: settings.host, port: settings.port });
        } catch (e) {
            const hint = listenHint(e, settings);
            if (!hint) logger.fatal({ err: e, host: settings.host, port: settings.port }, "cannot listen");
            await worker?.stop();
            await closeAll();
            if (hint) {
                // A setting to change, not a bug: one line that says which, no stack trace.
                process.stderr.write(`keyvault-platform: ${hint}\n`);
                process.exit(EXIT_CONFIG);
            }
            process.exit(1);
        }
    }
    const common = { role: settings.role, replica: processId, engine: engine.name, dataDir: settings.dataDir, backend: publicBackendUrl(settings.backendUrl) };
    if (server) {
        const { host, port } = boundAddress(server);
        const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
        logger.info({ url, ...common }, `listening on ${url} (API docs at ${url}/docs)`);
    } else {
        logger.info(common, "worker running (KVP_ROLE=worker: no HTTP listener)");
    }

    const shutdown = async (reason: string, code: number) => {
        if (stopping) return;
        stopping = true;
        logger.info({ reason }, "shutting down: no new requests; queued operations stay queued");
        setTimeout(() => {
            logger.error({ limitMs: SHUTDOWN_LIMIT_MS }, "shutdown took too long; exiting (queued and interrupted operations resume at the next start)");
            process.exit(1);
        }, SHUTDOWN_LIMIT_MS).unref();
        try {
            await Promise.all([server ? stopWebServer(server, 1_000) : undefined, worker?.stop()]);
            await closeAll();
            logger.info("stopped");
            process.exit(code);
        } catch (e) {
            logger.error({ err: e }, "error while shutting down");
            process.exit(1);
        }
    };
    shutdownHooks.stop = shutdown;
    process.once("SIGTERM", () => void shutdown("SIGTERM", 0));
    process.once("SIGINT", () => void shutdown("SIGINT", 0));
}

main().catch((e: unknown) => {
    process.stderr.write(`keyvault-platform server failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof SettingsError ? EXIT_CONFIG : 1);
});
