import { describePolicy, withPath } from "./cases";
import { cosmosProps } from "./fixtures";

const COSMOS = "azure-native:cosmosdb:DatabaseAccount";
const LEGACY = "azure-native:documentdb:DatabaseAccount";
const good = cosmosProps();
const devPublic = withPath(withPath(good, "tags.Tier", "dev"), "publicNetworkAccess", "Enabled");

describePolicy("cosmos-cmk-enabled", [
    { it: "passes an account with a customer-managed key", type: COSMOS, props: good, violations: 0 },
    { it: "fails an account with Microsoft-managed keys", type: COSMOS, props: withPath(good, "keyVaultKeyUri", undefined), violations: 1, mentions: "keyVaultKeyUri is not set" },
    { it: "covers the documentdb type token too", type: LEGACY, props: withPath(good, "keyVaultKeyUri", undefined), violations: 1 },
]);

describePolicy("cosmos-cmk-versionless-key", [
    { it: "passes a versionless key URI", type: COSMOS, props: good, violations: 0 },
    {
        it: "fails a key URI pinned to a version", type: COSMOS, violations: 1, mentions: "pins a key version",
        props: withPath(good, "keyVaultKeyUri", "https://kv-kvp-prod-cmk.vault.azure.net/keys/cosmos-cmk/0123456789abcdef0123456789abcdef"),
    },
    { it: "leaves a missing key to cosmos-cmk-enabled", type: COSMOS, props: withPath(good, "keyVaultKeyUri", undefined), violations: 0 },
]);

describePolicy("cosmos-disable-local-auth", [
    { it: "passes an account with local auth disabled", type: COSMOS, props: good, violations: 0 },
    { it: "fails an account that accepts account keys", type: COSMOS, props: withPath(good, "disableLocalAuth", false), violations: 1, mentions: "disableLocalAuth is false" },
    { it: "fails an account that leaves local auth at its default", type: COSMOS, props: withPath(good, "disableLocalAuth", undefined), violations: 1 },
]);

describePolicy("cosmos-public-network-access", [
    { it: "passes a prod account with public access disabled", type: COSMOS, props: good, violations: 0 },
    { it: "fails a prod account with public access enabled", type: COSMOS, props: withPath(good, "publicNetworkAccess", "Enabled"), violations: 1, mentions: "publicNetworkAccess is \"Enabled\"" },
    { it: "fails a staging account that leaves public access at its default", type: COSMOS, props: withPath(withPath(good, "tags.Tier", "staging"), "publicNetworkAccess", undefined), violations: 1 },
    { it: "passes a dev-tagged account with public access", type: COSMOS, props: devPublic, violations: 0 },
    { it: "passes an untagged account with public access in a stack named dev", type: COSMOS, stack: "dev", props: withPath(devPublic, "tags", undefined), violations: 0 },
    { it: "fails a dev-tagged account with public access in a prod stack", type: COSMOS, stack: "prod", props: devPublic, violations: 1 },
    { it: "honours configured dev tier names", type: COSMOS, props: withPath(devPublic, "tags.Tier", "sandbox"), config: { devTierNames: ["sandbox"] }, violations: 0 },
]);

describePolicy("cosmos-min-tls", [
    { it: "passes TLS 1.2", type: COSMOS, props: good, violations: 0 },
    { it: "fails TLS 1.0", type: COSMOS, props: withPath(good, "minimalTlsVersion", "Tls"), violations: 1, mentions: "\"Tls\"" },
    { it: "fails an account that leaves the minimum unset", type: COSMOS, props: withPath(good, "minimalTlsVersion", undefined), violations: 1 },
]);
