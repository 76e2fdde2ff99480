import type { ConfigMap } from "@pulumi/pulumi/automation";
import { CONFIG_NAMESPACE } from "../../config/load";
import { DEFAULT_LOCATION, type StackConfigInput } from "../../config/schema";

/** The provider key the program's default Azure provider reads its region from. */
export const AZURE_LOCATION_KEY = "azure-native:location";

/**
 * `rawStackConfig` JSON-decodes every value and falls back to the raw string.
 * A string is written as-is when that decoding gives it back unchanged, so
 * Pulumi.<stack>.yaml stays readable; a string that would decode to something
 * else ("true", "42", "null") is written JSON-quoted so it round-trips.
 */
function encodeValue(value: unknown): string {
    if (typeof value !== "string") return JSON.stringify(value);
    try {
        JSON.parse(value);
        return JSON.stringify(value);
    } catch {
        return value;
    }
}

/**
 * The stack config for one run, derived from the stored spec. Every top-level
 * key becomes `keyvault-platform:<key>`, set whole (no `--path`), so structured
 * values are single JSON documents that `rawStackConfig` decodes back. No key of
 * the schema holds a secret, so none is written with `secret: true`.
 */
export function encodeStackConfig(config: StackConfigInput): ConfigMap {
    const out: ConfigMap = {};
    for (const [key, value] of Object.entries(config)) {
        if (value === undefined) continue;
        out[`${CONFIG_NAMESPACE}:${key}`] = { value: encodeValue(value), secret: false };
    }
    const location = typeof config.location === "string" ? config.location : DEFAULT_LOCATION;
    out[AZURE_LOCATION_KEY] = { value: location, secret: false };
    return out;
}

/** Namespace keys present on the stack but absent from this run's config: left alone, they would silently outlive the spec. */
export function staleConfigKeys(existing: Iterable<string>, desired: ConfigMap): string[] {
    const prefix = `${CONFIG_NAMESPACE}:`;
    return [...existing].filter((k) => k.startsWith(prefix) && !(k in desired));
}
