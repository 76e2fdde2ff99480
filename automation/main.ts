import type { Server } from "node:http";
import type { OperationSettings } from "./domain/operationSettings";
import { EnvironmentService } from "./domain/service";
import { createEngine } from "./engine";
import { boundAddress, createApp, startWebServer, stopWebServer } from "./http/app";
import { createAuthenticator, readTokensFile } from "./http/auth";
import { createLogger } from "./http/logger";
import { createMetrics, observeFinishedOperations } from "./http/metrics";
import { ensureDataDir, loadSettings, resolvePassphrase, SettingsError, type Settings } from "./settings";
import { SqliteStore } from "./store/sqlite";
import { Worker } from "./worker/worker";

/**
 * The server's entry point: wiring only. Settings fail fast; the worker recovers
 * what a crash left running before the port opens; SIGTERM/SIGINT stop accepting,
 * let the worker wind down (queued operations stay queued), close the store and
 * exit well inside 10 seconds.
 */

const SHUTDOWN_LIMIT_MS = 9_500;

function settingsOrExit(): Settings {
    try {
        return loadSettings();
    } catch (e) {
        if (e instanceof SettingsError) {
            process.stderr.write(`${e.message}\nSee README.md, section "Settings", for every setting.\n`);
            process.exit(2);
        }
        throw e;
    }
}

function operationSettings(s: Settings): Partial<OperationSettings> {
    return {
        maxConcurrent: s.maxConcurrency,
        maxAttempts: s.maxAttempts,
        idleTimeoutMs: s.opIdleTimeoutS * 1000,
        operationTimeoutMs: s.opTimeoutS * 1000,
    };
}

async function main(): Promise<void> {
    const settings = settingsOrExit();
    // Only the hash is kept; the Pulumi CLI (a child process) must not inherit the token.
    delete process.env.KVP_ADMIN_TOKEN;
    const logger = createLogger({ level: settings.logLevel });

    ensureDataDir(settings.dataDir);
    const passphrase = settings.secretsProvider === "passphrase" ? resolvePassphrase(settings) : undefined;
    if (passphrase) logger.info({ source: passphrase.source, file: passphrase.source === "environment" ? undefined : `${settings.dataDir}/passphrase` }, "stack passphrase ready");
    const staticTokens = settings.tokensFile ? readTokensFile(settings.tokensFile) : [];
    if (!settings.adminTokenSha256 && staticTokens.length === 0 && !settings.oidc) {
        logger.warn("no KVP_ADMIN_TOKEN, KVP_TOKENS_FILE or KVP_OIDC_ISSUER: every /v1 request will be refused with 401");
    }

    const store = await SqliteStore.open({ dataDir: settings.dataDir });
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
    const worker = new Worker({ store, engine, hub: service.hub, settings: opSettings, logger });

    const metrics = createMetrics({
        operationCounts: async () => {
            const stats = await service.operationStats();
            return { byKindAndState: stats.counts, queueDepth: stats.queueDepth };
        },
    });
    observeFinishedOperations(service.hub, (id) => store.getOperation(id), metrics);

    const auth = createAuthenticator({ adminTokenSha256: settings.adminTokenSha256, staticTokens, oidc: settings.oidc });
    const app = createApp({ service, settings, logger, metrics, auth });

    await worker.start();
    let server: Server;
    try {
        server = await startWebServer(app, { host: settings.host, port: settings.port });
    } catch (e) {
        logger.fatal({ err: e, host: settings.host, port: settings.port }, "cannot listen");
        await worker.stop();
        await store.close();
        process.exit(1);
    }
    const { host, port } = boundAddress(server);
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    logger.info({ url, engine: engine.name, dataDir: settings.dataDir, backend: settings.backendUrl.startsWith("file://") ? settings.backendUrl : settings.backendUrl.replace(/\/\/[^/]*@/, "//") }, `listening on ${url} (API docs at ${url}/docs)`);

    let stopping = false;
    const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "shutting down: no new requests; queued operations stay queued");
        setTimeout(() => {
            logger.error({ limitMs: SHUTDOWN_LIMIT_MS }, "shutdown took too long; exiting (queued and interrupted operations resume at the next start)");
            process.exit(1);
        }, SHUTDOWN_LIMIT_MS).unref();
        try {
            await Promise.all([stopWebServer(server, 1_000), worker.stop()]);
            await store.close();
            logger.info("stopped");
            process.exit(0);
        } catch (e) {
            logger.error({ err: e }, "error while shutting down");
            process.exit(1);
        }
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    process.once("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((e: unknown) => {
    process.stderr.write(`keyvault-platform server failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
});
