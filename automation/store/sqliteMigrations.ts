/**
 * Versioned schema for the embedded store. Migrations only ever get appended: a
 * released version is never edited, because databases in the field already ran it.
 */
export interface Migration {
    version: number;
    name: string;
    sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        name: "environments, operations, events, audit, idempotency",
        sql: `
            CREATE TABLE environments (
                name              TEXT PRIMARY KEY,
                team              TEXT NOT NULL,
                spec              TEXT NOT NULL,
                spec_hash         TEXT NOT NULL,
                status            TEXT NOT NULL,
                outputs           TEXT,
                created_at        TEXT NOT NULL,
                updated_at        TEXT NOT NULL,
                expires_at        TEXT,
                last_operation_id TEXT,
                recovery_pending  INTEGER NOT NULL DEFAULT 0
            ) STRICT;
            CREATE INDEX environments_by_team ON environments (team, name);
            CREATE INDEX environments_by_expiry ON environments (expires_at) WHERE expires_at IS NOT NULL;

            CREATE TABLE operations (
                seq              INTEGER PRIMARY KEY AUTOINCREMENT,
                id               TEXT NOT NULL UNIQUE,
                environment      TEXT NOT NULL,
                team             TEXT NOT NULL,
                kind             TEXT NOT NULL,
                state            TEXT NOT NULL,
                spec_hash        TEXT,
                requested_by     TEXT NOT NULL,
                attempt          INTEGER NOT NULL DEFAULT 0,
                max_attempts     INTEGER NOT NULL,
                created_at       TEXT NOT NULL,
                started_at       TEXT,
                finished_at      TEXT,
                not_before       TEXT,
                cancel_requested INTEGER NOT NULL DEFAULT 0,
                lease_owner      TEXT,
                lease_expires_at TEXT,
                summary          TEXT,
                error            TEXT
            ) STRICT;
            CREATE INDEX operations_by_state ON operations (state, seq);
            CREATE INDEX operations_by_environment ON operations (environment, state, seq);

            CREATE TABLE events (
                operation_id TEXT NOT NULL,
                seq          INTEGER NOT NULL,
                at           TEXT NOT NULL,
                type         TEXT NOT NULL,
                data         TEXT NOT NULL,
                PRIMARY KEY (operation_id, seq)
            ) STRICT, WITHOUT ROWID;

            CREATE TABLE audit (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                id         TEXT NOT NULL UNIQUE,
                at         TEXT NOT NULL,
                actor      TEXT NOT NULL,
                action     TEXT NOT NULL,
                target     TEXT NOT NULL,
                outcome    TEXT NOT NULL,
                details    TEXT,
                request_id TEXT
            ) STRICT;

            CREATE TABLE idempotency (
                scope        TEXT NOT NULL,
                key          TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                response     TEXT NOT NULL,
                created_at   TEXT NOT NULL,
                PRIMARY KEY (scope, key)
            ) STRICT;
            CREATE INDEX idempotency_by_age ON idempotency (created_at);
        `,
    },
    {
        version: 2,
        name: "operations.proposed_spec: the spec a preview plans when it is not the stored one",
        sql: "ALTER TABLE operations ADD COLUMN proposed_spec TEXT;",
    },
    {
        version: 3,
        name: "environments by status, and by team and status, in name order",
        // See the PostgreSQL store's migration 5: a filtered list page reads only the rows it returns.
        sql: `
            CREATE INDEX environments_by_team_status ON environments (team, status, name);
            CREATE INDEX environments_by_status ON environments (status, name);
        `,
    },
];
