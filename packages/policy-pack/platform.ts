import { armNameOf, asArray, CheckContext, Props, resourcePolicy, sameText, TYPES } from "./helpers";

/** `West Europe` and `westeurope` name the same region. */
const normalizeRegion = (r: string) => r.replace(/\s+/g, "").toLowerCase();

/** Every region a resource names: its location, and for Cosmos DB each replica region. */
export function checkAllowedLocations(props: Props, ctx: CheckContext): string[] {
    if (!/^azure(-native)?:/.test(ctx.type)) return [];
    const allowed = ctx.config.allowedLocations.map(normalizeRegion);
    const named: Array<[string, unknown]> = [["location", props.location]];
    asArray<Props>(props.locations).forEach((l, i) => named.push([`locations[${i}].locationName`, l?.locationName]));
    return named
        .filter((entry): entry is [string, string] => typeof entry[1] === "string")
        .filter(([, region]) => normalizeRegion(region) !== "global" && !allowed.includes(normalizeRegion(region)))
        .map(([field, region]) => `${field} is ${region}; allowed regions: ${ctx.config.allowedLocations.join(", ")}`);
}

const TLS_ORDER = ["TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"];

/** Storage must state its minimum TLS: older API versions default to TLS 1.0. */
export function checkStorageMinTls(props: Props): string[] {
    const v = props.minimumTlsVersion;
    const rank = typeof v === "string" ? TLS_ORDER.indexOf(v.toUpperCase()) : -1;
    return rank >= TLS_ORDER.indexOf("TLS1_2") ? [] : [`minimumTlsVersion is ${JSON.stringify(v)}; it must be TLS1_2 or later`];
}

/** App Service defaults to 1.2 when unset; an explicit older version is the risk. */
export function checkAppServiceMinTls(props: Props): string[] {
    const v = props.siteConfig?.minTlsVersion;
    if (v === undefined) return [];
    const version = typeof v === "string" ? Number.parseFloat(v) : Number.NaN;
    return version >= 1.2 ? [] : [`siteConfig.minTlsVersion is ${JSON.stringify(v)}; it must be 1.2 or later`];
}

/** Without a dead-letter destination, an event that exhausts its retries (a SecretNearExpiry) is dropped. */
export function checkEventGridDeadLetter(props: Props): string[] {
    return props.deadLetterDestination || props.deadLetterWithResourceIdentity
        ? []
        : ["neither deadLetterDestination nor deadLetterWithResourceIdentity is set; undeliverable events are dropped after the retry policy is exhausted"];
}

/** Automatic and manual private link connections alike. */
export function privateLinkConnectionsOf(props: Props): Props[] {
    return [...asArray<Props>(props.privateLinkServiceConnections), ...asArray<Props>(props.manualPrivateLinkServiceConnections)];
}

/** A private endpoint to a vault must use the vault's only sub-resource, `vault`. */
export function checkPrivateEndpointGroupId(props: Props): string[] {
    return privateLinkConnectionsOf(props)
        .filter((c) => armNameOf(c?.privateLinkServiceId, "Microsoft.KeyVault/vaults") !== undefined)
        .filter((c) => { const ids = asArray<unknown>(c.groupIds); return ids.length !== 1 || !sameText(ids[0], "vault"); })
        .map((c) => `private link connection to ${String(c.privateLinkServiceId)} uses groupIds ${JSON.stringify(c.groupIds)}; a Key Vault endpoint must use ["vault"]`);
}

export const platformPolicies = [
    resourcePolicy({
        name: "allowed-locations",
        description: "Azure resources (and Cosmos DB replica regions) are deployed only to allowed regions.",
        enforcementLevel: "mandatory",
        types: ["*"],
        mirrors: "allowedLocations",
        remediation: "set the stack config location (and cosmos.locations) to an allowed region, or extend allowedLocations in the pack config",
        configKeys: ["allowedLocations"],
        check: checkAllowedLocations,
    }),
    resourcePolicy({
        name: "storage-min-tls",
        description: "Storage accounts require TLS 1.2 or later.",
        enforcementLevel: "mandatory",
        types: [TYPES.storageAccount],
        mirrors: "storageMinTls",
        remediation: "set minimumTlsVersion: TLS1_2",
        check: checkStorageMinTls,
    }),
    resourcePolicy({
        name: "app-service-min-tls",
        description: "App Service and Function apps do not accept TLS older than 1.2.",
        enforcementLevel: "mandatory",
        types: [TYPES.webApp],
        mirrors: "appServiceMinTls",
        remediation: "set siteConfig.minTlsVersion: '1.2' (or leave it unset: the platform default is 1.2)",
        check: checkAppServiceMinTls,
    }),
    resourcePolicy({
        name: "eventgrid-dead-letter",
        description: "Event Grid subscriptions dead-letter undeliverable events, so a missed SecretNearExpiry is not lost silently.",
        enforcementLevel: "advisory",
        types: TYPES.eventSubscriptions,
        mirrors: "eventGridDeadLetter",
        remediation: "set deadLetterWithResourceIdentity (or deadLetterDestination) to a blob container the subscription's identity can write",
        check: checkEventGridDeadLetter,
    }),
    resourcePolicy({
        name: "kv-private-endpoint-group-id",
        description: "Private endpoints that target a key vault use the 'vault' group id.",
        enforcementLevel: "mandatory",
        types: [TYPES.privateEndpoint],
        mirrors: "privateEndpointGroupId",
        remediation: "set privateLinkServiceConnections[].groupIds: ['vault'] and resolve through privatelink.vaultcore.azure.net",
        check: checkPrivateEndpointGroupId,
    }),
];
