import { isCmkKey } from "./cmk";
import { asArray, CheckContext, Props, resourcePolicy, sameText, TYPES } from "./helpers";


const keyProps = (props: Props): Props => props.properties ?? {};

const isRsa = (kty: unknown) => sameText(kty, "RSA") || sameText(kty, "RSA-HSM");

/** Unix seconds, as Key Vault's `expires` attribute takes it. */
export function checkKeyExpiry(props: Props): string[] {
    const expires = keyProps(props).attributes?.expires;
    return typeof expires === "number" && expires > 0 ? [] : [`properties.attributes.expires is ${JSON.stringify(expires)}; every key needs an expiry (Unix seconds)`];
}

/** The rotation policy must rotate automatically: a `Rotate` lifetime action with a trigger. */
export function checkKeyRotationPolicy(props: Props): string[] {
    const policy = keyProps(props).rotationPolicy;
    if (!policy) return ["properties.rotationPolicy is not set; Key Vault will never rotate this key"];
    const rotate = asArray<Props>(policy.lifetimeActions).filter((a) => sameText(a?.action?.type, "rotate"));
    if (rotate.length === 0) return ["properties.rotationPolicy has no lifetime action of type Rotate"];
    const triggered = rotate.some((a) => typeof a.trigger?.timeAfterCreate === "string" || typeof a.trigger?.timeBeforeExpiry === "string");
    return triggered ? [] : ["properties.rotationPolicy's Rotate action has no trigger (timeAfterCreate or timeBeforeExpiry)"];
}

/**
 * Days in an ISO 8601 duration as Key Vault writes them (P90D, P2Y, P18M, P1Y6M, P4W);
 * months count 30 days and years 365, Key Vault's own approximation.
 */
export function durationDays(d: unknown): number | undefined {
    if (typeof d !== "string") return undefined;
    const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/i.exec(d.trim());
    if (!m || m.slice(1).every((g) => g === undefined)) return undefined;
    const [y, mo, w, days] = m.slice(1).map((g) => Number(g ?? 0));
    return y * 365 + mo * 30 + w * 7 + days;
}

/**
 * The longest a key version lives before the policy rotates it: timeAfterCreate, or
 * (for a timeBeforeExpiry trigger) the version's expiryTime less that lead time.
 */
export function checkKeyRotationMaxPeriod(props: Props, ctx: CheckContext): string[] {
    const policy = keyProps(props).rotationPolicy;
    const max = ctx.config.maxKeyRotationDays;
    const rotate = asArray<Props>(policy?.lifetimeActions).filter((a) => sameText(a?.action?.type, "rotate"));
    if (rotate.length === 0) return []; // kv-key-rotation-policy reports a key that never rotates
    const expiry = durationDays(policy?.attributes?.expiryTime);
    const periods = rotate.map((a): { text: string; days: number | undefined } => {
        if (a.trigger?.timeAfterCreate !== undefined) return { text: `timeAfterCreate ${String(a.trigger.timeAfterCreate)}`, days: durationDays(a.trigger.timeAfterCreate) };
        const before = durationDays(a.trigger?.timeBeforeExpiry);
        return { text: `expiryTime ${String(policy?.attributes?.expiryTime)} less timeBeforeExpiry ${String(a.trigger?.timeBeforeExpiry)}`, days: expiry !== undefined && before !== undefined ? expiry - before : undefined };
    });
    const shortest = periods.filter((p) => p.days !== undefined).sort((a, b) => a.days! - b.days!)[0];
    if (!shortest) return [`the rotation period (${periods.map((p) => p.text).join("; ")}) is not an ISO 8601 duration in days, weeks, months or years`];
    return shortest.days! <= max ? [] : [`the key rotates every ${shortest.days} days (${shortest.text}); the longest allowed period is ${max} days`];
}

function rsaSizeProblem(props: Props, ctx: CheckContext, min: number, label: string): string[] {
    const p = keyProps(props);
    if (!isCmkKey(props) || !isRsa(p.kty)) return [];
    const size = p.keySize;
    if (typeof size !== "number") return [`CMK key ${ctx.name} has no properties.keySize; set it explicitly (${label} ${min} bits)`];
    return size >= min ? [] : [`CMK key ${ctx.name} is RSA ${size} bits; ${label} ${min} bits`];
}

export const checkCmkKeyMinimumSize = (props: Props, ctx: CheckContext) => rsaSizeProblem(props, ctx, ctx.config.minimumRsaKeySize, "the minimum is");
export const checkCmkKeyRecommendedSize = (props: Props, ctx: CheckContext) => rsaSizeProblem(props, ctx, ctx.config.recommendedRsaKeySize, "the recommended size is");

export const keyPolicies = [
    resourcePolicy({
        name: "kv-key-expiry",
        description: "Key Vault keys have an expiry date.",
        enforcementLevel: "mandatory",
        types: [TYPES.key],
        mirrors: "keyExpiry",
        remediation: "set properties.attributes.expires (Unix seconds) and let the rotation policy's expiryTime govern later versions",
        check: checkKeyExpiry,
    }),
    resourcePolicy({
        name: "kv-key-rotation-policy",
        description: "Key Vault keys have a rotation policy with a Rotate lifetime action.",
        enforcementLevel: "mandatory",
        types: [TYPES.key],
        mirrors: "keyRotation",
        remediation: "set properties.rotationPolicy with lifetimeActions [{ action: { type: 'rotate' }, trigger: { timeAfterCreate: 'P180D' } }, { action: { type: 'notify' }, trigger: { timeBeforeExpiry: 'P30D' } }] and attributes.expiryTime",
        check: checkKeyRotationPolicy,
    }),
    resourcePolicy({
        name: "kv-key-rotation-max-period",
        description: "Key Vault keys rotate at least every maxKeyRotationDays (730 days by default).",
        enforcementLevel: "mandatory",
        types: [TYPES.key],
        mirrors: "keyMaxRotation",
        remediation: "set the Rotate action's trigger.timeAfterCreate to P730D or less (stack config cosmos.keyRotationDays), or shorten rotationPolicy.attributes.expiryTime",
        configKeys: ["maxKeyRotationDays"],
        check: checkKeyRotationMaxPeriod,
    }),
    resourcePolicy({
        name: "kv-cmk-key-min-size",
        description: "Customer-managed (wrapKey/unwrapKey) RSA keys are at least the minimum size (2048 bits by default).",
        enforcementLevel: "mandatory",
        types: [TYPES.key],
        mirrors: "rsaKeySize",
        remediation: "set properties.keySize to at least minimumRsaKeySize (stack config cosmos.keySize: 3072)",
        configKeys: ["minimumRsaKeySize"],
        check: checkCmkKeyMinimumSize,
    }),
    resourcePolicy({
        name: "kv-cmk-key-recommended-size",
        description: "Customer-managed RSA keys use the recommended size (3072 bits by default).",
        enforcementLevel: "advisory",
        types: [TYPES.key],
        mirrors: "rsaKeySize",
        remediation: "set properties.keySize to recommendedRsaKeySize or more (stack config cosmos.keySize: 3072)",
        configKeys: ["recommendedRsaKeySize"],
        check: checkCmkKeyRecommendedSize,
    }),
];
