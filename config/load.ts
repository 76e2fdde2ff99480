import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfig, StackConfigError } from "./schema";

export const CONFIG_NAMESPACE = "keyvault-platform";

/** Pulumi stores scalars as strings and structured values as JSON; recover the typed value. */
function decode(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

/**
 * Gathers every `keyvault-platform:*` key of the running stack into one object.
 * Reading the whole namespace (not key by key) is what lets a typo such as
 * `purgeProtecton` fail loudly instead of being silently ignored.
 */
export function rawStackConfig(all: Record<string, string> = pulumi.runtime.allConfig()): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [k, v] of Object.entries(all)) {
        if (k.startsWith(prefix)) out[k.slice(prefix.length)] = decode(v);
    }
    return out;
}

/** Validates the stack's config at program start; bad config ends the run cleanly, naming each key. */
export function loadStackConfig(): StackConfig {
    try {
        return parseStackConfig(rawStackConfig());
    } catch (e) {
        if (e instanceof StackConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}
