import { escapeLiteral, type PoolClient, type QueryResult } from "pg";
import { ConflictError, NotFoundError } from "../domain/errors";
import type { AuditEntry, Environment, Operation, OperationError, OperationEvent } from "../domain/ports";
import { assertTransition } from "../domain/stateMachine";
import type {
    EnqueueResult, EnvironmentPatch, FinishRequest, IdempotencyRecord, NewAuditEntry, NewEvent, NewOperation, RequeueRequest,
    StoreTx, UpsertEnvironment,
} from "../domain/store";
import { LOCK } from "./postgresMigrations";
import { iso, PgRow, rowToAudit, rowToEnvironment, rowToEvent, rowToOperation, toJson } from "./postgresRows";

export const ACTIVE = "('queued', 'running', 'interrupted')";

/** What a committed transaction tells other processes through NOTIFY. */
export type StoreNotification =
    /**
     * Events `from`..`seq` of the operation were stored (`from` absent: just `seq`, as older
     * processes send); `events` carries them when they fit in a notification.
     */
    | { kind: "event"; operationId: string; seq: number; from?: number; events?: OperationEvent[] }
    | { kind: "enqueued" }
    | { kind: "cancel"; operationId: string };

/** PostgreSQL refuses a notification payload of 8,000 bytes or more; this leaves room for the origin. */
const NOTIFY_EVENTS_BYTES = 7_500;

export interface TxScope {
    /** Schema name, so advisory-lock keys and NOTIFY channels of two schemas in one database never meet. */
    scope: string;
    /** NOTIFY channel, or undefined when notifications are off. */
    channel?: string;
    /** Identifies this store instance in NOTIFY payloads, so it can ignore its own. */
    origin: string;
}

/**
 * The StoreTx face over one connection inside BEGIN ... COMMIT (READ COMMITTED).
 *
 * Locking discipline, which is what makes transactions on one environment as serial
 * as the embedded store's single writer, across every process:
 *   1. an idempotency key's advisory lock (only PUT takes it), then
 *   2. the environment's transaction-scoped advisory lock, taken by the first method
 *      that touches the environment or one of its operations, then
 *   3. row locks.
 * The claimer only ever try-locks an environment, so it skips one a transaction is
 * changing instead of waiting, and never deadlocks with it. Each statement after a
 * lock sees everything committed before the lock was granted.
 */
export class PostgresTx implements StoreTx {
    private readonly lockedEnvironments = new Set<string>();
    /**
     * recovery_pending of the environments this transaction locked and then read or wrote: no
     * one else can change it before the commit, so the worker's start reads it with the row.
     */
    private readonly recoveryPending = new Map<string, boolean>();
    /** `SELECT pg_notify(...)` statements, sent with the COMMIT (see commit). */
    private readonly notifications: string[] = [];
    /**
     * Statements sent and not yet awaited (BEGIN, advisory locks): on a pipelining connection they
     * travel with the next statement, and PostgreSQL runs them in order, so a lock is held before
     * the statement after it takes its snapshot. Their failures surface at the next statement.
     */
    private unawaited: Array<Promise<unknown>> = [];
    private readonly began: Promise<unknown>;

    /** Sends BEGIN; the connection must pipeline (see PostgresStore), or BEGIN costs a round trip of its own. */
    constructor(private readonly client: PoolClient, private readonly ctx: TxScope) {
        this.began = this.send("BEGIN");
    }

    /** Whether BEGIN itself failed: then nothing of the transaction ran, and it may run again elsewhere. */
    beginFailed(): Promise<boolean> {
        return this.began.then(() => false, () => true);
    }

    private send(sql: string, params: unknown[] = []): Promise<unknown> {
        const sent = this.client.query(sql, params);
        sent.catch(() => undefined);
        this.unawaited.push(sent);
        return sent;
    }

    /**
     * Awaits what was sent before: when an earlier statement failed, the ones after it fail only
     * as "transaction aborted", so the earlier failure (a deadlock, a lost connection) is the one reported.
     */
    private async after<R>(statement: Promise<R>): Promise<R> {
        if (this.unawaited.length > 0) {
            statement.catch(() => undefined);
            await Promise.all(this.unawaited.splice(0));
        }
        return statement;
    }

    /** Raw SQL inside the transaction, for the store's claim and reclaim paths. */
    async query(sql: string, params: unknown[] = []): Promise<PgRow[]> {
        return (await this.after(this.client.query<PgRow>(sql, params))).rows;
    }

    /**
     * Several statements in one round trip (the simple protocol, so no parameters: literals
     * must be escaped by the caller). Each statement runs with a snapshot of its own, as if
     * sent one by one. Returns each statement's rows.
     */
    async queryMany(sql: string): Promise<PgRow[][]> {
        const results = (await this.after(this.client.query<PgRow>(sql))) as unknown as QueryResult<PgRow> | Array<QueryResult<PgRow>>;
        return (Array.isArray(results) ? results : [results]).map((r) => r.rows);
    }

    async exec(sql: string, params: unknown[] = []): Promise<void> {
        await this.after(this.client.query(sql, params));
    }

    private async one(sql: string, params: unknown[] = []): Promise<PgRow | undefined> {
        return (await this.query(sql, params))[0];
    }

    /** Sent with the next statement, which runs once the lock is granted. */
    lockEnvironment(name: string): Promise<void> {
        if (this.lockedEnvironments.has(name)) return Promise.resolve();
        void this.send("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK.environment, `${this.ctx.scope}:${name}`]);
        this.lockedEnvironments.add(name);
        return Promise.resolve();
    }

    /** For the claimer: false when a transaction is changing the environment right now. */
    async tryLockEnvironment(name: string): Promise<boolean> {
        if (this.lockedEnvironments.has(name)) return true;
        const [row] = await this.query("SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok", [LOCK.environment, `${this.ctx.scope}:${name}`]);
        if (row.ok !== true) return false;
        this.lockedEnvironments.add(name);
        return true;
    }

    /**
     * Locks the environment an operation belongs to (an operation never changes environment),
     * then reads the operation. When this transaction had sent that lock before the first read
     * (the worker's outcome reads the environment with the operation), that read is current.
     */
    private async lockOperation(id: string): Promise<Operation | undefined> {
        const lockedBefore = new Set(this.lockedEnvironments);
        const first = await this.one("SELECT * FROM operations WHERE id = $1", [id]);
        if (!first) return undefined;
        const environment = String(first.environment);
        if (lockedBefore.has(environment)) return rowToOperation(first);
        await this.lockEnvironment(environment);
        // Read again: a statement after the lock sees what was committed before it was granted.
        const row = await this.one("SELECT * FROM operations WHERE id = $1", [id]);
        return row ? rowToOperation(row) : undefined;
    }

    private async mustLockOperation(id: string): Promise<Operation> {
        const op = await this.lockOperation(id);
        if (!op) throw new NotFoundError(`Operation ${id} does not exist.`);
        return op;
    }

    private async mustHoldLease(id: string, workerId: string): Promise<Operation> {
        const op = await this.mustLockOperation(id);
        if (op.state !== "running" || op.leaseOwner !== workerId) {
            throw new ConflictError(`Operation ${id} is no longer held by worker ${workerId} (state ${op.state}).`);
        }
        return op;
    }

    /** Delivered only if and when the transaction commits, in commit order. */
    notify(message: StoreNotification): void {
        if (this.ctx.channel === undefined) return;
        this.notifications.push(`SELECT pg_notify(${escapeLiteral(this.ctx.channel)}, ${escapeLiteral(JSON.stringify({ ...message, origin: this.ctx.origin }))});`);
    }

    /**
     * Sends the notifications and COMMIT in one round trip (the simple protocol, so the values
     * are escaped literals): a NOTIFY only takes effect at commit anyway, and a worker's outcome
     * notifies twice. A notification PostgreSQL refuses fails the commit, and the caller rolls back.
     */
    async commit(): Promise<void> {
        await this.after(this.client.query(`${this.notifications.join("")}COMMIT`));
    }

    // ---- environments --------------------------------------------------------

    async getEnvironment(name: string): Promise<Environment | undefined> {
        await this.lockEnvironment(name);
        const row = await this.one("SELECT * FROM environments WHERE name = $1", [name]);
        return row ? this.environmentRow(row) : undefined;
    }

    /** Every environment row this transaction reads after its lock comes through here. */
    private environmentRow(row: PgRow): Environment {
        this.recoveryPending.set(String(row.name), row.recovery_pending === true);
        return rowToEnvironment(row);
    }

    async upsertEnvironment(e: UpsertEnvironment): Promise<Environment> {
        await this.lockEnvironment(e.name);
        const row = await this.one(
            `INSERT INTO environments (name, team, spec, spec_hash, status, created_at, updated_at, expires_at)
             VALUES ($1, $2, $3::json, $4, $5, $6, $6, $7)
             ON CONFLICT (name) DO UPDATE SET team = excluded.team, spec = excluded.spec, spec_hash = excluded.spec_hash,
                 status = excluded.status, updated_at = excluded.updated_at, expires_at = excluded.expires_at
             RETURNING *`,
            [e.name, e.team, toJson(e.spec), e.specHash, e.status, e.now, e.expiresAt],
        );
        return this.environmentRow(row!);
    }

    async updateEnvironment(name: string, patch: EnvironmentPatch): Promise<Environment> {
        await this.lockEnvironment(name);
        const sets: string[] = ["updated_at = $1"];
        const params: unknown[] = [patch.now];
        const set = (column: string, value: unknown, cast = "") => {
            params.push(value);
            sets.push(`${column} = $${params.length}${cast}`);
        };
        if (patch.status !== undefined) set("status", patch.status);
        if (patch.outputs !== undefined) set("outputs", patch.outputs === null ? null : toJson(patch.outputs), "::json");
        if (patch.expiresAt !== undefined) set("expires_at", patch.expiresAt);
        if (patch.lastOperationId !== undefined) set("last_operation_id", patch.lastOperationId);
        params.push(name);
        // Built from the fixed column names above; every value is bound.
        const row = await this.one(`UPDATE environments SET ${sets.join(", ")} WHERE name = $${params.length} RETURNING *`, params);
        if (!row) throw new NotFoundError(`Environment ${name} does not exist.`);
        return this.environmentRow(row);
    }

    async removeEnvironment(name: string): Promise<void> {
        await this.lockEnvironment(name);
        await this.exec("DELETE FROM environments WHERE name = $1", [name]);
        this.recoveryPending.delete(name);
    }

    async setRecoveryPending(environment: string, pending: boolean): Promise<void> {
        await this.lockEnvironment(environment);
        await this.exec("UPDATE environments SET recovery_pending = $1 WHERE name = $2", [pending, environment]);
        this.recoveryPending.set(environment, pending);
    }

    async isRecoveryPending(environment: string): Promise<boolean> {
        await this.lockEnvironment(environment);
        return this.recoveryPending.get(environment)
            ?? (await this.one("SELECT recovery_pending FROM environments WHERE name = $1", [environment]))?.recovery_pending === true;
    }

    // ---- operations ----------------------------------------------------------

    async enqueueOperation(op: NewOperation): Promise<EnqueueResult> {
        await this.lockEnvironment(op.environment);
        if (op.kind === "update") {
            const collapsed = await this.one(
                `UPDATE operations SET spec_hash = $1, requested_by = $2, team = $3
                 WHERE id = (SELECT id FROM operations WHERE environment = $4 AND kind = 'update' AND state = 'queued' ORDER BY seq DESC LIMIT 1)
                 RETURNING *`,
                [op.specHash ?? null, op.requestedBy, op.team, op.environment],
            );
            if (collapsed) return { operation: rowToOperation(collapsed), collapsed: true };
        }
        const row = await this.one(
            `INSERT INTO operations (id, environment, team, kind, state, spec_hash, requested_by, attempt, max_attempts, created_at, proposed_spec)
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, 0, $7, $8, $9::json) RETURNING *`,
            [op.id, op.environment, op.team, op.kind, op.specHash ?? null, op.requestedBy, op.maxAttempts, op.now, op.proposedSpec === undefined ? null : toJson(op.proposedSpec)],
        );
        this.notify({ kind: "enqueued" });
        return { operation: rowToOperation(row!), collapsed: false };
    }

    getOperation(id: string): Promise<Operation | undefined> {
        return this.lockOperation(id);
    }

    async listActiveOperations(environment: string): Promise<Operation[]> {
        await this.lockEnvironment(environment);
        return (await this.query(`SELECT * FROM operations WHERE environment = $1 AND state IN ${ACTIVE} ORDER BY seq`, [environment])).map(rowToOperation);
    }

    async requestCancel(id: string, now: string): Promise<Operation> {
        const op = await this.mustLockOperation(id);
        switch (op.state) {
            case "queued":
            case "interrupted": {
                assertTransition(op.state, "canceled");
                const row = await this.one(
                    `UPDATE operations SET state = 'canceled', cancel_requested = true, finished_at = $1, lease_owner = NULL, lease_expires_at = NULL
                     WHERE id = $2 RETURNING *`,
                    [now, id],
                );
                return rowToOperation(row!);
            }
            case "running": {
                const row = await this.one("UPDATE operations SET cancel_requested = true WHERE id = $1 RETURNING *", [id]);
                // The lease holder may run in another process: tell it now rather than at its next lease renewal.
                this.notify({ kind: "cancel", operationId: id });
                return rowToOperation(row!);
            }
            case "canceled":
                return op;
            default:
                throw new ConflictError(`Operation ${id} already ${op.state}; there is nothing to cancel.`);
        }
    }

    async finishOperation(request: FinishRequest): Promise<Operation> {
        const op = await this.mustHoldLease(request.id, request.workerId);
        assertTransition(op.state, request.state);
        const interrupted = request.state === "interrupted";
        const row = await this.one(
            `UPDATE operations SET state = $1, finished_at = $2, summary = $3::json, error = $4::json, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $5 RETURNING *`,
            [
                request.state, interrupted ? null : request.now,
                request.summary === undefined ? null : toJson(request.summary), request.error === undefined ? null : toJson(request.error),
                request.id,
            ],
        );
        if (interrupted) await this.setRecoveryPending(op.environment, true);
        return rowToOperation(row!);
    }

    async requeueOperation(request: RequeueRequest): Promise<Operation> {
        const op = request.workerId === undefined ? await this.mustLockOperation(request.id) : await this.mustHoldLease(request.id, request.workerId);
        assertTransition(op.state, "queued");
        const row = await this.one(
            `UPDATE operations SET state = 'queued', not_before = $1, error = $2::json, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $3 RETURNING *`,
            [request.notBefore, request.error === undefined ? null : toJson(request.error), request.id],
        );
        this.notify({ kind: "enqueued" });
        return rowToOperation(row!);
    }

    async failInterrupted(id: string, error: OperationError, now: string): Promise<Operation> {
        const op = await this.mustLockOperation(id);
        assertTransition(op.state, "failed");
        const row = await this.one("UPDATE operations SET state = 'failed', finished_at = $1, error = $2::json WHERE id = $3 RETURNING *", [now, toJson(error), id]);
        return rowToOperation(row!);
    }

    // ---- events, audit, idempotency -------------------------------------------

    async appendEvent(operationId: string, event: NewEvent): Promise<OperationEvent> {
        return (await this.appendEvents(operationId, [event]))[0];
    }

    /**
     * One statement stores the bursts of any number of operations: it takes each operation's
     * next numbers from its counter and inserts the rows, numbered in the order given (one
     * operation may have several bursts); each burst then gets one notification. The counter
     * rows stay locked until commit, so a concurrent appender to one of these operations waits
     * and events commit in seq order. A burst per statement made a group of twenty bursts
     * twenty round trips, while runs that end together wait for the group (npm run bench:events).
     */
    async appendEventBursts(bursts: Array<{ operationId: string; events: NewEvent[] }>): Promise<OperationEvent[][]> {
        const flat = bursts.flatMap((b) => b.events.map((e) => ({ operationId: b.operationId, ...e })));
        if (flat.length === 0) return bursts.map(() => []);
        const rows = await this.query(
            `WITH input AS (
                 SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) WITH ORDINALITY AS e(operation_id, at, type, data, n)
             ),
             added AS (SELECT operation_id, count(*) AS n FROM input GROUP BY operation_id),
             counter AS (
                 INSERT INTO event_counters AS c (operation_id, last_seq) SELECT operation_id, n FROM added ORDER BY operation_id
                 ON CONFLICT (operation_id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq
                 RETURNING c.operation_id, c.last_seq
             )
             INSERT INTO events (operation_id, seq, at, type, data)
             SELECT i.operation_id, counter.last_seq - added.n + row_number() OVER (PARTITION BY i.operation_id ORDER BY i.n), i.at, i.type, i.data::json
             FROM input i JOIN added USING (operation_id) JOIN counter USING (operation_id)
             RETURNING *`,
            [flat.map((e) => e.operationId), flat.map((e) => e.at), flat.map((e) => e.type), flat.map((e) => toJson(e.data))],
        );
        // Each operation's rows in seq order, handed out to its bursts in the order they were given.
        const byOperation = new Map<string, OperationEvent[]>();
        for (const event of rows.map(rowToEvent).sort((a, b) => a.seq - b.seq)) {
            const list = byOperation.get(event.operationId);
            if (list) list.push(event);
            else byOperation.set(event.operationId, [event]);
        }
        return bursts.map(({ operationId, events }) => {
            if (events.length === 0) return [];
            const stored = byOperation.get(operationId)!.splice(0, events.length);
            const message = { kind: "event", operationId, seq: stored[stored.length - 1].seq, from: stored[0].seq } as const;
            // A replica then relays a burst without reading it back from the store.
            const carried = { ...message, events: stored };
            this.notify(Buffer.byteLength(JSON.stringify(carried)) <= NOTIFY_EVENTS_BYTES ? carried : message);
            return stored;
        });
    }

    async appendEvents(operationId: string, events: NewEvent[]): Promise<OperationEvent[]> {
        return (await this.appendEventBursts([{ operationId, events }]))[0];
    }

    async appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
        const row = await this.one(
            `INSERT INTO audit (id, at, actor, action, target, outcome, details, request_id)
             VALUES ($1, $2, $3::json, $4, $5, $6, $7::json, $8) RETURNING *`,
            [entry.id, entry.at, toJson(entry.actor), entry.action, entry.target, entry.outcome, entry.details === undefined ? null : toJson(entry.details), entry.requestId ?? null],
        );
        return rowToAudit(row!);
    }

    /** Locks the key first: a concurrent request with the same key waits for this one and then replays its response. */
    async getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
        void this.send("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK.idempotency, `${this.ctx.scope}:${scope}:${key}`]);
        const row = await this.one("SELECT * FROM idempotency WHERE scope = $1 AND key = $2", [scope, key]);
        if (!row) return undefined;
        return { scope, key, requestHash: String(row.request_hash), response: JSON.parse(String(row.response)), createdAt: iso(row.created_at)! };
    }

    async purgeIdempotencyBefore(before: string): Promise<number> {
        return (await this.after(this.client.query("DELETE FROM idempotency WHERE created_at < $1", [before]))).rowCount ?? 0;
    }

    async putIdempotency(r: IdempotencyRecord): Promise<void> {
        await this.exec(
            "INSERT INTO idempotency (scope, key, request_hash, response, created_at) VALUES ($1, $2, $3, $4::json, $5)",
            [r.scope, r.key, r.requestHash, toJson(r.response), r.createdAt],
        );
    }
}
