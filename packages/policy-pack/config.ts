import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { FORBIDDEN_ROLE_IDS, TAG_KEYS } from "@keyvault-platform/conventions";

/**
 * Settings a platform team tunes per organisation. Pulumi scopes policy config
 * per policy, so each policy declares (in its configSchema) only the keys it
 * reads, and a team sets a shared key on every policy that lists it; see
 * README.md for the file format.
 */
export interface PackConfig {
    /** Tier names treated as production (purge protection required, Cosmos public access off). */
    prodTierNames: string[];
    /** Tier names treated as development (the only tiers where Cosmos may accept public traffic). */
    devTierNames: string[];
    /** Tag whose value names a resource's tier; the stack name is the fallback. */
    tierTagKey: string;
    /** Vault `enabledFor*` capabilities a team has approved. */
    allowedEnabledForFlags: EnabledForFlag[];
    /** Smallest RSA size accepted for customer-managed keys. */
    minimumRsaKeySize: number;
    /** RSA size recommended for customer-managed keys (advisory below it). */
    recommendedRsaKeySize: number;
    /** Regions resources may be deployed to (`global` is always allowed). */
    allowedLocations: string[];
    /** Role definition GUIDs never granted at vault, key or Cosmos DB scope, nor at the resource group or subscription above a vault. */
    forbiddenRoleIds: string[];
    /** Shortest prefix a vault firewall IPv4 rule may have (a wider rule admits too many strangers). */
    minimumIpRulePrefixLength: number;
    /** Longest time from now to a secret's expiry, in days. */
    maxSecretValidityDays: number;
    /** Longest time between a key's automatic rotations, in days. */
    maxKeyRotationDays: number;
    /** Longest validity of a certificate, in months. */
    maxCertificateValidityMonths: number;
    /** Smallest RSA size for certificates (EC certificates are accepted on P-256 and up). */
    minimumCertificateRsaKeySize: number;
}

export const ENABLED_FOR_FLAGS = ["enabledForDeployment", "enabledForTemplateDeployment", "enabledForDiskEncryption"] as const;
export type EnabledForFlag = (typeof ENABLED_FOR_FLAGS)[number];

export const RSA_KEY_SIZES = [2048, 3072, 4096] as const;

export const DEFAULT_CONFIG: Readonly<PackConfig> = Object.freeze({
    prodTierNames: ["prod", "production"],
    devTierNames: ["dev", "development"],
    // The program and the server tag every resource with its tier under this key (packages/conventions/tags.ts).
    tierTagKey: TAG_KEYS.tier,
    allowedEnabledForFlags: [],
    minimumRsaKeySize: 2048,
    recommendedRsaKeySize: 3072,
    // The project's data stays in the EU: the write region and its paired failover region.
    allowedLocations: ["westeurope", "northeurope"],
    // The program's own forbidden roles, plus every role that can write role assignments on a vault.
    forbiddenRoleIds: Object.keys(FORBIDDEN_ROLE_IDS),
    // A /16 is 65,536 addresses: the largest block one organisation's egress plausibly owns. Anything
    // wider (a /8, or 0.0.0.0/1 + 128.0.0.0/1) is shared with strangers: every tenant of a cloud or ISP range.
    minimumIpRulePrefixLength: 16,
    // Two years: Azure Policy's default is 365 days; a secret that never rotates within two years is a forgotten one.
    maxSecretValidityDays: 730,
    // Two years: NIST SP 800-57 caps a symmetric/wrapping key's originator usage period at two years.
    maxKeyRotationDays: 730,
    // Twelve months: private-PKI certificates need no longer, and auto-renewal makes short lives free.
    maxCertificateValidityMonths: 12,
    // 3072 bits is 128-bit security (NIST SP 800-57); 2048 is 112-bit and disallowed after 2030.
    minimumCertificateRsaKeySize: 3072,
});

const tierList = (description: string, def: string[]): PolicyConfigJSONSchema => ({
    type: "array",
    items: { type: "string", minLength: 1 },
    uniqueItems: true,
    description,
    default: def,
});

/** The JSON schema of every setting, in the form Pulumi validates `--policy-pack-config` against. */
export const CONFIG_SCHEMA: Readonly<Record<keyof PackConfig, PolicyConfigJSONSchema>> = {
    prodTierNames: tierList("Tier names treated as production. Matched case-insensitively against the tier tag and the stack name.", DEFAULT_CONFIG.prodTierNames),
    devTierNames: tierList("Tier names treated as development. Matched case-insensitively against the tier tag (or the stack name when the tag is absent).", DEFAULT_CONFIG.devTierNames),
    tierTagKey: { type: "string", minLength: 1, description: "Tag whose value names a resource's tier (matched case-insensitively).", default: DEFAULT_CONFIG.tierTagKey },
    allowedEnabledForFlags: {
        type: "array",
        items: { type: "string", enum: [...ENABLED_FOR_FLAGS] },
        uniqueItems: true,
        description: "Vault enabledFor* capabilities the team has approved for use.",
        default: DEFAULT_CONFIG.allowedEnabledForFlags,
    },
    minimumRsaKeySize: { type: "integer", enum: [...RSA_KEY_SIZES], description: "Smallest RSA size (bits) accepted for customer-managed keys.", default: DEFAULT_CONFIG.minimumRsaKeySize },
    recommendedRsaKeySize: { type: "integer", enum: [...RSA_KEY_SIZES], description: "RSA size (bits) recommended for customer-managed keys.", default: DEFAULT_CONFIG.recommendedRsaKeySize },
    allowedLocations: {
        type: "array",
        items: { type: "string", pattern: "^[A-Za-z0-9 ]+$" },
        minItems: 1,
        uniqueItems: true,
        description: "Azure regions resources may use (e.g. westeurope). 'global' is always allowed.",
        default: DEFAULT_CONFIG.allowedLocations,
    },
    forbiddenRoleIds: {
        type: "array",
        items: { type: "string", pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" },
        uniqueItems: true,
        description: "Role definition GUIDs that must never be assigned at vault, key or Cosmos DB scope, nor at the resource group or subscription above a vault.",
        default: DEFAULT_CONFIG.forbiddenRoleIds,
    },
    minimumIpRulePrefixLength: { type: "integer", minimum: 8, maximum: 32, description: "Shortest IPv4 prefix (CIDR /n) a vault firewall rule may have.", default: DEFAULT_CONFIG.minimumIpRulePrefixLength },
    maxSecretValidityDays: { type: "integer", minimum: 1, maximum: 3650, description: "Longest time from now to a secret's expiry, in days.", default: DEFAULT_CONFIG.maxSecretValidityDays },
    maxKeyRotationDays: { type: "integer", minimum: 28, maximum: 3650, description: "Longest period between a key's automatic rotations, in days.", default: DEFAULT_CONFIG.maxKeyRotationDays },
    maxCertificateValidityMonths: { type: "integer", minimum: 1, maximum: 120, description: "Longest certificate validity, in months.", default: DEFAULT_CONFIG.maxCertificateValidityMonths },
    minimumCertificateRsaKeySize: { type: "integer", enum: [...RSA_KEY_SIZES], description: "Smallest RSA size (bits) accepted for certificates.", default: DEFAULT_CONFIG.minimumCertificateRsaKeySize },
};

/** Thrown when config reaching a policy fails validation (the CLI validates too; tests and other callers may not). */
export class PolicyConfigError extends Error {
    constructor(policy: string, key: string, value: unknown, allowed: string) {
        super(`policy ${policy}: config '${key}' ${JSON.stringify(value)} is invalid; ${allowed}`);
        this.name = "PolicyConfigError";
    }
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string" && s.length > 0);

/**
 * Overlays the policy's config on the defaults and validates every key it sets,
 * so a typo'd value fails loudly instead of silently weakening a check.
 */
export function resolveConfig(policy: string, raw: Record<string, unknown> | undefined): PackConfig {
    const cfg: PackConfig = structuredClone(DEFAULT_CONFIG) as PackConfig;
    for (const [key, value] of Object.entries(raw ?? {})) {
        if (value === undefined || key === "enforcementLevel") continue;
        switch (key) {
            case "prodTierNames":
            case "devTierNames":
            case "allowedLocations":
                if (!isStringList(value)) throw new PolicyConfigError(policy, key, value, "must be a list of non-empty strings");
                cfg[key] = value;
                break;
            case "tierTagKey":
                if (typeof value !== "string" || value.length === 0) throw new PolicyConfigError(policy, key, value, "must be a non-empty tag name");
                cfg.tierTagKey = value;
                break;
            case "allowedEnabledForFlags":
                if (!isStringList(value) || !value.every((f) => (ENABLED_FOR_FLAGS as readonly string[]).includes(f))) {
                    throw new PolicyConfigError(policy, key, value, `allowed: ${ENABLED_FOR_FLAGS.join(", ")}`);
                }
                cfg.allowedEnabledForFlags = value as EnabledForFlag[];
                break;
            case "minimumIpRulePrefixLength":
            case "maxSecretValidityDays":
            case "maxKeyRotationDays":
            case "maxCertificateValidityMonths": {
                const { minimum, maximum } = CONFIG_SCHEMA[key] as { minimum: number; maximum: number };
                if (typeof value !== "number" || !Number.isInteger(value) || value < minimum || value > maximum) {
                    throw new PolicyConfigError(policy, key, value, `must be a whole number from ${minimum} to ${maximum}`);
                }
                cfg[key] = value;
                break;
            }
            case "minimumRsaKeySize":
            case "recommendedRsaKeySize":
            case "minimumCertificateRsaKeySize":
                if (!(RSA_KEY_SIZES as readonly unknown[]).includes(value)) throw new PolicyConfigError(policy, key, value, `allowed: ${RSA_KEY_SIZES.join(", ")}`);
                cfg[key] = value as number;
                break;
            case "forbiddenRoleIds":
                if (!isStringList(value) || !value.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))) {
                    throw new PolicyConfigError(policy, key, value, "must be a list of role definition GUIDs");
                }
                cfg.forbiddenRoleIds = value;
                break;
            default:
                throw new PolicyConfigError(policy, key, value, `is not a setting of this pack; known: ${Object.keys(CONFIG_SCHEMA).join(", ")}`);
        }
    }
    return cfg;
}
