import type { OutputMap } from "@pulumi/pulumi/automation";

/** What every masked value reads as, matching the Pulumi engine's own marker. */
export const SECRET_MARKER = "[secret]";

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
/** Shorter values would mask ordinary words in diagnostics; real secrets here are passphrases and client secrets. */
const MIN_MASKED_LENGTH = 6;
const SECRET_ENV_NAME = /SECRET|PASSWORD|PASSPHRASE|TOKEN|ACCESS_KEY|ACCOUNT_KEY|SAS/i;

export type Masker = (text: string) => string;

/**
 * Returns a function that strips terminal colour codes and replaces every known
 * secret value (the stack passphrase, client secrets passed to the CLI) with
 * "[secret]". The Pulumi engine already masks values marked secret; this covers
 * what the engine cannot know about.
 */
export function createMasker(secrets: Iterable<string | undefined>): Masker {
    const values = [...new Set([...secrets].filter((s): s is string => typeof s === "string" && s.length >= MIN_MASKED_LENGTH))]
        // Longest first, so a secret that contains another is masked whole.
        .sort((a, b) => b.length - a.length);
    return (text) => {
        let out = text.replace(ANSI, "");
        for (const v of values) out = out.split(v).join(SECRET_MARKER);
        return out;
    };
}

/** The values of environment variables whose names say they hold a secret. */
export function secretEnvValues(env: Record<string, string | undefined>): string[] {
    return Object.entries(env).flatMap(([k, v]) => (v && SECRET_ENV_NAME.test(k) ? [v] : []));
}

/**
 * Stack outputs as clients may see them. `masked` is `pulumi stack output --json`
 * without --show-secrets, where the CLI has replaced every secret, nested ones
 * included, by "[secret]"; it wins over the plaintext values the Automation API
 * returns. Without it, only whole outputs marked secret can be masked.
 */
export function maskStackOutputs(outputs: OutputMap, masked?: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, { value, secret }] of Object.entries(outputs)) {
        if (secret) out[key] = SECRET_MARKER;
        else if (masked) out[key] = key in masked ? masked[key] : SECRET_MARKER;
        else out[key] = value;
    }
    return out;
}
