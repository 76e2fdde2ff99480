/**
 * A small compliant stack in azure-native input shapes: an app vault behind a
 * private endpoint, a CMK vault with its key, a secret, a CMK Cosmos DB account,
 * a role assignment, diagnostics, a certificate and the rotation plumbing.
 * Specs copy it and break one thing at a time.
 */
import type { Props } from "../helpers";
import { StackInput, urnOf } from "./harness";

export const SUB = "11111111-2222-3333-4444-555555555555";
export const RG = `/subscriptions/${SUB}/resourceGroups/rg-kvp-prod`;
export const APP_VAULT_ID = `${RG}/providers/Microsoft.KeyVault/vaults/kv-kvp-prod-app`;
export const CMK_VAULT_ID = `${RG}/providers/Microsoft.KeyVault/vaults/kv-kvp-prod-cmk`;
export const COSMOS_ID = `${RG}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-kvp-prod`;
export const WORKSPACE_ID = `${RG}/providers/Microsoft.OperationalInsights/workspaces/log-kvp-prod`;
/** A year from now: expiries are bounded from the present (kv-secret-max-validity). */
const IN_A_YEAR = Math.floor(Date.now() / 1000) + 365 * 86_400;

export const roleDefinition = (guid: string) => `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

export function vaultProps(name: string, extra: Props = {}): Props {
    return {
        resourceGroupName: "rg-kvp-prod",
        vaultName: name,
        location: "westeurope",
        tags: { Tier: "prod", ManagedBy: "pulumi" },
        properties: {
            tenantId: "99999999-8888-7777-6666-555555555555",
            sku: { family: "A", name: "standard" },
            enableSoftDelete: true,
            softDeleteRetentionInDays: 90,
            enablePurgeProtection: true,
            enableRbacAuthorization: true,
            enabledForDeployment: false,
            enabledForTemplateDeployment: false,
            enabledForDiskEncryption: false,
            publicNetworkAccess: "Disabled",
            networkAcls: { defaultAction: "Deny", bypass: "None", ipRules: [], virtualNetworkRules: [] },
            ...extra,
        },
    };
}

export function cmkKeyProps(extra: Props = {}): Props {
    return {
        resourceGroupName: "rg-kvp-prod",
        vaultName: "kv-kvp-prod-cmk",
        keyName: "cosmos-cmk",
        tags: { Tier: "prod" },
        properties: {
            kty: "RSA",
            keySize: 3072,
            keyOps: ["wrapKey", "unwrapKey"],
            attributes: { enabled: true, expires: IN_A_YEAR },
            rotationPolicy: {
                attributes: { expiryTime: "P365D" },
                lifetimeActions: [
                    { action: { type: "rotate" }, trigger: { timeAfterCreate: "P180D" } },
                    { action: { type: "notify" }, trigger: { timeBeforeExpiry: "P30D" } },
                ],
            },
            ...extra,
        },
    };
}

export function secretProps(extra: Props = {}): Props {
    return {
        resourceGroupName: "rg-kvp-prod",
        vaultName: "kv-kvp-prod-app",
        secretName: "database-connection-string",
        properties: { value: "not-a-real-secret", contentType: "application/x-connection-string", attributes: { enabled: true, expires: IN_A_YEAR }, ...extra },
    };
}

export function cosmosProps(extra: Props = {}): Props {
    return {
        accountName: "cosmos-kvp-prod",
        resourceGroupName: "rg-kvp-prod",
        location: "westeurope",
        tags: { Tier: "prod" },
        locations: [{ locationName: "westeurope", failoverPriority: 0 }, { locationName: "northeurope", failoverPriority: 1 }],
        keyVaultKeyUri: "https://kv-kvp-prod-cmk.vault.azure.net/keys/cosmos-cmk",
        disableLocalAuth: true,
        publicNetworkAccess: "Disabled",
        minimalTlsVersion: "Tls12",
        ...extra,
    };
}

export function diagnosticProps(resourceUri: string, extra: Props = {}): Props {
    return { resourceUri, workspaceId: WORKSPACE_ID, logs: [{ categoryGroup: "audit", enabled: true }], metrics: [{ category: "AllMetrics", enabled: true }], ...extra };
}

export function privateEndpointProps(targetId: string, groupIds: string[] = ["vault"]): Props {
    return {
        resourceGroupName: "rg-kvp-prod",
        location: "westeurope",
        subnet: { id: `${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe` },
        privateLinkServiceConnections: [{ name: "vault", privateLinkServiceId: targetId, groupIds }],
    };
}

export function certificateProps(extra: Props = {}): Props {
    return {
        name: "api-tls",
        keyVaultId: APP_VAULT_ID,
        certificatePolicy: {
            issuerParameters: { name: "Self" },
            keyProperties: { exportable: true, keyType: "RSA", keySize: 3072, reuseKey: false },
            secretProperties: { contentType: "application/x-pkcs12" },
            x509CertificateProperties: { subject: "CN=api.example.com", validityInMonths: 12, keyUsages: ["digitalSignature", "keyEncipherment"] },
            lifetimeActions: [
                { action: { actionType: "AutoRenew" }, trigger: { lifetimePercentage: 80 } },
                { action: { actionType: "EmailContacts" }, trigger: { daysBeforeExpiry: 60 } },
            ],
            ...extra,
        },
    };
}

const r = (type: string, name: string, props: Props, dependencies: string[] = []): StackInput => ({ type, name, urn: urnOf(type, name), props, dependencies });

/** The compliant stack; every fixture resource passes every policy. */
export function compliantStack(): StackInput[] {
    const appVault = r("azure-native:keyvault:Vault", "kvp-vault", vaultProps("kv-kvp-prod-app"));
    const cmkVault = r("azure-native:keyvault:Vault", "kvp-cmk-vault", vaultProps("kv-kvp-prod-cmk", { publicNetworkAccess: "Enabled", networkAcls: { defaultAction: "Deny", bypass: "AzureServices" } }));
    const key = r("azure-native:keyvault:Key", "kvp-cosmos-cmk", cmkKeyProps(), [cmkVault.urn!]);
    return [
        appVault,
        cmkVault,
        key,
        r("azure-native:keyvault:Secret", "kvp-db-secret", secretProps(), [appVault.urn!]),
        r("azure-native:cosmosdb:DatabaseAccount", "kvp-cosmos-account", cosmosProps(), [key.urn!]),
        r("azure-native:authorization:RoleAssignment", "kvp-cosmos-cmk-access", {
            scope: `${CMK_VAULT_ID}/keys/cosmos-cmk`, principalId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", principalType: "ServicePrincipal",
            roleDefinitionId: roleDefinition("e147488a-f6f5-4113-8e2d-b22465e65bf6"),
        }, [key.urn!]),
        r("azure-native:monitor:DiagnosticSetting", "kvp-diag-app", diagnosticProps(APP_VAULT_ID), [appVault.urn!]),
        r("azure-native:monitor:DiagnosticSetting", "kvp-diag-cmk", diagnosticProps(CMK_VAULT_ID, { logs: [{ categoryGroup: "allLogs", enabled: true }] }), [cmkVault.urn!]),
        r("azure-native:network:PrivateEndpoint", "kvp-vault-pe", privateEndpointProps(APP_VAULT_ID), [appVault.urn!]),
        r("azure:keyvault/certificate:Certificate", "kvp-cert-api-tls", certificateProps(), [appVault.urn!]),
        r("azure-native:storage:StorageAccount", "kvp-rotation-storage", { resourceGroupName: "rg-kvp-prod", location: "westeurope", kind: "StorageV2", sku: { name: "Standard_LRS" }, minimumTlsVersion: "TLS1_2" }),
        r("azure-native:web:WebApp", "kvp-rotation-app", { resourceGroupName: "rg-kvp-prod", location: "westeurope", kind: "functionapp", siteConfig: { minTlsVersion: "1.2" } }),
        r("azure-native:eventgrid:SystemTopicEventSubscription", "kvp-near-expiry", {
            resourceGroupName: "rg-kvp-prod", systemTopicName: "kvp-vault-events",
            deadLetterWithResourceIdentity: { identity: { type: "SystemAssigned" }, deadLetterDestination: { endpointType: "StorageBlob", resourceId: `${RG}/providers/Microsoft.Storage/storageAccounts/st`, blobContainerName: "deadletter" } },
        }),
        r("azure-native:monitor:ActionGroup", "kvp-alerts", { location: "global", groupShortName: "kvp" }),
    ];
}
