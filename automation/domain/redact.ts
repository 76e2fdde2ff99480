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

/**
 * A key's words, lower-cased: split at anything but letters and digits, and where a lower-case
 * letter or digit meets an upper-case one (primaryKey -> primary, key). One pass over the
 * characters: every output value of every environment a list page returns goes through here.
 */
export function keyWords(key: string): string[] {
    const out: string[] = [];
    let word = "";
    let prevLowerOrDigit = false;
    for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        const upper = c >= 65 && c <= 90;
        const lower = c >= 97 && c <= 122;
        const digit = c >= 48 && c <= 57;
        if (c > 127) {
            // Some non-ASCII letters lower-case to ASCII (the Kelvin sign to "k"): they join the word, as
            // lower-casing the whole key first would make them; the rest separate words.
            for (const ch of key[i].toLowerCase()) {
                if ((ch >= "a" && ch <= "z") || (ch >= "0" && ch <= "9")) word += ch;
                else if (word) { out.push(word); word = ""; }
            }
            prevLowerOrDigit = false;
            continue;
        }
        if (!upper && !lower && !digit) {
            if (word) out.push(word);
            word = "";
            prevLowerOrDigit = false;
            continue;
        }
        if (upper && prevLowerOrDigit && word) {
            out.push(word);
            word = "";
        }
        word += upper ? String.fromCharCode(c + 32) : key[i];
        prevLowerOrDigit = lower || digit;
    }
    if (word) out.push(word);
    return out;
}

export function isSecretKey(key: string): boolean {
    const w = keyWords(key);
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
        const copy: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
            const out = isSecretKey(k) ? REDACTED : redact(v);
            // An own "__proto__" key (JSON.parse makes them) must stay a key, not become the copy's prototype.
            if (k === "__proto__") Object.defineProperty(copy, k, { value: out, enumerable: true, writable: true, configurable: true });
            else copy[k] = out;
        }
        return copy;
    }
    return value;
}

/** Outputs with secrets masked, as a fresh copy. */
export function redactOutputs(outputs: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    return outputs === undefined ? undefined : (redact(outputs) as Record<string, unknown>);
}
