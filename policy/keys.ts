import { asArray, CheckContext, Props, resourcePolicy, sameText, TYPES } from "./helpers";

const keyProps = (props: Props): Props => props.properties ?? {};

/**
 * A key that wraps other keys is a customer-managed key (CMK). Inputs carry keyOps
 * under `properties`; outputs (what stack checks see) carry them at the top level.
 */
export function isCmkKey(props: Props): boolean {
    const ops = asArray<unknown>(props.properties?.keyOps ?? props.keyOps);
    return ops.some((op) => sameText(op, "wrapKey") || sameText(op, "unwrapKey"));
}

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
