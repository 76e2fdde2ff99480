import { cmkKeysOf } from "./cmk";
import type { PackConfig } from "./config";
import { armNameOf, asArray, isProdTier, Props, sameText, StackResource, StackViolation, stackPolicy, TYPES, vaultNameOf, vaultOf } from "./helpers";
import { privateLinkConnectionsOf } from "./platform";

const ofType = (resources: StackResource[], type: string) => resources.filter((r) => r.type === type);

/**
 * Whether a diagnostic setting targets the vault: by its resourceUri when known,
 * else by the engine's record of what resourceUri (or the setting) depended on.
 */
function targets(setting: StackResource, vault: StackResource): boolean {
    const uri = setting.props.resourceUri;
    if (typeof uri === "string") {
        const name = armNameOf(uri, "Microsoft.KeyVault/vaults");
        const isVaultItself = /\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+\/?$/i.test(uri);
        return isVaultItself && name !== undefined && name.toLowerCase() === vaultNameOf(vault)?.toLowerCase();
    }
    const deps = setting.propertyDependencies?.resourceUri ?? setting.dependencies;
    return deps.some((d) => d.urn === vault.urn);
}

const AUDIT_GROUPS = ["audit", "allLogs"];

/** Problems with one setting, or none when it sends audit logs to Log Analytics. */
function diagnosticProblems(setting: Props): string[] {
    const problems: string[] = [];
    if (typeof setting.workspaceId !== "string" || setting.workspaceId.length === 0) problems.push("has no workspaceId (Log Analytics destination)");
    const audit = asArray<Props>(setting.logs).some((l) => l?.enabled === true
        && (AUDIT_GROUPS.some((g) => sameText(l.categoryGroup, g)) || sameText(l.category, "AuditEvent")));
    if (!audit) problems.push("enables neither category group audit/allLogs nor category AuditEvent");
    return problems;
}

export function checkVaultDiagnostics(resources: StackResource[]): StackViolation[] {
    const settings = ofType(resources, TYPES.diagnosticSetting);
    return ofType(resources, TYPES.vault).flatMap((vault): StackViolation[] => {
        const mine = settings.filter((s) => targets(s, vault));
        if (mine.some((s) => diagnosticProblems(s.props).length === 0)) return [];
        const found = mine.map((s) => `${s.name} ${diagnosticProblems(s.props).join(" and ")}`);
        return [{
            urn: vault.urn,
            message: `vault ${vaultNameOf(vault) ?? vault.name} has no diagnostic setting sending audit logs to Log Analytics${found.length ? ` (${found.join("; ")})` : " (none targets it)"}`,
        }];
    });
}

/** A vault that holds a CMK must never be purgeable: losing the key loses the data it encrypts. */
export function checkCmkVaultPurgeProtection(resources: StackResource[]): StackViolation[] {
    const vaults = ofType(resources, TYPES.vault);
    const offenders = new Map<string, { vault: StackResource; keys: string[] }>();
    for (const { key, why } of cmkKeysOf(resources)) {
        const vault = vaultOf(key, vaults);
        if (!vault || vault.props.properties?.enablePurgeProtection === true) continue;
        const entry = offenders.get(vault.urn) ?? { vault, keys: [] };
        entry.keys.push(`${key.name} (${why})`);
        offenders.set(vault.urn, entry);
    }
    return [...offenders.values()].map(({ vault, keys }) => ({
        urn: vault.urn,
        message: `vault ${vaultNameOf(vault) ?? vault.name} holds customer-managed key(s) ${keys.join(", ")} but properties.enablePurgeProtection is ${JSON.stringify(vault.props.properties?.enablePurgeProtection)}`,
    }));
}

/** The vault a private endpoint connects to: by privateLinkServiceId, else by what the endpoint depends on. */
function endpointVaults(endpoint: StackResource, vaults: StackResource[]): StackResource[] {
    const connections = privateLinkConnectionsOf(endpoint.props);
    const named = connections
        .map((c) => armNameOf(c?.privateLinkServiceId, "Microsoft.KeyVault/vaults"))
        .filter((n): n is string => n !== undefined)
        .flatMap((n) => vaults.filter((v) => vaultNameOf(v)?.toLowerCase() === n.toLowerCase()));
    if (named.length > 0 || connections.some((c) => typeof c?.privateLinkServiceId === "string")) return named;
    const deps = endpoint.propertyDependencies?.privateLinkServiceConnections ?? endpoint.dependencies;
    return deps.filter((d) => d.type === TYPES.vault);
}

export function checkPrivateEndpointVaultPublicAccess(resources: StackResource[]): StackViolation[] {
    const vaults = ofType(resources, TYPES.vault);
    const served = new Map<string, { vault: StackResource; endpoints: string[] }>();
    for (const pe of ofType(resources, TYPES.privateEndpoint)) {
        for (const vault of endpointVaults(pe, vaults)) {
            const entry = served.get(vault.urn) ?? { vault, endpoints: [] };
            entry.endpoints.push(pe.name);
            served.set(vault.urn, entry);
        }
    }
    return [...served.values()]
        .filter(({ vault }) => !sameText(vault.props.properties?.publicNetworkAccess, "Disabled"))
        .map(({ vault, endpoints }) => ({
            urn: vault.urn,
            message: `vault ${vaultNameOf(vault) ?? vault.name} is served by private endpoint(s) ${endpoints.join(", ")} but properties.publicNetworkAccess is ${JSON.stringify(vault.props.properties?.publicNetworkAccess)} (absent means Enabled)`,
        }));
}

/**
 * A vault that holds only customer-managed keys and whose firewall admits nothing but
 * trusted Azure services (Deny, no IP or subnet rule, bypass AzureServices). Cosmos DB
 * reaches its key only as a trusted service, which a private endpoint cannot carry
 * (docs/decisions/cmk-vault-network.md), so such a vault keeps its public endpoint.
 */
function isDedicatedCmkVault(vault: StackResource, resources: StackResource[], vaults: StackResource[]): boolean {
    const acls = vault.props.properties?.networkAcls ?? {};
    const closed = sameText(acls.defaultAction, "Deny") && sameText(acls.bypass, "AzureServices")
        && asArray(acls.ipRules).length === 0 && asArray(acls.virtualNetworkRules).length === 0;
    if (!closed) return false;
    const cmkUrns = new Set(cmkKeysOf(resources).map(({ key }) => key.urn));
    const contents = resources.filter((r) => [TYPES.key, TYPES.secret, TYPES.certificate].includes(r.type as never) && vaultOf(r, vaults)?.urn === vault.urn);
    return contents.length > 0 && contents.every((r) => cmkUrns.has(r.urn));
}

/**
 * A production vault is reached through a private endpoint in the same stack. Public
 * access on a vault that has one is kv-public-access-private-endpoint's finding; this
 * one reports the vault that has none, and says whether its public endpoint is open.
 */
export function checkProdVaultPrivateEndpoint(resources: StackResource[], config: PackConfig): StackViolation[] {
    const vaults = ofType(resources, TYPES.vault);
    const served = new Set(ofType(resources, TYPES.privateEndpoint).flatMap((pe) => endpointVaults(pe, vaults).map((v) => v.urn)));
    return vaults
        .filter((v) => isProdTier(v.props, v.urn, config) && !served.has(v.urn) && !isDedicatedCmkVault(v, resources, vaults))
        .map((vault) => {
            const access = vault.props.properties?.publicNetworkAccess;
            return {
                urn: vault.urn,
                message: `production vault ${vaultNameOf(vault) ?? vault.name} has no private endpoint in the stack and properties.publicNetworkAccess is ${JSON.stringify(access)}${sameText(access, "Disabled") ? "" : " (absent means Enabled): it is reachable from the internet"}`,
            };
        });
}

const HSM_TYPES = ["RSA-HSM", "EC-HSM"];

/** On a premium vault the HSM key types are available, so software keys are a choice, not a limit. */
export function checkPremiumVaultHsmKeys(resources: StackResource[]): StackViolation[] {
    const vaults = ofType(resources, TYPES.vault);
    return ofType(resources, TYPES.key).flatMap((key): StackViolation[] => {
        const vault = vaultOf(key, vaults);
        if (!vault || !sameText(vault.props.properties?.sku?.name, "premium")) return [];
        const kty = key.props.properties?.kty ?? key.props.kty;
        return HSM_TYPES.some((t) => sameText(kty, t)) ? [] : [{
            urn: key.urn,
            message: `key ${key.name} is ${JSON.stringify(kty)} in premium vault ${vaultNameOf(vault) ?? vault.name}; use RSA-HSM or EC-HSM`,
        }];
    });
}

export const stackPolicies = [
    stackPolicy({
        name: "kv-diagnostic-audit-logs",
        description: "Every key vault has a diagnostic setting that sends audit logs (category group audit or allLogs) to Log Analytics.",
        enforcementLevel: "mandatory",
        mirrors: "diagnostics",
        remediation: "create a monitor.DiagnosticSetting with resourceUri: vault.id, workspaceId: <Log Analytics workspace id> and logs [{ categoryGroup: 'audit' (or 'allLogs'), enabled: true }] (the Monitoring component does this per vault)",
        check: checkVaultDiagnostics,
    }),
    stackPolicy({
        name: "kv-purge-protection-cmk",
        description: "Any key vault holding a customer-managed key (wrapKey/unwrapKey, or any key another resource encrypts with) has purge protection enabled.",
        enforcementLevel: "mandatory",
        mirrors: "purgeProtection",
        remediation: "set properties.enablePurgeProtection: true on the CMK vault (CosmosCmk requires it), whatever the tier",
        check: checkCmkVaultPurgeProtection,
    }),
    stackPolicy({
        name: "kv-public-access-private-endpoint",
        description: "A key vault served by a private endpoint disables public network access.",
        enforcementLevel: "mandatory",
        mirrors: "publicNetworkAccess",
        remediation: "set properties.publicNetworkAccess: Disabled on the vault the private endpoint targets",
        check: checkPrivateEndpointVaultPublicAccess,
    }),
    stackPolicy({
        name: "kv-prod-private-endpoint",
        description: "Key vaults in a production tier are served by a private endpoint in the stack (a dedicated CMK vault open only to trusted services excepted).",
        enforcementLevel: "mandatory",
        mirrors: "privateLink",
        remediation: "set stack config privateEndpoint (the platform profile's tiers.prod.privateEndpoint for server-made environments); the vault's publicNetworkAccess then defaults to Disabled",
        configKeys: ["prodTierNames", "tierTagKey"],
        check: checkProdVaultPrivateEndpoint,
    }),
    stackPolicy({
        name: "kv-premium-vault-hsm-keys",
        description: "Keys in a premium key vault are HSM-backed (RSA-HSM or EC-HSM).",
        enforcementLevel: "advisory",
        mirrors: "hsmKeys",
        remediation: "set properties.kty to RSA-HSM (or EC-HSM) for keys in a premium vault, or use a standard vault",
        check: checkPremiumVaultHsmKeys,
    }),
];
