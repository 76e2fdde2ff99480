/**
 * One view of a resource, whatever declared it. The checks read azure-native v3
 * shapes; a vault declared through an API-versioned module
 * (`azure-native:keyvault/v20230701:Vault`) or through the classic provider
 * (`azure:keyvault/keyVault:KeyVault`) must not skip them, so every resource is
 * mapped here to its canonical token and, for the classic provider, its
 * properties are rewritten into the azure-native shape before any check runs.
 */
import type { Props, StackResource } from "./helpers";

/** azure-native publishes every API version as a module of its own; the version changes no property a check reads. */
const API_VERSION_MODULE = /^azure-native:([a-z0-9]+)\/v\d{8}(?:preview)?:/i;

/** Classic-provider tokens of the resources the pack guards, by the azure-native token whose checks apply. */
const CLASSIC_TOKENS: Readonly<Record<string, string>> = {
    "azure:keyvault/keyVault:KeyVault": "azure-native:keyvault:Vault",
    "azure:keyvault/key:Key": "azure-native:keyvault:Key",
    "azure:keyvault/secret:Secret": "azure-native:keyvault:Secret",
    "azure:keyvault/accessPolicy:AccessPolicy": "azure-native:keyvault:AccessPolicy",
    "azure:authorization/assignment:Assignment": "azure-native:authorization:RoleAssignment",
    "azure:privatelink/endpoint:Endpoint": "azure-native:network:PrivateEndpoint",
    "azure:monitoring/diagnosticSetting:DiagnosticSetting": "azure-native:monitor:DiagnosticSetting",
    "azure:cosmosdb/account:Account": "azure-native:cosmosdb:DatabaseAccount",
};

/** The token whose checks apply: API-version modules and classic tokens map to azure-native v3. */
export function canonicalType(type: string): string {
    const unversioned = type.replace(API_VERSION_MODULE, "azure-native:$1:");
    return CLASSIC_TOKENS[unversioned] ?? unversioned;
}

const isClassic = (type: string) => type in CLASSIC_TOKENS;

/** RFC 3339 (the classic provider's dates) to Unix seconds (Key Vault's `expires`). */
function unixSeconds(date: unknown): number | undefined {
    if (typeof date !== "string") return undefined;
    const ms = Date.parse(date);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** The vault name at the end of a classic `keyVaultId`. */
function vaultNameOfId(id: unknown): string | undefined {
    return typeof id === "string" ? /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)/i.exec(id)?.[1] : undefined;
}

/**
 * An object whose fields are computed when read. During a preview, reading an unknown
 * input throws inside @pulumi/policy, which then skips only the check that read it; an
 * eager copy would read every field up front and skip every check on the resource.
 */
function lazy(fields: Record<string, () => unknown>): Props {
    const o: Props = {};
    for (const [k, get] of Object.entries(fields)) Object.defineProperty(o, k, { get, enumerable: true });
    return o;
}

function classicPermissions(p: Props | undefined): Props {
    return { keys: p?.keyPermissions, secrets: p?.secretPermissions, certificates: p?.certificatePermissions, storage: p?.storagePermissions };
}

function classicVault(p: Props): Props {
    return lazy({
        vaultName: () => p.name,
        name: () => p.name,
        id: () => p.id,
        resourceGroupName: () => p.resourceGroupName,
        location: () => p.location,
        tags: () => p.tags,
        properties: () => lazy({
            tenantId: () => p.tenantId,
            sku: () => (p.skuName === undefined ? undefined : { name: p.skuName }),
            // The classic provider (v3 onwards) cannot turn soft delete off; only the retention is a setting.
            enableSoftDelete: () => true,
            softDeleteRetentionInDays: () => p.softDeleteRetentionDays,
            enablePurgeProtection: () => p.purgeProtectionEnabled,
            enableRbacAuthorization: () => p.rbacAuthorizationEnabled ?? p.enableRbacAuthorization,
            enabledForDeployment: () => p.enabledForDeployment,
            enabledForTemplateDeployment: () => p.enabledForTemplateDeployment,
            enabledForDiskEncryption: () => p.enabledForDiskEncryption,
            // Absent means enabled, as in ARM.
            publicNetworkAccess: () => (p.publicNetworkAccessEnabled === false ? "Disabled" : "Enabled"),
            networkAcls: () => {
                const acls = p.networkAcls;
                return acls === undefined ? undefined : lazy({
                    defaultAction: () => acls.defaultAction,
                    bypass: () => acls.bypass,
                    ipRules: () => asList(acls.ipRules).map((value) => ({ value })),
                    virtualNetworkRules: () => asList(acls.virtualNetworkSubnetIds).map((id) => ({ id })),
                });
            },
            accessPolicies: () => (Array.isArray(p.accessPolicies)
                ? p.accessPolicies.map((a: Props) => ({ objectId: a?.objectId, tenantId: a?.tenantId, permissions: classicPermissions(a) }))
                : undefined),
            vaultUri: () => p.vaultUri,
        }),
    });
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function classicRotationPolicy(rp: Props | undefined): Props | undefined {
    if (rp === undefined) return undefined;
    const actions: Props[] = [];
    if (rp.automatic) actions.push({ action: { type: "rotate" }, trigger: lazy({ timeAfterCreate: () => rp.automatic.timeAfterCreation, timeBeforeExpiry: () => rp.automatic.timeBeforeExpiry }) });
    if (rp.notifyBeforeExpiry) actions.push({ action: { type: "notify" }, trigger: { timeBeforeExpiry: rp.notifyBeforeExpiry } });
    return { attributes: lazy({ expiryTime: () => rp.expireAfter }), lifetimeActions: actions };
}

function classicKey(p: Props): Props {
    return lazy({
        vaultName: () => vaultNameOfId(p.keyVaultId),
        keyName: () => p.name,
        keyUri: () => p.versionlessId,
        tags: () => p.tags,
        properties: () => lazy({
            kty: () => p.keyType,
            keySize: () => p.keySize,
            curveName: () => p.curve,
            keyOps: () => p.keyOpts,
            // A release policy is what makes a key exportable (Secure Key Release).
            attributes: () => lazy({ expires: () => unixSeconds(p.expirationDate), exportable: () => (p.releasePolicy === undefined ? undefined : true) }),
            releasePolicy: () => p.releasePolicy,
            rotationPolicy: () => classicRotationPolicy(p.rotationPolicy),
            keyUri: () => p.versionlessId,
        }),
    });
}

function classicSecret(p: Props): Props {
    return lazy({
        vaultName: () => vaultNameOfId(p.keyVaultId),
        secretName: () => p.name,
        tags: () => p.tags,
        properties: () => lazy({ contentType: () => p.contentType, attributes: () => lazy({ expires: () => unixSeconds(p.expirationDate) }) }),
    });
}

/**
 * Props in the azure-native v3 shape the checks read. azure-native (any API
 * version) passes through; classic resources are rewritten field by field.
 */
export function canonicalProps(type: string, props: Props): Props {
    const unversioned = type.replace(API_VERSION_MODULE, "azure-native:$1:");
    if (!isClassic(unversioned)) return props;
    switch (unversioned) {
        case "azure:keyvault/keyVault:KeyVault": return classicVault(props);
        case "azure:keyvault/key:Key": return classicKey(props);
        case "azure:keyvault/secret:Secret": return classicSecret(props);
        case "azure:keyvault/accessPolicy:AccessPolicy":
            return lazy({ vaultName: () => vaultNameOfId(props.keyVaultId), policy: () => ({ objectId: props.objectId, tenantId: props.tenantId, permissions: classicPermissions(props) }) });
        case "azure:privatelink/endpoint:Endpoint":
            return {
                ...props,
                privateLinkServiceConnections: Array.isArray(props.privateServiceConnection)
                    ? props.privateServiceConnection.map((c: Props) => ({ name: c?.name, privateLinkServiceId: c?.privateConnectionResourceId, groupIds: c?.subresourceNames }))
                    : props.privateServiceConnection ? [{ name: props.privateServiceConnection.name, privateLinkServiceId: props.privateServiceConnection.privateConnectionResourceId, groupIds: props.privateServiceConnection.subresourceNames }] : [],
            };
        case "azure:monitoring/diagnosticSetting:DiagnosticSetting":
            return {
                resourceUri: props.targetResourceId,
                workspaceId: props.logAnalyticsWorkspaceId,
                logs: Array.isArray(props.enabledLogs) ? props.enabledLogs.map((l: Props) => ({ category: l?.category, categoryGroup: l?.categoryGroup, enabled: true })) : [],
            };
        case "azure:cosmosdb/account:Account":
            return {
                ...props,
                keyVaultKeyUri: props.keyVaultKeyId,
                disableLocalAuth: props.localAuthenticationDisabled,
                publicNetworkAccess: props.publicNetworkAccessEnabled === false ? "Disabled" : "Enabled",
                minimalTlsVersion: props.minimalTlsVersion,
                locations: Array.isArray(props.geoLocations) ? props.geoLocations.map((g: Props) => ({ locationName: g?.location })) : undefined,
            };
        case "azure:authorization/assignment:Assignment":
            return lazy({
                scope: () => props.scope,
                principalId: () => props.principalId,
                principalType: () => props.principalType,
                roleDefinitionId: () => props.roleDefinitionId ?? props.roleDefinitionName,
            });
        default:
            return props;
    }
}

/**
 * The stack in canonical form: every resource with its canonical type and props,
 * and the dependency edges rewired to the canonical copies.
 */
export function canonicalStack(resources: StackResource[]): StackResource[] {
    const copies = new Map<StackResource, StackResource>();
    for (const r of resources) copies.set(r, { ...r, type: canonicalType(r.type), props: canonicalProps(r.type, r.props), dependencies: [] });
    const mapped = (deps: StackResource[] | undefined) => (deps ?? []).map((d) => copies.get(d) ?? { ...d, type: canonicalType(d.type) });
    for (const [orig, copy] of copies) {
        copy.dependencies = mapped(orig.dependencies);
        if (orig.propertyDependencies) {
            copy.propertyDependencies = Object.fromEntries(Object.entries(orig.propertyDependencies).map(([k, v]) => [k, mapped(v)]));
        }
    }
    return [...copies.values()];
}
