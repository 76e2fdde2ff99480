import { ConflictError, DomainError, UnavailableError } from "../domain/errors";

/**
 * PostgreSQL failures, sorted into what the domain understands. Anything that says
 * "the database cannot serve you right now" becomes UnavailableError (503, retry later)
 * with a message an operator can act on; a unique violation is a ConflictError; domain
 * and programming errors pass through unchanged. Messages never carry the connection
 * string, which may hold a password.
 */

interface PgErrorShape {
    code?: unknown;
    message?: unknown;
}

/** SQLSTATE classes (first two characters) that mean the server, not the request, is at fault. */
const UNAVAILABLE_CLASSES: Readonly<Record<string, string>> = {
    "08": "the connection to PostgreSQL failed",
    "53": "PostgreSQL is out of resources (disk, memory or connections)",
    "57": "PostgreSQL is shutting down, restarting or cancelled the statement",
    "58": "PostgreSQL hit a system error (I/O)",
    "28": "PostgreSQL refused the credentials in DATABASE_URL",
};

const UNAVAILABLE_CODES: Readonly<Record<string, string>> = {
    "25006": "the database is read-only (a standby, or a failover in progress)",
    "3D000": "the database named in DATABASE_URL does not exist",
    "40001": "PostgreSQL kept reporting serialization failures",
    "40P01": "PostgreSQL kept reporting deadlocks",
    "55P03": "a lock could not be taken in time",
};

/** Node socket errors and pg's own messages for a connection that is gone or never came up. */
const NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);
const CONNECTION_MESSAGES = [
    /Connection terminated/i,
    /Client has encountered a connection error/i,
    /timeout exceeded when trying to connect/i,
    /Client was closed and is not queryable/i,
    /Cannot use a pool after calling end/i,
    /the database system is (starting up|shutting down|in recovery mode)/i,
    /terminating connection/i,
];

function codeOf(error: unknown): string | undefined {
    const code = (error as PgErrorShape | null)?.code;
    return typeof code === "string" ? code : undefined;
}

/** True when the failure is about the connection itself: the work may not have reached the server. */
export function isConnectionError(error: unknown): boolean {
    const code = codeOf(error);
    if (code !== undefined && (NODE_CODES.has(code) || code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03")) return true;
    const message = (error as PgErrorShape | null)?.message;
    return typeof message === "string" && CONNECTION_MESSAGES.some((m) => m.test(message));
}

/** Serialization failure or deadlock: the whole transaction may simply be run again. */
export function isRetryableConflict(error: unknown): boolean {
    const code = codeOf(error);
    return code === "40001" || code === "40P01";
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
    if (codeOf(error) !== "23505") return false;
    return constraint === undefined || (error as { constraint?: unknown }).constraint === constraint;
}

export function toPostgresStoreError(error: unknown): unknown {
    if (error instanceof DomainError) return error;
    const code = codeOf(error);
    if (isConnectionError(error)) {
        const why = code?.startsWith("57P") ? "PostgreSQL closed the connection (a restart, failover or terminated backend)" : "PostgreSQL cannot be reached";
        return new UnavailableError(`The store cannot be used: ${why}; the server reconnects on its own once PostgreSQL is back.`, { cause: error });
    }
    if (code !== undefined) {
        const reason = UNAVAILABLE_CODES[code] ?? UNAVAILABLE_CLASSES[code.slice(0, 2)];
        if (reason) return new UnavailableError(`The store cannot be used: ${reason} (SQLSTATE ${code}).`, { cause: error });
        if (code === "23505") return new ConflictError("A concurrent request already stored this; retry to see its result.");
    }
    return error;
}
