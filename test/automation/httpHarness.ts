import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Server } from "node:http";
import type { Express } from "express";
import type { JWTVerifyGetKey } from "jose";
import { EnvironmentService } from "../../automation/domain/service";
import type { OperationSettings } from "../../automation/domain/operationSettings";
import type { Engine } from "../../automation/domain/ports";
import { TestDoubleEngine, type TestDoubleOptions } from "../../automation/engine/testDouble";
import { createApp } from "../../automation/http/app";
import { createAuthenticator } from "../../automation/http/auth";
import { createLogger } from "../../automation/http/logger";
import { createMetrics, observeFinishedOperations } from "../../automation/http/metrics";
import { SqliteStore } from "../../automation/store/sqlite";
import { Worker } from "../../automation/worker/worker";
import { OfflineEngine } from "../../automation/engine/offline/engine";
import type { PlatformProfile } from "../../automation/domain/platformProfile";
import { EXAMPLE_PROFILE } from "./domainFixtures";
import { sha256Hex, type OidcSettings } from "../../automation/server/settings";

/**
 * The real app over the real embedded store and, by default, the TEST DOUBLE engine
 * (scripted outcomes) or, with `offline`, the offline engine that runs the real program,
 * in a temp data dir, with logs captured in memory so tests can search them for
 * secrets.
 */

export const TOKENS = {
    admin: "admin-token-for-tests-0123456789",
    operatorA: "operator-payments-token-0123456789",
    operatorB: "operator-billing-token-0123456789",
    readerA: "reader-payments-token-0123456789",
} as const;

export const TEAM_A = "payments";
export const TEAM_B = "billing";

export function spec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        tier: "dev", location: "westeurope", team: TEAM_A,
        network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
        access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
        alerts: { emails: ["ops@example.com"] },
        ...overrides,
    };
}

export interface HarnessOptions {
    rateLimitPerMin?: number;
    authFailuresPerMin?: number;
    bodyLimitBytes?: number;
    oidc?: OidcSettings;
    jwks?: JWTVerifyGetKey;
    engine?: TestDoubleOptions;
    operationSettings?: Partial<OperationSettings>;
    /** Another engine in place of the test double (e.g. a Pulumi engine whose CLI is missing). */
    engineOverride?: Engine;
    /** Run a real Worker, so operations progress to a terminal state. */
    worker?: boolean;
    /** Run operations on the offline engine: the real program under mocks, with the policy pack. Implies nothing about `worker`. */
    offline?: boolean;
    /** The platform profile merged with each spec. Defaults to platform.example.yaml, as in the quickstart. */
    profile?: PlatformProfile;
}

export interface Harness {
    app: Express;
    store: SqliteStore;
    service: EnvironmentService;
    /** The test double (idle when engineOverride is set). */
    engine: TestDoubleEngine;
    worker?: Worker;
    dataDir: string;
    /** Every log line written, as raw JSON text. */
    logs: string[];
    close(): Promise<void>;
}

/** The app on a free local port, for clients that need a real socket (fetch, EventSource, raw HTTP). */
export async function listen(app: Express): Promise<Server> {
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    return server;
}

/** Closes the server and any stream still open on it. */
export async function stopListening(server: Server): Promise<void> {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
}

export function bearer(token: string): { Authorization: string } {
    return { Authorization: `Bearer ${token}` };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
    const dataDir = mkdtempSync(path.join(tmpdir(), "kvp-http-"));
    const logs: string[] = [];
    const logger = createLogger({ level: "debug", destination: { write: (line: string) => { logs.push(line); } } });
    const store = await SqliteStore.open({ dataDir });
    const testDouble = new TestDoubleEngine(options.engine);
    const engine = options.engineOverride ?? (options.offline ? new OfflineEngine({ dataDir }) : testDouble);
    const profile = options.profile ?? EXAMPLE_PROFILE;
    const operationSettings: Partial<OperationSettings> = { pollMs: 20, backoffBaseMs: 50, backoffMaxMs: 200, ...options.operationSettings };
    const service = new EnvironmentService({ store, engine, logger, settings: operationSettings });
    const worker = options.worker ? new Worker({ store, engine, hub: service.hub, logger, settings: operationSettings, profile }) : undefined;
    await worker?.start();
    const metrics = createMetrics({ defaultMetrics: false, operationCounts: () => service.operationStats().then((s) => ({ byKindAndState: s.counts, queueDepth: s.queueDepth })) });
    observeFinishedOperations(service.hub, (id) => store.getOperation(id), metrics);
    const auth = createAuthenticator({
        adminTokenSha256: sha256Hex(TOKENS.admin),
        staticTokens: [
            { id: "payments-operator", sha256: sha256Hex(TOKENS.operatorA), role: "operator", team: TEAM_A },
            { id: "billing-operator", sha256: sha256Hex(TOKENS.operatorB), role: "operator", team: TEAM_B },
            { id: "payments-reader", sha256: sha256Hex(TOKENS.readerA), role: "reader", team: TEAM_A },
        ],
        oidc: options.oidc,
        jwks: options.jwks,
    });
    const app = createApp({
        service, logger, metrics, auth, profile,
        settings: { bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024, rateLimitPerMin: options.rateLimitPerMin ?? 1_000_000, authFailuresPerMin: options.authFailuresPerMin ?? 1_000_000, engine: options.engineOverride ? "pulumi" : options.offline ? "offline" : "test-double" },
        sse: { heartbeatMs: 200, stateCheckMs: 100 },
        portal: { oidc: options.oidc },
    });
    return {
        app, store, service, engine: testDouble, worker, dataDir, logs,
        async close() {
            await worker?.stop();
            await store.close();
            rmSync(dataDir, { recursive: true, force: true });
        },
    };
}
