import { asArray, Props, resourcePolicy, sameText, TYPES } from "./helpers";

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
];
