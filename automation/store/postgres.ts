import { createHash, randomUUID } from "node:crypto";
import { escapeIdentifier, escapeLiteral, type Pool, type PoolClient, types as pgTypes } from "pg";
import { UnavailableError } from "../domain/errors";
import type { AuditEntry, Environment, Operation, OperationError, OperationEvent, OperationState } from "../domain/ports";
import type { EnvironmentDetailReader } from "../domain/store";
import { assertTransition } from "../domain/stateMachine";
import type {
    ClaimRequest, EnqueueResult, EnvironmentPatch, EnvironmentQuery, FinishRequest, IdempotencyRecord, LeaseState,
    NewAuditEntry, NewEvent, NewOperation, OperationCount, Page, PageQuery, RequeueRequest, Store, StoreReadiness, StoreTx,
    UpsertEnvironment,
} from "../domain/store";
import { isConnectionError, isRetryableConflict, isUniqueViolation, toPostgresStoreError } from "./postgresErrors";
import { LOCK, migratePostgres } from "./postgresMigrations";
import { newPool } from "./postgresPool";
import { PgRow, rowToAudit, rowToEnvironment, rowToEvent, rowToOperation, timestamptzParser } from "./postgresRows";
import { ACTIVE, PostgresTx, type StoreNotification, type TxScope } from "./postgresTx";
import { decodeCursor, encodeCursor, ENVIRONMENT_COLUMNS } from "./rows";

export interface PostgresStoreOptions {
    /** Required. A libpq URL, e.g. `postgres://kvp@db.example.com:5432/kvp?sslmode=verify-full` (the `DATABASE_URL` setting). */
    connectionString: string;
    /** Optional. Schema that holds the tables; created if missing. Defaults to the first schema on the connection's search_path (usually `public`). */
    schema?: string;
    /** Optional. Connections this process keeps open. Defaults to 10. */
    maxConnections?: number;
    /**
     * Optional. Connections opened as the store opens and kept while idle (at most maxConnections).
     * A worker replica's runs claim and record their outcomes in bursts, and its first burst would
     * otherwise wait for connections to be made. Defaults to 0: connections are opened on demand.
     */
    minConnections?: number;
    /** Optional. How long to wait for a connection before reporting the store unavailable. Defaults to 5000 ms. */
    connectTimeoutMs?: number;
    /** Optional. Server-side cap on any one statement, lock waits included. Defaults to 30000 ms. */
    statementTimeoutMs?: number;
    /** Optional. `application_name` of every connection, so operators can tell replicas apart in pg_stat_activity. Defaults to "keyvault-platform". */
    applicationName?: string;
    /** Optional. NOTIFY other processes of stored events, enqueues and cancels (see `listen`). Defaults to true. */
    notify?: boolean;
    /** Optional. Called when an idle connection breaks (e.g. PostgreSQL restarted); the pool drops it and reconnects on demand. */
    onConnectionError?: (error: unknown) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Queued operations the claim's walk reads per round trip. */
const CLAIM_FETCH = 20;
/**
 * A queued operation ($1 = now) that is the oldest queued one of its environment, with nothing
 * running or awaiting recovery there. Two separate checks, each one probe of
 * operations_by_environment (environment, state, seq); joined by OR they were planned as one
 * bitmap scan over every earlier queued operation. OFFSET 0 keeps each check a probe per
 * candidate: as anti-joins, and with the statistics of an empty table (a bulk enqueue before
 * any ANALYZE), each candidate was checked against every queued operation, and a claim's first
 * 20 candidates cost 1.75 ms with 400 queued, 0.21 ms as probes.
 */
const CLAIMABLE = `o.state = 'queued' AND (o.not_before IS NULL OR o.not_before <= $1)
    AND NOT EXISTS (SELECT 1 FROM operations h WHERE h.environment = o.environment AND h.state = 'queued' AND h.seq < o.seq OFFSET 0)
    AND NOT EXISTS (SELECT 1 FROM operations b WHERE b.environment = o.environment AND b.state IN ('running', 'interrupted') OFFSET 0)`;
/** The claim's walk of the queue, oldest first (run as a cursor, see claim). Exported for its plan test. */
export const CLAIM_WALK = `SELECT o.id, o.environment FROM operations o WHERE ${CLAIMABLE} ORDER BY o.seq`;
/** Transactions that hit a deadlock or serialization failure are run again this many times in all. */
const TX_ATTEMPTS = 3;
/** A checked-out connection can be dead without the pool knowing yet (a restart); that many fresh tries. */
const CONNECT_ATTEMPTS = 3;

/**
 * The reads outside transactions are a handful of fixed SQL texts run for every API request.
 * Named, each is parsed and planned once per connection instead of on every call; PostgreSQL
 * re-plans by itself after a migration changes a table (their columns are listed, see
 * ENVIRONMENT_COLUMNS). The name is derived from the text, so two texts can never share one.
 * Behind PgBouncer in transaction mode this needs its prepared-statement support (1.21+).
 */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
    let name = statementNames.get(sql);
    if (!name) {
        name = `kvp_${createHash("sha256").update(sql).digest("hex").slice(0, 24)}`;
        statementNames.set(sql, name);
    }
    return name;
}

/**
 * The columns each row mapper reads. Named statements list them rather than `*`: a prepared
 * `SELECT *` fails with "cached plan must not change result type" once another replica's
 * migration adds a column, for as long as the connection lives, whereas a statement that
 * names its columns is simply re-planned.
 */
const OPERATION_COLUMNS = [
    "id", "environment", "team", "kind", "state", "spec_hash", "requested_by", "attempt", "max_attempts", "created_at", "started_at",
    "finished_at", "not_before", "cancel_requested", "lease_owner", "lease_expires_at", "summary", "error", "proposed_spec",
] as const;
const ENVIRONMENT = ENVIRONMENT_COLUMNS.join(", ");
const OPERATION = OPERATION_COLUMNS.join(", ");
const EVENT = "operation_id, seq, at, type, data";
const AUDIT = "seq, id, at, actor, action, target, outcome, details, request_id";
/** The last operation's columns in ENVIRONMENT_DETAIL carry this prefix: the two tables share column names. */
const LAST_OP = "last_op_";
const ENVIRONMENT_DETAIL = `SELECT ${ENVIRONMENT_COLUMNS.map((c) => `e.${c}`).join(", ")}, ${OPERATION_COLUMNS.map((c) => `o.${c} AS ${LAST_OP}${c}`).join(", ")}
    FROM environments e LEFT JOIN operations o ON o.id = e.last_operation_id WHERE e.name = $1`;

/** `json` columns stay text: rows.ts parses them, so SQL NULL and JSON null remain distinct. */
const JSON_OID = 114;
const TIMESTAMPTZ_OID = 1184;
const TIMESTAMPTZ = timestamptzParser(pgTypes.getTypeParser(TIMESTAMPTZ_OID, "text"));
const JSON_AS_TEXT = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === JSON_OID ? (value: string) => value
            : oid === TIMESTAMPTZ_OID && format !== "binary" ? TIMESTAMPTZ
                : pgTypes.getTypeParser(oid, format as "text")) as typeof pgTypes.getTypeParser,
};

/**
 * The store on PostgreSQL, for several server and worker processes sharing one
 * database. It keeps the embedded store's contract: the same state machine, collapse
 * of redundant updates, per-environment serialization and global cap, leases, and
 * events numbered per operation. How each holds across processes:
 *   - transactions on one environment are serialized by a transaction-scoped advisory
 *     lock on the environment (see PostgresTx);
 *   - claims are serialized by one advisory lock per schema, so the running count read
 *     inside the claim is exact and the global cap holds across every process;
 *   - a partial unique index makes a second running operation on one environment
 *     impossible to commit, whatever happens above it;
 *   - every instant comes from the caller's `now`, as in the embedded store.
 * Lost connections surface as UnavailableError; the pool replaces broken connections on
 * its own, so the store recovers from a PostgreSQL restart with no manual step.
 */
export class PostgresStore implements Store, EnvironmentDetailReader {
    readonly exclusive = false;
    private closed = false;
    private readonly listeners = new Set<() => Promise<void>>();

    private constructor(
        private readonly pool: Pool,
        private readonly scope: TxScope,
        private readonly schemaVersion: number,
    ) {}

    /** Connects, creates the schema if asked, and runs pending migrations (once, even with several replicas starting). */
    static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
        if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
            throw new UnavailableError(`The PostgreSQL schema ${JSON.stringify(options.schema)} is not allowed: use lowercase letters, digits and _, starting with a letter or _, at most 63 characters.`);
        }
        const session = [
            options.schema === undefined ? undefined : `search_path=${options.schema}`,
            `statement_timeout=${Math.max(0, Math.floor(options.statementTimeoutMs ?? 30_000))}`,
            // A process that stalls mid-transaction must not hold an environment's lock for long.
            "idle_in_transaction_session_timeout=60000",
            // Instants come back as text in UTC, which timestamptzParser turns into ISO strings without a Date.
            "TimeZone=UTC",
        ];
        const { connectionString, options: urlOptions } = withoutOptions(options.connectionString);
        const max = options.maxConnections ?? 10;
        const keep = Math.min(options.minConnections ?? 0, max);
        const pool = newPool({
            connectionString,
            // Startup options apply before the first statement, on every connection the pool opens.
            options: [urlOptions, ...session.filter((o) => o !== undefined).map((o) => `-c ${o}`)].filter(Boolean).join(" "),
            max,
            min: keep,
            // A statement whose result is not awaited yet (BEGIN, an advisory lock) travels with the next one.
            pipeline: true,
            connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
            idleTimeoutMillis: 30_000,
            keepAlive: true,
            application_name: options.applicationName ?? "keyvault-platform",
            types: JSON_AS_TEXT,
        }, options.onConnectionError);
        try {
            const client = await pool.connect();
            try {
                const version = await migratePostgres(client, options.schema);
                const schema = options.schema ?? String((await client.query<{ s: string }>("SELECT current_schema() AS s")).rows[0].s);
                const scope: TxScope = { scope: schema, origin: randomUUID(), channel: options.notify === false ? undefined : notificationChannel(schema) };
                // The rest of the connections to keep, opened together; this one is the first.
                const opened = await Promise.allSettled(Array.from({ length: Math.max(0, keep - 1) }, () => pool.connect()));
                for (const o of opened) if (o.status === "fulfilled") o.value.release();
                const failed = opened.find((o) => o.status === "rejected");
                if (failed) throw failed.reason;
                client.release();
                return new PostgresStore(pool, scope, version);
            } catch (e) {
                client.release(e instanceof Error ? e : true);
                throw e;
            }
        } catch (e) {
            await pool.end().catch(() => undefined);
            throw toPostgresStoreError(e);
        }
    }

    // ---- plumbing ----------------------------------------------------------

    private assertOpen(): void {
        if (this.closed) throw new UnavailableError("The store is closed.");
    }

    /** A read outside any transaction; retried once on a fresh connection if the first one turns out dead. */
    private async rows(sql: string, params: unknown[] = []): Promise<PgRow[]> {
        this.assertOpen();
        for (let attempt = 1; ; attempt++) {
            try {
                return (await this.pool.query<PgRow>({ name: statementName(sql), text: sql, values: params })).rows;
            } catch (e) {
                if (attempt < CONNECT_ATTEMPTS && isConnectionError(e) && !this.closed) continue;
                throw toPostgresStoreError(e);
            }
        }
    }

    /**
     * Runs `fn` in one transaction on a pooled connection. BEGIN goes out with the transaction's
     * first statement rather than in a round trip of its own (the pool's connections pipeline).
     * A stale pooled connection (one PostgreSQL dropped in a restart) fails at that BEGIN, before
     * anything ran, and `fn` is run again on a fresh connection. A connection that breaks after
     * BEGIN fails the statement that meets it, and that failure is what the caller sees (newPool
     * keeps its `error` event heard).
     */
    private async once<T>(fn: (tx: PostgresTx) => Promise<T>): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            this.assertOpen();
            const client = await this.pool.connect();
            const tx = new PostgresTx(client, this.scope);
            try {
                const result = await fn(tx);
                // If the connection dies during COMMIT the outcome is unknown: report it, never retry blindly.
                await tx.commit();
                client.release();
                return result;
            } catch (e) {
                if (isConnectionError(e)) {
                    client.release(e instanceof Error ? e : true);
                    if (attempt < CONNECT_ATTEMPTS && (await tx.beginFailed())) continue;
                } else {
                    await client.query("ROLLBACK").then(() => client.release(), (rollbackError: unknown) => client.release(rollbackError instanceof Error ? rollbackError : true));
                }
                throw e;
            }
        }
    }

    private async atomic<T>(fn: (tx: PostgresTx) => Promise<T>): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.once(fn);
            } catch (e) {
                if (attempt < TX_ATTEMPTS && isRetryableConflict(e)) continue;
                throw toPostgresStoreError(e);
            }
        }
    }

    /**
     * Runs `fn` in one transaction. On a deadlock it is rolled back and run again, so `fn`
     * must only touch the store (the domain's transactions do; they publish after commit).
     */
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
        return this.atomic(fn);
    }

    // ---- StoreTx, outside a transaction --------------------------------------

    async getEnvironment(name: string): Promise<Environment | undefined> {
        const [row] = await this.rows(`SELECT ${ENVIRONMENT} FROM environments WHERE name = $1`, [name]);
        return row ? rowToEnvironment(row) : undefined;
    }

    /**
     * An environment and the operation its lastOperationId names, in one round trip (the API's
     * detail read took two) and from one snapshot, so the pair is always consistent.
     */
    async getEnvironmentDetail(name: string): ReturnType<EnvironmentDetailReader["getEnvironmentDetail"]> {
        const [row] = await this.rows(ENVIRONMENT_DETAIL, [name]);
        if (!row) return undefined;
        const environment = rowToEnvironment(row);
        if (row[`${LAST_OP}id`] === null) return { environment };
        const op: PgRow = {};
        for (const c of OPERATION_COLUMNS) op[c] = row[LAST_OP + c];
        return { environment, lastOperation: rowToOperation(op) };
    }
    upsertEnvironment(input: UpsertEnvironment): Promise<Environment> {
        return this.atomic((tx) => tx.upsertEnvironment(input));
    }
    updateEnvironment(name: string, patch: EnvironmentPatch): Promise<Environment> {
        return this.atomic((tx) => tx.updateEnvironment(name, patch));
    }
    removeEnvironment(name: string): Promise<void> {
        return this.atomic((tx) => tx.removeEnvironment(name));
    }
    setRecoveryPending(environment: string, pending: boolean): Promise<void> {
        return this.atomic((tx) => tx.setRecoveryPending(environment, pending));
    }
    enqueueOperation(op: NewOperation): Promise<EnqueueResult> {
        return this.atomic((tx) => tx.enqueueOperation(op));
    }
    async getOperation(id: string): Promise<Operation | undefined> {
        const [row] = await this.rows(`SELECT ${OPERATION} FROM operations WHERE id = $1`, [id]);
        return row ? rowToOperation(row) : undefined;
    }
    async listActiveOperations(environment: string): Promise<Operation[]> {
        return (await this.rows(`SELECT ${OPERATION} FROM operations WHERE environment = $1 AND state IN ${ACTIVE} ORDER BY seq`, [environment])).map(rowToOperation);
    }
    requestCancel(id: string, now: string): Promise<Operation> {
        return this.atomic((tx) => tx.requestCancel(id, now));
    }
    finishOperation(request: FinishRequest): Promise<Operation> {
        return this.atomic((tx) => tx.finishOperation(request));
    }
    requeueOperation(request: RequeueRequest): Promise<Operation> {
        return this.atomic((tx) => tx.requeueOperation(request));
    }
    failInterrupted(id: string, error: OperationError, now: string): Promise<Operation> {
        return this.atomic((tx) => tx.failInterrupted(id, error, now));
    }
    appendEvent(operationId: string, event: NewEvent): Promise<OperationEvent> {
        return this.atomic((tx) => tx.appendEvent(operationId, event));
    }
    appendEvents(operationId: string, events: NewEvent[]): Promise<OperationEvent[]> {
        return events.length === 0 ? Promise.resolve([]) : this.atomic((tx) => tx.appendEvents(operationId, events));
    }
    appendEventBursts(bursts: Array<{ operationId: string; events: NewEvent[] }>): Promise<OperationEvent[][]> {
        return this.atomic((tx) => tx.appendEventBursts(bursts));
    }
    appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
        return this.atomic((tx) => tx.appendAudit(entry));
    }
    getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
        return this.atomic((tx) => tx.getIdempotency(scope, key));
    }
    putIdempotency(record: IdempotencyRecord): Promise<void> {
        return this.atomic((tx) => tx.putIdempotency(record));
    }

    // ---- queries -------------------------------------------------------------

    async listEnvironments(query: EnvironmentQuery): Promise<Page<Environment>> {
        const after = query.cursor === undefined ? "" : String(decodeCursor(query.cursor, "name", "string").name);
        // One statement per combination of filters, so each keeps the plan of its own index (a team's
        // page walks environments_by_team) rather than a generic plan that filters the primary key scan.
        const filters: Array<[string, string]> = [];
        if (query.team !== undefined) filters.push(["team", query.team]);
        if (query.status !== undefined) filters.push(["status", query.status]);
        const rows = await this.rows(
            `SELECT ${ENVIRONMENT} FROM environments WHERE ${["name > $2", ...filters.map(([column], i) => `${column} = $${i + 3}`)].join(" AND ")}
             ORDER BY name LIMIT $1`,
            [query.limit + 1, after, ...filters.map(([, value]) => value)],
        );
        const items = rows.slice(0, query.limit).map(rowToEnvironment);
        return rows.length > query.limit ? { items, nextCursor: encodeCursor({ name: items[items.length - 1].name }) } : { items };
    }

    async listExpiredEnvironments(now: string, limit: number): Promise<Environment[]> {
        // One TTL destroy per expiry: if it fails, a person decides what happens next.
        return (await this.rows(
            `SELECT ${ENVIRONMENT_COLUMNS.map((c) => `e.${c}`).join(", ")} FROM environments e
             WHERE e.expires_at IS NOT NULL AND e.expires_at <= $1 AND e.status NOT IN ('destroyed', 'destroying')
               AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.environment = e.name AND o.kind = 'destroy'
                               AND (o.state IN ${ACTIVE} OR o.created_at >= e.expires_at))
             ORDER BY e.expires_at LIMIT $2`,
            [now, limit],
        )).map(rowToEnvironment);
    }

    async isRecoveryPending(environment: string): Promise<boolean> {
        const [row] = await this.rows("SELECT recovery_pending FROM environments WHERE name = $1", [environment]);
        return row?.recovery_pending === true;
    }

    async listOperations(environment: string, limit: number): Promise<Operation[]> {
        return (await this.rows(`SELECT ${OPERATION} FROM operations WHERE environment = $1 ORDER BY seq DESC LIMIT $2`, [environment, limit])).map(rowToOperation);
    }

    async listOperationsByState(state: OperationState, limit: number): Promise<Operation[]> {
        return (await this.rows(`SELECT ${OPERATION} FROM operations WHERE state = $1 ORDER BY seq LIMIT $2`, [state, limit])).map(rowToOperation);
    }

    async countOperations(): Promise<OperationCount[]> {
        return (await this.rows("SELECT kind, state, count(*) AS n FROM operations GROUP BY kind, state ORDER BY kind, state"))
            .map((r) => ({ kind: String(r.kind) as OperationCount["kind"], state: String(r.state) as OperationCount["state"], count: Number(r.n) }));
    }

    async listEvents(operationId: string, afterSeq: number, limit: number): Promise<OperationEvent[]> {
        return (await this.rows(`SELECT ${EVENT} FROM events WHERE operation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [operationId, afterSeq, limit])).map(rowToEvent);
    }

    async listAudit(query: PageQuery): Promise<Page<AuditEntry>> {
        const before = query.cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(decodeCursor(query.cursor, "seq", "number").seq);
        const rows = await this.rows(`SELECT ${AUDIT} FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2`, [before, query.limit + 1]);
        const items = rows.slice(0, query.limit).map(rowToAudit);
        return rows.length > query.limit ? { items, nextCursor: encodeCursor({ seq: Number(rows[query.limit - 1].seq) }) } : { items };
    }

    purgeIdempotency(before: string): Promise<number> {
        return this.atomic(async (tx) => tx.purgeIdempotencyBefore(before));
    }

    // ---- claims and leases -----------------------------------------------------

    /**
     * One claim at a time per schema (an advisory lock), so the running count read here is
     * exact across processes. The queue is walked oldest first through a cursor and the walk
     * stops once `limit` operations are claimed; an environment a transaction is changing
     * right now is skipped (try-lock). Each candidate is re-checked by the UPDATE that claims
     * it, after its environment's lock is taken, so a second queued operation of an environment
     * claimed earlier in the walk is passed over.
     *
     * Why a cursor: PostgreSQL plans a cursor for its first rows, so the walk is an ordered
     * scan of operations_by_state with one index probe per check (CLAIM_WALK), whatever the
     * statistics say. As one statement, the same query was planned from the statistics, and
     * right after a bulk enqueue (before any ANALYZE) they describe an empty queue: the plan
     * checked every queued row before sorting, with a scan per check (41 of 10,000 drained
     * in 97 s; npm run bench:ops).
     */
    claim<T>(request: ClaimRequest, start: (tx: StoreTx, operation: Operation) => Promise<T>): Promise<T[]> {
        return this.atomic(async (tx) => {
            // Four statements in one round trip, each with a snapshot of its own: the count and the
            // walk see every claim committed before the lock was granted. The cursor is closed with
            // the transaction; a claim that finds no room has read one page of it for nothing.
            const [, counted, , first] = await tx.queryMany(
                `SELECT pg_advisory_xact_lock(${LOCK.claim}, hashtext(${escapeLiteral(this.scope.scope)}));
                 SELECT count(*) AS n FROM operations WHERE state = 'running';
                 DECLARE claim_walk NO SCROLL CURSOR FOR ${CLAIM_WALK.replaceAll("$1", `${escapeLiteral(request.now)}::timestamptz`)};
                 FETCH ${CLAIM_FETCH} FROM claim_walk`,
            );
            const room = Math.min(request.limit, request.maxRunning - Number(counted[0].n));
            const started: T[] = [];
            if (room < 1) return started;
            for (let candidates = first; candidates.length > 0; candidates = await tx.query(`FETCH ${CLAIM_FETCH} FROM claim_walk`)) {
                for (const c of candidates) {
                    if (!(await tx.tryLockEnvironment(String(c.environment)))) continue;
                    assertTransition("queued", "running");
                    let claimed: PgRow | undefined;
                    try {
                        // Re-checked under the environment's lock, in the same statement: every other change
                        // to a queued operation holds that lock, so the row is never locked by anyone else here.
                        // The start is never recorded before the environment's last change (see ClaimRequest.now).
                        [claimed] = await tx.query(
                            `UPDATE operations o SET state = 'running', attempt = attempt + 1, not_before = NULL,
                                 started_at = greatest($1::timestamptz, (SELECT e.updated_at FROM environments e WHERE e.name = o.environment)),
                                 lease_owner = $2, lease_expires_at = $3 WHERE o.id = $4 AND ${CLAIMABLE} RETURNING *`,
                            [request.now, request.workerId, addMs(request.now, request.leaseMs), c.id],
                        );
                    } catch (e) {
                        // The partial unique index refused a second running operation on the environment.
                        // The transaction is void now and rolls back: none of this walk's claims stand.
                        if (isUniqueViolation(e, "operations_one_running_per_environment")) return [];
                        throw e;
                    }
                    if (!claimed) continue;
                    started.push(await start(tx, rowToOperation(claimed)));
                    if (started.length === room) return started;
                }
            }
            return started;
        });
    }

    async renewLease(id: string, workerId: string, leaseMs: number, now: string): Promise<LeaseState> {
        const [row] = await this.rows(
            `WITH renewed AS (
                 UPDATE operations SET lease_expires_at = $1 WHERE id = $2 AND state = 'running' AND lease_owner = $3 RETURNING id
             )
             SELECT (SELECT count(*) FROM renewed) AS owned, (SELECT cancel_requested FROM operations WHERE id = $2) AS cancel`,
            [addMs(now, leaseMs), id, workerId],
        );
        return { owned: Number(row.owned) === 1, cancelRequested: row.cancel === true };
    }

    /**
     * Each lapsed operation is reclaimed in its own short transaction under its environment's
     * lock, re-checking the lease there: a worker that renewed in the meantime keeps it.
     */
    async reclaimExpiredLeases(now: string, options: { includeLive?: boolean } = {}): Promise<Operation[]> {
        const includeLive = options.includeLive === true;
        const lapsed = `state = 'running' AND ($1::boolean OR lease_expires_at IS NULL OR lease_expires_at < $2)`;
        const candidates = await this.rows(`SELECT id, environment FROM operations WHERE ${lapsed} ORDER BY seq`, [includeLive, now]);
        const reclaimed: Operation[] = [];
        for (const c of candidates) {
            const op = await this.atomic(async (tx) => {
                await tx.lockEnvironment(String(c.environment));
                assertTransition("running", "interrupted");
                const [row] = await tx.query(
                    `UPDATE operations SET state = 'interrupted', lease_owner = NULL, lease_expires_at = NULL WHERE id = $3 AND ${lapsed} RETURNING *`,
                    [includeLive, now, c.id],
                );
                if (!row) return undefined;
                await tx.setRecoveryPending(String(c.environment), true);
                return rowToOperation(row);
            });
            if (op) reclaimed.push(op);
        }
        return reclaimed;
    }

    // ---- cross-process notifications -------------------------------------------

    /**
     * Listens for what other processes sharing the database commit: stored events, new or
     * requeued operations, and cancels of running operations. This process's own
     * notifications are dropped (its EventHub already has them). A lost listening connection
     * is re-established with backoff; notifications sent while it was down are not replayed,
     * which is safe because workers also poll and SSE streams re-read the store.
     * Returns a function that stops listening.
     */
    async listen(handler: (notification: StoreNotification) => void, onError?: (error: unknown) => void): Promise<() => Promise<void>> {
        this.assertOpen();
        const channel = this.scope.channel;
        if (channel === undefined) throw new UnavailableError("Notifications are off for this store (notify: false).");
        let stopped = false;
        let client: PoolClient | undefined;
        let retry: NodeJS.Timeout | undefined;
        /**
         * Once per lost connection: a connection that dies while LISTEN is in flight fails that
         * query and also emits `error`, and two reconnects would leave two listening connections
         * (each notification handled twice, and one connection more than the pool).
         */
        const reconnect = (delayMs: number) => {
            if (stopped || retry !== undefined) return;
            retry = setTimeout(() => {
                retry = undefined;
                void connect(Math.min(delayMs * 2, 10_000));
            }, delayMs);
        };
        const connect = async (delayMs: number): Promise<void> => {
            try {
                const c = await this.pool.connect();
                client = c;
                c.on("notification", (m) => {
                    if (m.channel !== channel || m.payload === undefined) return;
                    try {
                        const { origin, ...message } = JSON.parse(m.payload) as StoreNotification & { origin: string };
                        if (origin !== this.scope.origin) handler(message as StoreNotification);
                    } catch (e) {
                        onError?.(e);
                    }
                });
                c.on("error", (e) => {
                    // Only the connection currently listening is released here, and only once.
                    if (client !== c) return;
                    onError?.(e);
                    client = undefined;
                    c.release(e);
                    reconnect(delayMs);
                });
                await c.query(`LISTEN ${escapeIdentifier(channel)}`);
            } catch (e) {
                onError?.(e);
                if (client) {
                    const c = client;
                    client = undefined;
                    c.release(e instanceof Error ? e : true);
                }
                if (stopped) throw e;
                reconnect(delayMs);
            }
        };
        await connect(250);
        const stop = async () => {
            stopped = true;
            clearTimeout(retry);
            this.listeners.delete(stop);
            const c = client;
            client = undefined;
            if (!c) return;
            await c.query(`UNLISTEN ${escapeIdentifier(channel)}`).then(() => c.release(), (e: unknown) => c.release(e instanceof Error ? e : true));
        };
        this.listeners.add(stop);
        return stop;
    }

    // ---- lifecycle -----------------------------------------------------------

    async readiness(): Promise<StoreReadiness> {
        try {
            const [row] = await this.rows("SELECT max(version) AS v, current_setting('server_version') AS server FROM schema_migrations");
            return { ok: true, detail: `PostgreSQL ${String(row.server)}, schema ${this.scope.scope} at version ${Number(row.v)}` };
        } catch (e) {
            return { ok: false, detail: e instanceof Error ? e.message : "PostgreSQL is unavailable" };
        }
    }

    /** The schema version this server migrated to at start. */
    get version(): number {
        return this.schemaVersion;
    }

    /** Connections open and idle, and callers waiting for one (for metrics and tests). */
    poolStats(): { total: number; idle: number; waiting: number } {
        return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
    }

    async close(): Promise<void> {
        if (this.closed) return;
        for (const stop of [...this.listeners]) await stop().catch(() => undefined);
        this.closed = true;
        await this.pool.end();
    }

    /** The schema holding the tables. */
    get schema(): string {
        return this.scope.scope;
    }
}

/**
 * Splits a libpq `options` parameter off the URL: node-postgres lets the URL's value
 * replace the pool's, and the store's own startup options must be added, not lost.
 */
function withoutOptions(connectionString: string): { connectionString: string; options?: string } {
    let url: URL;
    try {
        url = new URL(connectionString);
    } catch {
        return { connectionString };
    }
    const options = url.searchParams.get("options") ?? undefined;
    if (options === undefined) return { connectionString };
    url.searchParams.delete("options");
    return { connectionString: url.toString(), options };
}

function addMs(isoTime: string, ms: number): string {
    return new Date(Date.parse(isoTime) + ms).toISOString();
}

/** One channel per schema, so test schemas (and tenants) sharing a database never hear each other. */
function notificationChannel(schema: string): string {
    return `kvp_${schema}`.slice(0, 63);
}

/** Opens the PostgreSQL store named by `DATABASE_URL` and runs pending migrations. */
export function createPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
    return PostgresStore.open(options);
}
