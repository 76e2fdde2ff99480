import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * SCRAM-SHA-256 verifiers in PostgreSQL's stored format
 * (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, RFC 5802/7677).
 * `ALTER ROLE ... PASSWORD '<verifier>'` stores the verifier as-is, so the clear
 * password never reaches the server, its statement log or pg_stat_statements.
 */

/** PostgreSQL's default (scram_iterations); raising it slows every login. */
export const SCRAM_ITERATIONS = 4096;

/** SASLprep maps some non-ASCII input; restricting to printable ASCII makes it the identity. */
function assertPrintableAscii(password: string): void {
    if (!/^[\x21-\x7e]+$/.test(password)) throw new Error("SCRAM verifiers are only built for printable-ASCII passwords, where SASLprep is the identity");
}

function keys(password: string, salt: Buffer, iterations: number) {
    const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    return {
        storedKey: createHash("sha256").update(clientKey).digest(),
        serverKey: createHmac("sha256", salted).update("Server Key").digest(),
    };
}

export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
    assertPrintableAscii(password);
    const { storedKey, serverKey } = keys(password, salt, iterations);
    return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** True when `password` matches a stored verifier, as the server's own check would decide. */
export function matchesVerifier(password: string, verifier: string): boolean {
    const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
    if (!m) return false;
    const { storedKey, serverKey } = keys(password, Buffer.from(m[2], "base64"), Number(m[1]));
    return same(storedKey, Buffer.from(m[3], "base64")) && same(serverKey, Buffer.from(m[4], "base64"));
}

function same(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
}
