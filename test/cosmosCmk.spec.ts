import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { createDelayMs, record, Recording, RecordedResource, SUBSCRIPTION_ID, TENANT_ID, unwrap } from "./mocks";
import { cmkRotationPolicy, CosmosCmk, CosmosCmkArgs, keyExpiresAt, resolveCosmosCmkSettings, resourceGroupOfId } from "../components/cosmosCmk";

const T = {
    component: "keyvault-platform:data:CosmosCmk",
    identity: "azure-native:managedidentity:UserAssignedIdentity",
    key: "azure-native:keyvault:Key",
    role: "azure-native:authorization:RoleAssignment",
    policy: "azure-native:keyvault:AccessPolicy",
    account: "azure-native:cosmosdb:DatabaseAccount",
};
const CMK_VAULT_ID = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-cmk/providers/Microsoft.KeyVault/vaults/kv-cmk-dev`;
const SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6";

function baseArgs(over: Partial<CosmosCmkArgs> = {}): CosmosCmkArgs {
    return {
        resourceGroupName: "rg-data",
        location: "westeurope",
        accountName: "cosmos-kvp-dev",
        subscriptionId: SUBSCRIPTION_ID,
        tenantId: TENANT_ID,
        cmkVault: { resourceId: CMK_VAULT_ID, name: "kv-cmk-dev" },
        authorizationMode: "rbac",
        locations: ["westeurope", "northeurope"],
        consistencyLevel: "Session",
        ...over,
    };
}

describe("CosmosCmk settings", () => {
    const ok = { authorizationMode: "rbac" as const, locations: ["westeurope"] };

    it("applies the secure defaults", () => {
        const s = resolveCosmosCmkSettings(ok);
        assert.equal(s.keySize, 3072);
        assert.equal(s.keyExpiryDays, 365);
        assert.equal(s.keyRotationDays, 180);
        assert.equal(s.keyNotifyDaysBeforeExpiry, 30);
        assert.equal(s.publicNetworkAccess, "Disabled");
        assert.equal(s.consistencyLevel, "Session");
        assert.equal(s.backupTier, "Continuous7Days");
    });

    const bad: Array<[string, Record<string, unknown>, RegExp]> = [
        ["a key size outside 2048/3072/4096", { keySize: 1024 }, /keySize 1024 .*2048, 3072, 4096/],
        ["no location", { locations: [] }, /locations .*at least one region/],
        ["a duplicate location", { locations: ["westeurope", "northeurope", "westeurope"] }, /lists westeurope twice/],
        ["a location that is not an ARM region name", { locations: ["West Europe"] }, /locations\[0\] "West Europe"/],
        ["rotation at expiry minus notify", { keyExpiryDays: 365, keyNotifyDaysBeforeExpiry: 30, keyRotationDays: 335 }, /keyRotationDays 335 .*less than .*\(335\)/],
        ["rotation after expiry", { keyExpiryDays: 90, keyRotationDays: 120 }, /keyRotationDays 120/],
        ["a fractional expiry", { keyExpiryDays: 90.5 }, /keyExpiryDays 90.5 .*whole number of days from 30 to 3650/],
        ["an expiry under 30 days", { keyExpiryDays: 20, keyRotationDays: 7, keyNotifyDaysBeforeExpiry: 7 }, /keyExpiryDays 20/],
        ["a rotation under 7 days", { keyRotationDays: 3 }, /keyRotationDays 3 .*from 7/],
        ["a notification over 90 days", { keyNotifyDaysBeforeExpiry: 120 }, /keyNotifyDaysBeforeExpiry 120 .*7 to 90/],
        ["an unknown consistency level", { consistencyLevel: "Linearizable" }, /consistencyLevel "Linearizable" .*Eventual, ConsistentPrefix, Session, BoundedStaleness, Strong/],
        ["an unknown network access value", { publicNetworkAccess: "SecuredByPerimeter" }, /publicNetworkAccess .*Enabled, Disabled/],
        ["an unknown authorization mode", { authorizationMode: "keys" }, /authorizationMode "keys" .*rbac, accessPolicies/],
        ["a key name with a dot", { keyName: "cosmos.cmk" }, /keyName "cosmos.cmk"/],
        ["an unknown backup tier", { backupTier: "Periodic" }, /backupTier "Periodic" .*Continuous7Days, Continuous30Days/],
    ];
    for (const [what, over, message] of bad) {
        it(`rejects ${what}, naming the component and the field`, () => {
            assert.throws(() => resolveCosmosCmkSettings({ ...ok, ...over } as never), (e: Error) => {
                assert.ok(e instanceof pulumi.RunError, "a RunError exits cleanly");
                assert.match(e.message, /^CosmosCmk: /);
                assert.match(e.message, message);
                return true;
            });
        });
    }

    it("accepts the largest rotation that still precedes the warning", () => {
        assert.equal(resolveCosmosCmkSettings({ ...ok, keyExpiryDays: 365, keyNotifyDaysBeforeExpiry: 30, keyRotationDays: 334 }).keyRotationDays, 334);
    });

    it("builds the rotation policy from the configured days", () => {
        assert.deepEqual(cmkRotationPolicy({ keyExpiryDays: 400, keyRotationDays: 200, keyNotifyDaysBeforeExpiry: 45 }), {
            attributes: { expiryTime: "P400D" },
            lifetimeActions: [
                { action: { type: "rotate" }, trigger: { timeAfterCreate: "P200D" } },
                { action: { type: "notify" }, trigger: { timeBeforeExpiry: "P45D" } },
            ],
        });
    });

    it("computes the expiry in Unix seconds", () => {
        assert.equal(keyExpiresAt(new Date("2025-01-01T00:00:00.900Z"), 2), Date.UTC(2025, 0, 3) / 1000);
    });

    it("reads the resource group from an ARM id and rejects anything else", () => {
        assert.equal(resourceGroupOfId("cmkVault.resourceId", CMK_VAULT_ID), "rg-cmk");
        assert.throws(() => resourceGroupOfId("cmkVault.resourceId", "kv-cmk-dev"), /CosmosCmk: cmkVault.resourceId "kv-cmk-dev"/);
    });
});

describe("CosmosCmk", () => {
    let rec: Recording;
    let cmk: CosmosCmk;
    let startSec: number;
    let endSec: number;
    const one = (type: string): RecordedResource => rec.one(type);

    before(async () => {
        startSec = Math.floor(Date.now() / 1000);
        rec = await record(() => {
            cmk = new CosmosCmk("data", baseArgs({ keySize: 4096, keyExpiryDays: 400, keyRotationDays: 200, keyNotifyDaysBeforeExpiry: 45, tags: { env: "dev" } }));
        });
        endSec = Math.ceil(Date.now() / 1000);
    });

    it("creates a user-assigned identity for the account", () => {
        const identity = one(T.identity);
        assert.equal(identity.inputs.resourceGroupName, "rg-data");
        assert.equal(identity.inputs.location, "westeurope");
        assert.equal(identity.inputs.resourceName, "id-cosmos-kvp-dev");
    });

    it("creates an RSA wrap/unwrap key of the configured size in the CMK vault's resource group", () => {
        const key = one(T.key);
        assert.equal(key.inputs.vaultName, "kv-cmk-dev");
        assert.equal(key.inputs.resourceGroupName, "rg-cmk");
        assert.equal(key.inputs.properties.kty, "RSA");
        assert.equal(key.inputs.properties.keySize, 4096);
        assert.deepEqual(key.inputs.properties.keyOps, ["wrapKey", "unwrapKey"]);
        assert.equal(key.inputs.properties.attributes.enabled, true);
    });

    it("sets the key to expire keyExpiryDays from now", () => {
        const expires = one(T.key).inputs.properties.attributes.expires;
        assert.ok(expires >= startSec + 400 * 86_400 && expires <= endSec + 400 * 86_400, `expires ${expires}`);
    });

    it("gives the key a rotation policy that rotates, notifies and bounds new versions", () => {
        assert.deepEqual(one(T.key).inputs.properties.rotationPolicy, cmkRotationPolicy({ keyExpiryDays: 400, keyRotationDays: 200, keyNotifyDaysBeforeExpiry: 45 }));
    });

    it("ignores the clock-derived expiry on later runs", () => {
        assert.deepEqual(one(T.key).ignoreChanges, ["properties.attributes.expires"]);
    });

    it("grants Crypto Service Encryption User on the key, not the vault, to the identity", async () => {
        const role = one(T.role);
        const key = one(T.key);
        assert.equal(role.inputs.scope, key.id);
        assert.match(role.inputs.scope, /\/vaults\/kv-cmk-dev\/keys\/cosmos-cmk$/);
        assert.equal(role.inputs.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${SERVICE_ENCRYPTION_USER}`);
        assert.equal(role.inputs.principalId, one(T.identity).state.principalId);
        assert.equal(role.inputs.principalId, await unwrap(cmk.identityPrincipalId));
        assert.equal(role.inputs.principalType, "ServicePrincipal");
        assert.equal(rec.ofType(T.policy).length, 0);
    });

    it("encrypts the account with the versionless key URI", async () => {
        const uri = one(T.account).inputs.keyVaultKeyUri;
        assert.equal(uri, "https://kv-cmk-dev.vault.azure.net/keys/cosmos-cmk");
        assert.doesNotMatch(uri, /\/keys\/[^/]+\/[^/]+$/, "a version segment would pin the account to one key version");
        assert.notEqual(uri, one(T.key).state.keyUriWithVersion);
        assert.equal(await unwrap(cmk.keyUri), uri);
    });

    it("gives the account the user-assigned identity as its default identity", () => {
        const account = one(T.account);
        const identityId = one(T.identity).id;
        assert.deepEqual(account.inputs.identity, { type: "UserAssigned", userAssignedIdentities: [identityId] });
        assert.equal(account.inputs.defaultIdentity, `UserAssignedIdentity=${identityId}`);
    });

    it("hardens the account", () => {
        const i = one(T.account).inputs;
        assert.equal(i.kind, "GlobalDocumentDB");
        assert.equal(i.databaseAccountOfferType, "Standard");
        assert.equal(i.disableLocalAuth, true);
        assert.equal(i.disableKeyBasedMetadataWriteAccess, true);
        assert.equal(i.minimalTlsVersion, "Tls12");
        assert.equal(i.publicNetworkAccess, "Disabled");
        assert.deepEqual(i.backupPolicy, { type: "Continuous", continuousModeProperties: { tier: "Continuous7Days" } });
        assert.deepEqual(i.consistencyPolicy, { defaultConsistencyLevel: "Session" });
        assert.deepEqual(i.tags, { env: "dev" });
    });

    it("lists the regions in failover order with automatic failover", () => {
        const i = one(T.account).inputs;
        assert.deepEqual(i.locations, [
            { locationName: "westeurope", failoverPriority: 0, isZoneRedundant: false },
            { locationName: "northeurope", failoverPriority: 1, isZoneRedundant: false },
        ]);
        assert.equal(i.enableAutomaticFailover, true);
    });

    it("exposes the account's outputs", async () => {
        const account = one(T.account);
        assert.equal(await unwrap(cmk.accountName), "cosmos-kvp-dev");
        assert.equal(await unwrap(cmk.endpoint), "https://cosmos-kvp-dev.documents.azure.com:443/");
        assert.equal(await unwrap(cmk.resourceId), account.id);
        assert.equal(await unwrap(cmk.identityId), one(T.identity).id);
    });

    it("parents every child to the component", () => {
        const component = one(T.component);
        const children = rec.resources.filter((r) => r !== component);
        assert.equal(children.length, 4);
        for (const child of children) assert.equal(child.parentUrn, component.urn, child.name);
    });
});

describe("CosmosCmk ordering", () => {
    afterEach(() => delete createDelayMs[T.role]);

    it("creates the account only after the key grant exists", async () => {
        // A slow role assignment: without the explicit dependsOn the account registers as soon as
        // the key and identity exist, and would finish long before the grant does.
        createDelayMs[T.role] = 300;
        const rec = await record(() => new CosmosCmk("ord", baseArgs()));
        const account = rec.one(T.account);
        const grant = rec.one(T.role);
        assert.ok(rec.dependsOn(account, grant), "the account lists the grant among its dependencies");
        assert.ok(account.order > grant.order);
        assert.ok(account.createdAt >= grant.createdAt, `account created at ${account.createdAt}, grant at ${grant.createdAt}`);
    });
});

describe("CosmosCmk variants", () => {
    it("grants get/wrapKey/unwrapKey through an access policy on an access-policy vault", async () => {
        const rec = await record(() => new CosmosCmk("ap", baseArgs({ authorizationMode: "accessPolicies" })));
        assert.equal(rec.ofType(T.role).length, 0);
        const policy = rec.one(T.policy);
        assert.equal(policy.inputs.vaultName, "kv-cmk-dev");
        assert.equal(policy.inputs.resourceGroupName, "rg-cmk");
        assert.equal(policy.inputs.policy.tenantId, TENANT_ID);
        assert.equal(policy.inputs.policy.objectId, rec.one(T.identity).state.principalId);
        assert.deepEqual(policy.inputs.policy.permissions.keys, ["get", "wrapKey", "unwrapKey"]);
        assert.deepEqual(policy.inputs.policy.permissions.secrets, []);
        assert.deepEqual(policy.inputs.policy.permissions.certificates, []);
        assert.ok(rec.dependsOn(rec.one(T.account), policy), "the account waits for the access policy too");
    });

    it("passes public access, consistency, zone redundancy and backup tier through", async () => {
        const rec = await record(() => new CosmosCmk("v", baseArgs({
            locations: ["eastus2"], publicNetworkAccess: "Enabled", consistencyLevel: "Strong", zoneRedundant: true, backupTier: "Continuous30Days",
        })));
        const i = rec.one(T.account).inputs;
        assert.equal(i.publicNetworkAccess, "Enabled");
        assert.deepEqual(i.consistencyPolicy, { defaultConsistencyLevel: "Strong" });
        assert.deepEqual(i.locations, [{ locationName: "eastus2", failoverPriority: 0, isZoneRedundant: true }]);
        assert.equal(i.enableAutomaticFailover, false);
        assert.equal(i.backupPolicy.continuousModeProperties.tier, "Continuous30Days");
        assert.equal(rec.one(T.key).inputs.properties.keySize, 3072);
    });

    it("creates an HSM-backed key when asked, for premium CMK vaults", async () => {
        const rec = await record(() => new CosmosCmk("hsm", baseArgs({ hsm: true })));
        assert.equal(rec.one(T.key).inputs.properties.kty, "RSA-HSM");
    });

    it("bounds staleness explicitly when BoundedStaleness is chosen", async () => {
        const rec = await record(() => new CosmosCmk("bs", baseArgs({ consistencyLevel: "BoundedStaleness" })));
        assert.deepEqual(rec.one(T.account).inputs.consistencyPolicy, { defaultConsistencyLevel: "BoundedStaleness", maxIntervalInSeconds: 300, maxStalenessPrefix: 100_000 });
    });

    it("fails before creating anything when the settings are invalid", async () => {
        assert.throws(() => new CosmosCmk("bad", baseArgs({ locations: [] })), /CosmosCmk: locations/);
    });
});
