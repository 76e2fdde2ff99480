import { randomBytes } from "node:crypto";
import { Client, escapeIdentifier } from "pg";
import { createPostgresStore, type PostgresStore, type PostgresStoreOptions } from "../../automation/store/postgres";

/**
 * The local PostgreSQL the store tests use: database `test` on 127.0.0.1:5432 with trust
 * auth (as the rotation tests). Every suite works in a schema of its own, dropped at the
 * end, so concurrent runs on one server never see each other's rows, locks or NOTIFYs.
 */
export const TEST_DATABASE_URL = process.env.KVP_TEST_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;

export function testSchemaName(): string {
    return `kvp_test_${randomBytes(5).toString("hex")}`;
}

export async function adminQuery<T extends object = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
        return (await client.query<T>(sql, params)).rows;
    } finally {
        await client.end();
    }
}

export async function dropSchema(schema: string): Promise<void> {
    await adminQuery(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
}

export function openTestStore(schema: string, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
    return createPostgresStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 5, applicationName: applicationNameOf(schema), ...options });
}

/** Connections of a test store are named after its schema, so terminating them leaves concurrent runs alone. */
export function applicationNameOf(schema: string): string {
    return `kvp-test:${schema}`;
}

/** Ends every session of the stores on `schema`, as a PostgreSQL restart would from their point of view. */
export async function terminateBackends(schema: string): Promise<number> {
    const applicationName = applicationNameOf(schema);
    const rows = await adminQuery<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1",
        [applicationName],
    );
    return rows.filter((r) => r.ok).length;
}
