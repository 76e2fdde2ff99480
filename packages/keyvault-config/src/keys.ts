import type { SecretPropertiesLike } from "./port";

/** Key Vault's separator stand-in: `:` is not allowed in secret names, `--` is the convention. */
export const NAME_SEPARATOR = "--";
export const KEY_SEPARATOR = ":";

const PREFIX_PATTERN = /^[A-Za-z0-9](?:-?[A-Za-z0-9])*$/;

/** Why a prefix is unusable, or undefined when it is fine. */
export function prefixProblem(prefix: string): string | undefined {
    if (typeof prefix !== "string" || !PREFIX_PATTERN.test(prefix)) {
        return `prefix ${JSON.stringify(prefix)} is invalid; use letters, digits and single hyphens (a Key Vault name segment), e.g. "App"`;
    }
    return undefined;
}

/**
 * The configuration key for a secret name, or undefined when the secret is not ours.
 * Key Vault names are case-insensitive, so the prefix is matched without case;
 * `App--ConnectionStrings--Database` becomes `ConnectionStrings:Database`.
 */
export function configKeyFor(secretName: string, prefix: string): string | undefined {
    const lead = `${prefix}${NAME_SEPARATOR}`;
    if (secretName.length <= lead.length || secretName.slice(0, lead.length).toLowerCase() !== lead.toLowerCase()) return undefined;
    const segments = secretName.slice(lead.length).split(NAME_SEPARATOR);
    if (segments.some((s) => s.length === 0)) return undefined;
    return segments.join(KEY_SEPARATOR);
}

/** Disabled, expired and not-yet-valid secrets are skipped, as Key Vault itself would refuse them. */
export function isLoadable(p: SecretPropertiesLike, now: Date): boolean {
    if (p.enabled === false) return false;
    if (p.expiresOn && p.expiresOn.getTime() <= now.getTime()) return false;
    if (p.notBefore && p.notBefore.getTime() > now.getTime()) return false;
    return true;
}

/** Folds flat `A:B:C` keys into a nested object; a key that is both a value and a section is an error. */
export function toTree(entries: Iterable<[string, string]>): Record<string, unknown> {
    const root: Record<string, unknown> = {};
    for (const [key, value] of entries) {
        const parts = key.split(KEY_SEPARATOR);
        let node = root;
        parts.forEach((part, i) => {
            const last = i === parts.length - 1;
            const existing = node[part];
            if (last) {
                if (existing !== undefined && typeof existing === "object") throw new TreeConflictError(key);
                node[part] = value;
            } else {
                if (typeof existing === "string") throw new TreeConflictError(parts.slice(0, i + 1).join(KEY_SEPARATOR));
                node[part] ??= {};
                node = node[part] as Record<string, unknown>;
            }
        });
    }
    return root;
}

export class TreeConflictError extends Error {
    constructor(public readonly key: string) {
        super(`${key} is both a value and a section; rename one of the secrets`);
        this.name = "TreeConflictError";
    }
}
