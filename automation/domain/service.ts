import { createHash } from "node:crypto";
import { assertAdmin, assertCanMutate, assertMayUseTeam, assertVisible, canSee, visibleTeam } from "./access";
import { audit, enqueueDestroy, recordState, TxContext } from "./commands";
import { ConflictError, DomainError, ForbiddenError, NotFoundError, PreconditionFailedError, ValidationError } from "./errors";
import { EventHub, EventListener } from "./eventHub";
import { statusAfterQueuedCancel } from "./lifecycle";
import { OperationSettings, resolveOperationSettings } from "./operationSettings";
import {
    Actor, AuditEntry, Engine, Environment, ENVIRONMENT_STATUSES, EnvironmentStatus, Operation, OperationEvent, OperationKind,
    OPERATION_KINDS, OPERATION_STATES, OperationState, PlanStep, Readiness,
} from "./ports";
import { redactOutputs } from "./redact";
import { Clock, Ids, Logger, randomIds, silentLogger, systemClock } from "./runtime";
import type { DesiredEnvironment } from "./spec";
import type { EnvironmentDetailReader, Page, Store } from "./store";

/** An environment as clients see it: outputs redacted, with its latest operation. */
export interface EnvironmentView extends Environment {
    lastOperation?: Operation;
}

export interface PutResult {
    /** 200: the spec is already applied and nothing is pending. 202: an update is queued (or was already). */
    status: 200 | 202;
    environment: EnvironmentView;
    operation?: Operation;
    /** The stored answer to an earlier request with the same Idempotency-Key; nothing was done this time. */
    replayed?: true;
}

export interface ListEnvironmentsQuery {
    team?: string;
    status?: string;
    /** 1..100, default 20. */
    limit?: number;
    cursor?: string;
}

export interface RequestMeta {
    /** Correlates the audit entry with the HTTP request log. */
    requestId?: string;
}

export interface OperationStats {
    counts: Array<{ kind: OperationKind; state: OperationState; count: number }>;
    /** Operations waiting to run (queued or interrupted). */
    queueDepth: number;
}

export interface EnvironmentServiceOptions {
    store: Store;
    engine: Engine;
    /** Missing values take DEFAULT_OPERATION_SETTINGS. */
    settings?: Partial<OperationSettings>;
    clock?: Clock;
    ids?: Ids;
    logger?: Logger;
    /** Shared with the Worker so live events reach SSE subscribers; one is created when omitted. */
    hub?: EventHub;
}

function readsDetail(store: Store): store is Store & EnvironmentDetailReader {
    return typeof (store as Partial<EnvironmentDetailReader>).getEnvironmentDetail === "function";
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const DEFAULT_LIMIT = 20;
const MAX_EVENTS_PAGE = 1000;

/**
 * The use cases behind the HTTP API. Validation, team ownership and audit happen here,
 * and every mutation with its audit entry commits in one store transaction; the worker
 * does the slow part.
 */
export class EnvironmentService {
    readonly hub: EventHub;
    readonly settings: OperationSettings;
    private readonly store: Store;
    private readonly engine: Engine;
    private readonly clock: Clock;
    private readonly ids: Ids;
    private readonly logger: Logger;

    constructor(options: EnvironmentServiceOptions) {
        this.store = options.store;
        this.engine = options.engine;
        this.settings = resolveOperationSettings(options.settings);
        this.clock = options.clock ?? systemClock;
        this.ids = options.ids ?? randomIds;
        this.logger = options.logger ?? silentLogger;
        this.hub = options.hub ?? new EventHub();
    }

    /**
     * Declares the desired spec of `name`. Same spec, already applied, nothing pending: 200
     * and no operation. Otherwise an update is queued (collapsing into a queued one): 202.
     * An Idempotency-Key replays the first response for the same body and refuses another body.
     */
    async putEnvironment(actor: Actor, desired: DesiredEnvironment, idempotencyKey?: string, meta: RequestMeta = {}): Promise<PutResult> {
        const { name: envName, spec, hash } = desired;
        return this.audited(actor, "environment.put", envName, meta, async () => {
            assertCanMutate(actor);
            if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
                throw new ValidationError([{ path: "Idempotency-Key", message: "must be 1-255 printable ASCII characters without spaces" }]);
            }
            assertMayUseTeam(actor, spec.team);
            const requestHash = createHash("sha256").update(`PUT ${envName} ${hash}`).digest("hex");
            const ctx = this.txContext(meta);

            const outcome = await this.store.transaction(async (tx) => {
                if (idempotencyKey !== undefined) {
                    const previous = await tx.getIdempotency(actor.subject, idempotencyKey);
                    if (previous) {
                        if (previous.requestHash !== requestHash) {
                            throw new PreconditionFailedError("This Idempotency-Key was already used with a different request; use a new key for a new request.");
                        }
                        return { result: { ...(previous.response as PutResult), replayed: true as const }, events: [] as OperationEvent[], enqueued: false, replayed: true };
                    }
                }
                const existing = await tx.getEnvironment(envName);
                if (existing && !canSee(actor, existing.team)) {
                    throw new ForbiddenError(`Environment ${envName} belongs to another team; choose another name.`);
                }
                const active = existing ? await tx.listActiveOperations(envName) : [];
                if (active.some((o) => o.kind === "destroy")) {
                    throw new ConflictError(`Environment ${envName} is being destroyed; send the spec again once the destroy has finished.`);
                }
                const latestUpdate = active.filter((o) => o.kind === "update").at(-1);
                let result: PutResult;
                const events: OperationEvent[] = [];
                let enqueued = false;
                if (existing && existing.specHash === hash && (latestUpdate?.specHash === hash || (!latestUpdate && existing.status === "ready"))) {
                    // Already applied, or already on its way: nothing new to do.
                    const status = latestUpdate ? 202 : 200;
                    result = { status, environment: await this.viewIn(tx, existing), ...(latestUpdate ? { operation: latestUpdate } : {}) };
                    await audit(tx, ctx, actor, "environment.put", envName, "accepted", { specHash: hash, unchanged: true, operationId: latestUpdate?.id });
                } else {
                    const now = ctx.now;
                    const recreated = !existing || existing.status === "destroyed";
                    const expiresAt = spec.ttlHours === undefined
                        ? null
                        : existing && existing.specHash === hash && existing.expiresAt
                            ? existing.expiresAt
                            : new Date(Date.parse(now) + spec.ttlHours * 3_600_000).toISOString();
                    await tx.upsertEnvironment({
                        name: envName, team: spec.team, spec, specHash: hash,
                        status: recreated ? "pending" : existing.status, expiresAt, now,
                    });
                    const { operation, collapsed } = await tx.enqueueOperation({
                        id: this.ids.newId(), environment: envName, team: spec.team, kind: "update", specHash: hash,
                        requestedBy: actor.subject, maxAttempts: this.settings.maxAttempts, now,
                    });
                    if (!collapsed) events.push(await recordState(tx, operation, now));
                    enqueued = !collapsed;
                    const env = await tx.updateEnvironment(envName, { lastOperationId: operation.id, now });
                    result = { status: 202, environment: { ...redactedCopy(env), lastOperation: operation }, operation };
                    await audit(tx, ctx, actor, "environment.put", envName, "accepted", { specHash: hash, operationId: operation.id, collapsed });
                }
                if (idempotencyKey !== undefined) {
                    await tx.putIdempotency({ scope: actor.subject, key: idempotencyKey, requestHash, response: result, createdAt: ctx.now });
                }
                return { result, events, enqueued, replayed: false };
            });
            this.afterCommit(outcome.events, outcome.enqueued);
            return outcome.result;
        });
    }

    async getEnvironment(actor: Actor, envName: string): Promise<EnvironmentView> {
        if (readsDetail(this.store)) {
            const detail = await this.store.getEnvironmentDetail(envName);
            if (!detail) throw notFound(envName);
            assertVisible(actor, detail.environment.team, `Environment ${envName}`);
            return this.view(detail.environment, detail.lastOperation);
        }
        const env = await this.store.getEnvironment(envName);
        if (!env) throw notFound(envName);
        assertVisible(actor, env.team, `Environment ${envName}`);
        return this.viewIn(this.store, env);
    }

    async listEnvironments(actor: Actor, query: ListEnvironmentsQuery = {}): Promise<Page<EnvironmentView>> {
        const limit = parseLimit(query.limit);
        if (query.status !== undefined && !(ENVIRONMENT_STATUSES as readonly string[]).includes(query.status)) {
            throw new ValidationError([{ path: "status", message: `must be one of ${ENVIRONMENT_STATUSES.join(", ")}` }]);
        }
        const team = visibleTeam(actor, query.team);
        const page = await this.store.listEnvironments({ team, status: query.status as EnvironmentStatus | undefined, limit, cursor: query.cursor });
        return { ...page, items: page.items.map(redactedCopy) };
    }

    /**
     * Queues a preview (planned changes) or a refresh (drift check) of the stored spec. A
     * preview may instead plan a `proposed` spec, validated at the edge like a PUT's: the
     * team sees what it would create or change before it applies it, and the stored spec
     * stays as it is. A proposed spec may name an environment that does not exist yet.
     */
    async requestOperation(actor: Actor, envName: string, kind: "preview" | "refresh", meta: RequestMeta = {}, proposed?: DesiredEnvironment): Promise<Operation> {
        return this.audited(actor, `environment.${kind}`, envName, meta, async () => {
            assertCanMutate(actor);
            if (proposed) assertMayUseTeam(actor, proposed.spec.team);
            const ctx = this.txContext(meta);
            const { operation, events } = await this.store.transaction(async (tx) => {
                const env = await tx.getEnvironment(envName);
                if (env && !canSee(actor, env.team)) throw notFound(envName);
                if (!env && !proposed) throw notFound(envName);
                if (env && proposed && proposed.spec.team !== env.team) {
                    throw new ValidationError([{ path: "team", message: `must stay ${JSON.stringify(env.team)}, the team that owns ${envName}` }]);
                }
                if (env?.status === "destroyed" && !proposed) throw new ConflictError(`Environment ${envName} is destroyed; PUT its spec to create it again.`);
                const active = env ? await tx.listActiveOperations(envName) : [];
                if (active.some((o) => o.kind === "destroy")) throw new ConflictError(`Environment ${envName} is being destroyed.`);
                const { operation } = await tx.enqueueOperation({
                    id: this.ids.newId(), environment: envName, team: env?.team ?? proposed!.spec.team, kind,
                    specHash: proposed?.hash ?? env!.specHash,
                    ...(proposed ? { proposedSpec: proposed.spec } : {}),
                    requestedBy: actor.subject, maxAttempts: this.settings.maxAttempts, now: ctx.now,
                });
                const event = await recordState(tx, operation, ctx.now);
                await audit(tx, ctx, actor, `environment.${kind}`, envName, "accepted", { operationId: operation.id, ...(proposed ? { proposedSpecHash: proposed.hash } : {}) });
                return { operation, events: [event] };
            });
            this.afterCommit(events, true);
            return operation;
        });
    }

    /** Queues a destroy; the worker removes the stack afterwards. A destroy already pending is returned. */
    async deleteEnvironment(actor: Actor, envName: string, meta: RequestMeta = {}): Promise<Operation> {
        return this.audited(actor, "environment.delete", envName, meta, async () => {
            assertCanMutate(actor);
            const ctx = this.txContext(meta);
            const outcome = await this.store.transaction(async (tx) => {
                const env = await tx.getEnvironment(envName);
                if (!env || !canSee(actor, env.team)) throw notFound(envName);
                if (env.status === "destroyed") throw new ConflictError(`Environment ${envName} is already destroyed.`);
                return enqueueDestroy(tx, ctx, env, actor, "environment.delete");
            });
            this.afterCommit(outcome.events, outcome.created);
            return outcome.operation;
        });
    }

    async getOperation(actor: Actor, id: string): Promise<Operation> {
        const op = await this.store.getOperation(String(id));
        if (!op) throw operationNotFound(id);
        assertVisible(actor, op.team, `Operation ${id}`);
        return op;
    }

    /** An operation's state, for a reader already allowed to see it (an event stream checks as it opens). */
    async operationState(id: string): Promise<OperationState> {
        const op = await this.store.getOperation(id);
        if (!op) throw operationNotFound(id);
        return op.state;
    }

    /** Newest first. */
    async listEnvironmentOperations(actor: Actor, name: string, limit?: number): Promise<Operation[]> {
        const env = await this.getEnvironment(actor, name);
        return this.store.listOperations(env.name, parseLimit(limit));
    }

    /** Queued: canceled at once. Running: the worker aborts it through its AbortSignal. */
    async cancelOperation(actor: Actor, id: string, meta: RequestMeta = {}): Promise<Operation> {
        return this.audited(actor, "operation.cancel", String(id), meta, async () => {
            assertCanMutate(actor);
            const ctx = this.txContext(meta);
            const { operation, events } = await this.store.transaction(async (tx) => {
                const before = await tx.getOperation(String(id));
                if (!before || !canSee(actor, before.team)) throw operationNotFound(id);
                const after = await tx.requestCancel(before.id, ctx.now);
                const written: OperationEvent[] = [];
                if (after.state === "canceled" && before.state !== "canceled") {
                    written.push(await recordState(tx, after, ctx.now, { error: { code: "canceled", message: `Canceled by ${actor.subject} before it ran.` } }));
                    const env = await tx.getEnvironment(before.environment);
                    const updates = (await tx.listActiveOperations(before.environment)).filter((o) => o.kind === "update" && o.id !== before.id).length;
                    const status = env && statusAfterQueuedCancel(before.kind, env.status, updates);
                    if (status) await tx.updateEnvironment(before.environment, { status, expiresAt: null, now: ctx.now });
                }
                await audit(tx, ctx, actor, "operation.cancel", before.id, "accepted", { environment: before.environment, from: before.state, to: after.state, cancelRequested: after.cancelRequested });
                return { operation: after, events: written };
            });
            this.afterCommit(events, false);
            if (operation.state === "running") this.hub.cancelRequested(operation.id);
            return operation;
        });
    }

    /** Stored events after `afterSeq` (0 for all), oldest first. */
    async listEvents(actor: Actor, id: string, afterSeq = 0, limit = MAX_EVENTS_PAGE): Promise<OperationEvent[]> {
        await this.getOperation(actor, id);
        if (!Number.isInteger(afterSeq) || afterSeq < 0) throw new ValidationError([{ path: "Last-Event-ID", message: "must be a whole number of 0 or more" }]);
        return this.store.listEvents(String(id), afterSeq, Math.min(Math.max(1, Math.floor(limit)), MAX_EVENTS_PAGE));
    }

    /**
     * The steps an operation plans (a preview) or takes (an update, a destroy): one per
     * resource, with its operation, type, name and masked inputs, in the order the engine
     * reported them. Paged by the seq of the last step returned.
     */
    async listPlan(actor: Actor, id: string, query: { limit: number; after?: number }): Promise<{ items: PlanStep[]; next?: number }> {
        await this.getOperation(actor, id);
        const items: PlanStep[] = [];
        let after = query.after ?? 0;
        for (;;) {
            const events = await this.store.listEvents(id, after, MAX_EVENTS_PAGE);
            for (const e of events) {
                after = e.seq;
                if (e.type !== "resource-pre") continue;
                const d = e.data as Partial<PlanStep> & { urn: string; type: string; op: string };
                items.push({ seq: e.seq, op: d.op, type: d.type, name: d.name ?? d.urn.slice(d.urn.lastIndexOf("::") + 2), urn: d.urn, inputs: d.inputs ?? {} });
                if (items.length === query.limit) return { items, next: e.seq };
            }
            if (events.length < MAX_EVENTS_PAGE) return { items };
        }
    }

    /** Live events of one operation, published after they are stored. Authorize with getOperation first. */
    subscribe(operationId: string, listener: EventListener): () => void {
        return this.hub.subscribe(operationId, listener);
    }

    async listAudit(actor: Actor, query: { limit?: number; cursor?: string } = {}): Promise<Page<AuditEntry>> {
        assertAdmin(actor, "read the audit log");
        return this.store.listAudit({ limit: parseLimit(query.limit), cursor: query.cursor });
    }

    async readiness(): Promise<Readiness> {
        const [engine, store] = await Promise.all([
            this.engine.readiness().catch((e: unknown): Readiness => ({ ok: false, checks: [{ name: "engine", ok: false, detail: `readiness check failed: ${(e as Error).message}` }] })),
            this.store.readiness().catch((e: unknown) => ({ ok: false, detail: (e as Error).message })),
        ]);
        return { ok: engine.ok && store.ok, checks: [...engine.checks, { name: "store", ok: store.ok, detail: store.detail }] };
    }

    /** For /metrics: operations by kind and state, and how many wait. */
    async operationStats(): Promise<OperationStats> {
        const counts = (await this.store.countOperations())
            .filter((c) => (OPERATION_KINDS as readonly string[]).includes(c.kind) && (OPERATION_STATES as readonly string[]).includes(c.state));
        const queueDepth = counts.filter((c) => c.state === "queued" || c.state === "interrupted").reduce((n, c) => n + c.count, 0);
        return { counts, queueDepth };
    }

    private txContext(meta: RequestMeta): TxContext {
        return { ids: this.ids, now: this.clock.now().toISOString(), maxAttempts: this.settings.maxAttempts, requestId: meta.requestId };
    }

    private afterCommit(events: OperationEvent[], enqueued: boolean): void {
        for (const e of events) this.hub.publish(e);
        if (enqueued) this.hub.enqueued();
    }

    /**
     * Runs a mutation; a refused one is audited as `rejected` on its own (its transaction,
     * if any, rolled back), so denied attempts leave a trace too.
     */
    private async audited<T>(actor: Actor, action: string, target: string, meta: RequestMeta, fn: () => Promise<T>): Promise<T> {
        try {
            return await fn();
        } catch (e) {
            if (e instanceof DomainError && e.code !== "unavailable") {
                const ctx = this.txContext(meta);
                try {
                    await this.store.transaction((tx) => audit(tx, ctx, actor, action, target.slice(0, 200), "rejected", { code: e.code, message: e.message }));
                } catch (auditError) {
                    this.logger.error({ err: auditError, action, target }, "could not audit a rejected request");
                }
            }
            throw e;
        }
    }

    private async viewIn(reader: { getOperation(id: string): Promise<Operation | undefined> }, env: Environment): Promise<EnvironmentView> {
        return this.view(env, env.lastOperationId ? await reader.getOperation(env.lastOperationId) : undefined);
    }

    private view(env: Environment, lastOperation: Operation | undefined): EnvironmentView {
        return { ...redactedCopy(env), ...(lastOperation ? { lastOperation } : {}) };
    }
}

function redactedCopy(env: Environment): Environment {
    const outputs = redactOutputs(env.outputs);
    return { ...env, ...(outputs ? { outputs } : {}) };
}

function parseLimit(limit: number | undefined): number {
    if (limit === undefined) return DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ValidationError([{ path: "limit", message: "must be a whole number from 1 to 100" }]);
    return limit;
}

function notFound(name: string): NotFoundError {
    return new NotFoundError(`Environment ${name} does not exist.`);
}

function operationNotFound(id: string): NotFoundError {
    return new NotFoundError(`Operation ${id} does not exist.`);
}
