import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { ConflictError, NotFoundError, UnavailableError } from "../domain/errors";
import type { AuditEntry, Environment, Operation, OperationError, OperationEvent, OperationState } from "../domain/ports";
import { assertTransition } from "../domain/stateMachine";
import type {
    ClaimRequest, EnqueueResult, EnvironmentPatch, EnvironmentQuery, FinishRequest, IdempotencyRecord, LeaseState,
    NewAuditEntry, NewEvent, NewOperation, OperationCount, Page, PageQuery, RequeueRequest, Store, StoreReadiness, StoreTx,
    UpsertEnvironment,
} from "../domain/store";
import { MIGRATIONS } from "./sqliteMigrations";
import { sqliteResultCode, toStoreError } from "./sqliteErrors";
import { decodeCursor, encodeCursor, rowToAudit, rowToEnvironment, rowToEvent, rowToOperation, toJson } from "./sqliteRows";

export interface SqliteStoreOptions {
    /** Directory of the database file `kvp.db`; created if missing. */
    dataDir: string;
    /** How long to wait for a lock before reporting the store unavailable. Defaults to 5000. */
    busyTimeoutMs?: number;
    /** Caps the file at this many pages (4 KiB each): a disk quota, and how tests simulate a full disk. */
    maxPageCount?: number;
}

export const DATABASE_FILE = "kvp.db";

type Row = Record<string, unknown>;
const ACTIVE = "('queued', 'running', 'interrupted')";
/** Room a readiness probe asks for after a failed write: 64 KiB, a busy transaction's worth of pages. */
const PROBE_PAGES = 16;

/**
 * The embedded store on Node's built-in SQLite. WAL with synchronous=FULL: a commit is
 * on disk before the call returns, so a killed process loses nothing it acknowledged.
 * The connection holds SQLite's exclusive lock for its whole life, which makes this
 * process the only user of the data directory (`exclusive`), and one async mutex
 * serializes callers so a transaction can await between its statements.
 */
export class SqliteStore implements Store {
    readonly exclusive = true;
    private readonly db: DatabaseSync;
    private readonly statements = new Map<string, StatementSync>();
    private queue: Promise<unknown> = Promise.resolve();
    private closed = false;
    private lastFailure?: { at: number; message: string };
    private readonly tx: StoreTx;

    private constructor(db: DatabaseSync, private readonly dataDir: string) {
        this.db = db;
        this.tx = this.txMethods();
    }

    /** Opens (creating if needed) `<dataDir>/kvp.db` and runs pending migrations. */
    static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
        let db: DatabaseSync | undefined;
        try {
            mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
            db = new DatabaseSync(join(options.dataDir, DATABASE_FILE));
            db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
            // Exclusive before WAL: the WAL index then lives in heap memory and the lock is never released while open.
            db.exec("PRAGMA locking_mode = EXCLUSIVE");
            db.exec("PRAGMA journal_mode = WAL");
            db.exec("PRAGMA synchronous = FULL");
            db.exec("PRAGMA foreign_keys = ON");
            if (options.maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${Math.floor(options.maxPageCount)}`);
            migrate(db);
            return new SqliteStore(db, options.dataDir);
        } catch (e) {
            try {
                db?.close();
            } catch {
                // The open already failed; the original error is the one to report.
            }
            throw toStoreError(e);
        }
    }

    // ---- plumbing ----------------------------------------------------------

    private stmt(sql: string): StatementSync {
        let s = this.statements.get(sql);
        if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
        return s;
    }

    private all(sql: string, ...params: SQLInputValue[]): Row[] {
        return this.stmt(sql).all(...params) as Row[];
    }

    private one(sql: string, ...params: SQLInputValue[]): Row | undefined {
        return this.stmt(sql).get(...params) as Row | undefined;
    }

    private run(sql: string, ...params: SQLInputValue[]): number {
        return Number(this.stmt(sql).run(...params).changes);
    }

    /** Serializes every caller through one chain; maps storage failures to UnavailableError. */
    private locked<T>(fn: () => T | Promise<T>): Promise<T> {
        const result = this.queue.then(async () => {
            if (this.closed) throw new UnavailableError("The store is closed.");
            try {
                return await fn();
            } catch (e) {
                throw this.failure(e);
            }
        });
        this.queue = result.catch(() => undefined);
        return result;
    }

    private failure(e: unknown): unknown {
        const mapped = toStoreError(e);
        if (mapped instanceof UnavailableError) this.lastFailure = { at: Date.now(), message: mapped.message };
        return mapped;
    }

    private rollback(): void {
        try {
            if (this.db.isTransaction) this.db.exec("ROLLBACK");
        } catch {
            // SQLite may already have rolled back (e.g. after SQLITE_FULL); the first error is what matters.
        }
    }

    /** Also how each StoreTx call made outside a transaction runs: as one of its own. */
    transaction<T>(fn: (tx: StoreTx) => T | Promise<T>): Promise<T> {
        return this.locked(async () => {
            this.db.exec("BEGIN IMMEDIATE");
            try {
                const result = await fn(this.tx);
                this.db.exec("COMMIT");
                // A committed write is the proof readiness waits for after a failure.
                this.lastFailure = undefined;
                return result;
            } catch (e) {
                this.rollback();
                throw e;
            }
        });
    }

    /** The StoreTx face used inside transaction(): runs directly, the caller already holds the lock. */
    private txMethods(): StoreTx {
        return {
            getEnvironment: async (name) => this.getEnvironmentSync(name),
            upsertEnvironment: async (input) => this.upsertEnvironmentSync(input),
            updateEnvironment: async (name, patch) => this.updateEnvironmentSync(name, patch),
            removeEnvironment: async (name) => void this.run("DELETE FROM environments WHERE name = ?", name),
            setRecoveryPending: async (env, pending) => void this.run("UPDATE environments SET recovery_pending = ? WHERE name = ?", pending ? 1 : 0, env),
            isRecoveryPending: async (env) => this.isRecoveryPendingSync(env),
            enqueueOperation: async (op) => this.enqueueSync(op),
            getOperation: async (id) => this.getOperationSync(id),
            listActiveOperations: async (env) => this.listActiveSync(env),
            requestCancel: async (id, now) => this.requestCancelSync(id, now),
            finishOperation: async (request) => this.finishSync(request),
            requeueOperation: async (request) => this.requeueSync(request),
            failInterrupted: async (id, error, now) => this.failInterruptedSync(id, error, now),
            appendEvent: async (id, event) => this.appendEventSync(id, event),
            appendEvents: async (id, events) => events.map((event) => this.appendEventSync(id, event)),
            appendAudit: async (entry) => this.appendAuditSync(entry),
            getIdempotency: async (scope, key) => this.getIdempotencySync(scope, key),
            putIdempotency: async (record) => this.putIdempotencySync(record),
        };
    }

    // ---- StoreTx, outside a transaction --------------------------------------

    getEnvironment(name: string): Promise<Environment | undefined> {
        return this.locked(() => this.getEnvironmentSync(name));
    }
    upsertEnvironment(input: UpsertEnvironment): Promise<Environment> {
        return this.transaction(() => this.upsertEnvironmentSync(input));
    }
    updateEnvironment(name: string, patch: EnvironmentPatch): Promise<Environment> {
        return this.transaction(() => this.updateEnvironmentSync(name, patch));
    }
    removeEnvironment(name: string): Promise<void> {
        return this.transaction(() => void this.run("DELETE FROM environments WHERE name = ?", name));
    }
    enqueueOperation(op: NewOperation): Promise<EnqueueResult> {
        return this.transaction(() => this.enqueueSync(op));
    }
    getOperation(id: string): Promise<Operation | undefined> {
        return this.locked(() => this.getOperationSync(id));
    }
    listActiveOperations(environment: string): Promise<Operation[]> {
        return this.locked(() => this.listActiveSync(environment));
    }
    requestCancel(id: string, now: string): Promise<Operation> {
        return this.transaction(() => this.requestCancelSync(id, now));
    }
    finishOperation(request: FinishRequest): Promise<Operation> {
        return this.transaction(() => this.finishSync(request));
    }
    requeueOperation(request: RequeueRequest): Promise<Operation> {
        return this.transaction(() => this.requeueSync(request));
    }
    failInterrupted(id: string, error: OperationError, now: string): Promise<Operation> {
        return this.transaction(() => this.failInterruptedSync(id, error, now));
    }
    appendEvent(operationId: string, event: NewEvent): Promise<OperationEvent> {
        return this.transaction(() => this.appendEventSync(operationId, event));
    }
    appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
        return this.transaction(() => this.appendAuditSync(entry));
    }
    getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
        return this.locked(() => this.getIdempotencySync(scope, key));
    }
    putIdempotency(record: IdempotencyRecord): Promise<void> {
        return this.transaction(() => this.putIdempotencySync(record));
    }

    // ---- environments --------------------------------------------------------

    private getEnvironmentSync(name: string): Environment | undefined {
        const row = this.one("SELECT * FROM environments WHERE name = ?", name);
        return row ? rowToEnvironment(row) : undefined;
    }

    private upsertEnvironmentSync(e: UpsertEnvironment): Environment {
        this.run(
            `INSERT INTO environments (name, team, spec, spec_hash, status, created_at, updated_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET team = excluded.team, spec = excluded.spec, spec_hash = excluded.spec_hash,
                 status = excluded.status, updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
            e.name, e.team, toJson(e.spec), e.specHash, e.status, e.now, e.now, e.expiresAt,
        );
        return this.getEnvironmentSync(e.name)!;
    }

    private updateEnvironmentSync(name: string, patch: EnvironmentPatch): Environment {
        const sets: string[] = ["updated_at = ?"];
        const params: SQLInputValue[] = [patch.now];
        if (patch.status !== undefined) { sets.push("status = ?"); params.push(patch.status); }
        if (patch.outputs !== undefined) { sets.push("outputs = ?"); params.push(patch.outputs === null ? null : toJson(patch.outputs)); }
        if (patch.expiresAt !== undefined) { sets.push("expires_at = ?"); params.push(patch.expiresAt); }
        if (patch.lastOperationId !== undefined) { sets.push("last_operation_id = ?"); params.push(patch.lastOperationId); }
        // Built from a fixed set of column names above; values are bound.
        const changed = Number(this.db.prepare(`UPDATE environments SET ${sets.join(", ")} WHERE name = ?`).run(...params, name).changes);
        if (changed === 0) throw new NotFoundError(`Environment ${name} does not exist.`);
        return this.getEnvironmentSync(name)!;
    }

    listEnvironments(query: EnvironmentQuery): Promise<Page<Environment>> {
        return this.locked(() => {
            const after = query.cursor === undefined ? "" : String(decodeCursor(query.cursor, "name", "string").name);
            // One statement per combination of filters: "(? IS NULL OR team = ?)" hides the filter from
            // the planner, which then walks every name after the cursor; spelled out, a filtered page
            // walks environments_by_team_status or environments_by_status and reads only its own rows.
            const filters: Array<[string, string]> = [];
            if (query.team !== undefined) filters.push(["team", query.team]);
            if (query.status !== undefined) filters.push(["status", query.status]);
            const rows = this.all(
                `SELECT * FROM environments WHERE ${[...filters.map(([column]) => `${column} = ?`), "name > ?"].join(" AND ")} ORDER BY name LIMIT ?`,
                ...filters.map(([, value]) => value), after, query.limit + 1,
            );
            const items = rows.slice(0, query.limit).map(rowToEnvironment);
            return rows.length > query.limit ? { items, nextCursor: encodeCursor({ name: items[items.length - 1].name }) } : { items };
        });
    }

    listExpiredEnvironments(now: string, limit: number): Promise<Environment[]> {
        // One TTL destroy per expiry: if it fails, a person decides what happens next.
        return this.locked(() => this.all(
            `SELECT * FROM environments e
             WHERE e.expires_at IS NOT NULL AND e.expires_at <= ? AND e.status NOT IN ('destroyed', 'destroying')
               AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.environment = e.name AND o.kind = 'destroy'
                               AND (o.state IN ${ACTIVE} OR o.created_at >= e.expires_at))
             ORDER BY e.expires_at LIMIT ?`,
            now, limit,
        ).map(rowToEnvironment));
    }

    setRecoveryPending(environment: string, pending: boolean): Promise<void> {
        return this.transaction(() => void this.run("UPDATE environments SET recovery_pending = ? WHERE name = ?", pending ? 1 : 0, environment));
    }

    isRecoveryPending(environment: string): Promise<boolean> {
        return this.locked(() => this.isRecoveryPendingSync(environment));
    }

    private isRecoveryPendingSync(environment: string): boolean {
        return Number(this.one("SELECT recovery_pending FROM environments WHERE name = ?", environment)?.recovery_pending ?? 0) === 1;
    }

    // ---- operations ----------------------------------------------------------

    private getOperationSync(id: string): Operation | undefined {
        const row = this.one("SELECT * FROM operations WHERE id = ?", id);
        return row ? rowToOperation(row) : undefined;
    }

    private mustGetOperation(id: string): Operation {
        const op = this.getOperationSync(id);
        if (!op) throw new NotFoundError(`Operation ${id} does not exist.`);
        return op;
    }

    private listActiveSync(environment: string): Operation[] {
        return this.all(`SELECT * FROM operations WHERE environment = ? AND state IN ${ACTIVE} ORDER BY seq`, environment).map(rowToOperation);
    }

    private enqueueSync(op: NewOperation): EnqueueResult {
        if (op.kind === "update") {
            const queued = this.one(
                "SELECT id FROM operations WHERE environment = ? AND kind = 'update' AND state = 'queued' ORDER BY seq DESC LIMIT 1",
                op.environment,
            );
            if (queued) {
                this.run("UPDATE operations SET spec_hash = ?, requested_by = ?, team = ? WHERE id = ?", op.specHash ?? null, op.requestedBy, op.team, String(queued.id));
                return { operation: this.mustGetOperation(String(queued.id)), collapsed: true };
            }
        }
        this.run(
            `INSERT INTO operations (id, environment, team, kind, state, spec_hash, requested_by, attempt, max_attempts, created_at, proposed_spec)
             VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, ?, ?, ?)`,
            op.id, op.environment, op.team, op.kind, op.specHash ?? null, op.requestedBy, op.maxAttempts, op.now, op.proposedSpec === undefined ? null : toJson(op.proposedSpec),
        );
        return { operation: this.mustGetOperation(op.id), collapsed: false };
    }

    private requestCancelSync(id: string, now: string): Operation {
        const op = this.mustGetOperation(id);
        switch (op.state) {
            case "queued":
            case "interrupted":
                assertTransition(op.state, "canceled");
                this.run(
                    `UPDATE operations SET state = 'canceled', cancel_requested = 1, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
                     WHERE id = ?`,
                    now, id,
                );
                break;
            case "running":
                this.run("UPDATE operations SET cancel_requested = 1 WHERE id = ?", id);
                break;
            case "canceled":
                return op;
            default:
                throw new ConflictError(`Operation ${id} already ${op.state}; there is nothing to cancel.`);
        }
        return this.mustGetOperation(id);
    }

    listOperations(environment: string, limit: number): Promise<Operation[]> {
        return this.locked(() => this.all("SELECT * FROM operations WHERE environment = ? ORDER BY seq DESC LIMIT ?", environment, limit).map(rowToOperation));
    }

    listOperationsByState(state: OperationState, limit: number): Promise<Operation[]> {
        return this.locked(() => this.all("SELECT * FROM operations WHERE state = ? ORDER BY seq LIMIT ?", state, limit).map(rowToOperation));
    }

    claim<T>(request: ClaimRequest, start: (tx: StoreTx, operation: Operation) => Promise<T>): Promise<T[]> {
        return this.transaction(async (tx) => {
            const running = Number(this.one("SELECT count(*) AS n FROM operations WHERE state = 'running'")!.n);
            const started: T[] = [];
            const room = Math.min(request.limit, request.maxRunning - running);
            while (started.length < room) {
                // The oldest queued operation of its environment, with nothing running or awaiting
                // recovery there (one claimed a moment ago in this loop included).
                const row = this.one(
                    `SELECT o.id FROM operations o
                     WHERE o.state = 'queued' AND (o.not_before IS NULL OR o.not_before <= ?)
                       AND NOT EXISTS (SELECT 1 FROM operations b WHERE b.environment = o.environment
                                       AND (b.state IN ('running', 'interrupted') OR (b.state = 'queued' AND b.seq < o.seq)))
                     ORDER BY o.seq LIMIT 1`,
                    request.now,
                );
                if (!row) break;
                const id = String(row.id);
                assertTransition("queued", "running");
                this.run(
                    `UPDATE operations SET state = 'running', attempt = attempt + 1, not_before = NULL,
                         started_at = max(?, coalesce((SELECT e.updated_at FROM environments e WHERE e.name = operations.environment), '')),
                         lease_owner = ?, lease_expires_at = ? WHERE id = ?`,
                    request.now, request.workerId, addMs(request.now, request.leaseMs), id,
                );
                started.push(await start(tx, this.mustGetOperation(id)));
            }
            return started;
        });
    }

    renewLease(id: string, workerId: string, leaseMs: number, now: string): Promise<LeaseState> {
        return this.transaction(() => {
            const changed = this.run(
                "UPDATE operations SET lease_expires_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?",
                addMs(now, leaseMs), id, workerId,
            );
            const cancel = Number(this.one("SELECT cancel_requested FROM operations WHERE id = ?", id)?.cancel_requested ?? 0) === 1;
            return { owned: changed === 1, cancelRequested: cancel };
        });
    }

    private mustHoldLease(id: string, workerId: string): Operation {
        const op = this.mustGetOperation(id);
        if (op.state !== "running" || op.leaseOwner !== workerId) {
            throw new ConflictError(`Operation ${id} is no longer held by worker ${workerId} (state ${op.state}).`);
        }
        return op;
    }

    private finishSync(request: FinishRequest): Operation {
        const op = this.mustHoldLease(request.id, request.workerId);
        assertTransition(op.state, request.state);
        const interrupted = request.state === "interrupted";
        this.run(
            `UPDATE operations SET state = ?, finished_at = ?, summary = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = ?`,
            request.state, interrupted ? null : request.now,
            request.summary === undefined ? null : toJson(request.summary), request.error === undefined ? null : toJson(request.error),
            request.id,
        );
        if (interrupted) this.run("UPDATE environments SET recovery_pending = 1 WHERE name = ?", op.environment);
        return this.mustGetOperation(request.id);
    }

    private requeueSync(request: RequeueRequest): Operation {
        const op = request.workerId === undefined ? this.mustGetOperation(request.id) : this.mustHoldLease(request.id, request.workerId);
        assertTransition(op.state, "queued");
        this.run(
            `UPDATE operations SET state = 'queued', not_before = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = ?`,
            request.notBefore, request.error === undefined ? null : toJson(request.error), request.id,
        );
        return this.mustGetOperation(request.id);
    }

    private failInterruptedSync(id: string, error: OperationError, now: string): Operation {
        const op = this.mustGetOperation(id);
        assertTransition(op.state, "failed");
        this.run("UPDATE operations SET state = 'failed', finished_at = ?, error = ? WHERE id = ?", now, toJson(error), id);
        return this.mustGetOperation(id);
    }

    reclaimExpiredLeases(now: string, options: { includeLive?: boolean } = {}): Promise<Operation[]> {
        return this.transaction(() => {
            const rows = this.all(
                "SELECT id, environment FROM operations WHERE state = 'running' AND (? = 1 OR lease_expires_at IS NULL OR lease_expires_at < ?) ORDER BY seq",
                options.includeLive ? 1 : 0, now,
            );
            for (const r of rows) {
                assertTransition("running", "interrupted");
                this.run("UPDATE operations SET state = 'interrupted', lease_owner = NULL, lease_expires_at = NULL WHERE id = ?", String(r.id));
                this.run("UPDATE environments SET recovery_pending = 1 WHERE name = ?", String(r.environment));
            }
            return rows.map((r) => this.mustGetOperation(String(r.id)));
        });
    }

    countOperations(): Promise<OperationCount[]> {
        return this.locked(() => this.all("SELECT kind, state, count(*) AS n FROM operations GROUP BY kind, state ORDER BY kind, state")
            .map((r) => ({ kind: String(r.kind) as OperationCount["kind"], state: String(r.state) as OperationCount["state"], count: Number(r.n) })));
    }

    // ---- events, audit, idempotency -------------------------------------------

    private appendEventSync(operationId: string, event: NewEvent): OperationEvent {
        const row = this.one(
            `INSERT INTO events (operation_id, seq, at, type, data)
             SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ? FROM events WHERE operation_id = ?
             RETURNING *`,
            operationId, event.at, event.type, toJson(event.data), operationId,
        );
        return rowToEvent(row!);
    }

    appendEvents(operationId: string, events: NewEvent[]): Promise<OperationEvent[]> {
        return this.transaction(() => events.map((event) => this.appendEventSync(operationId, event)));
    }

    appendEventBursts(bursts: Array<{ operationId: string; events: NewEvent[] }>): Promise<OperationEvent[][]> {
        return this.transaction(() => bursts.map((b) => b.events.map((event) => this.appendEventSync(b.operationId, event))));
    }

    listEvents(operationId: string, afterSeq: number, limit: number): Promise<OperationEvent[]> {
        return this.locked(() => this.all("SELECT * FROM events WHERE operation_id = ? AND seq > ? ORDER BY seq LIMIT ?", operationId, afterSeq, limit).map(rowToEvent));
    }

    private appendAuditSync(entry: NewAuditEntry): AuditEntry {
        const row = this.one(
            `INSERT INTO audit (id, at, actor, action, target, outcome, details, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
            entry.id, entry.at, toJson(entry.actor), entry.action, entry.target, entry.outcome,
            entry.details === undefined ? null : toJson(entry.details), entry.requestId ?? null,
        );
        return rowToAudit(row!);
    }

    listAudit(query: PageQuery): Promise<Page<AuditEntry>> {
        return this.locked(() => {
            const before = query.cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(decodeCursor(query.cursor, "seq", "number").seq);
            const rows = this.all("SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, query.limit + 1);
            const items = rows.slice(0, query.limit).map(rowToAudit);
            return rows.length > query.limit ? { items, nextCursor: encodeCursor({ seq: Number(rows[query.limit - 1].seq) }) } : { items };
        });
    }

    private getIdempotencySync(scope: string, key: string): IdempotencyRecord | undefined {
        const row = this.one("SELECT * FROM idempotency WHERE scope = ? AND key = ?", scope, key);
        if (!row) return undefined;
        return { scope, key, requestHash: String(row.request_hash), response: JSON.parse(String(row.response)), createdAt: String(row.created_at) };
    }

    private putIdempotencySync(r: IdempotencyRecord): void {
        this.run(
            "INSERT INTO idempotency (scope, key, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
            r.scope, r.key, r.requestHash, toJson(r.response), r.createdAt,
        );
    }

    purgeIdempotency(before: string): Promise<number> {
        return this.transaction(() => this.run("DELETE FROM idempotency WHERE created_at < ?", before));
    }

    // ---- lifecycle -----------------------------------------------------------

    async readiness(): Promise<StoreReadiness> {
        try {
            const version = await this.locked(() => Number(this.one("SELECT max(version) AS v FROM schema_migrations")!.v));
            const recent = this.lastFailure && Date.now() - this.lastFailure.at < 60_000 ? this.lastFailure : undefined;
            // Not ready means no traffic, so no write would ever prove the disk has room again: probe for it.
            if (recent && !(await this.locked(() => this.hasRoomAgain()))) {
                return { ok: false, detail: `embedded SQLite: a write failed in the last minute: ${recent.message}` };
            }
            this.lastFailure = undefined;
            return { ok: true, detail: `embedded SQLite, schema version ${version}` };
        } catch (e) {
            return { ok: false, detail: e instanceof Error ? e.message : "embedded SQLite is unavailable" };
        }
    }

    /**
     * Whether the space that a failed write lacked is back: the store's own page cap (if any)
     * has a margin left, and the file system takes a probe file the size of a busy transaction.
     */
    private hasRoomAgain(): boolean {
        const pages = Number(this.one("PRAGMA page_count")!.page_count);
        const max = Number(this.one("PRAGMA max_page_count")!.max_page_count);
        const free = Number(this.one("PRAGMA freelist_count")!.freelist_count);
        if (max - pages + free < PROBE_PAGES) return false;
        const probe = join(this.dataDir, `.space-probe-${process.pid}`);
        try {
            const fd = openSync(probe, "w", 0o600);
            try {
                writeSync(fd, Buffer.alloc(PROBE_PAGES * 4096));
                fsyncSync(fd);
            } finally {
                closeSync(fd);
            }
            return true;
        } catch {
            return false;
        } finally {
            rmSync(probe, { force: true });
        }
    }

    async close(): Promise<void> {
        if (this.closed) return;
        await this.queue;
        this.closed = true;
        this.statements.clear();
        this.db.close();
    }
}

function addMs(iso: string, ms: number): string {
    return new Date(Date.parse(iso) + ms).toISOString();
}

function migrate(db: DatabaseSync): void {
    db.exec("BEGIN IMMEDIATE");
    try {
        db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT");
        const applied = new Set((db.prepare("SELECT version FROM schema_migrations").all() as Row[]).map((r) => Number(r.version)));
        const known = Math.max(...MIGRATIONS.map((m) => m.version));
        const newest = Math.max(0, ...applied);
        if (newest > known) {
            throw new UnavailableError(`The database at schema version ${newest} is newer than this server understands (${known}); upgrade the server.`);
        }
        for (const m of MIGRATIONS) {
            if (applied.has(m.version)) continue;
            db.exec(m.sql);
            db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, new Date().toISOString());
        }
        db.exec("COMMIT");
    } catch (e) {
        try {
            if (db.isTransaction) db.exec("ROLLBACK");
        } catch {
            // Keep the migration error.
        }
        if (sqliteResultCode(e) === 5) {
            throw new UnavailableError("The data directory is in use by another server process (the database is locked); stop it or use another KVP_DATA_DIR.", { cause: e });
        }
        throw e;
    }
}

/** Opens the embedded store in `dataDir`. */
export function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
    return SqliteStore.open(options);
}
