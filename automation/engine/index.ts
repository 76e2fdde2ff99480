import type { Engine } from "../domain/ports";
import { type Logger, silentLogger } from "../domain/runtime";
import { PulumiEngine, type PulumiEngineOptions } from "./pulumiEngine";
import { TestDoubleEngine, type TestDoubleOptions } from "./testDouble";
import { OfflineEngine } from "./offline/engine";

export { PulumiEngine, PROJECT_NAME, type PulumiEngineOptions } from "./pulumiEngine";
export { TestDoubleEngine, TEST_DOUBLE_SECRET, type ScriptedOutcome, type TestDoubleOptions, type RecordedCall } from "./testDouble";
export { toEngineError, CLI_MISSING_MESSAGE, type PolicyViolation } from "./errors";
export { encodeStackConfig } from "./stackConfig";
export { OfflineEngine, type OfflineEngineOptions } from "./offline/engine";

export const ENGINE_KINDS = ["pulumi", "offline", "test-double"] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** The settings the engine needs; field names match the server's Settings so it can be passed as-is. */
export interface EngineFactoryOptions {
    /** Optional. Defaults to "pulumi"; the test double only when chosen explicitly. */
    engine?: EngineKind;
    /** Required. The server's data directory. */
    dataDir: string;
    /** Optional. Pulumi state backend URL. Defaults to file://<dataDir>/state. */
    backendUrl?: string;
    /** Optional. `passphrase` (default) or an azurekeyvault:// key URL. */
    secretsProvider?: string;
    /** Required with the passphrase provider. */
    passphrase?: string;
    /** Optional. A policy pack directory run on every preview and update. */
    policyPack?: string;
    /** Optional. The pulumi executable or its install root. Defaults to `pulumi` on PATH. */
    pulumiCommand?: string;
    /** Optional. Extra environment for the CLI (ARM_*, AZURE_*, PULUMI_ACCESS_TOKEN). */
    envVars?: Record<string, string>;
    /** Optional. Test-double behaviour (latency, scripted outcomes). */
    testDouble?: TestDoubleOptions;
    /** Optional. Program override for the Pulumi engine (adapter tests). */
    program?: PulumiEngineOptions["program"];
    logger?: Logger;
}

/** Builds the configured engine. Choosing the test double is logged as a warning, every start. */
export function createEngine(opts: EngineFactoryOptions): Engine {
    const logger = opts.logger ?? silentLogger;
    if (opts.engine === "offline") {
        logger.warn({ engine: "offline" }, "KVP_ENGINE=offline: operations run the real program under Pulumi mocks with the policy pack and provision NOTHING in Azure.");
        return new OfflineEngine({ dataDir: opts.dataDir, logger });
    }
    if (opts.engine === "test-double") {
        const engine = new TestDoubleEngine(opts.testDouble);
        logger.warn({ engine: engine.name }, "KVP_ENGINE=test-double: the TEST DOUBLE engine is active; operations provision NOTHING. Never use it in production.");
        return engine;
    }
    return new PulumiEngine({
        dataDir: opts.dataDir,
        backendUrl: opts.backendUrl,
        secretsProvider: opts.secretsProvider,
        passphrase: opts.passphrase,
        policyPackPaths: opts.policyPack ? [opts.policyPack] : [],
        pulumiCommand: opts.pulumiCommand,
        envVars: opts.envVars,
        program: opts.program,
        logger,
    });
}
