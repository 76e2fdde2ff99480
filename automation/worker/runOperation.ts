import { audit, recordState } from "../domain/commands";
import { ConflictError, UnavailableError } from "../domain/errors";
import type { EventHub } from "../domain/eventHub";
import { mayRetry, statusAfter, statusWhileRunning } from "../domain/lifecycle";
import { backoffMs, OperationSettings } from "../domain/operationSettings";
import { Engine, EngineError, EngineResult, Operation, OperationError, OperationEvent } from "../domain/ports";
import { redact, redactOutputs } from "../domain/redact";
import type { Clock, Ids, Logger } from "../domain/runtime";
import { deriveStackConfig, stackConfigFor, type EnvironmentSpec } from "../domain/spec";
import type { PlatformProfile } from "../domain/platformProfile";
import { DomainError } from "../domain/errors";
import type { NewEvent, Store, StoreTx } from "../domain/store";
import { WORKER_ACTOR } from "./systemActors";

/** Why the worker pulled the AbortSignal; decides the state the operation ends in. */
export type AbortCause = "canceled" | "idle_timeout" | "timeout" | "shutdown" | "lease_lost";

export interface RunContext {
    store: Store;
    engine: Engine;
    hub: EventHub;
    settings: OperationSettings;
    clock: Clock;
    ids: Ids;
    logger: Logger;
    workerId: string;
    random: () => number;
    /** Merged with each stored spec into the stack config, on every run. */
    profile: PlatformProfile;
    /** Where the run's engine events are stored: the store, or its process-wide grouping (see groupedAppends). */
    events: Pick<Store, "appendEvents">;
    /** Runs the outcome's transaction in its turn among the process's others (see OUTCOMES_AT_ONCE). */
    outcomeTurn: <T>(transaction: () => Promise<T>) => Promise<T>;
    /** Settles once the worker has claimed for the slot this run freed, or found nothing to claim. */
    afterClaim: () => Promise<void>;
}

export interface RunHandle {
    readonly operation: Operation;
    abort(cause: AbortCause): void;
    /**
     * Settles once the engine has let go of the run (for a destroy, once its stack record is
     * removed too), before the outcome is stored: the run's slot can take the next claim while
     * its outcome is written. Settles no later than `done`. Never rejects.
     */
    readonly released: Promise<void>;
    /** Settles once the outcome is stored (or, after a lost lease, abandoned). Never rejects. */
    readonly done: Promise<void>;
}

type Outcome =
    | { kind: "succeeded"; result: EngineResult }
    | { kind: "abandoned" }
    | { kind: "interrupted" }
    | { kind: "retry"; error: OperationError }
    | { kind: "failed" | "canceled"; error: OperationError };

const CODE_MESSAGES: Partial<Record<AbortCause, (s: OperationSettings) => OperationError>> = {
    idle_timeout: (s) => ({ code: "timeout", message: `No progress from the engine for ${Math.round(s.idleTimeoutMs / 1000)} s; the operation was stopped.` }),
    timeout: (s) => ({ code: "timeout", message: `The operation ran past its ${Math.round(s.operationTimeoutMs / 1000)} s limit and was stopped.` }),
};

/** What a run recorded and read as its operation was claimed (see recordStart). */
export interface ClaimedRun {
    operation: Operation;
    /** The "running" state event, to publish once the claim commits. */
    event: OperationEvent;
    /** What the run applies: a preview's proposed spec, or the environment's stored one; absent when the environment is gone. */
    spec?: EnvironmentSpec;
    /** An earlier run was interrupted: the stack may hold a stale lock or pending operations. */
    recoveryPending: boolean;
}

/**
 * Runs inside the claim's transaction (Store.claim): records the operation as running and
 * the environment's status, and reads what the run needs from the store. One commit then
 * both claims and starts the run, and a claim can never stand without its start recorded.
 */
export async function recordStart(tx: StoreTx, op: Operation, now: string): Promise<ClaimedRun> {
    // Independent of one another, sent together: one round trip on PostgreSQL, taken once per
    // claimed operation while the claim holds its lock. A missing environment has no pending recovery.
    const [env, recoveryPending, event] = await Promise.all([tx.getEnvironment(op.environment), tx.isRecoveryPending(op.environment), recordState(tx, op, now)]);
    const status = statusWhileRunning(op.kind);
    if (env && status) await tx.updateEnvironment(op.environment, { status, now });
    return {
        operation: op,
        event,
        // A preview of a proposed spec plans that spec, and may come before the environment exists.
        spec: (op.proposedSpec ?? env?.spec) as EnvironmentSpec | undefined,
        recoveryPending: env ? recoveryPending : false,
    };
}

/** Starts one claimed operation. The returned handle lets the worker cancel or shut it down. */
export function startRun(ctx: RunContext, claimed: ClaimedRun): RunHandle {
    const op = claimed.operation;
    const controller = new AbortController();
    let cause: AbortCause | undefined;
    const abort = (why: AbortCause) => {
        if (cause) return;
        cause = why;
        const message = why === "canceled" ? "The operation was canceled." : why === "shutdown" ? "The server is shutting down." : "The operation was stopped.";
        controller.abort(new EngineError(why === "idle_timeout" || why === "timeout" ? "timeout" : "canceled", message, false));
    };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const done = execute(ctx, claimed, controller.signal, abort, () => cause, release).catch((e: unknown) => {
        ctx.logger.error({ err: e, operationId: op.id }, "could not record an operation's outcome");
    }).finally(release);
    return { operation: op, abort, released, done };
}

async function execute(
    ctx: RunContext, claimed: ClaimedRun, signal: AbortSignal, abort: (c: AbortCause) => void, causeOf: () => AbortCause | undefined, release: () => void,
): Promise<void> {
    const { store, engine, settings, logger } = ctx;
    const op = claimed.operation;
    const startedAt = Date.now();
    const log = { operationId: op.id, environment: op.environment, kind: op.kind, attempt: op.attempt };
    const idle = setTimeout(() => abort("idle_timeout"), settings.idleTimeoutMs);
    const overall = setTimeout(() => abort("timeout"), settings.operationTimeoutMs);
    const events = burstAppender(ctx.events, op.id, (e) => ctx.hub.publish(e), (e, count) => logger.error({ err: e, ...log, events: count }, "could not store engine events"));
    const onEvent = (type: string, data: unknown) => {
        idle.refresh();
        events.add({ type, data: redact(data), at: ctx.clock.now().toISOString() });
    };

    const heartbeat = setInterval(() => {
        store.renewLease(op.id, ctx.workerId, settings.leaseMs, ctx.clock.now().toISOString()).then((lease) => {
            if (!lease.owned) abort("lease_lost");
            else if (lease.cancelRequested) abort("canceled");
        }, (e: unknown) => logger.warn({ err: e, ...log }, "lease renewal failed"));
    }, settings.heartbeatMs);

    let outcome: Outcome;
    try {
        logger.info(log, "operation started");
        const result = await untilSettledOrAbandoned(perform(ctx, claimed, signal, onEvent), signal, settings.abortGraceMs);
        // Work the engine finished stands, whatever was asked meanwhile, unless the operation changed hands.
        outcome = causeOf() === "lease_lost" ? { kind: "abandoned" } : { kind: "succeeded", result };
    } catch (e) {
        outcome = causeOf() ? outcomeOfAbort(causeOf()!, settings) : outcomeOfError(e, op, settings, logger, log);
    } finally {
        clearTimeout(idle);
        clearTimeout(overall);
        clearInterval(heartbeat);
    }
    if (outcome.kind === "succeeded" && op.kind === "destroy") {
        // The resources are gone; a leftover stack record is harmless and only logged.
        await engine.removeStack(op.environment).catch((e: unknown) => logger.warn({ err: e, ...log }, "stack removal after destroy failed"));
    }
    // The engine's part is over: the slot takes its next run while this one's last events and
    // outcome are stored, rather than after. Those writes were half of a slot's time between two
    // runs (npm run bench:ops, 1 worker: 14-17 ms of overhead per operation, against 22-25 ms).
    // The operation stays running in the store until its outcome commits, so the claim still
    // keeps its environment's next operation waiting, and still counts it against the global cap,
    // which so bounds how many outcomes a process can have waiting.
    release();
    // Every engine event is stored before the outcome is, or before a lost lease is given up. The last
    // ones (the summary) go in their own burst, not in the outcome's transaction: when many runs end
    // together, their outcomes queue for the store's connections, and the summaries would wait with
    // them (npm run bench:events: 400-500 ms late, against 120-250 ms as bursts).
    await events.drained();
    if (outcome.kind === "abandoned") {
        logger.warn(log, "lease lost: another worker owns this operation now; dropping it");
        return;
    }
    // The claim for the freed slot goes first: the next run waits for it, and the outcome's statements
    // slowed it down when runs ended together, most across several workers, whose claims take turns
    // (npm run bench:ops, alternating pairs: 2 workers 17.2 / 19.2 ms against 18.8 / 22.1 ms of
    // overhead per operation, 4 workers 24.4 / 28.8 against 27.5 / 36.7 ms). The outcome waits
    // that one claim, a few ms.
    await ctx.afterClaim();
    await record(ctx, op, outcome, Date.now() - startedAt, causeOf() !== undefined);
    logger.info({ ...log, outcome: outcome.kind, durationMs: Date.now() - startedAt }, "operation finished");
}

/** Events stored per transaction at most: a burst longer than this is split, in order. */
const EVENT_BATCH = 500;

/**
 * Stores a run's engine events in order, a burst at a time: what the engine emits in one turn
 * of the event loop, or while the previous burst is being stored, goes in one transaction
 * with one notification (npm run bench:events: one transaction per event was where the
 * delivery time went, 100 runs making two worker processes commit ~370 times a second).
 * A failed burst is reported and the next one is still stored, as single events were.
 */
export function burstAppender(
    store: Pick<Store, "appendEvents">, operationId: string, publish: (event: OperationEvent) => void, onError: (e: unknown, count: number) => void,
): { add(event: NewEvent): void; drained(): Promise<void> } {
    const pending: NewEvent[] = [];
    let flushing: Promise<void> | undefined;
    const flush = async () => {
        await new Promise((resolve) => setImmediate(resolve));
        while (pending.length > 0) {
            const burst = pending.splice(0, EVENT_BATCH);
            try {
                for (const stored of await store.appendEvents(operationId, burst)) publish(stored);
            } catch (e) {
                onError(e, burst.length);
            }
        }
        flushing = undefined;
    };
    return {
        add(event) {
            pending.push(event);
            flushing ??= flush();
        },
        drained: () => flushing ?? Promise.resolve(),
    };
}

/**
 * appendEvents for every run of a process through one transaction at a time: the bursts that
 * runs hand in while one transaction is being stored go together in the next. Each commit with
 * a NOTIFY holds PostgreSQL's database-wide notify lock through its WAL flush, so a hundred runs
 * emitting at once queued a hundred such commits one behind the other (npm run bench:events:
 * single bursts waited 225-320 ms to commit). Each run still has at most one burst in flight
 * (burstAppender), so its events stay in order.
 */
export function groupedAppends(store: Pick<Store, "appendEventBursts">): Pick<Store, "appendEvents"> {
    let queue: Array<{ operationId: string; events: NewEvent[]; resolve: (e: OperationEvent[]) => void; reject: (e: unknown) => void }> = [];
    let flushing = false;
    const flush = async () => {
        await new Promise((resolve) => setImmediate(resolve));
        while (queue.length > 0) {
            const group = queue;
            queue = [];
            try {
                // A refused group would lose its events; the bursts behind it wait, so each run's stay in order.
                const bursts = group.map(({ operationId, events }) => ({ operationId, events }));
                const stored = await whileUnavailable(() => store.appendEventBursts(bursts), (attempt) => attempt < BURST_ATTEMPTS);
                group.forEach((g, i) => g.resolve(stored[i]));
            } catch (e) {
                for (const g of group) g.reject(e);
            }
        }
        flushing = false;
    };
    return {
        appendEvents(operationId, events) {
            return new Promise((resolve, reject) => {
                queue.push({ operationId, events, resolve, reject });
                if (!flushing) {
                    flushing = true;
                    void flush();
                }
            });
        },
    };
}

/**
 * Outcome transactions a worker process runs at once. An outcome commits its state event with a
 * NOTIFY, as a group of engine events does, and each such commit holds PostgreSQL's database-wide
 * notify lock through its WAL flush. When many runs end together, dozens of outcomes (about nine
 * statements each) went ahead of the event groups of the runs still going. npm run bench:events,
 * 100 runs ending within 300 ms, 10 alternating pairs: summaries reached their watchers at p99
 * 203-502 ms, and 76-212 ms two at a time; the runs' final states reached them no later (p99
 * median 561 against 628 ms). A larger pool did not help, so it was not a wait for connections.
 */
export const OUTCOMES_AT_ONCE = 2;

/** Runs each piece of work once fewer than `max` others are running; the rest wait their turn, first come first served. */
export function limitConcurrency(max: number): <T>(work: () => Promise<T>) => Promise<T> {
    let running = 0;
    const waiting: Array<() => void> = [];
    return async (work) => {
        if (running < max) running++;
        else await new Promise<void>((resolve) => waiting.push(resolve));
        try {
            return await work();
        } finally {
            // The place passes straight to the next in line, so `running` counts it already.
            const next = waiting.shift();
            if (next) next();
            else running--;
        }
    };
}

/** Attempts at storing one group of bursts while the store is unavailable. */
const BURST_ATTEMPTS = 5;

/**
 * Runs `work` again while the store is unavailable (a restart, a failover, a full connection
 * table), waiting 100 ms doubling to 2 s between attempts, for as long as `goOn` allows; `goOn`
 * is asked before each wait. Any other failure, or the last refusal, is thrown.
 */
async function whileUnavailable<T>(work: () => Promise<T>, goOn: (attempt: number, error: UnavailableError) => boolean | Promise<boolean>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await work();
        } catch (e) {
            if (!(e instanceof UnavailableError) || !(await goOn(attempt, e))) throw e;
            await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2_000)));
        }
    }
}

async function perform(ctx: RunContext, claimed: ClaimedRun, signal: AbortSignal, onEvent: (type: string, data: unknown) => void): Promise<EngineResult> {
    const { operation: op, spec } = claimed;
    if (!spec) throw new EngineError("stack_not_found", `Environment ${op.environment} no longer exists.`, false);
    if (claimed.recoveryPending) {
        onEvent("stack.recovery", { message: "An earlier operation was interrupted: cancelling any stale lock and clearing pending operations first." });
        await ctx.engine.recoverStack(op.environment);
        await ctx.store.transaction((tx) => tx.setRecoveryPending(op.environment, false));
    }
    signal.throwIfAborted();
    return ctx.engine.run({
        operationId: op.id,
        kind: op.kind,
        stackName: op.environment,
        config: runConfig(ctx, op, op.environment, spec),
        signal,
        onEvent: (e) => onEvent(e.type, e.data),
    });
}

/**
 * The stack config for this run: the stored spec (validated when it was PUT) merged with
 * the platform profile as it is now. Update and preview validate the merge, since the profile
 * may have changed; refresh and destroy must still work for an environment the current
 * profile or schema would no longer accept, so they take the merge as it is.
 */
function runConfig(ctx: RunContext, op: Operation, name: string, spec: EnvironmentSpec) {
    if (op.kind === "refresh" || op.kind === "destroy") return deriveStackConfig(name, spec, ctx.profile);
    try {
        return stackConfigFor(name, spec, ctx.profile);
    } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        const problems = "problems" in e ? (e.problems as Array<{ path: string; message: string }>) : [];
        throw new EngineError("config_invalid", `The stored spec no longer yields a valid stack config: ${problems.map((p) => `${p.path} ${p.message}`).join("; ") || e.message}. PUT a corrected spec, or fix the platform profile.`, false, { errors: problems });
    }
}

/**
 * Waits for the engine, but once the signal fires gives it only `graceMs` to wind down:
 * an engine that ignores its AbortSignal must not hold the worker (or a shutdown) forever.
 */
function untilSettledOrAbandoned<T>(work: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => {
            timer = setTimeout(() => reject(new EngineError("canceled", "The engine did not stop in time after it was aborted.", false)), graceMs);
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
        work.then(resolve, reject).finally(() => {
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
        });
    });
}

function outcomeOfAbort(cause: AbortCause, settings: OperationSettings): Outcome {
    switch (cause) {
        case "lease_lost": return { kind: "abandoned" };
        case "shutdown": return { kind: "interrupted" };
        case "canceled": return { kind: "canceled", error: { code: "canceled", message: "The operation was canceled." } };
        default: return { kind: "failed", error: CODE_MESSAGES[cause]!(settings) };
    }
}

function outcomeOfError(e: unknown, op: Operation, settings: OperationSettings, logger: Logger, log: object): Outcome {
    if (e instanceof EngineError) {
        const error: OperationError = { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
        // A missing CLI will not appear between attempts: fail now, with the install hint.
        if (e.retryable && e.code !== "cli_missing" && mayRetry(op, settings)) return { kind: "retry", error };
        return { kind: "failed", error };
    }
    if (e instanceof UnavailableError) {
        // The store went away under the run (a failover, a restart, a killed backend) before the
        // engine was reached or while reading what it needs. Nothing is wrong with the operation.
        const error: OperationError = { code: "unavailable", message: `The store was unavailable during the run: ${e.message}` };
        logger.warn({ err: e, ...log }, "the store was unavailable during the run; retrying the operation");
        return mayRetry(op, settings) ? { kind: "retry", error } : { kind: "failed", error };
    }
    logger.error({ err: e, ...log }, "operation failed with an unexpected error");
    return { kind: "failed", error: { code: "internal", message: "The operation failed unexpectedly; the server log has the details under this operation id." } };
}

/** Stores the outcome, and its state event, in one transaction. */
async function record(
    ctx: RunContext, op: Operation, outcome: Exclude<Outcome, { kind: "abandoned" }>, durationMs: number, aborted: boolean,
): Promise<void> {
    const now = ctx.clock.now().toISOString();
    const txCtx = { ids: ctx.ids, now, maxAttempts: ctx.settings.maxAttempts };
    const write = async (tx: StoreTx): Promise<OperationEvent> => {
        // The environment is read first, and `change` (which reads the operation) right behind it:
        // the environment's lock is then taken before the operation is read, so one read of it is
        // current, and on PostgreSQL the lock and both reads go in one round trip.
        const withEnvironment = <T>(change: () => Promise<T>) => Promise.all([tx.getEnvironment(op.environment), change()]);
        if (outcome.kind === "retry") {
            const notBefore = new Date(ctx.clock.now().getTime() + backoffMs(op.attempt, ctx.settings, ctx.random)).toISOString();
            const [, requeued] = await withEnvironment(() => tx.requeueOperation({ id: op.id, workerId: ctx.workerId, notBefore, error: outcome.error, now }));
            return recordState(tx, requeued, now, { error: outcome.error, notBefore });
        }
        if (outcome.kind === "interrupted") {
            const [, interrupted] = await withEnvironment(() => tx.finishOperation({ id: op.id, workerId: ctx.workerId, state: "interrupted", now }));
            return recordState(tx, interrupted, now, { error: { code: "interrupted", message: "The server shut down during this operation; it resumes when the server starts again." } });
        }
        const summary = outcome.kind === "succeeded" ? outcome.result.summary : undefined;
        const error = outcome.kind === "succeeded" ? undefined : outcome.error;
        const [env, finished] = await withEnvironment(() => tx.finishOperation({ id: op.id, workerId: ctx.workerId, state: outcome.kind, summary, error, now }));
        const updateEnvironment = async () => {
            const status = statusAfter(op.kind, outcome.kind);
            const outputs = outcome.kind !== "succeeded"
                ? undefined
                : op.kind === "destroy" ? null : outcome.result.outputs && op.kind !== "preview" ? redactOutputs(outcome.result.outputs) : undefined;
            await tx.updateEnvironment(op.environment, {
                now,
                ...(status ? { status } : {}),
                ...(outputs !== undefined ? { outputs } : {}),
                ...(op.kind === "destroy" && outcome.kind === "succeeded" ? { expiresAt: null } : {}),
            });
            // An aborted run may have left the stack locked; the next run cleans it up first.
            if (aborted) await tx.setRecoveryPending(op.environment, true);
        };
        // Once the lease is known to be ours, these writes do not depend on one another: sent together,
        // they cost PostgreSQL one round trip instead of three.
        const [event] = await Promise.all([
            recordState(tx, finished, now, { ...(summary ? { summary } : {}), ...(error ? { error } : {}), durationMs }),
            env ? updateEnvironment() : undefined,
            audit(tx, txCtx, WORKER_ACTOR, `operation.${op.kind}`, op.environment, outcome.kind === "succeeded" ? "succeeded" : "failed", {
                operationId: op.id, state: outcome.kind, attempt: op.attempt, ...(error ? { error: { code: error.code } } : {}),
            }),
        ]);
        return event;
    };
    // The store can refuse for a moment (a restart, a full connection table when many runs end
    // together): try again while the lease is ours, or recovery would fail an operation whose
    // engine work is done (npm run bench:events lost 25 of 100 outcomes this way).
    const deadline = Date.now() + ctx.settings.leaseMs / 2;
    const leaseHeld = async () => {
        const lease = await ctx.store.renewLease(op.id, ctx.workerId, ctx.settings.leaseMs, ctx.clock.now().toISOString()).catch(() => undefined);
        return lease === undefined || lease.owned;
    };
    try {
        const event = await whileUnavailable(() => ctx.outcomeTurn(() => ctx.store.transaction(write)), async (attempt, e) => {
            if (Date.now() >= deadline || !(await leaseHeld())) return false;
            ctx.logger.warn({ err: e, operationId: op.id, attempt }, "the store was unavailable while storing an outcome; trying again");
            return true;
        });
        ctx.hub.publish(event);
        if (outcome.kind === "retry") ctx.hub.enqueued();
    } catch (e) {
        if (e instanceof ConflictError) {
            ctx.logger.warn({ operationId: op.id, err: e }, "the operation changed hands before its outcome was stored; leaving it to its new owner");
            return;
        }
        throw e;
    }
}
