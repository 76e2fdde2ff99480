import { DomainError, UnavailableError } from "../domain/errors";

/** SQLite primary result codes that mean the medium, not the request, is at fault. */
const UNAVAILABLE: Readonly<Record<number, string>> = {
    5: "the database is locked by another process (SQLITE_BUSY), probably a second server using the same data directory",
    6: "a database table is locked (SQLITE_LOCKED)",
    8: "the database is read-only (SQLITE_READONLY); check the data directory's permissions and mount",
    10: "a disk I/O error occurred (SQLITE_IOERR)",
    11: "the database file is corrupt (SQLITE_CORRUPT); restore it from a backup",
    13: "the disk is full (SQLITE_FULL); free space in the data directory",
    14: "the database file cannot be opened (SQLITE_CANTOPEN); check the data directory",
    23: "access to the database was denied (SQLITE_AUTH)",
    26: "the file is not a database (SQLITE_NOTADB)",
    3: "access to the database file was denied (SQLITE_PERM)",
};

interface SqliteErrorShape {
    code?: string;
    errcode?: number;
    errstr?: string;
}

/** Base result code of a node:sqlite error, or undefined for anything else. */
export function sqliteResultCode(error: unknown): number | undefined {
    const e = error as SqliteErrorShape | null;
    if (!e || typeof e !== "object" || e.code !== "ERR_SQLITE_ERROR" || typeof e.errcode !== "number") return undefined;
    // Extended codes (e.g. SQLITE_IOERR_WRITE = 778) carry the primary code in the low byte.
    return e.errcode & 0xff;
}

/** File-system failures while creating the data directory. */
const FS_UNAVAILABLE: Readonly<Record<string, string>> = {
    EACCES: "the data directory is not writable (EACCES)",
    EPERM: "the data directory is not writable (EPERM)",
    EROFS: "the data directory is on a read-only file system (EROFS)",
    ENOSPC: "the disk is full (ENOSPC)",
    ENOTDIR: "the data directory path runs through a file (ENOTDIR)",
};

/**
 * Turns storage failures into UnavailableError with a message an operator can act on;
 * domain errors and programming errors pass through unchanged.
 */
export function toStoreError(error: unknown): unknown {
    if (error instanceof DomainError) return error;
    const code = sqliteResultCode(error);
    if (code !== undefined && UNAVAILABLE[code]) {
        return new UnavailableError(`The store cannot be used: ${UNAVAILABLE[code]}.`, { cause: error });
    }
    const fsCode = (error as { code?: unknown } | null)?.code;
    if (typeof fsCode === "string" && FS_UNAVAILABLE[fsCode]) {
        return new UnavailableError(`The store cannot be used: ${FS_UNAVAILABLE[fsCode]}.`, { cause: error });
    }
    return error;
}
