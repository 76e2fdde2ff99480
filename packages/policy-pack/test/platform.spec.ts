import { describePolicy, withPath } from "./cases";
import { APP_VAULT_ID, certificateProps, COSMOS_ID, cosmosProps, privateEndpointProps, RG, roleDefinition, vaultProps } from "./fixtures";

const ROLE = "azure-native:authorization:RoleAssignment";
const assignment = (scope: string, role: string) => ({ scope, principalId: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", principalType: "User", roleDefinitionId: roleDefinition(role) });
const OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
const KV_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395";
const SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6";

describePolicy("no-privileged-role-at-data-scope", [
    { it: "passes a Key Vault Secrets User on a vault", type: ROLE, props: assignment(APP_VAULT_ID, SECRETS_USER), violations: 0 },
    { it: "fails Owner on a vault", type: ROLE, props: assignment(APP_VAULT_ID, OWNER), violations: 1, mentions: "Owner" },
    { it: "fails Contributor on a single key", type: ROLE, props: assignment(`${APP_VAULT_ID}/keys/cmk`, CONTRIBUTOR), violations: 1, mentions: "Contributor" },
    { it: "fails User Access Administrator on a Cosmos DB account", type: ROLE, props: assignment(COSMOS_ID, UAA), violations: 1, mentions: "User Access Administrator" },
    { it: "fails Key Vault Contributor on a vault, matching the role id in any case", type: ROLE, props: assignment(APP_VAULT_ID.toLowerCase(), KV_CONTRIBUTOR.toUpperCase()), violations: 1 },
    { it: "leaves assignments outside vault, key and Cosmos scopes alone", type: ROLE, props: assignment(`${RG}/providers/Microsoft.Sql/servers/sql`, CONTRIBUTOR), violations: 0 },
    { it: "uses the configured list of forbidden roles", type: ROLE, props: assignment(APP_VAULT_ID, SECRETS_USER), config: { forbiddenRoleIds: [SECRETS_USER] }, violations: 1 },
]);

const CERT = "azure:keyvault/certificate:Certificate";
const cert = certificateProps();

describePolicy("kv-certificate-lifetime-actions", [
    { it: "passes a certificate that auto-renews and emails contacts", type: CERT, props: cert, violations: 0 },
    { it: "passes EmailContacts alone", type: CERT, props: withPath(cert, "certificatePolicy.lifetimeActions", [{ action: { actionType: "EmailContacts" }, trigger: { daysBeforeExpiry: 30 } }]), violations: 0 },
    { it: "fails a certificate without lifetime actions", type: CERT, props: withPath(cert, "certificatePolicy.lifetimeActions", undefined), violations: 1, mentions: "lifetimeActions is empty" },
    { it: "fails an action without a trigger", type: CERT, props: withPath(cert, "certificatePolicy.lifetimeActions", [{ action: { actionType: "AutoRenew" }, trigger: {} }]), violations: 1, mentions: "AutoRenew has no trigger" },
    { it: "fails lifetime actions of another kind", type: CERT, props: withPath(cert, "certificatePolicy.lifetimeActions", [{ action: { actionType: "Unknown" }, trigger: { daysBeforeExpiry: 30 } }]), violations: 1 },
]);

const VAULT = "azure-native:keyvault:Vault";
const COSMOS = "azure-native:cosmosdb:DatabaseAccount";

describePolicy("allowed-locations", [
    { it: "passes a vault in westeurope", type: VAULT, props: vaultProps("kv"), violations: 0 },
    { it: "passes 'global' resources such as action groups", type: "azure-native:monitor:ActionGroup", props: { location: "global" }, violations: 0 },
    { it: "treats display names like 'West Europe' as the same region", type: VAULT, props: withPath(vaultProps("kv"), "location", "West Europe"), violations: 0 },
    { it: "fails a vault in eastus", type: VAULT, props: withPath(vaultProps("kv"), "location", "eastus"), violations: 1, mentions: "location is eastus" },
    { it: "fails a Cosmos DB replica region outside the list", type: COSMOS, props: withPath(cosmosProps(), "locations", [{ locationName: "westeurope" }, { locationName: "eastus2" }]), violations: 1, mentions: "locations[1].locationName is eastus2" },
    { it: "uses the configured regions", type: VAULT, props: withPath(vaultProps("kv"), "location", "swedencentral"), config: { allowedLocations: ["swedencentral"] }, violations: 0 },
    { it: "ignores non-Azure resources", type: "kubernetes:core/v1:Namespace", props: { location: "anywhere" }, violations: 0 },
]);

const STORAGE = "azure-native:storage:StorageAccount";

describePolicy("storage-min-tls", [
    { it: "passes TLS1_2", type: STORAGE, props: { minimumTlsVersion: "TLS1_2" }, violations: 0 },
    { it: "fails TLS1_0", type: STORAGE, props: { minimumTlsVersion: "TLS1_0" }, violations: 1, mentions: "\"TLS1_0\"" },
    { it: "fails an account that leaves the minimum to the API version's default", type: STORAGE, props: {}, violations: 1 },
]);

const WEBAPP = "azure-native:web:WebApp";

describePolicy("app-service-min-tls", [
    { it: "passes 1.2", type: WEBAPP, props: { siteConfig: { minTlsVersion: "1.2" } }, violations: 0 },
    { it: "passes an app that keeps the platform default (1.2)", type: WEBAPP, props: { siteConfig: {} }, violations: 0 },
    { it: "fails 1.0", type: WEBAPP, props: { siteConfig: { minTlsVersion: "1.0" } }, violations: 1, mentions: "\"1.0\"" },
]);

const SUBSCRIPTION = "azure-native:eventgrid:SystemTopicEventSubscription";

describePolicy("eventgrid-dead-letter", [
    { it: "passes a subscription that dead-letters with its identity", type: SUBSCRIPTION, props: { deadLetterWithResourceIdentity: { identity: { type: "SystemAssigned" } } }, violations: 0 },
    { it: "passes a subscription with a dead-letter destination", type: "azure-native:eventgrid:EventSubscription", props: { deadLetterDestination: { endpointType: "StorageBlob" } }, violations: 0 },
    { it: "advises against a subscription that drops undeliverable events", type: SUBSCRIPTION, props: { destination: { endpointType: "AzureFunction" } }, violations: 1, mentions: "dropped" },
]);

const PE = "azure-native:network:PrivateEndpoint";

describePolicy("kv-private-endpoint-group-id", [
    { it: "passes a vault endpoint on the vault group id", type: PE, props: privateEndpointProps(APP_VAULT_ID), violations: 0 },
    { it: "fails a vault endpoint on another group id", type: PE, props: privateEndpointProps(APP_VAULT_ID, ["blob"]), violations: 1, mentions: "[\"blob\"]" },
    { it: "checks manual connections too", type: PE, props: { manualPrivateLinkServiceConnections: [{ privateLinkServiceId: APP_VAULT_ID, groupIds: [] }] }, violations: 1 },
    { it: "leaves endpoints to other services alone", type: PE, props: privateEndpointProps(COSMOS_ID, ["Sql"]), violations: 0 },
]);
