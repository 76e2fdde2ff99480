import { describePolicy, withPath } from "./cases";
import { vaultProps } from "./fixtures";

const VAULT = "azure-native:keyvault:Vault";
const ACCESS_POLICY = "azure-native:keyvault:AccessPolicy";
const good = vaultProps("kv-test");
const devVault = withPath(withPath(good, "tags.Tier", "dev"), "properties.enablePurgeProtection", false);

describePolicy("kv-soft-delete-enabled", [
    { it: "passes a vault with soft delete on and 90-day retention", type: VAULT, props: good, violations: 0 },
    { it: "fails a vault with soft delete turned off", type: VAULT, props: withPath(good, "properties.enableSoftDelete", false), violations: 1, mentions: "enableSoftDelete is false" },
    { it: "fails a vault that leaves soft delete unset instead of stating it", type: VAULT, props: withPath(good, "properties.enableSoftDelete", undefined), violations: 1 },
    { it: "fails a retention outside Key Vault's 7-90 days", type: VAULT, props: withPath(good, "properties.softDeleteRetentionInDays", 120), violations: 1, mentions: "softDeleteRetentionInDays is 120" },
    { it: "ignores resources that are not vaults", type: "azure-native:keyvault:Key", props: {}, violations: 0 },
]);

describePolicy("kv-purge-protection-prod", [
    { it: "passes a prod-tagged vault with purge protection", type: VAULT, props: good, violations: 0 },
    { it: "fails a prod-tagged vault without purge protection", type: VAULT, props: withPath(good, "properties.enablePurgeProtection", false), violations: 1, mentions: "enablePurgeProtection is false" },
    { it: "fails an untagged vault without purge protection in a stack named prod", type: VAULT, stack: "prod", props: withPath(withPath(good, "tags", undefined), "properties.enablePurgeProtection", undefined), violations: 1 },
    { it: "fails a dev-tagged vault in a prod stack, because the stack is prod", type: VAULT, stack: "prod", props: devVault, violations: 1 },
    { it: "passes a dev vault without purge protection", type: VAULT, stack: "dev", props: devVault, violations: 0 },
    { it: "honours configured prod tier names", type: VAULT, props: withPath(devVault, "tags.Tier", "prd"), config: { prodTierNames: ["prd"] }, violations: 1 },
    { it: "honours a configured tier tag key", type: VAULT, props: withPath(withPath(good, "tags", { Tier: "prod" }), "properties.enablePurgeProtection", false), config: { tierTagKey: "tier" }, violations: 1 },
]);

describePolicy("kv-rbac-authorization", [
    { it: "passes an RBAC vault", type: VAULT, props: good, violations: 0 },
    { it: "fails an access-policy vault", type: VAULT, props: withPath(good, "properties.enableRbacAuthorization", false), violations: 1, mentions: "enableRbacAuthorization is false" },
    { it: "fails a vault that leaves the permission model unset", type: VAULT, props: withPath(good, "properties.enableRbacAuthorization", undefined), violations: 1 },
]);

describePolicy("kv-network-default-deny", [
    { it: "passes a firewall that denies by default", type: VAULT, props: good, violations: 0 },
    { it: "accepts the enum in any case", type: VAULT, props: withPath(good, "properties.networkAcls.defaultAction", "deny"), violations: 0 },
    { it: "fails a firewall that allows by default", type: VAULT, props: withPath(good, "properties.networkAcls.defaultAction", "Allow"), violations: 1, mentions: "\"Allow\"" },
    { it: "fails a vault with no network rules at all (ARM defaults to Allow)", type: VAULT, props: withPath(good, "properties.networkAcls", undefined), violations: 1 },
]);

describePolicy("kv-enabled-for-flags", [
    { it: "passes a vault with every enabledFor flag off", type: VAULT, props: good, violations: 0 },
    {
        it: "fails each flag that is on and not allow-listed", type: VAULT, violations: 2, mentions: "not in the allow-list",
        props: withPath(withPath(good, "properties.enabledForDeployment", true), "properties.enabledForDiskEncryption", true),
    },
    {
        it: "passes a flag the config allow-lists, but not the others", type: VAULT, violations: 1, mentions: "enabledForDeployment",
        props: withPath(withPath(good, "properties.enabledForDeployment", true), "properties.enabledForDiskEncryption", true),
        config: { allowedEnabledForFlags: ["enabledForDiskEncryption"] },
    },
]);

const withPolicies = (policies: unknown[]) => withPath(good, "properties.accessPolicies", policies);
const entry = (keys: string[], secrets: string[] = ["get"]) => ({ tenantId: "t", objectId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", permissions: { keys, secrets, certificates: [] } });

describePolicy("kv-access-policy-least-privilege", [
    { it: "passes a vault without access policies", type: VAULT, props: good, violations: 0 },
    { it: "passes inline access policies with specific permissions", type: VAULT, props: withPolicies([entry(["get", "wrapKey", "unwrapKey"])]), violations: 0 },
    { it: "fails an inline access policy granting all on keys", type: VAULT, props: withPolicies([entry(["all"])]), violations: 1, mentions: "'all' on keys" },
    { it: "fails each forbidden grant, whatever its case", type: VAULT, props: withPolicies([entry(["Purge"], ["All"])]), violations: 2 },
    { it: "passes a standalone access policy with specific permissions", type: ACCESS_POLICY, props: { vaultName: "kv", resourceGroupName: "rg", policy: entry(["get"]) }, violations: 0 },
    { it: "fails a standalone access policy granting purge on secrets", type: ACCESS_POLICY, props: { vaultName: "kv", resourceGroupName: "rg", policy: entry([], ["get", "purge"]) }, violations: 1, mentions: "'purge' on secrets" },
]);
