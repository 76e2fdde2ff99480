/**
 * Output redaction: the last line of defence before a value reaches a client or the
 * store. The engine already masks what Pulumi marked secret; this also hides anything
 * whose key looks secret, at any depth, and Pulumi's secret envelope if one slips through.
 */

export const REDACTED = "[secret]";

/** Pulumi's marker property for a serialized secret value. */
const PULUMI_SECRET_SIG = "4dabf18193072939515e22adb298388d";

const SECRET_WORDS = new Set([
    "password", "passwd", "pwd", "secret", "secrets", "token", "tokens", "credential", "credentials",
    "connectionstring", "connectionstrings", "sas", "privatekey", "apikey", "passphrase", "cert", "pfx",
]);
/** "key" is secret as a noun (primaryKey, apiKey) but not as a qualifier (keyUri, keyVaultName). */
const TRAILING_SECRET_WORDS = new Set(["key", "keys"]);

function words(key: string): string[] {
    return key
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter(Boolean);
}

export function isSecretKey(key: string): boolean {
    const w = words(key);
    if (w.length === 0) return false;
    const joined = w.join("");
    if (joined.includes("connectionstring") || joined.includes("password") || joined.includes("secret")) return true;
    for (let i = 0; i < w.length; i++) {
        if (SECRET_WORDS.has(w[i])) return true;
        if (i > 0 && SECRET_WORDS.has(w[i - 1] + w[i])) return true;
    }
    return TRAILING_SECRET_WORDS.has(w[w.length - 1]);
}

function isPulumiSecret(value: unknown): boolean {
    return value !== null && typeof value === "object" && PULUMI_SECRET_SIG in (value as object);
}

/** A deep copy with every secret-looking value replaced by "[secret]". */
export function redact(value: unknown): unknown {
    if (isPulumiSecret(value)) return REDACTED;
    if (Array.isArray(value)) return value.map(redact);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, isSecretKey(k) ? REDACTED : redact(v)]));
    }
    return value;
}

/** Outputs with secrets masked, as a fresh copy. */
export function redactOutputs(outputs: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    return outputs === undefined ? undefined : (redact(outputs) as Record<string, unknown>);
}
