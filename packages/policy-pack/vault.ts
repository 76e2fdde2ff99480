import { ENABLED_FOR_FLAGS } from "./config";
import { CheckContext, isProdTier, Props, resourcePolicy, sameText, TYPES } from "./helpers";

const vaultProps = (props: Props): Props => props.properties ?? {};

/** Soft delete must be on explicitly, with a retention Key Vault accepts (7-90 days). */
export function checkSoftDelete(props: Props): string[] {
    const p = vaultProps(props);
    const problems: string[] = [];
    if (p.enableSoftDelete !== true) {
        problems.push(`properties.enableSoftDelete is ${JSON.stringify(p.enableSoftDelete)}; it must be true`);
    }
    const days = p.softDeleteRetentionInDays;
    if (days !== undefined && (typeof days !== "number" || !Number.isInteger(days) || days < 7 || days > 90)) {
        problems.push(`properties.softDeleteRetentionInDays is ${JSON.stringify(days)}; it must be a whole number of days from 7 to 90`);
    }
    return problems;
}

/** Production-tier vaults must be purge protected; CMK vaults are covered by the stack check. */
export function checkPurgeProtectionProd(props: Props, ctx: CheckContext): string[] {
    if (!isProdTier(props, ctx.urn, ctx.config)) return [];
    const v = vaultProps(props).enablePurgeProtection;
    return v === true ? [] : [`vault ${ctx.name} is in a production tier (${ctx.config.prodTierNames.join(", ")}) but properties.enablePurgeProtection is ${JSON.stringify(v)}`];
}

export function checkRbacAuthorization(props: Props): string[] {
    const v = vaultProps(props).enableRbacAuthorization;
    return v === true ? [] : [`properties.enableRbacAuthorization is ${JSON.stringify(v)}; data-plane access must be authorized by Azure RBAC`];
}

/** The firewall must deny by default; ARM's default when networkAcls is absent is Allow. */
export function checkNetworkDefaultDeny(props: Props): string[] {
    const action = vaultProps(props).networkAcls?.defaultAction;
    return sameText(action, "Deny") ? [] : [`properties.networkAcls.defaultAction is ${JSON.stringify(action)} (absent means Allow); it must be Deny`];
}

export function checkEnabledForFlags(props: Props, ctx: CheckContext): string[] {
    const p = vaultProps(props);
    return ENABLED_FOR_FLAGS
        .filter((flag) => p[flag] === true && !ctx.config.allowedEnabledForFlags.includes(flag))
        .map((flag) => `properties.${flag} is true but ${flag} is not in the allow-list (allowedEnabledForFlags: ${JSON.stringify(ctx.config.allowedEnabledForFlags)})`);
}

export const vaultPolicies = [
    resourcePolicy({
        name: "kv-soft-delete-enabled",
        description: "Key vaults have soft delete enabled, with a 7-90 day retention.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault],
        mirrors: "softDelete",
        remediation: "set properties.enableSoftDelete: true and properties.softDeleteRetentionInDays between 7 and 90 (90 outside dev)",
        check: checkSoftDelete,
    }),
    resourcePolicy({
        name: "kv-purge-protection-prod",
        description: "Key vaults in a production tier (tier tag or stack name) have purge protection enabled.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault],
        mirrors: "purgeProtection",
        remediation: "set properties.enablePurgeProtection: true (it can never be turned off again, which is the point in production)",
        configKeys: ["prodTierNames", "tierTagKey"],
        check: checkPurgeProtectionProd,
    }),
    resourcePolicy({
        name: "kv-rbac-authorization",
        description: "Key vaults authorize data-plane access with Azure RBAC, not access policies.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault],
        mirrors: "rbac",
        remediation: "set properties.enableRbacAuthorization: true (stack config authorizationMode: rbac) and grant Key Vault roles; a team that must stay on access policies sets this policy to advisory in the pack config",
        check: checkRbacAuthorization,
    }),
    resourcePolicy({
        name: "kv-network-default-deny",
        description: "Key vault firewalls deny traffic by default.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault],
        mirrors: "firewall",
        remediation: "set properties.networkAcls.defaultAction: Deny and list the allowed ipRules / virtualNetworkRules (stack config allowedIpRanges, allowedSubnetIds)",
        check: checkNetworkDefaultDeny,
    }),
    resourcePolicy({
        name: "kv-enabled-for-flags",
        description: "Key vault enabledForDeployment, enabledForTemplateDeployment and enabledForDiskEncryption stay off unless allow-listed.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault],
        mirrors: "enabledForFlags",
        remediation: "set the flag to false (stack config enabledFor*: false), or add it to allowedEnabledForFlags in the pack config once a workload needs it",
        configKeys: ["allowedEnabledForFlags"],
        check: checkEnabledForFlags,
    }),
];
