import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { EventHub } from "../domain/eventHub";
import { OperationSettings, resolveOperationSettings } from "../domain/operationSettings";
import type { Engine } from "../domain/ports";
import { Clock, Ids, Logger, randomIds, silentLogger, systemClock } from "../domain/runtime";
import { EMPTY_PROFILE, type PlatformProfile } from "../domain/platformProfile";
import type { Store } from "../domain/store";
import { recoverInterrupted } from "./recovery";
import { groupedAppends, limitConcurrency, OUTCOMES_AT_ONCE, recordStart, RunContext, RunHandle, startRun } from "./runOperation";
import { sweepExpiredEnvironments } from "./ttlSweeper";

export interface WorkerOptions {
    store: Store;
    engine: Engine;
    /** The service's hub (`service.hub`): live events reach SSE, cancels and enqueues reach the worker. */
    hub: EventHub;
    /** Missing values take DEFAULT_OPERATION_SETTINGS. */
    settings?: Partial<OperationSettings>;
    clock?: Clock;
    ids?: Ids;
    logger?: Logger;
    /** Identifies this worker's leases. Defaults to host, pid and a random suffix. */
    workerId?: string;
    /** Jitter source for backoff; tests pin it. */
    random?: () => number;
    /** The platform profile merged with each spec. Defaults to none (prod specs then fail to validate). */
    profile?: PlatformProfile;
}

/**
 * Claims queued operations and runs them on the engine: at most `maxConcurrent` in its
 * engine at once, at most the claim's `maxRunning` running across every worker sharing
 * the store, and never two on one environment (the store's claim guarantees the last
 * two). At start it recovers what a crash left running; while it runs it also reclaims
 * lapsed leases and destroys expired TTL environments.
 */
export class Worker {
    readonly id: string;
    private readonly store: Store;
    private readonly engine: Engine;
    private readonly hub: EventHub;
    private readonly settings: OperationSettings;
    private readonly clock: Clock;
    private readonly ids: Ids;
    private readonly logger: Logger;
    private readonly random: () => number;
    private readonly profile: PlatformProfile;
    private readonly runs = new Map<string, RunHandle>();
    /** Runs still in the engine: what `maxConcurrent` bounds. A run leaves it before its outcome is stored (RunHandle.released). */
    private readonly inEngine = new Set<string>();
    private readonly events: Pick<Store, "appendEvents">;
    private readonly outcomeTurn = limitConcurrency(OUTCOMES_AT_ONCE);
    private readonly unsubscribe: Array<() => void> = [];
    private state: "new" | "running" | "stopping" | "stopped" = "new";
    private loop?: Promise<void>;
    private wake?: () => void;
    private wakePending = false;
    /** Slots freed since the running cycle began: settles once the next cycle's claim is over (see RunContext.afterClaim). */
    private claimWanted?: { done: Promise<void>; settle: () => void };
    /** The running cycle's, while it claims for slots freed before it began. */
    private claimServing?: Promise<void>;
    /** The last claim found fewer operations to take than it had room for. */
    private queueDrained = false;
    private lastReclaim = 0;
    private lastSweep = 0;

    constructor(options: WorkerOptions) {
        this.store = options.store;
        this.engine = options.engine;
        this.hub = options.hub;
        this.settings = resolveOperationSettings(options.settings);
        this.clock = options.clock ?? systemClock;
        this.ids = options.ids ?? randomIds;
        this.logger = options.logger ?? silentLogger;
        this.random = options.random ?? Math.random;
        this.profile = options.profile ?? EMPTY_PROFILE;
        this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
        this.events = groupedAppends(this.store);
    }

    /** Recovers interrupted work, then starts claiming. Resolves once recovery is done. */
    async start(): Promise<void> {
        if (this.state !== "new") throw new Error(`Worker ${this.id} was already started`);
        this.state = "running";
        try {
            await recoverInterrupted(this.recoveryContext(), this.store.exclusive);
        } catch (e) {
            this.state = "stopped";
            throw e;
        }
        this.lastReclaim = Date.now();
        this.unsubscribe.push(
            this.hub.onEnqueued(() => this.poke()),
            this.hub.onCancelRequested((id) => this.runs.get(id)?.abort("canceled")),
        );
        this.loop = this.run();
        this.logger.info({ workerId: this.id, engine: this.engine.name, maxConcurrent: this.settings.maxConcurrent }, "worker started");
    }

    /**
     * Stops claiming, gives running operations `stopDeadlineMs` to finish, then aborts the
     * rest, which end `interrupted` and resume at the next start. Queued operations stay queued.
     */
    async stop(): Promise<void> {
        if (this.state !== "running") return;
        this.state = "stopping";
        this.poke();
        await this.loop;
        for (const off of this.unsubscribe.splice(0)) off();
        if (this.runs.size > 0) {
            this.logger.info({ running: [...this.runs.keys()], deadlineMs: this.settings.stopDeadlineMs }, "waiting for running operations before stopping");
            if (!(await this.allRunsDone(this.settings.stopDeadlineMs))) {
                for (const run of this.runs.values()) run.abort("shutdown");
                await this.allRunsDone(this.settings.abortGraceMs + 1_000);
            }
        }
        this.state = "stopped";
        this.logger.info({ workerId: this.id, abandoned: this.runs.size }, "worker stopped");
    }

    /** Operation ids this worker is running now. */
    runningOperations(): string[] {
        return [...this.runs.keys()];
    }

    private async run(): Promise<void> {
        while (this.state === "running") {
            const wanted = this.claimWanted;
            this.claimWanted = undefined;
            this.claimServing = wanted?.done;
            try {
                await this.housekeeping();
                await this.claimWhileRoom();
            } catch (e) {
                // The store may be briefly unavailable (disk full, locked); keep polling rather than die.
                this.logger.error({ err: e, workerId: this.id }, "worker cycle failed; retrying");
            } finally {
                this.claimServing = undefined;
                wanted?.settle();
            }
            await this.nap(this.settings.pollMs);
        }
        // No more claims: nothing may wait for one.
        this.claimWanted?.settle();
        this.claimWanted = undefined;
    }

    /** A slot was freed: the next cycle claims for it, and `afterClaim` waits for that cycle. */
    private slotFreed(): void {
        // When the last claim came back short, there is nothing to claim until an enqueue pokes the
        // worker or an outcome frees an environment, and both wake it anyway. A claim now would only
        // contend with the runs' last events (npm run bench:events: 100 runs ending at once on an
        // empty queue, summaries' p99 236-360 ms against 76-212 ms).
        if (this.queueDrained) return;
        // Once the loop has stopped claiming, an outcome must not wait for a claim that never comes.
        if (!this.claimWanted && this.state === "running") {
            let settle!: () => void;
            const done = new Promise<void>((resolve) => (settle = resolve));
            this.claimWanted = { done, settle };
        }
        this.poke();
    }

    /** A later cycle's claim ends after the running one's, so waiting for the latest covers every slot freed so far. */
    private afterClaim(): Promise<void> {
        return this.claimWanted?.done ?? this.claimServing ?? Promise.resolve();
    }

    private async housekeeping(): Promise<void> {
        const now = Date.now();
        // An exclusive store has no other workers whose leases could lapse; its orphans were all taken at start.
        if (!this.store.exclusive && now - this.lastReclaim >= this.settings.leaseMs / 2) {
            this.lastReclaim = now;
            await recoverInterrupted(this.recoveryContext(), false);
        }
        if (now - this.lastSweep >= this.settings.ttlSweepMs) {
            this.lastSweep = now;
            const at = this.clock.now();
            await sweepExpiredEnvironments({ store: this.store, hub: this.hub, ids: this.ids, logger: this.logger, maxAttempts: this.settings.maxAttempts, now: at });
            await this.store.purgeIdempotency(new Date(at.getTime() - this.settings.idempotencyTtlMs).toISOString());
        }
    }

    /** Claims as many operations as there are free slots, in one transaction, and starts them. */
    private async claimWhileRoom(): Promise<void> {
        while (this.state === "running") {
            const free = this.settings.maxConcurrent - this.inEngine.size;
            if (free < 1) return;
            const now = this.clock.now().toISOString();
            const claimed = await this.store.claim(
                { workerId: this.id, leaseMs: this.settings.leaseMs, maxRunning: this.settings.maxConcurrent, limit: free, now },
                (tx, op) => recordStart(tx, op, op.startedAt ?? now),
            );
            for (const run of claimed) {
                this.hub.publish(run.event);
                const handle = startRun(this.runContext(), run);
                this.runs.set(run.operation.id, handle);
                this.inEngine.add(run.operation.id);
                void handle.released.finally(() => {
                    this.inEngine.delete(run.operation.id);
                    this.slotFreed();
                });
                void handle.done.finally(() => {
                    this.runs.delete(run.operation.id);
                    this.poke();
                });
            }
            this.queueDrained = claimed.length < free;
            if (this.queueDrained) return;
        }
    }

    private poke(): void {
        this.wakePending = true;
        this.wake?.();
    }

    private nap(ms: number): Promise<void> {
        if (this.wakePending) {
            this.wakePending = false;
            return Promise.resolve();
        }
        return new Promise((resolve) => {
            const done = () => {
                clearTimeout(timer);
                this.wake = undefined;
                this.wakePending = false;
                resolve();
            };
            const timer = setTimeout(done, ms);
            this.wake = done;
        });
    }

    private async allRunsDone(withinMs: number): Promise<boolean> {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), withinMs)));
        const done = Promise.all([...this.runs.values()].map((r) => r.done)).then(() => true as const);
        const finished = await Promise.race([done, timeout]);
        clearTimeout(timer);
        return finished;
    }

    private runContext(): RunContext {
        return {
            store: this.store, engine: this.engine, hub: this.hub, settings: this.settings, clock: this.clock,
            ids: this.ids, logger: this.logger, workerId: this.id, random: this.random, profile: this.profile, events: this.events,
            outcomeTurn: this.outcomeTurn, afterClaim: () => this.afterClaim(),
        };
    }

    private recoveryContext() {
        return { store: this.store, hub: this.hub, ids: this.ids, logger: this.logger, settings: this.settings, random: this.random, now: this.clock.now() };
    }
}
