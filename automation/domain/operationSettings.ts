/**
 * Knobs of the queue, the worker and the service. automation/server/settings.ts reads them
 * from the environment; `resolveOperationSettings` fills defaults and checks that
 * they fit together, so a bad combination fails at start-up, not mid-operation.
 */
export interface OperationSettings {
    /** Global cap on running operations. */
    maxConcurrent: number;
    /** Attempts per operation, first included, for retryable engine failures and crash recovery. */
    maxAttempts: number;
    /** How long a claimed operation stays ours without a heartbeat. */
    leaseMs: number;
    /** Heartbeat interval; well under leaseMs so one slow write does not lose the lease. */
    heartbeatMs: number;
    /** How often the worker looks for claimable work when nothing woke it. */
    pollMs: number;
    /** No engine event for this long aborts the operation (failed, code timeout). */
    idleTimeoutMs: number;
    /** Overall limit for one attempt (failed, code timeout). */
    operationTimeoutMs: number;
    /** First retry delay; doubles each attempt, with full jitter, up to backoffMaxMs. */
    backoffBaseMs: number;
    backoffMaxMs: number;
    /** After aborting, how long to wait for the engine to wind down before recording the outcome anyway. */
    abortGraceMs: number;
    /** On stop(), how long running operations may keep going before they are aborted and left `interrupted`. */
    stopDeadlineMs: number;
    /** How often expired TTL environments are looked for. */
    ttlSweepMs: number;
    /** How long an Idempotency-Key is remembered. */
    idempotencyTtlMs: number;
}

export const DEFAULT_OPERATION_SETTINGS: OperationSettings = {
    maxConcurrent: 4,
    maxAttempts: 3,
    leaseMs: 30_000,
    heartbeatMs: 10_000,
    pollMs: 1_000,
    // Cosmos DB creation can run many minutes without an engine event.
    idleTimeoutMs: 30 * 60_000,
    operationTimeoutMs: 2 * 60 * 60_000,
    backoffBaseMs: 5_000,
    backoffMaxMs: 5 * 60_000,
    abortGraceMs: 3_000,
    // With abortGraceMs, stays inside the 10 s a SIGTERM allows.
    stopDeadlineMs: 5_000,
    ttlSweepMs: 60_000,
    idempotencyTtlMs: 24 * 60 * 60_000,
};

/** Defaults plus overrides, checked for consistency. Throws naming the setting. */
export function resolveOperationSettings(overrides: Partial<OperationSettings> = {}): OperationSettings {
    const s = { ...DEFAULT_OPERATION_SETTINGS, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
    for (const [k, v] of Object.entries(s)) {
        if (!Number.isFinite(v) || v <= 0) throw new Error(`Operation setting ${k} must be a positive number (got ${v})`);
    }
    if (!Number.isInteger(s.maxConcurrent) || !Number.isInteger(s.maxAttempts)) {
        throw new Error("Operation settings maxConcurrent and maxAttempts must be whole numbers");
    }
    if (s.heartbeatMs * 2 > s.leaseMs) {
        throw new Error(`Operation setting heartbeatMs (${s.heartbeatMs}) must be at most half of leaseMs (${s.leaseMs}) so one late heartbeat does not lose the lease`);
    }
    if (s.backoffBaseMs > s.backoffMaxMs) throw new Error(`Operation setting backoffBaseMs (${s.backoffBaseMs}) must not exceed backoffMaxMs (${s.backoffMaxMs})`);
    return s;
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffMs(attempt: number, settings: Pick<OperationSettings, "backoffBaseMs" | "backoffMaxMs">, random: () => number = Math.random): number {
    const ceiling = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(random() * ceiling);
}
