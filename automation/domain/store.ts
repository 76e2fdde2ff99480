import type {
    AuditEntry, Environment, EnvironmentStatus, Operation, OperationError, OperationEvent, OperationKind, OperationState,
} from "./ports";

/**
 * The durable store behind the service and the workers. Every method is async and
 * takes the current time explicitly, so the embedded SQLite store and a later
 * PostgreSQL store (several processes, `SELECT ... FOR UPDATE SKIP LOCKED`, leases)
 * implement the same contract, and tests control the clock.
 *
 * Failures of the medium (disk full, read-only, locked) surface as UnavailableError;
 * a store never drops a write silently.
 */

/** One page of a list; `nextCursor` is opaque and absent on the last page. */
export interface Page<T> {
    items: T[];
    nextCursor?: string;
}

export interface EnvironmentQuery {
    team?: string;
    status?: EnvironmentStatus;
    /** 1..100. */
    limit: number;
    /** From a previous page; a malformed cursor is a ValidationError on `cursor`. */
    cursor?: string;
}

export interface PageQuery {
    limit: number;
    cursor?: string;
}

export interface UpsertEnvironment {
    name: string;
    team: string;
    spec: unknown;
    specHash: string;
    /** Status to record: `pending` for a new or re-created environment, otherwise the current one. */
    status: EnvironmentStatus;
    /** null clears a TTL. */
    expiresAt: string | null;
    now: string;
}

export interface EnvironmentPatch {
    status?: EnvironmentStatus;
    /** Already redacted. null clears them (after a destroy). */
    outputs?: Record<string, unknown> | null;
    expiresAt?: string | null;
    lastOperationId?: string;
    now: string;
}

export interface NewOperation {
    id: string;
    environment: string;
    team: string;
    kind: OperationKind;
    specHash?: string;
    /** A preview's spec when it is not the stored one (a change the team wants to see before it applies it). */
    proposedSpec?: unknown;
    requestedBy: string;
    maxAttempts: number;
    now: string;
}

export interface EnqueueResult {
    operation: Operation;
    /** True when an already-queued update for the environment absorbed this one. */
    collapsed: boolean;
}

export interface ClaimRequest {
    workerId: string;
    leaseMs: number;
    /** Global cap on running operations, across every worker sharing the store. */
    maxRunning: number;
    /** Claims at most this many operations (a worker's free slots) in the one transaction. At least 1. */
    limit: number;
    /**
     * The time of the claim. A claimed operation's start is this, or the environment's last change
     * if that is later: `now` is read before the claim waits its turn, and meanwhile the run before
     * it on the environment may have recorded its end, so its start must not be recorded before that end.
     */
    now: string;
}

export interface FinishRequest {
    id: string;
    /** The lease holder; finishing someone else's operation is a ConflictError. */
    workerId: string;
    state: Extract<OperationState, "succeeded" | "failed" | "canceled" | "interrupted">;
    summary?: Record<string, number>;
    error?: OperationError;
    now: string;
}

export interface RequeueRequest {
    id: string;
    /** Lease holder for a running operation; omitted when requeuing an `interrupted` one. */
    workerId?: string;
    /** Backoff: the operation is not claimed before this instant. */
    notBefore: string;
    /** Why the last attempt did not finish, kept for the client. */
    error?: OperationError;
    now: string;
}

export interface LeaseState {
    /** False when the lease lapsed or another worker took the operation: stop working on it. */
    owned: boolean;
    cancelRequested: boolean;
}

export interface IdempotencyRecord {
    /** Who used the key (actor subject), so keys of different callers never clash. */
    scope: string;
    key: string;
    /** Hash of method, target and body: same key with another request is refused. */
    requestHash: string;
    response: unknown;
    createdAt: string;
}

export interface OperationCount {
    kind: OperationKind;
    state: OperationState;
    count: number;
}

export interface NewAuditEntry extends Omit<AuditEntry, "id"> {
    id: string;
}

export interface NewEvent {
    type: string;
    data: unknown;
    at: string;
}

/** What may run inside one transaction: everything a PUT, DELETE or cancel must do atomically. */
export interface StoreTx {
    getEnvironment(name: string): Promise<Environment | undefined>;
    upsertEnvironment(input: UpsertEnvironment): Promise<Environment>;
    /** Throws NotFoundError when the environment does not exist. */
    updateEnvironment(name: string, patch: EnvironmentPatch): Promise<Environment>;
    removeEnvironment(name: string): Promise<void>;
    /** Set when an operation on the environment was interrupted: the stack may be locked or have pending operations. */
    setRecoveryPending(environment: string, pending: boolean): Promise<void>;
    isRecoveryPending(environment: string): Promise<boolean>;

    /**
     * Enqueues an operation. An `update` for an environment that already has a queued
     * (not running) update collapses into it: the queued one takes the new spec hash
     * and requester and is returned with `collapsed: true`.
     */
    enqueueOperation(op: NewOperation): Promise<EnqueueResult>;
    getOperation(id: string): Promise<Operation | undefined>;
    /** Queued, running and interrupted operations of one environment, oldest first. */
    listActiveOperations(environment: string): Promise<Operation[]>;
    /**
     * Queued or interrupted: canceled at once. Running: flags cancelRequested for the
     * lease holder to abort. Already canceled: returned unchanged. Otherwise ConflictError.
     */
    requestCancel(id: string, now: string): Promise<Operation>;

    /** Moves a running operation (held by `workerId`) to a terminal state, or to `interrupted`. */
    finishOperation(request: FinishRequest): Promise<Operation>;
    /** running (held by workerId) or interrupted → queued, with backoff. */
    requeueOperation(request: RequeueRequest): Promise<Operation>;
    /** interrupted → failed, for operations recovery will not retry. */
    failInterrupted(id: string, error: OperationError, now: string): Promise<Operation>;
    /** Appends with the next per-operation sequence number (from 1). */
    appendEvent(operationId: string, event: NewEvent): Promise<OperationEvent>;
    /**
     * Appends several events of one operation, numbered consecutively in the order given, and
     * tells other processes once. A run's worker stores its engine's bursts this way: one
     * commit per burst instead of one per event.
     */
    appendEvents(operationId: string, events: NewEvent[]): Promise<OperationEvent[]>;
    appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
    getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
    putIdempotency(record: IdempotencyRecord): Promise<void>;
}

export interface StoreReadiness {
    ok: boolean;
    detail: string;
}

export interface Store extends StoreTx {
    /**
     * True when this process is the only one using the store (the embedded store holds an
     * exclusive lock), so at start every `running` operation is known to be orphaned.
     */
    readonly exclusive: boolean;

    /** Runs `fn` atomically: all of its writes commit together or none do. Never call the store itself inside. */
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;

    /** Ordered by name. */
    listEnvironments(query: EnvironmentQuery): Promise<Page<Environment>>;
    /** Environments whose TTL passed, not destroyed, with no destroy queued or running. */
    listExpiredEnvironments(now: string, limit: number): Promise<Environment[]>;

    /** Newest first. */
    listOperations(environment: string, limit: number): Promise<Operation[]>;
    listOperationsByState(state: OperationState, limit: number): Promise<Operation[]>;
    /**
     * Atomically claims up to `limit` operations, oldest first: each one the oldest queued
     * operation of its environment, its `notBefore` passed, with nothing running or interrupted
     * there, and never more than `maxRunning` running in all. Sets the lease, `startedAt` and
     * increments `attempt`. `start` runs for each claimed operation inside the claim's
     * transaction, so what a run records as it starts commits with the claim, or not at all.
     * Returns what `start` returned, in claim order; empty when nothing could be claimed.
     */
    claim<T>(request: ClaimRequest, start: (tx: StoreTx, operation: Operation) => Promise<T>): Promise<T[]>;
    /** Extends the lease; reports whether it is still ours and whether a cancel was requested. */
    renewLease(id: string, workerId: string, leaseMs: number, now: string): Promise<LeaseState>;
    /**
     * Running operations whose lease lapsed (or every running one, with `includeLive`, for an
     * exclusive store at start) become `interrupted`, and their environments are flagged
     * for stack recovery. Returns them.
     */
    reclaimExpiredLeases(now: string, options?: { includeLive?: boolean }): Promise<Operation[]>;
    countOperations(): Promise<OperationCount[]>;

    /** appendEvents for several operations in one transaction, in the order given; returns each one's stored events. */
    appendEventBursts(bursts: Array<{ operationId: string; events: NewEvent[] }>): Promise<OperationEvent[][]>;
    listEvents(operationId: string, afterSeq: number, limit: number): Promise<OperationEvent[]>;

    /** Newest first. */
    listAudit(query: PageQuery): Promise<Page<AuditEntry>>;
    /** Drops idempotency records created before `before`. Returns how many. */
    purgeIdempotency(before: string): Promise<number>;

    readiness(): Promise<StoreReadiness>;
    close(): Promise<void>;
}

/**
 * A store that reads an environment with the operation its lastOperationId names in one round
 * trip (PostgreSQL, where each read is one); the detail read asks any other store twice.
 */
export interface EnvironmentDetailReader {
    getEnvironmentDetail(name: string): Promise<{ environment: Environment; lastOperation?: Operation } | undefined>;
}
