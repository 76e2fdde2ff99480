import { escapeIdentifier, type PoolClient } from "pg";
import { UnavailableError } from "../domain/errors";

/**
 * Versioned schema for the PostgreSQL store. Migrations are only ever appended: a
 * released version is never edited, because databases in the field already ran it.
 *
 * JSON columns are `json`, not `jsonb`: nothing queries inside them, and `json` keeps
 * the document exactly as written (key order, `\u0000` in engine output), as the
 * embedded store's TEXT columns do. Instants are `timestamptz`; every one of them comes
 * from the caller's `now`, never from the database clock, so tests and the embedded
 * store agree on time. Environment names sort in byte order (COLLATE "C"), as in SQLite
 * and JavaScript, whatever the database's locale, so pages and cursors agree.
 */
export interface PostgresMigration {
    version: number;
    name: string;
    sql: string;
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
    {
        version: 1,
        name: "environments, operations, events, audit, idempotency",
        sql: `
            CREATE TABLE environments (
                name              text COLLATE "C" PRIMARY KEY,
                team              text NOT NULL,
                spec              json NOT NULL,
                spec_hash         text NOT NULL,
                status            text NOT NULL,
                outputs           json,
                created_at        timestamptz NOT NULL,
                updated_at        timestamptz NOT NULL,
                expires_at        timestamptz,
                last_operation_id text,
                recovery_pending  boolean NOT NULL DEFAULT false
            );
            CREATE INDEX environments_by_team ON environments (team, name);
            CREATE INDEX environments_by_expiry ON environments (expires_at) WHERE expires_at IS NOT NULL;

            CREATE TABLE operations (
                seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id               text NOT NULL UNIQUE,
                environment      text NOT NULL,
                team             text NOT NULL,
                kind             text NOT NULL CHECK (kind IN ('update', 'preview', 'refresh', 'destroy')),
                state            text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'interrupted')),
                spec_hash        text,
                requested_by     text NOT NULL,
                attempt          integer NOT NULL DEFAULT 0,
                max_attempts     integer NOT NULL,
                created_at       timestamptz NOT NULL,
                started_at       timestamptz,
                finished_at      timestamptz,
                not_before       timestamptz,
                cancel_requested boolean NOT NULL DEFAULT false,
                lease_owner      text,
                lease_expires_at timestamptz,
                summary          json,
                error            json
            );
            CREATE INDEX operations_by_state ON operations (state, seq);
            CREATE INDEX operations_by_environment ON operations (environment, state, seq);
            -- The last line of defence for "never two operations at once on one environment":
            -- whatever a claimer gets wrong, the second running row of an environment cannot commit.
            CREATE UNIQUE INDEX operations_one_running_per_environment ON operations (environment) WHERE state = 'running';
            CREATE INDEX operations_leases ON operations (lease_expires_at) WHERE state = 'running';

            -- Per-operation event counters: the row lock of the upsert orders concurrent appenders,
            -- and events may be appended for an operation id the store has no row for.
            CREATE TABLE event_counters (
                operation_id text PRIMARY KEY,
                last_seq     bigint NOT NULL
            );
            CREATE TABLE events (
                operation_id text NOT NULL,
                seq          bigint NOT NULL,
                at           timestamptz NOT NULL,
                type         text NOT NULL,
                data         json NOT NULL,
                PRIMARY KEY (operation_id, seq)
            );

            CREATE TABLE audit (
                seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id         text NOT NULL UNIQUE,
                at         timestamptz NOT NULL,
                actor      json NOT NULL,
                action     text NOT NULL,
                target     text NOT NULL,
                outcome    text NOT NULL,
                details    json,
                request_id text
            );

            CREATE TABLE idempotency (
                scope        text NOT NULL,
                key          text NOT NULL,
                request_hash text NOT NULL,
                response     json NOT NULL,
                created_at   timestamptz NOT NULL,
                PRIMARY KEY (scope, key)
            );
            CREATE INDEX idempotency_by_age ON idempotency (created_at);
        `,
    },
    {
        version: 2,
        name: "environments.version: a number no other state of any environment row ever had",
        // Lets a reader that remembers an environment by (name, version) ask only for names and
        // versions (npm run bench:api: a list page's full rows cost ~0.3 ms of server CPU to decode).
        // A sequence never hands out a number twice, even across rollbacks, and the trigger gives
        // every UPDATE a new one whatever statement or process makes it, so equal versions prove
        // equal content. The sequence is named by the table's own schema: a session with another
        // search_path must still draw from it.
        sql: `
            CREATE SEQUENCE environment_versions;
            ALTER TABLE environments ADD COLUMN version bigint NOT NULL DEFAULT nextval('environment_versions');
            CREATE FUNCTION environments_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.version := nextval(format('%I.environment_versions', TG_TABLE_SCHEMA));
                RETURN NEW;
            END
            $$;
            CREATE TRIGGER environments_version BEFORE UPDATE ON environments
                FOR EACH ROW EXECUTE FUNCTION environments_next_version();
        `,
    },
    {
        version: 3,
        name: "operations.proposed_spec: the spec a preview plans when it is not the stored one",
        sql: "ALTER TABLE operations ADD COLUMN proposed_spec json;",
    },
    {
        version: 4,
        name: "drop environments.version: no reader remembers environments any more",
        // Every read maps its rows afresh, so the per-row version and its trigger only cost writes.
        sql: `
            DROP TRIGGER environments_version ON environments;
            DROP FUNCTION environments_next_version();
            ALTER TABLE environments DROP COLUMN version;
            DROP SEQUENCE environment_versions;
        `,
    },
    {
        version: 5,
        name: "environments by status, and by team and status, in name order",
        // A filtered list page is a keyset walk (name > cursor) over the rows that match: with the
        // filter's columns ahead of name in one index, a page reads its 51 rows and no others, so
        // its cost does not grow with the fleet (npm run bench:api, 1,000 vs 100,000 environments).
        sql: `
            CREATE INDEX environments_by_team_status ON environments (team, status, name);
            CREATE INDEX environments_by_status ON environments (status, name);
        `,
    },
];

/** Advisory-lock namespaces (the first key of the two-key form); the second key hashes the schema and the object. */
export const LOCK = { migrate: 0x6b76_0001, claim: 0x6b76_0002, environment: 0x6b76_0003, idempotency: 0x6b76_0004 } as const;

/**
 * Applies pending migrations in one transaction, under a transaction-scoped advisory lock
 * on the schema: replicas starting together queue up here, and each later one finds the
 * work done. DDL is transactional in PostgreSQL, so a failed migration leaves nothing behind.
 */
export async function migratePostgres(client: PoolClient, schema: string | undefined, migrations: readonly PostgresMigration[] = POSTGRES_MIGRATIONS): Promise<number> {
    await client.query("BEGIN");
    try {
        // Keyed on the schema's name, not current_schema(): before CREATE SCHEMA the latter names another schema.
        await client.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2::text, current_schema())))", [LOCK.migrate, schema ?? null]);
        // Concurrent CREATE SCHEMA IF NOT EXISTS can still collide in the catalog; the lock above prevents that.
        if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
        await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
        const applied = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)));
        const known = Math.max(...migrations.map((m) => m.version));
        const newest = Math.max(0, ...applied);
        if (newest > known) {
            throw new UnavailableError(`The database at schema version ${newest} is newer than this server understands (${known}); upgrade the server.`);
        }
        for (const m of migrations) {
            if (applied.has(m.version)) continue;
            await client.query(m.sql);
            await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
        }
        await client.query("COMMIT");
        return Math.max(newest, known);
    } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
    }
}
