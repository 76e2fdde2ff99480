import { strict as assert } from "node:assert";
import { record, unwrap, SUBSCRIPTION_ID, TENANT_ID, fakeGuid } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import * as resources from "@pulumi/azure-native/resources";
import { grantVaultAccess, VaultAccessGrant } from "../components/vaultAccess";
import { KEY_VAULT_ROLE_NAMES, KEY_VAULT_ROLES, roleAssignmentName } from "@keyvault-platform/conventions";
import { CERTIFICATE_PERMISSIONS, KEY_PERMISSIONS, SECRET_PERMISSIONS } from "../config/schema";

const VAULT_ID = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-kvp-dev-abc123/providers/Microsoft.KeyVault/vaults/kv-kvp-dev-abc123`;
const KEY_ID = `${VAULT_ID}/keys/cosmos-cmk`;
const PRINCIPAL = fakeGuid("workload");
const CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"; // Azure's built-in role id

class Holder extends pulumi.ComponentResource {
    public readonly grant: pulumi.CustomResource;
    constructor(name: string, grant: Omit<VaultAccessGrant, "name">, withDependency = false) {
        super("test:vaultAccess:Holder", name, {}, {});
        const before = withDependency ? [new resources.ResourceGroup(`${name}-before`, { location: "westeurope" }, { parent: this })] : undefined;
        this.grant = grantVaultAccess({ name: `${name}-grant`, ...grant }, this, before);
        this.registerOutputs({});
    }
}

const rbac: Omit<VaultAccessGrant, "name"> = {
    mode: "rbac",
    scope: VAULT_ID,
    vaultName: "kv-kvp-dev-abc123",
    resourceGroupName: "rg-kvp-dev-abc123",
    tenantId: TENANT_ID,
    principalId: PRINCIPAL,
    principalType: "ServicePrincipal",
    role: "crypto-service-encryption-user",
    subscriptionId: SUBSCRIPTION_ID,
};

describe("grantVaultAccess in rbac mode", () => {
    it("creates a role assignment at the given scope with the full role definition id and principal type", async () => {
        const rec = await record(() => new Holder("h", { ...rbac, scope: KEY_ID }));
        const ra = rec.one("azure-native:authorization:RoleAssignment");
        assert.equal(ra.inputs.scope, KEY_ID);
        assert.equal(ra.inputs.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${CRYPTO_SERVICE_ENCRYPTION_USER}`);
        assert.equal(ra.inputs.principalId, PRINCIPAL);
        assert.equal(ra.inputs.principalType, "ServicePrincipal");
        assert.match(ra.inputs.description, /Key Vault Crypto Service Encryption User/);
        assert.equal(rec.ofType("azure-native:keyvault:AccessPolicy").length, 0);
    });

    it("names the assignment by (scope, principal, role), the same on every run and for Output inputs", async () => {
        const expected = roleAssignmentName(VAULT_ID, PRINCIPAL, CRYPTO_SERVICE_ENCRYPTION_USER);
        const first = (await record(() => new Holder("h", rbac))).one("azure-native:authorization:RoleAssignment");
        const second = (await record(() => new Holder("h", { ...rbac, scope: pulumi.output(VAULT_ID), principalId: pulumi.output(PRINCIPAL) })))
            .one("azure-native:authorization:RoleAssignment");
        assert.equal(first.inputs.roleAssignmentName, expected);
        assert.equal(second.inputs.roleAssignmentName, expected);
        assert.notEqual(roleAssignmentName(KEY_ID, PRINCIPAL, CRYPTO_SERVICE_ENCRYPTION_USER), expected, "another scope gets another name");
    });

    it("parents the assignment to the caller and honours its dependsOn", async () => {
        let holder!: Holder;
        const rec = await record(() => { holder = new Holder("h", rbac, true); });
        const ra = rec.one("azure-native:authorization:RoleAssignment");
        assert.equal(ra.parentUrn, rec.one("test:vaultAccess:Holder").urn);
        assert.ok(rec.dependsOn(ra, rec.one("azure-native:resources:ResourceGroup")));
        assert.equal(await unwrap(holder.grant.urn), ra.urn);
    });
});

describe("grantVaultAccess in accessPolicies mode", () => {
    for (const role of KEY_VAULT_ROLE_NAMES) {
        it(`grants '${role}' as a vault access policy with known permissions and never all or purge`, async () => {
            const rec = await record(() => new Holder(`h-${role}`, { ...rbac, mode: "accessPolicies", role }));
            assert.equal(rec.ofType("azure-native:authorization:RoleAssignment").length, 0);
            const policy = rec.one("azure-native:keyvault:AccessPolicy");
            assert.equal(policy.inputs.vaultName, "kv-kvp-dev-abc123");
            assert.equal(policy.inputs.resourceGroupName, "rg-kvp-dev-abc123");
            assert.equal(policy.inputs.policy.tenantId, TENANT_ID);
            assert.equal(policy.inputs.policy.objectId, PRINCIPAL);
            const { keys, secrets, certificates } = policy.inputs.policy.permissions as Record<string, string[]>;
            assert.ok(keys.length + secrets.length + certificates.length > 0, "grants something");
            for (const [perms, allowed] of [[keys, KEY_PERMISSIONS], [secrets, SECRET_PERMISSIONS], [certificates, CERTIFICATE_PERMISSIONS]] as const) {
                for (const p of perms) assert.ok((allowed as readonly string[]).includes(p), `'${p}' is a known permission`);
                assert.ok(!perms.includes("all") && !perms.includes("purge"));
            }
        });
    }

    it("gives the CMK identity only get, wrapKey and unwrapKey", async () => {
        const rec = await record(() => new Holder("h", { ...rbac, mode: "accessPolicies" }));
        const perms = rec.one("azure-native:keyvault:AccessPolicy").inputs.policy.permissions;
        assert.deepEqual([...perms.keys].sort(), ["get", "unwrapKey", "wrapKey"]);
        assert.deepEqual(perms.secrets, []);
        assert.deepEqual(perms.certificates, []);
    });
});

describe("grantVaultAccess refuses", () => {
    // Refusal happens before any resource exists, so no parent is ever registered.
    const NO_PARENT = {} as pulumi.Resource;

    it("a role outside the Key Vault role table", () => {
        assert.throws(() => grantVaultAccess({ name: "g", ...rbac, role: "owner" as never }, NO_PARENT),
            (e: Error) => e instanceof pulumi.RunError && /grantVaultAccess 'g': role 'owner' is not a grantable Key Vault role; allowed: administrator/.test(e.message));
    });

    it("an inherited object key posing as a role", () => {
        assert.throws(() => grantVaultAccess({ name: "g", ...rbac, role: "toString" as never }, NO_PARENT),
            (e: Error) => e instanceof pulumi.RunError && /role 'toString'/.test(e.message));
    });

    it("a misspelt mode instead of silently creating an access policy", () => {
        assert.throws(() => grantVaultAccess({ name: "g", ...rbac, mode: "RBAC" as never }, NO_PARENT),
            (e: Error) => e instanceof pulumi.RunError && /mode 'RBAC' must be one of "rbac", "accessPolicies"/.test(e.message));
    });
});

describe("the grantable role table", () => {
    it("offers no role that can grant itself data-plane access (Owner, Contributor, User Access Administrator, Key Vault Contributor)", () => {
        const forbidden = ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "f25e0fa2-a7c8-4377-a976-54943a77a395"];
        for (const role of Object.values(KEY_VAULT_ROLES)) assert.ok(!forbidden.includes(role.id), role.displayName);
    });
});
