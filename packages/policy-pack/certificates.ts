import { asArray, CheckContext, Props, resourcePolicy, sameText, TYPES } from "./helpers";

/** An imported certificate (certificate.contents) carries its own validity and key; only a policy-issued one can be checked. */
const issuedByPolicy = (props: Props) => props.certificatePolicy?.x509CertificateProperties !== undefined || props.certificatePolicy?.keyProperties !== undefined;

/** Each certificate version lives at most maxCertificateValidityMonths. */
export function checkCertificateMaxValidity(props: Props, ctx: CheckContext): string[] {
    if (!issuedByPolicy(props)) return [];
    const months = props.certificatePolicy?.x509CertificateProperties?.validityInMonths;
    const max = ctx.config.maxCertificateValidityMonths;
    if (typeof months !== "number") return [`certificatePolicy.x509CertificateProperties.validityInMonths is ${JSON.stringify(months)}; state it (at most ${max} months)`];
    return months <= max ? [] : [`certificatePolicy.x509CertificateProperties.validityInMonths is ${months}; the longest allowed is ${max} months`];
}

const EC_CURVES = ["P-256", "P-384", "P-521", "P-256K"];

/** RSA of at least minimumCertificateRsaKeySize bits, or EC on a NIST curve. */
export function checkCertificateKeyType(props: Props, ctx: CheckContext): string[] {
    if (!issuedByPolicy(props)) return [];
    const k: Props = props.certificatePolicy?.keyProperties ?? {};
    const min = ctx.config.minimumCertificateRsaKeySize;
    if (sameText(k.keyType, "RSA") || sameText(k.keyType, "RSA-HSM")) {
        return typeof k.keySize === "number" && k.keySize >= min ? [] : [`certificatePolicy.keyProperties is ${String(k.keyType)} ${JSON.stringify(k.keySize)} bits; RSA certificates need at least ${min} bits`];
    }
    if (sameText(k.keyType, "EC") || sameText(k.keyType, "EC-HSM")) {
        // Key Vault's default curve for EC certificates is P-256.
        return k.curve === undefined || EC_CURVES.some((c) => sameText(k.curve, c)) ? [] : [`certificatePolicy.keyProperties.curve is ${JSON.stringify(k.curve)}; allowed: ${EC_CURVES.join(", ")}`];
    }
    return [`certificatePolicy.keyProperties.keyType is ${JSON.stringify(k.keyType)}; allowed: RSA, RSA-HSM, EC, EC-HSM`];
}

/**
 * A certificate must act before it expires: renew itself (AutoRenew) or warn its
 * contacts (EmailContacts), with a trigger saying when.
 */
export function checkCertificateLifetimeActions(props: Props): string[] {
    const actions = asArray<Props>(props.certificatePolicy?.lifetimeActions);
    if (actions.length === 0) return ["certificatePolicy.lifetimeActions is empty; the certificate would expire silently"];
    const acting = actions.filter((a) => sameText(a?.action?.actionType, "AutoRenew") || sameText(a?.action?.actionType, "EmailContacts"));
    if (acting.length === 0) return ["certificatePolicy.lifetimeActions has no AutoRenew or EmailContacts action"];
    const untriggered = acting.filter((a) => typeof a.trigger?.daysBeforeExpiry !== "number" && typeof a.trigger?.lifetimePercentage !== "number");
    return untriggered.map((a) => `certificatePolicy.lifetimeActions ${String(a.action.actionType)} has no trigger (daysBeforeExpiry or lifetimePercentage)`);
}

export const certificatePolicies = [
    resourcePolicy({
        name: "kv-certificate-lifetime-actions",
        description: "Key Vault certificates have an AutoRenew or EmailContacts lifetime action with a trigger.",
        enforcementLevel: "mandatory",
        types: [TYPES.certificate],
        mirrors: "certificateLifetime",
        remediation: "add certificatePolicy.lifetimeActions: AutoRenew at lifetimePercentage 80 for self-issued certificates, EmailContacts at daysBeforeExpiry 60 otherwise",
        check: checkCertificateLifetimeActions,
    }),
    resourcePolicy({
        name: "kv-certificate-max-validity",
        description: "Key Vault certificates are valid for at most maxCertificateValidityMonths (12 by default).",
        enforcementLevel: "mandatory",
        types: [TYPES.certificate],
        mirrors: "certificateValidity",
        remediation: "set x509CertificateProperties.validityInMonths to 12 or less (stack config certificates[].validityMonths); AutoRenew keeps a short-lived certificate current",
        configKeys: ["maxCertificateValidityMonths"],
        check: checkCertificateMaxValidity,
    }),
    resourcePolicy({
        name: "kv-certificate-key-type",
        description: "Key Vault certificates use RSA of at least 3072 bits, or EC on a NIST curve.",
        enforcementLevel: "mandatory",
        types: [TYPES.certificate],
        mirrors: "certificateKey",
        remediation: "set keyProperties.keySize to 3072 or 4096 (the AutoRenewingCertificate default is 4096), or use keyType EC with curve P-256 or P-384",
        configKeys: ["minimumCertificateRsaKeySize"],
        check: checkCertificateKeyType,
    }),
];
