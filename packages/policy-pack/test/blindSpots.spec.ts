/**
 * Misconfigurations that once passed the pack: each new policy with a passing and a
 * failing resource, and vaults, keys and grants declared through API-versioned or
 * classic-provider type tokens, which must meet the same checks.
 */
import assert from "node:assert/strict";
import type { Props } from "../helpers";
import { describePolicy, withPath } from "./cases";
import { APP_VAULT_ID, certificateProps, cmkKeyProps, compliantStack, RG, roleDefinition, secretProps, SUB, vaultProps } from "./fixtures";
import { describeViolations, evaluatePack, mandatory, policyNamed, runResourcePolicy, runStackPolicy, StackInput, stackResources, urnOf } from "./harness";

const VAULT = "azure-native:keyvault:Vault";
const KEY = "azure-native:keyvault:Key";
const SECRET = "azure-native:keyvault:Secret";
const CERT = "azure:keyvault/certificate:Certificate";
const ROLE = "azure-native:authorization:RoleAssignment";
const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);

const vault = vaultProps("kv-kvp-prod-app", { publicNetworkAccess: "Enabled", networkAcls: { defaultAction: "Deny", bypass: "None", ipRules: [{ value: "203.0.113.0/24" }] } });
const withRules = (...rules: string[]) => withPath(vault, "properties.networkAcls.ipRules", rules.map((value) => ({ value })));

describePolicy("kv-firewall-no-allow-all", [
    { it: "passes an organisation's /24 and a single address", type: VAULT, props: withRules("203.0.113.0/24", "198.51.100.7"), violations: 0 },
    { it: "passes a /16, the widest range allowed by default", type: VAULT, props: withRules("10.20.0.0/16"), violations: 0 },
    { it: "fails 0.0.0.0/0", type: VAULT, props: withRules("0.0.0.0/0"), violations: 1, mentions: "every address on the internet" },
    { it: "fails the two halves 0.0.0.0/1 and 128.0.0.0/1 one by one", type: VAULT, props: withRules("0.0.0.0/1", "128.0.0.0/1"), violations: 2, mentions: "no wider than /16" },
    { it: "fails a wildcard", type: VAULT, props: withRules("*"), violations: 1 },
    { it: "fails ::/0", type: VAULT, props: withRules("::/0"), violations: 1 },
    { it: "fails a /8", type: VAULT, props: withRules("20.0.0.0/8"), violations: 1, mentions: "16777216 addresses" },
    { it: "fails a value that is no address", type: VAULT, props: withRules("300.1.1.1/24"), violations: 1, mentions: "not an IPv4 address" },
    { it: "takes a team's narrower bound", type: VAULT, props: withRules("10.20.0.0/20"), config: { minimumIpRulePrefixLength: 24 }, violations: 1, mentions: "/24" },
]);

const secret = secretProps();
describePolicy("kv-secret-max-validity", [
    { it: "passes a secret that expires in a year", type: SECRET, props: secret, violations: 0 },
    { it: "fails a secret that expires in 2099", type: SECRET, props: withPath(secret, "properties.attributes.expires", Date.UTC(2099, 0, 1) / 1000), violations: 1, mentions: "2099-01-01" },
    { it: "fails 120 days when the team allows 90", type: SECRET, props: withPath(secret, "properties.attributes.expires", now() + 120 * DAY), config: { maxSecretValidityDays: 90 }, violations: 1, mentions: "the longest allowed is 90 days" },
    { it: "leaves a missing expiry to kv-secret-expiry", type: SECRET, props: withPath(secret, "properties.attributes", undefined), violations: 0 },
]);

const cmk = cmkKeyProps();
const rotateEvery = (trigger: Props, expiryTime = "P365D") => withPath(withPath(cmk, "properties.rotationPolicy.lifetimeActions", [{ action: { type: "rotate" }, trigger }]), "properties.rotationPolicy.attributes.expiryTime", expiryTime);
describePolicy("kv-key-rotation-max-period", [
    { it: "passes a key rotated every 180 days", type: KEY, props: cmk, violations: 0 },
    { it: "passes P2Y, exactly the bound", type: KEY, props: rotateEvery({ timeAfterCreate: "P2Y" }, "P3Y"), violations: 0 },
    { it: "fails a key rotated every three years", type: KEY, props: rotateEvery({ timeAfterCreate: "P3Y" }, "P4Y"), violations: 1, mentions: "rotates every 1095 days" },
    { it: "fails a before-expiry trigger on a 5-year version", type: KEY, props: rotateEvery({ timeBeforeExpiry: "P30D" }, "P5Y"), violations: 1, mentions: "1795 days" },
    { it: "fails a period that is not a duration", type: KEY, props: rotateEvery({ timeAfterCreate: "forever" }), violations: 1, mentions: "not an ISO 8601 duration" },
]);

const cert = certificateProps();
describePolicy("kv-certificate-max-validity", [
    { it: "passes a 12-month certificate", type: CERT, props: cert, violations: 0 },
    { it: "fails a 36-month certificate", type: CERT, props: withPath(cert, "certificatePolicy.x509CertificateProperties.validityInMonths", 36), violations: 1, mentions: "is 36" },
    { it: "ignores an imported certificate, which has no policy to read", type: CERT, props: { name: "imported", keyVaultId: APP_VAULT_ID, certificate: { contents: "base64" } }, violations: 0 },
]);

describePolicy("kv-certificate-key-type", [
    { it: "passes RSA 3072", type: CERT, props: cert, violations: 0 },
    { it: "passes EC P-256", type: CERT, props: withPath(cert, "certificatePolicy.keyProperties", { keyType: "EC", curve: "P-256", exportable: true, reuseKey: false }), violations: 0 },
    { it: "fails RSA 2048", type: CERT, props: withPath(cert, "certificatePolicy.keyProperties.keySize", 2048), violations: 1, mentions: "at least 3072 bits" },
    { it: "fails an unknown key type", type: CERT, props: withPath(cert, "certificatePolicy.keyProperties.keyType", "DSA"), violations: 1 },
]);

const grant = (guid: string, scope: string, extra: Props = {}): Props => ({ scope, principalId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", principalType: "Group", roleDefinitionId: roleDefinition(guid), ...extra });
const RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
const KV_DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8";
const OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6";

describePolicy("no-privileged-role-at-data-scope", [
    { it: "passes Key Vault Secrets User at vault scope", type: ROLE, props: grant(SECRETS_USER, APP_VAULT_ID), violations: 0 },
    { it: "fails Role Based Access Control Administrator at vault scope", type: ROLE, props: grant(RBAC_ADMIN, APP_VAULT_ID), violations: 1, mentions: "Role Based Access Control Administrator" },
    { it: "fails Key Vault Data Access Administrator at vault scope", type: ROLE, props: grant(KV_DATA_ACCESS_ADMIN, APP_VAULT_ID), violations: 1, mentions: "Key Vault Data Access Administrator" },
    { it: "fails Owner named by the classic provider's roleDefinitionName", type: "azure:authorization/assignment:Assignment", props: { scope: APP_VAULT_ID, principalId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", principalType: "Group", roleDefinitionName: "Owner" }, violations: 1, mentions: "Owner" },
]);

describePolicy("role-assignment-principal-type", [
    { it: "passes a grant that names its principal type", type: ROLE, props: grant(SECRETS_USER, APP_VAULT_ID), violations: 0 },
    { it: "fails a grant without principalType", type: ROLE, props: grant(SECRETS_USER, APP_VAULT_ID, { principalType: undefined }), violations: 1, mentions: "principalType is undefined" },
]);

const r = (type: string, name: string, props: Props, dependencies: string[] = []): StackInput => ({ type, name, urn: urnOf(type, name), props, dependencies });
const runStack = (policy: string, stack: StackInput[]) => runStackPolicy(policyNamed(policy), stackResources(stack));

describe("policy no-access-granting-role-above-vault", () => {
    it("passes a stack whose grants stay at the vault", () => {
        assert.deepEqual(runStack("no-access-granting-role-above-vault", compliantStack()), []);
    });
    it("fails Owner on the resource group that holds a vault", () => {
        const vs = runStack("no-access-granting-role-above-vault", [...compliantStack(), r(ROLE, "rg-owner", grant(OWNER, RG))]);
        assert.equal(vs.length, 1, describeViolations(vs));
        assert.match(vs[0].message, /grants Owner .* which holds vault\(s\) kv-kvp-prod-app, kv-kvp-prod-cmk/);
    });
    it("fails User Access Administrator on the subscription", () => {
        const vs = runStack("no-access-granting-role-above-vault", [...compliantStack(), r(ROLE, "sub-uaa", grant("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", `/subscriptions/${SUB}`))]);
        assert.equal(vs.length, 1, describeViolations(vs));
    });
    it("passes Owner on another resource group", () => {
        assert.deepEqual(runStack("no-access-granting-role-above-vault", [...compliantStack(), r(ROLE, "rg-owner", grant(OWNER, `/subscriptions/${SUB}/resourceGroups/rg-other`))]), []);
    });
});

const editStack = (name: string, change: (p: Props) => Props, stack = compliantStack()) => stack.map((x) => (x.name === name ? { ...x, props: change(x.props) } : x));

describe("policy kv-prod-private-endpoint", () => {
    it("passes a prod app vault behind a private endpoint and a dedicated CMK vault open only to trusted services", () => {
        assert.deepEqual(runStack("kv-prod-private-endpoint", compliantStack()), []);
    });
    it("fails a prod vault whose private endpoint was removed and whose public access is on", () => {
        const stack = editStack("kvp-vault", (p) => withPath(p, "properties.publicNetworkAccess", "Enabled")).filter((x) => x.name !== "kvp-vault-pe");
        const vs = runStack("kv-prod-private-endpoint", stack);
        assert.equal(vs.length, 1, describeViolations(vs));
        assert.equal(vs[0].urn, urnOf(VAULT, "kvp-vault"));
        assert.match(vs[0].message, /no private endpoint .* reachable from the internet/);
    });
    it("fails a CMK vault that also holds a secret (no longer a dedicated CMK vault)", () => {
        const stack = [...compliantStack(), r(SECRET, "stray", { ...secretProps(), vaultName: "kv-kvp-prod-cmk" })];
        assert.equal(runStack("kv-prod-private-endpoint", stack).length, 1);
    });
    it("leaves a dev vault without a private endpoint alone", () => {
        const stack = editStack("kvp-vault", (p) => withPath(p, "tags", { Tier: "dev" })).filter((x) => x.name !== "kvp-vault-pe");
        assert.deepEqual(runStack("kv-prod-private-endpoint", stack), []);
    });
});

describe("policy kv-cmk-key-rsa-non-exportable", () => {
    it("passes the RSA, non-exportable Cosmos DB key", () => {
        assert.deepEqual(runStack("kv-cmk-key-rsa-non-exportable", compliantStack()), []);
    });
    it("fails an EC key used as a CMK", () => {
        const vs = runStack("kv-cmk-key-rsa-non-exportable", editStack("kvp-cosmos-cmk", (p) => withPath(withPath(p, "properties.kty", "EC"), "properties.keySize", undefined)));
        assert.equal(vs.length, 1, describeViolations(vs));
        assert.match(vs[0].message, /kty is "EC"/);
    });
    it("fails an exportable CMK", () => {
        const vs = runStack("kv-cmk-key-rsa-non-exportable", editStack("kvp-cosmos-cmk", (p) => withPath(p, "properties.attributes.exportable", true)));
        assert.equal(vs.length, 1, describeViolations(vs));
    });
    it("fails an EC key without keyOps that Cosmos DB still encrypts with", () => {
        const vs = runStack("kv-cmk-key-rsa-non-exportable", editStack("kvp-cosmos-cmk", (p) => withPath(withPath(p, "properties.keyOps", undefined), "properties.kty", "EC-HSM")));
        assert.equal(vs.length, 1, describeViolations(vs));
        assert.match(vs[0].message, /used as the encryption key of kvp-cosmos-account/);
    });
    it("fails a 1024-bit RSA key without keyOps that Cosmos DB encrypts with (kv-cmk-key-min-size sees only keyOps)", () => {
        const stack = editStack("kvp-cosmos-cmk", (p) => withPath(withPath(p, "properties.keyOps", undefined), "properties.keySize", 1024));
        const vs = runStack("kv-cmk-key-rsa-non-exportable", stack);
        assert.equal(vs.length, 1, describeViolations(vs));
        assert.match(vs[0].message, /keySize is 1024; a CMK needs at least 2048 bits/);
        assert.deepEqual(runResourcePolicy(policyNamed("kv-cmk-key-min-size"), stack.find((x) => x.name === "kvp-cosmos-cmk")!), []);
    });
    it("ignores an EC signing key nothing encrypts with", () => {
        const stack = [...compliantStack(), r(KEY, "signer", { ...cmkKeyProps({ kty: "EC", keyOps: ["sign", "verify"] }), keyName: "signer" })];
        assert.deepEqual(runStack("kv-cmk-key-rsa-non-exportable", stack), []);
    });
});

describe("vaults, keys and grants declared through other type tokens", () => {
    const resourceViolations = (type: string, props: Props, stack = "prod") => ALL_RESOURCE_POLICIES().flatMap((p) => runResourcePolicy(p, { type, name: "x", urn: urnOf(type, "x", stack), props }));
    const ALL_RESOURCE_POLICIES = () => ["kv-soft-delete-enabled", "kv-purge-protection-prod", "kv-network-default-deny", "kv-firewall-no-allow-all", "kv-rbac-authorization", "kv-key-expiry", "kv-secret-max-validity", "no-privileged-role-at-data-scope"].map(policyNamed);

    it("checks an API-versioned azure-native vault like a v3 one", () => {
        const vs = resourceViolations("azure-native:keyvault/v20230701:Vault", withPath(vault, "properties.enablePurgeProtection", false));
        assert.deepEqual(vs.map((v) => v.policy), ["kv-purge-protection-prod"]);
    });

    const classicVault = {
        name: "kv-classic", resourceGroupName: "rg-kvp-prod", location: "westeurope", tenantId: "99999999-8888-7777-6666-555555555555", skuName: "standard",
        softDeleteRetentionDays: 90, purgeProtectionEnabled: true, rbacAuthorizationEnabled: true, publicNetworkAccessEnabled: false,
        networkAcls: { defaultAction: "Deny", bypass: "None", ipRules: ["203.0.113.0/24"] }, tags: { Tier: "prod" },
    };
    it("passes a compliant classic azure:keyvault/keyVault:KeyVault", () => {
        assert.deepEqual(resourceViolations("azure:keyvault/keyVault:KeyVault", classicVault), []);
    });
    it("fails a classic vault without purge protection, with an allow-all rule and access policies", () => {
        const bad = { ...classicVault, purgeProtectionEnabled: false, rbacAuthorizationEnabled: false, networkAcls: { defaultAction: "Allow", bypass: "AzureServices", ipRules: ["0.0.0.0/0"] } };
        const ids = resourceViolations("azure:keyvault/keyVault:KeyVault", bad).map((v) => v.policy).sort();
        assert.deepEqual(ids, ["kv-firewall-no-allow-all", "kv-network-default-deny", "kv-purge-protection-prod", "kv-rbac-authorization"]);
    });
    it("fails a classic secret without expiry, and one expiring in 2099", () => {
        const base = { name: "s", keyVaultId: APP_VAULT_ID, value: "x", contentType: "text/plain" };
        assert.deepEqual(runResourcePolicy(policyNamed("kv-secret-expiry"), { type: "azure:keyvault/secret:Secret", name: "s", props: base }).length, 1);
        assert.deepEqual(resourceViolations("azure:keyvault/secret:Secret", { ...base, expirationDate: "2099-01-01T00:00:00Z" }).map((v) => v.policy), ["kv-secret-max-validity"]);
    });
    it("fails a classic key without expiry, and an EC classic key Cosmos DB encrypts with", () => {
        const key = { name: "cosmos-cmk", keyVaultId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-kvp-prod-cmk", keyType: "EC", curve: "P-256", keyOpts: ["sign"] };
        assert.deepEqual(resourceViolations("azure:keyvault/key:Key", key).map((v) => v.policy), ["kv-key-expiry"]);
        const stack = editStack("kvp-cosmos-cmk", () => key).map((x) => (x.name === "kvp-cosmos-cmk" ? { ...x, type: "azure:keyvault/key:Key" } : x));
        const vs = mandatory(evaluatePack(stack)).filter((v) => v.policy === "kv-cmk-key-rsa-non-exportable");
        assert.equal(vs.length, 1, describeViolations(vs));
    });
    it("fails an Owner grant through azure:authorization/assignment:Assignment at vault scope", () => {
        const vs = resourceViolations("azure:authorization/assignment:Assignment", { scope: APP_VAULT_ID, principalId: "p", principalType: "User", roleDefinitionId: roleDefinition(OWNER) });
        assert.deepEqual(vs.map((v) => v.policy), ["no-privileged-role-at-data-scope"]);
    });
    it("checks the classic certificate's validity and key", () => {
        const vs = ["kv-certificate-max-validity", "kv-certificate-key-type"].flatMap((n) => runResourcePolicy(policyNamed(n), { type: CERT, name: "c", props: withPath(withPath(cert, "certificatePolicy.keyProperties.keySize", 2048), "certificatePolicy.x509CertificateProperties.validityInMonths", 36) }));
        assert.deepEqual(vs.map((v) => v.policy), ["kv-certificate-max-validity", "kv-certificate-key-type"]);
    });
});

describe("classic resources during a preview", () => {
    it("reads a classic secret's fields only when a check asks, so an unknown keyVaultId does not hide its expiry", () => {
        const props = { name: "s", contentType: "text/plain", expirationDate: "2099-01-01T00:00:00Z" };
        Object.defineProperty(props, "keyVaultId", { enumerable: true, get: () => { throw new Error("unknown during preview"); } });
        const vs = runResourcePolicy(policyNamed("kv-secret-max-validity"), { type: "azure:keyvault/secret:Secret", name: "s", props });
        assert.deepEqual(vs.map((v) => v.policy), ["kv-secret-max-validity"]);
    });
});
