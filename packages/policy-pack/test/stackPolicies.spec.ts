import assert from "node:assert/strict";
import type { Props } from "../helpers";
import { withPath } from "./cases";
import { APP_VAULT_ID, CMK_VAULT_ID, compliantStack, COSMOS_ID, diagnosticProps } from "./fixtures";
import { describeViolations, evaluatePack, policyNamed, runStackPolicy, StackInput, stackResources, urnOf } from "./harness";

/** The compliant stack with one resource's props replaced. */
function edit(name: string, change: (props: Props) => Props, stack = compliantStack()): StackInput[] {
    assert.ok(stack.some((r) => r.name === name), `fixture has no resource ${name}`);
    return stack.map((r) => (r.name === name ? { ...r, props: change(r.props) } : r));
}
const without = (name: string, stack = compliantStack()) => stack.filter((r) => r.name !== name);
const run = (policy: string, stack: StackInput[]) => runStackPolicy(policyNamed(policy), stackResources(stack));

describe("the compliant fixture stack", () => {
    it("passes every policy of the pack, advisory ones included", () => {
        const vs = evaluatePack(compliantStack());
        assert.deepEqual(vs, [], describeViolations(vs));
    });
});

describe("policy kv-diagnostic-audit-logs", () => {
    it("passes when each vault sends audit or allLogs to a workspace", () => {
        assert.deepEqual(run("kv-diagnostic-audit-logs", compliantStack()), []);
    });
    it("fails a vault that no diagnostic setting targets, at the vault's URN", () => {
        const vs = run("kv-diagnostic-audit-logs", without("kvp-diag-cmk"));
        assert.equal(vs.length, 1);
        assert.equal(vs[0].urn, urnOf("azure-native:keyvault:Vault", "kvp-cmk-vault"));
        assert.match(vs[0].message, /kv-kvp-prod-cmk has no diagnostic setting .*none targets it/);
    });
    it("fails a setting that sends only metrics", () => {
        const vs = run("kv-diagnostic-audit-logs", edit("kvp-diag-app", (p) => withPath(p, "logs", [])));
        assert.equal(vs.length, 1);
        assert.match(vs[0].message, /kvp-diag-app enables neither category group audit\/allLogs/);
    });
    it("fails audit logs that are disabled", () => {
        assert.equal(run("kv-diagnostic-audit-logs", edit("kvp-diag-app", (p) => withPath(p, "logs", [{ categoryGroup: "audit", enabled: false }]))).length, 1);
    });
    it("fails a setting that sends audit logs somewhere other than Log Analytics", () => {
        const vs = run("kv-diagnostic-audit-logs", edit("kvp-diag-app", (p) => withPath(withPath(p, "workspaceId", undefined), "storageAccountId", "/subscriptions/x/st")));
        assert.match(vs[0]?.message ?? "", /has no workspaceId/);
    });
    it("accepts the AuditEvent category that PSRule also accepts", () => {
        assert.deepEqual(run("kv-diagnostic-audit-logs", edit("kvp-diag-app", (p) => withPath(p, "logs", [{ category: "AuditEvent", enabled: true }]))), []);
    });
    it("does not count a setting on the Cosmos DB account for a vault", () => {
        const stack = edit("kvp-diag-app", () => diagnosticProps(COSMOS_ID));
        assert.equal(run("kv-diagnostic-audit-logs", stack).length, 1);
    });
    it("links a setting to its vault through the engine's dependencies when resourceUri is not in the outputs", () => {
        const stack = edit("kvp-diag-app", (p) => withPath(p, "resourceUri", undefined));
        assert.deepEqual(run("kv-diagnostic-audit-logs", stack), []);
        const unlinked = stack.map((r) => (r.name === "kvp-diag-app" ? { ...r, dependencies: [] } : r));
        assert.equal(run("kv-diagnostic-audit-logs", unlinked).length, 1);
    });
});

describe("policy kv-purge-protection-cmk", () => {
    const dropPurge = (p: Props) => withPath(withPath(p, "properties.enablePurgeProtection", false), "tags.Tier", "dev");
    it("passes when the CMK vault is purge protected", () => {
        assert.deepEqual(run("kv-purge-protection-cmk", compliantStack()), []);
    });
    it("fails a dev-tier vault without purge protection once it holds a wrapKey/unwrapKey key", () => {
        const vs = run("kv-purge-protection-cmk", edit("kvp-cmk-vault", dropPurge));
        assert.equal(vs.length, 1);
        assert.equal(vs[0].urn, urnOf("azure-native:keyvault:Vault", "kvp-cmk-vault"));
        assert.match(vs[0].message, /holds customer-managed key\(s\) kvp-cosmos-cmk/);
    });
    it("finds the vault from the key's keyUri when outputs carry no vaultName", () => {
        const stack = edit("kvp-cosmos-cmk", (p) => ({ keyUri: "https://kv-kvp-prod-cmk.vault.azure.net/keys/cosmos-cmk", keyOps: p.properties.keyOps }), edit("kvp-cmk-vault", dropPurge))
            .map((r) => ({ ...r, dependencies: [] }));
        assert.equal(run("kv-purge-protection-cmk", stack).length, 1);
    });
    it("ignores a vault without purge protection whose keys only sign and encrypt nothing", () => {
        const stack = without("kvp-cosmos-account", edit("kvp-cosmos-cmk", (p) => withPath(p, "properties.keyOps", ["sign", "verify"]), edit("kvp-cmk-vault", dropPurge)));
        assert.deepEqual(run("kv-purge-protection-cmk", stack), []);
    });
    it("recognises a key declared without keyOps as a CMK when Cosmos DB encrypts with it", () => {
        const stack = edit("kvp-cosmos-cmk", (p) => withPath(p, "properties.keyOps", undefined), edit("kvp-cmk-vault", dropPurge));
        const vs = run("kv-purge-protection-cmk", stack);
        assert.equal(vs.length, 1, describeViolations(vs));
        assert.match(vs[0].message, /kvp-cosmos-cmk \(used as the encryption key of kvp-cosmos-account\)/);
    });
});

describe("policy kv-public-access-private-endpoint", () => {
    it("passes when the vault behind the private endpoint is closed to public networks", () => {
        assert.deepEqual(run("kv-public-access-private-endpoint", compliantStack()), []);
    });
    it("fails a vault that a private endpoint serves but that still accepts public traffic", () => {
        const vs = run("kv-public-access-private-endpoint", edit("kvp-vault", (p) => withPath(p, "properties.publicNetworkAccess", "Enabled")));
        assert.equal(vs.length, 1);
        assert.equal(vs[0].urn, urnOf("azure-native:keyvault:Vault", "kvp-vault"));
        assert.match(vs[0].message, /served by private endpoint\(s\) kvp-vault-pe/);
    });
    it("treats an unset publicNetworkAccess as Enabled", () => {
        assert.equal(run("kv-public-access-private-endpoint", edit("kvp-vault", (p) => withPath(p, "properties.publicNetworkAccess", undefined))).length, 1);
    });
    it("leaves a public vault without a private endpoint to the firewall policy", () => {
        const stack = edit("kvp-vault", (p) => withPath(p, "properties.publicNetworkAccess", "Enabled"), without("kvp-vault-pe"));
        assert.deepEqual(run("kv-public-access-private-endpoint", stack), []);
    });
    it("does not blame a vault for an endpoint that targets another vault", () => {
        const stack = edit("kvp-vault-pe", (p) => withPath(p, "privateLinkServiceConnections", [{ privateLinkServiceId: CMK_VAULT_ID, groupIds: ["vault"] }]),
            edit("kvp-vault", (p) => withPath(p, "properties.publicNetworkAccess", "Enabled")));
        const vs = run("kv-public-access-private-endpoint", stack);
        assert.deepEqual(vs.map((v) => v.urn), [urnOf("azure-native:keyvault:Vault", "kvp-cmk-vault")]);
    });
});

describe("policy kv-premium-vault-hsm-keys", () => {
    const premium = (p: Props) => withPath(p, "properties.sku.name", "premium");
    it("passes software keys in a standard vault", () => {
        assert.deepEqual(run("kv-premium-vault-hsm-keys", compliantStack()), []);
    });
    it("advises against a software RSA key in a premium vault, at the key's URN", () => {
        const vs = run("kv-premium-vault-hsm-keys", edit("kvp-cmk-vault", premium));
        assert.equal(vs.length, 1);
        assert.equal(vs[0].urn, urnOf("azure-native:keyvault:Key", "kvp-cosmos-cmk"));
        assert.equal(vs[0].enforcementLevel, "advisory");
    });
    it("passes an RSA-HSM key in a premium vault", () => {
        const stack = edit("kvp-cosmos-cmk", (p) => withPath(p, "properties.kty", "RSA-HSM"), edit("kvp-cmk-vault", premium));
        assert.deepEqual(run("kv-premium-vault-hsm-keys", stack), []);
    });
});

describe("stack policies read the vault's id the way ARM spells it", () => {
    it("matches resource ids case-insensitively", () => {
        const stack = edit("kvp-diag-app", (p) => withPath(p, "resourceUri", APP_VAULT_ID.toLowerCase()));
        assert.deepEqual(run("kv-diagnostic-audit-logs", stack), []);
    });
});
