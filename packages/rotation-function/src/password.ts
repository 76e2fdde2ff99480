import { randomInt } from "node:crypto";

/**
 * Password generation for every rotation target. The symbol set is RFC 3986's
 * "unreserved" characters: they need no escaping in a URI, an ADO.NET/ODBC/JDBC
 * connection string, a YAML or JSON value, or a shell word (none is a quote,
 * separator or expansion character once a symbol can never come first).
 */
export const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const LOWER = "abcdefghijklmnopqrstuvwxyz";
export const DIGITS = "0123456789";
export const SYMBOLS = "-_.~";
export const ALPHABET = UPPER + LOWER + DIGITS + SYMBOLS;

/** Characters that break at least one connection-string, URL or shell syntax; never generated. */
export const FORBIDDEN_CHARACTERS = ";'\"=@/:?#%&\\ \t\r\n,{}[]()<>|`$!*+^";

export interface PasswordPolicy {
    /** Required. Length of the password. */
    length: number;
    /** Optional. A login name whose parts must not appear in the password (Azure SQL rule). Defaults to none. */
    loginName?: string;
}

/** Azure SQL: 8-128 characters, three of four categories, no part of the login name. */
export const SQL_LIMITS = { min: 8, max: 128 } as const;
export const DEFAULT_LENGTH = 32;

function pick(chars: string): string {
    return chars[randomInt(chars.length)];
}

/**
 * Azure SQL defines "part of the login name" as three or more consecutive
 * alphanumeric characters; any such run found in the password is a violation.
 */
export function loginNameProblem(password: string, loginName: string): string | undefined {
    const lowered = password.toLowerCase();
    for (const run of loginName.toLowerCase().split(/[^a-z0-9]+/)) {
        for (let i = 0; i + 3 <= run.length; i++) {
            if (lowered.includes(run.slice(i, i + 3))) return `contains "${run.slice(i, i + 3)}" from the login name`;
        }
    }
    return undefined;
}

/** Every rule a generated password must meet; returns the first broken one, or undefined. */
export function passwordProblem(password: string, policy: PasswordPolicy): string | undefined {
    if (password.length !== policy.length) return `has length ${password.length}, expected ${policy.length}`;
    for (const c of password) if (!ALPHABET.includes(c)) return `contains a character outside the allowed alphabet (code ${c.charCodeAt(0)})`;
    if (![UPPER, LOWER, DIGITS, SYMBOLS].every((set) => [...password].some((c) => set.includes(c)))) {
        return "lacks one of the four categories (upper, lower, digit, symbol)";
    }
    if (!/^[A-Za-z]/.test(password)) return "does not start with a letter";
    if (policy.loginName) return loginNameProblem(password, policy.loginName);
    return undefined;
}

/**
 * A password from the CSPRNG that meets `policy`. All four categories are always
 * present (Azure SQL needs three) and the first character is a letter, so no tool
 * mistakes the value for an option or a home-directory path. Draws that contain the
 * login name are rejected and redrawn, which keeps the distribution uniform over
 * the passwords that are allowed.
 */
export function generatePassword(policy: PasswordPolicy): string {
    if (!Number.isInteger(policy.length) || policy.length < SQL_LIMITS.min || policy.length > SQL_LIMITS.max) {
        throw new RangeError(`password length must be an integer from ${SQL_LIMITS.min} to ${SQL_LIMITS.max}, got ${policy.length}`);
    }
    for (let attempt = 0; attempt < 1000; attempt++) {
        const chars = [pick(UPPER + LOWER)];
        while (chars.length < policy.length) chars.push(pick(ALPHABET));
        const candidate = chars.join("");
        if (passwordProblem(candidate, policy) === undefined) return candidate;
    }
    throw new Error(`could not draw a password of length ${policy.length} that avoids the login name; the login name is too varied for this length`);
}
