import { CheckContext, isDevTier, Props, resourcePolicy, sameText, TYPES } from "./helpers";

/** A key URI with a version segment: https://<vault>.vault.azure.net/keys/<name>/<version>. */
const VERSIONED_KEY_URI = /^https:\/\/[^/]+\/keys\/[^/]+\/[^/]+\/?$/i;

export function checkCosmosCmk(props: Props): string[] {
    const uri = props.keyVaultKeyUri;
    return typeof uri === "string" && uri.length > 0 ? [] : ["keyVaultKeyUri is not set; the account is encrypted with a Microsoft-managed key"];
}

/** A pinned key version would keep encrypting with the old version after Key Vault rotates the key. */
export function checkCosmosVersionlessKey(props: Props): string[] {
    const uri = props.keyVaultKeyUri;
    return typeof uri === "string" && VERSIONED_KEY_URI.test(uri) ? [`keyVaultKeyUri ${uri} pins a key version; use the versionless key URI (the key's keyUri, not keyUriWithVersion)`] : [];
}

export function checkCosmosLocalAuth(props: Props): string[] {
    return props.disableLocalAuth === true ? [] : [`disableLocalAuth is ${JSON.stringify(props.disableLocalAuth)}; account keys must be disabled so only Entra ID identities authenticate`];
}

/** Only dev-tier accounts may take public traffic; absent means Enabled. */
export function checkCosmosPublicAccess(props: Props, ctx: CheckContext): string[] {
    if (isDevTier(props, ctx.urn, ctx.config)) return [];
    return sameText(props.publicNetworkAccess, "Disabled") ? [] : [`account ${ctx.name} is outside the dev tiers (${ctx.config.devTierNames.join(", ")}) but publicNetworkAccess is ${JSON.stringify(props.publicNetworkAccess)} (absent means Enabled)`];
}

export function checkCosmosMinTls(props: Props): string[] {
    const v = props.minimalTlsVersion;
    return sameText(v, "Tls12") || sameText(v, "Tls13") ? [] : [`minimalTlsVersion is ${JSON.stringify(v)}; it must be Tls12`];
}

const cosmos = TYPES.cosmosAccounts;

export const cosmosPolicies = [
    resourcePolicy({
        name: "cosmos-cmk-enabled",
        description: "Cosmos DB accounts encrypt data at rest with a customer-managed key (keyVaultKeyUri).",
        enforcementLevel: "mandatory",
        types: cosmos,
        mirrors: "cosmosCmk",
        remediation: "create the account through the CosmosCmk component, which sets keyVaultKeyUri, the user-assigned identity and defaultIdentity",
        check: checkCosmosCmk,
    }),
    resourcePolicy({
        name: "cosmos-cmk-versionless-key",
        description: "Cosmos DB's keyVaultKeyUri is versionless, so key rotation needs no redeploy.",
        enforcementLevel: "mandatory",
        types: cosmos,
        mirrors: "cosmosVersionlessKey",
        remediation: "pass key.keyUri (versionless) as keyVaultKeyUri, never key.keyUriWithVersion",
        check: checkCosmosVersionlessKey,
    }),
    resourcePolicy({
        name: "cosmos-disable-local-auth",
        description: "Cosmos DB accounts disable key-based (local) authentication.",
        enforcementLevel: "mandatory",
        types: cosmos,
        mirrors: "cosmosLocalAuth",
        remediation: "set disableLocalAuth: true and grant Cosmos DB data-plane RBAC roles to the callers",
        check: checkCosmosLocalAuth,
    }),
    resourcePolicy({
        name: "cosmos-public-network-access",
        description: "Cosmos DB accounts outside dev tiers disable public network access.",
        enforcementLevel: "mandatory",
        types: cosmos,
        mirrors: "cosmosPublicAccess",
        remediation: "set publicNetworkAccess: Disabled (the staging and prod profiles do) and reach the account through a private endpoint",
        configKeys: ["prodTierNames", "devTierNames", "tierTagKey"],
        check: checkCosmosPublicAccess,
    }),
    resourcePolicy({
        name: "cosmos-min-tls",
        description: "Cosmos DB accounts reject TLS versions older than 1.2.",
        enforcementLevel: "mandatory",
        types: cosmos,
        mirrors: "cosmosMinTls",
        remediation: "set minimalTlsVersion: Tls12",
        check: checkCosmosMinTls,
    }),
];
