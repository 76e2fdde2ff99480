import { Pool, type PoolConfig } from "pg";

const ignoreError = (): void => undefined;

/**
 * A node-postgres pool whose connections can never crash the process with an unheard
 * `error` event, whatever state they are in when PostgreSQL goes away:
 *   - idle in the pool: pg-pool drops the connection and emits `error` on the pool, which
 *     goes to `onConnectionError`;
 *   - checked out: pg-pool removes its own listener at checkout, and `await pool.connect()`
 *     hands the connection over only after the rest of the socket read has been parsed.
 *     That read can already hold the backend's FATAL (a terminated backend, a restart),
 *     so a listener attached by the caller comes too late. One listener for the
 *     connection's whole life closes that window; the failure still reaches the caller,
 *     as the error of its next statement.
 */
export function newPool(config: PoolConfig, onConnectionError?: (error: unknown) => void): Pool {
    const pool = new Pool(config);
    pool.on("error", (e) => onConnectionError?.(e));
    pool.on("connect", (client) => client.on("error", ignoreError));
    return pool;
}
