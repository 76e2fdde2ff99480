import {
    EngineError, type Engine, type EngineEvent, type EngineResult, type EngineRunRequest, type OperationKind, type Readiness,
} from "../domain/ports";
import { canceledError } from "./errors";

/**
 * TEST DOUBLE. NOT FOR PRODUCTION: it provisions nothing.
 *
 * A scripted stand-in for the Pulumi engine, for the HTTP, queue and recovery
 * logic and for load tests. It sleeps instead of deploying, emits progress
 * events over that time (so SSE can be watched), returns fake outputs that
 * include a nested secret-looking value (so redaction can be tested), honours
 * the abort signal, and records every call and the highest number of runs it
 * saw at once per stack (so tests can prove that runs never overlap).
 */

/** A plaintext value the fake outputs carry, nested, so tests can assert it never reaches a client or a log. */
export const TEST_DOUBLE_SECRET = "AccountKey=TEST-DOUBLE-NOT-A-REAL-KEY-0123456789abcdef";

export type ScriptedOutcome =
    /** Completes normally after the configured latency. */
    | { kind: "succeed"; outputs?: Record<string, unknown>; summary?: Record<string, number> }
    /** Fails with this EngineError code after the latency. `retryable` defaults to the code's usual value. */
    | { kind: "fail"; code: EngineError["code"]; message?: string; retryable?: boolean; details?: unknown }
    /** Fails `failures` times with a retryable code (concurrent_update by default), then succeeds. */
    | { kind: "flaky"; failures: number; code?: "concurrent_update" | "throttled" }
    /** Never completes on its own: only the abort signal ends it. */
    | { kind: "hang" };

export interface TestDoubleOptions {
    /** Optional. Simulated duration of a run, in ms, overall or per kind. Defaults to 25 ms. */
    latencyMs?: number | Partial<Record<OperationKind, number>>;
    /** Optional. Resource progress events emitted, spread over the latency. Defaults to 3. */
    progressEvents?: number;
    /** Optional. Outcome of a run nothing was scripted for. Defaults to succeed. */
    defaultOutcome?: ScriptedOutcome;
}

export interface RecordedCall {
    operationId: string;
    kind: OperationKind;
    stackName: string;
    startedAt: number;
    endedAt?: number;
    /** "succeeded", or the EngineError code the run ended with. */
    result?: string;
}

const RETRYABLE_CODES: ReadonlySet<EngineError["code"]> = new Set(["concurrent_update", "throttled"]);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(canceledError(signal));
        const onAbort = () => {
            clearTimeout(timer);
            reject(canceledError(signal));
        };
        const timer = setTimeout(() => {
            signal.removeEventListener("abort", onAbort);
            resolve();
        }, ms);
        signal.addEventListener("abort", onAbort, { once: true });
    });
}

function fakeOutputs(stackName: string): Record<string, unknown> {
    return {
        vaultName: `kv-${stackName}`,
        vaultUri: `https://kv-${stackName}.vault.azure.net/`,
        resourceGroupName: `rg-${stackName}`,
        // What a careless program might export: redaction must find it at depth.
        diagnostics: { storage: { accountName: `st${stackName.replace(/-/g, "")}`, connectionString: `DefaultEndpointsProtocol=https;${TEST_DOUBLE_SECRET}` } },
        adminPassword: "[secret]",
    };
}

export class TestDoubleEngine implements Engine {
    readonly name = "test-double (NOT FOR PRODUCTION)";
    /** Every run, in start order. */
    readonly calls: RecordedCall[] = [];
    readonly recovered: string[] = [];
    readonly removed: string[] = [];
    /** Highest number of simultaneous runs seen per stack; anything above 1 means the queue let runs overlap. */
    readonly maxConcurrentByStack = new Map<string, number>();
    maxConcurrentOverall = 0;

    private readonly running = new Map<string, number>();
    private runningOverall = 0;
    private readonly scriptedByStack = new Map<string, ScriptedOutcome[]>();
    private readonly scripted: ScriptedOutcome[] = [];

    constructor(private readonly opts: TestDoubleOptions = {}) {}

    /** Queues outcomes for the next runs of one stack, in order; they win over `scriptNext`. A flaky outcome expands to its failures then a success. */
    script(stackName: string, ...outcomes: ScriptedOutcome[]): this {
        const queue = this.scriptedByStack.get(stackName) ?? [];
        queue.push(...outcomes.flatMap(expand));
        this.scriptedByStack.set(stackName, queue);
        return this;
    }

    /** Queues outcomes for the next runs of any stack, in call order. */
    scriptNext(...outcomes: ScriptedOutcome[]): this {
        this.scripted.push(...outcomes.flatMap(expand));
        return this;
    }

    /** Runs currently in progress, per stack. */
    inFlight(stackName?: string): number {
        return stackName === undefined ? this.runningOverall : (this.running.get(stackName) ?? 0);
    }

    async readiness(): Promise<Readiness> {
        return {
            ok: true,
            checks: [{ name: "engine", ok: true, detail: "TEST DOUBLE ENGINE (KVP_ENGINE=test-double): nothing is provisioned; never use in production" }],
        };
    }

    async run(req: EngineRunRequest): Promise<EngineResult> {
        const call: RecordedCall = { operationId: req.operationId, kind: req.kind, stackName: req.stackName, startedAt: Date.now() };
        this.calls.push(call);
        const outcome = this.nextOutcome(req.stackName);
        this.enter(req.stackName);
        try {
            const result = await this.perform(req, outcome);
            call.result = "succeeded";
            return result;
        } catch (e) {
            const err = e instanceof EngineError ? e : new EngineError("failed", "The test double failed unexpectedly.", false);
            call.result = err.code;
            throw err;
        } finally {
            call.endedAt = Date.now();
            this.leave(req.stackName);
        }
    }

    async recoverStack(stackName: string): Promise<void> {
        this.recovered.push(stackName);
    }

    async removeStack(stackName: string): Promise<void> {
        this.removed.push(stackName);
    }

    private nextOutcome(stackName: string): ScriptedOutcome {
        return this.scriptedByStack.get(stackName)?.shift() ?? this.scripted.shift() ?? this.opts.defaultOutcome ?? { kind: "succeed" };
    }

    private latency(kind: OperationKind): number {
        const l = this.opts.latencyMs;
        return typeof l === "number" ? l : (l?.[kind] ?? 25);
    }

    private async perform(req: EngineRunRequest, outcome: ScriptedOutcome): Promise<EngineResult> {
        const emit = (e: EngineEvent) => req.onEvent(e);
        emit({ type: "diagnostic", data: { severity: "info", message: `test double: ${req.kind} of ${req.stackName} started (nothing is provisioned)` } });

        if (outcome.kind === "hang") {
            await new Promise<never>((_, reject) => {
                if (req.signal.aborted) return reject(canceledError(req.signal));
                req.signal.addEventListener("abort", () => reject(canceledError(req.signal)), { once: true });
            });
        }

        const n = this.opts.progressEvents ?? 3;
        const step = this.latency(req.kind) / (n + 1);
        const op = req.kind === "destroy" ? "delete" : req.kind === "refresh" ? "refresh" : "create";
        for (let i = 0; i < n; i++) {
            await sleep(step, req.signal);
            const urn = `urn:pulumi:${req.stackName}::keyvault-platform::test-double:Resource::r${i}`;
            emit({ type: "resource-pre", data: { urn, type: "test-double:Resource", op, planning: req.kind === "preview" } });
            emit({ type: "resource-outputs", data: { urn, type: "test-double:Resource", op } });
        }
        await sleep(step, req.signal);

        if (outcome.kind === "fail") {
            const retryable = outcome.retryable ?? RETRYABLE_CODES.has(outcome.code);
            emit({ type: "diagnostic", data: { severity: "error", message: `test double: scripted ${outcome.code}` } });
            throw new EngineError(outcome.code, outcome.message ?? `Scripted test-double failure: ${outcome.code}.`, retryable, outcome.details);
        }
        const summary = (outcome.kind === "succeed" ? outcome.summary : undefined) ?? { [op]: n };
        emit({ type: "summary", data: { resourceChanges: summary, durationSeconds: this.latency(req.kind) / 1000, maybeCorrupt: false, policyPacks: {} } });
        if (req.kind === "update") {
            return { outputs: (outcome.kind === "succeed" ? outcome.outputs : undefined) ?? fakeOutputs(req.stackName), summary };
        }
        return { summary, ...(req.kind === "destroy" ? { outputs: {} } : {}) };
    }

    private enter(stackName: string): void {
        const now = (this.running.get(stackName) ?? 0) + 1;
        this.running.set(stackName, now);
        this.maxConcurrentByStack.set(stackName, Math.max(now, this.maxConcurrentByStack.get(stackName) ?? 0));
        this.runningOverall += 1;
        this.maxConcurrentOverall = Math.max(this.maxConcurrentOverall, this.runningOverall);
    }

    private leave(stackName: string): void {
        this.running.set(stackName, (this.running.get(stackName) ?? 1) - 1);
        this.runningOverall -= 1;
    }
}

function expand(o: ScriptedOutcome): ScriptedOutcome[] {
    if (o.kind !== "flaky") return [o];
    const code = o.code ?? "concurrent_update";
    return [...Array.from({ length: o.failures }, (): ScriptedOutcome => ({ kind: "fail", code, retryable: true })), { kind: "succeed" }];
}
