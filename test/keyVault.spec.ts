import { strict as assert } from "node:assert";
import { record, unwrap, ownerTags, Recording, SUBSCRIPTION_ID, TENANT_ID, fakeGuid } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { KeyVault, KeyVaultArgs, PUBLIC_ACCESS_REASON_TAG, validateKeyVaultArgs } from "../components/keyVault";
import { roleAssignmentName } from "@keyvault-platform/conventions";

const T = {
    component: "keyvault-platform:keyvault:KeyVault",
    vault: "azure-native:keyvault:Vault",
    policy: "azure-native:keyvault:AccessPolicy",
    ra: "azure-native:authorization:RoleAssignment",
    peComponent: "keyvault-platform:network:PrivateEndpoint",
    pe: "azure-native:network:PrivateEndpoint",
    zoneGroup: "azure-native:network:PrivateDnsZoneGroup",
    zone: "azure-native:privatedns:PrivateZone",
    link: "azure-native:privatedns:VirtualNetworkLink",
};

// Role GUIDs as Azure's built-in role documentation lists them, independently of packages/conventions/roles.ts.
const SECRETS_USER_GUID = "4633458b-17de-408a-b874-0445c86b69e6";
const CRYPTO_OFFICER_GUID = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const READER_GUID = "21090545-7ca7-4776-b22c-e363652d74d2";

const APP = fakeGuid("app-principal");
const OPS = fakeGuid("ops-group");
const NET = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-net/providers/Microsoft.Network`;
const VNET = `${NET}/virtualNetworks/vnet-app`;
const SUBNET_PE = `${VNET}/subnets/snet-pe`;
const SUBNET_APP = `${VNET}/subnets/snet-app`;

const base: KeyVaultArgs = {
    resourceGroupName: "rg-kvp-dev-abc123",
    location: "westeurope",
    vaultName: "kv-kvp-dev-abc123",
    tenantId: TENANT_ID,
    subscriptionId: SUBSCRIPTION_ID,
    tier: "dev",
    tags: { CostCenter: "42", ...ownerTags() },
};

async function build(name: string, args: KeyVaultArgs): Promise<{ rec: Recording; kv: KeyVault }> {
    let kv!: KeyVault;
    const rec = await record(() => { kv = new KeyVault(name, args); });
    return { rec, kv };
}

describe("KeyVault: secure defaults", () => {
    it("creates a standard vault with soft delete for 90 days, purge protection and RBAC", async () => {
        const { rec } = await build("app", base);
        const p = rec.one(T.vault).inputs.properties;
        assert.equal(p.tenantId, TENANT_ID);
        assert.deepEqual(p.sku, { family: "A", name: "standard" });
        assert.equal(p.enableSoftDelete, true);
        assert.equal(p.softDeleteRetentionInDays, 90);
        assert.equal(p.enablePurgeProtection, true);
        assert.equal(p.enableRbacAuthorization, true);
        assert.equal(p.accessPolicies, undefined, "no inline access policies to fight standalone ones");
    });

    it("denies by default at the firewall, lets no Azure service bypass it, and keeps deployment flags off", async () => {
        const { rec } = await build("app", base);
        const p = rec.one(T.vault).inputs.properties;
        assert.deepEqual(p.networkAcls, { defaultAction: "Deny", bypass: "None", ipRules: [], virtualNetworkRules: [] });
        assert.equal(p.publicNetworkAccess, "Enabled", "without a private endpoint the (firewalled) public endpoint is the only way in");
        assert.equal(p.enabledForDeployment, false);
        assert.equal(p.enabledForTemplateDeployment, false);
        assert.equal(p.enabledForDiskEncryption, false);
    });

    it("names, places and tags the vault as asked, and exposes its id, name and URI", async () => {
        const { rec, kv } = await build("app", base);
        const vault = rec.one(T.vault);
        assert.equal(vault.inputs.vaultName, "kv-kvp-dev-abc123");
        assert.equal(vault.inputs.resourceGroupName, "rg-kvp-dev-abc123");
        assert.equal(vault.inputs.location, "westeurope");
        assert.deepEqual(vault.inputs.tags, { CostCenter: "42", ...ownerTags() });
        assert.equal(await unwrap(kv.resourceId), `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-kvp-dev-abc123/providers/Microsoft.KeyVault/vaults/kv-kvp-dev-abc123`);
        assert.equal(await unwrap(kv.name), "kv-kvp-dev-abc123");
        assert.equal(await unwrap(kv.uri), "https://kv-kvp-dev-abc123.vault.azure.net/");
        assert.equal(kv.privateEndpointId, undefined);
    });

    it("takes a vault name that is only known at deploy time", async () => {
        const { rec } = await build("app", { ...base, vaultName: pulumi.output("kv-kvp-dev-zz9zz9") });
        assert.equal(rec.one(T.vault).inputs.vaultName, "kv-kvp-dev-zz9zz9");
    });
});

describe("KeyVault: explicit relaxations", () => {
    it("leaves enablePurgeProtection unset, never false, when purge protection is turned off", async () => {
        const { rec } = await build("app", { ...base, purgeProtection: false, softDeleteRetentionDays: 7 });
        const p = rec.one(T.vault).inputs.properties;
        assert.ok(!("enablePurgeProtection" in p), `enablePurgeProtection should be absent, got ${JSON.stringify(p.enablePurgeProtection)}`);
        assert.equal(p.enableSoftDelete, true, "soft delete stays on regardless");
        assert.equal(p.softDeleteRetentionInDays, 7);
    });

    it("passes premium SKU, firewall rules, bypass and deployment flags through", async () => {
        const { rec } = await build("app", {
            ...base,
            sku: "premium",
            network: { allowedIpRanges: ["203.0.113.0/24", "198.51.100.7"], allowedSubnetIds: [SUBNET_APP], bypass: "AzureServices" },
            enabledForDeployment: true,
            enabledForTemplateDeployment: true,
            enabledForDiskEncryption: true,
        });
        const p = rec.one(T.vault).inputs.properties;
        assert.equal(p.sku.name, "premium");
        assert.deepEqual(p.networkAcls, {
            defaultAction: "Deny",
            bypass: "AzureServices",
            ipRules: [{ value: "203.0.113.0/24" }, { value: "198.51.100.7" }],
            virtualNetworkRules: [{ id: SUBNET_APP, ignoreMissingVnetServiceEndpoint: false }],
        });
        assert.equal(p.enabledForDeployment, true);
        assert.equal(p.enabledForTemplateDeployment, true);
        assert.equal(p.enabledForDiskEncryption, true);
    });
});

describe("KeyVault: role assignments", () => {
    const grants: KeyVaultArgs["roleAssignments"] = [
        { principalId: APP, principalType: "ServicePrincipal", role: "secrets-user" },
        { principalId: OPS, principalType: "Group", role: "crypto-officer" },
    ];

    it("assigns each role on the vault with the full ARM role definition id and the principal type", async () => {
        const { rec, kv } = await build("app", { ...base, roleAssignments: grants });
        const vaultId = await unwrap(kv.resourceId);
        const ras = rec.ofType(T.ra);
        assert.equal(ras.length, 2);
        const byPrincipal = new Map(ras.map((r) => [r.inputs.principalId, r.inputs]));
        const app = byPrincipal.get(APP)!;
        assert.equal(app.scope, vaultId);
        assert.equal(app.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_USER_GUID}`);
        assert.equal(app.principalType, "ServicePrincipal");
        const ops = byPrincipal.get(OPS)!;
        assert.equal(ops.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${CRYPTO_OFFICER_GUID}`);
        assert.equal(ops.principalType, "Group");
        assert.ok(ras.every((r) => rec.dependsOn(r, rec.one(T.vault))), "assignments wait for the vault");
    });

    it("names assignments deterministically from (scope, principal, role), identically across two runs", async () => {
        const run = async () => {
            const { rec, kv } = await build("app", { ...base, roleAssignments: grants });
            return { vaultId: await unwrap(kv.resourceId), names: rec.ofType(T.ra).map((r) => [r.name, r.inputs.roleAssignmentName] as const).sort() };
        };
        const first = await run();
        const second = await run();
        assert.deepEqual(first.names, second.names);
        const physical = first.names.map(([, n]) => n).sort();
        assert.deepEqual(physical, [
            roleAssignmentName(first.vaultId, APP, SECRETS_USER_GUID),
            roleAssignmentName(first.vaultId, OPS, CRYPTO_OFFICER_GUID),
        ].sort());
        for (const n of physical) assert.match(n, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a UUIDv5");
    });

    it("keeps each assignment's logical name when the list is reordered", async () => {
        const names = async (list: NonNullable<KeyVaultArgs["roleAssignments"]>) =>
            (await build("app", { ...base, roleAssignments: list })).rec.ofType(T.ra).map((r) => `${r.name}=${r.inputs.roleAssignmentName}`).sort();
        assert.deepEqual(await names(grants), await names([...grants].reverse()));
    });
});

describe("KeyVault: access-policy mode", () => {
    const policies: KeyVaultArgs["accessPolicies"] = [
        { objectId: APP, secrets: ["get", "list"], keys: [], certificates: [] },
        { objectId: OPS, secrets: ["get", "list", "set", "delete", "recover", "backup", "restore"], keys: ["get", "wrapKey", "unwrapKey"], certificates: ["get"] },
    ];

    it("turns RBAC authorization off and creates one standalone policy per object, never all or purge", async () => {
        const { rec } = await build("legacy", { ...base, authorizationMode: "accessPolicies", accessPolicies: policies });
        const vault = rec.one(T.vault);
        assert.equal(vault.inputs.properties.enableRbacAuthorization, false);
        assert.equal(vault.inputs.properties.accessPolicies, undefined);
        const created = rec.ofType(T.policy);
        assert.equal(created.length, 2);
        for (const expected of policies!) {
            const got = created.find((c) => c.inputs.policy.objectId === expected.objectId);
            assert.ok(got, `a policy for ${expected.objectId}`);
            assert.equal(got.inputs.policy.tenantId, TENANT_ID);
            assert.equal(got.inputs.vaultName, "kv-kvp-dev-abc123");
            assert.equal(got.inputs.resourceGroupName, "rg-kvp-dev-abc123");
            assert.deepEqual(got.inputs.policy.permissions, { secrets: expected.secrets, keys: expected.keys, certificates: expected.certificates });
            assert.ok(rec.dependsOn(got, vault));
        }
        const everyPermission = created.flatMap((c) => Object.values(c.inputs.policy.permissions).flat() as string[]);
        assert.ok(!everyPermission.includes("all") && !everyPermission.includes("purge"));
    });

    it("creates the policies one after another, since they all edit the vault's one policy list", async () => {
        const { rec } = await build("legacy", { ...base, authorizationMode: "accessPolicies", accessPolicies: policies });
        const [first, second] = rec.ofType(T.policy).sort((a, b) => a.order - b.order);
        assert.ok(rec.dependsOn(second, first));
    });

    it("still grants the reader role as an RBAC assignment", async () => {
        const { rec } = await build("legacy", {
            ...base, authorizationMode: "accessPolicies", accessPolicies: policies,
            roleAssignments: [{ principalId: OPS, principalType: "Group", role: "reader" }],
        });
        const ra = rec.one(T.ra);
        assert.equal(ra.inputs.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${READER_GUID}`);
        assert.equal(rec.ofType(T.policy).length, 2, "the reader grant adds no access policy");
    });
});

describe("KeyVault: private endpoint", () => {
    const withPe: KeyVaultArgs = { ...base, tier: "prod", privateEndpoint: { subnetId: SUBNET_PE } };

    it("disables public network access and connects a private endpoint to the vault's 'vault' sub-resource", async () => {
        const { rec, kv } = await build("app", withPe);
        assert.equal(rec.one(T.vault).inputs.properties.publicNetworkAccess, "Disabled");
        const pe = rec.one(T.pe);
        const conn = pe.inputs.privateLinkServiceConnections[0];
        assert.deepEqual(conn.groupIds, ["vault"]);
        assert.equal(conn.privateLinkServiceId, await unwrap(kv.resourceId));
        assert.equal(pe.inputs.subnet.id, SUBNET_PE);
        assert.equal(await unwrap(kv.privateEndpointId!), pe.id);
    });

    it("registers the endpoint in privatelink.vaultcore.azure.net, linked to the subnet's VNet", async () => {
        const { rec } = await build("app", withPe);
        const zone = rec.one(T.zone);
        assert.equal(zone.inputs.privateZoneName, "privatelink.vaultcore.azure.net");
        const configs = rec.one(T.zoneGroup).inputs.privateDnsZoneConfigs;
        assert.equal(configs.length, 1);
        assert.equal(configs[0].privateDnsZoneId, zone.id);
        assert.match(configs[0].privateDnsZoneId, /\/privateDnsZones\/privatelink\.vaultcore\.azure\.net$/);
        assert.equal(rec.one(T.link).inputs.virtualNetwork.id, VNET);
    });

    it("keeps the public endpoint open only with a stated reason, which it records as a tag", async () => {
        const reason = "CI runners outside the VNet seed secrets";
        const { rec } = await build("app", { ...withPe, publicNetworkAccess: "Enabled", publicNetworkAccessReason: reason });
        const vault = rec.one(T.vault);
        assert.equal(vault.inputs.properties.publicNetworkAccess, "Enabled");
        assert.equal(vault.inputs.tags[PUBLIC_ACCESS_REASON_TAG], reason);
        assert.equal(rec.one(T.pe).inputs.tags[PUBLIC_ACCESS_REASON_TAG], reason);
    });

    it("tags the endpoint's resources like the vault", async () => {
        const { rec } = await build("app", withPe);
        const expected = { CostCenter: "42", ...ownerTags() };
        for (const type of [T.pe, T.zone, T.link]) assert.deepEqual(rec.one(type).inputs.tags, expected, type);
    });
});

describe("KeyVault: resource tree", () => {
    it("parents every child to the component, and the endpoint's resources to the endpoint component", async () => {
        const { rec } = await build("app", {
            ...base, tier: "prod", privateEndpoint: { subnetId: SUBNET_PE },
            roleAssignments: [{ principalId: APP, principalType: "ServicePrincipal", role: "secrets-user" }],
        });
        const component = rec.one(T.component);
        const peComponent = rec.one(T.peComponent);
        for (const type of [T.vault, T.ra, T.peComponent]) assert.equal(rec.one(type).parentUrn, component.urn, type);
        for (const type of [T.pe, T.zoneGroup, T.zone, T.link]) assert.equal(rec.one(type).parentUrn, peComponent.urn, type);
        for (const r of rec.resources.filter((x) => x.type !== T.component)) assert.match(r.name, /^app-/, `${r.name} is named after the component`);
    });
});

describe("validateKeyVaultArgs", () => {
    const policy = { objectId: APP, secrets: ["get"], keys: [], certificates: [] };
    const cases: Array<[string, Partial<KeyVaultArgs>, RegExp]> = [
        ["a retention below 7 days", { softDeleteRetentionDays: 6 }, /softDeleteRetentionDays: 6 must be a whole number of days from 7 to 90/],
        ["a retention above 90 days", { softDeleteRetentionDays: 91 }, /softDeleteRetentionDays: 91/],
        ["a fractional retention", { softDeleteRetentionDays: 30.5 }, /softDeleteRetentionDays: 30\.5/],
        ["purge protection off in prod", { tier: "prod", purgeProtection: false }, /purgeProtection: false is refused in prod/],
        ["an unknown SKU", { sku: "free" as never }, /sku: 'free' must be one of "standard", "premium"/],
        ["an unknown tier", { tier: "qa" as never }, /tier: 'qa' must be one of "dev", "staging", "prod"/],
        ["an unknown authorization mode", { authorizationMode: "acl" as never }, /authorizationMode: 'acl'/],
        ["an invalid vault name", { vaultName: "kv--dev" }, /vaultName: Key Vault name 'kv--dev' must not contain consecutive hyphens/],
        ["a vault name too long", { vaultName: "kv-" + "a".repeat(22) }, /vaultName: .*must be 3-24 characters/],
        ["a tenant id that is not a GUID", { tenantId: "contoso.onmicrosoft.com" }, /tenantId: 'contoso\.onmicrosoft\.com' must be a GUID/],
        ["a subscription id that is not a GUID", { subscriptionId: "prod-sub" }, /subscriptionId: 'prod-sub' must be a GUID/],
        ["a display-style location", { location: "West Europe" }, /location: 'West Europe'/],
        ["access policies in rbac mode", { accessPolicies: [policy] }, /accessPolicies: only apply when authorizationMode is "accessPolicies"/],
        ["an 'all' secret permission", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, secrets: ["all"] }] }, /accessPolicies\[0\]\.secrets\[0\]: 'all' is never granted/],
        ["a 'purge' key permission", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, keys: ["get", "purge"] }] }, /accessPolicies\[0\]\.keys\[1\]: 'purge' is never granted/],
        ["a 'purge' certificate permission", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, certificates: ["purge"] }] }, /certificates\[0\]: 'purge'/],
        ["an unknown permission", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, secrets: ["read"] }] }, /secrets\[0\]: unknown permission 'read'; allowed: get, list, set/],
        ["a key permission given for secrets", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, secrets: ["wrapKey"] }] }, /unknown permission 'wrapKey'/],
        ["a policy that grants nothing", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, secrets: [] }] }, /accessPolicies\[0\]: grants no permission at all/],
        ["two policies for one object", { authorizationMode: "accessPolicies", accessPolicies: [policy, { ...policy, objectId: APP.toUpperCase() }] }, /accessPolicies\[1\]\.objectId: .* has two policies/],
        ["a policy object id that is not a GUID", { authorizationMode: "accessPolicies", accessPolicies: [{ ...policy, objectId: "app" }] }, /accessPolicies\[0\]\.objectId: 'app' must be a GUID/],
        ["the same role granted twice to one principal", { roleAssignments: [{ principalId: APP, principalType: "User", role: "reader" }, { principalId: APP.toUpperCase(), principalType: "User", role: "reader" }] }, /roleAssignments\[1\]: grants 'reader' to .* twice/],
        ["an unknown role", { roleAssignments: [{ principalId: APP, principalType: "User", role: "owner" as never }] }, /roleAssignments\[0\]\.role: unknown role 'owner'; allowed: administrator/],
        ["a data-plane role on an access-policy vault", { authorizationMode: "accessPolicies", accessPolicies: [policy], roleAssignments: [{ principalId: APP, principalType: "User", role: "secrets-user" }] }, /roleAssignments\[0\]\.role: 'secrets-user' has no effect on an access-policy vault/],
        ["an unknown principal type", { roleAssignments: [{ principalId: APP, principalType: "Device" as never, role: "reader" }] }, /principalType: 'Device' must be one of "User", "Group", "ServicePrincipal"/],
        ["a principal id that is not a GUID", { roleAssignments: [{ principalId: "alice@contoso.com", principalType: "User", role: "reader" }] }, /principalId: 'alice@contoso\.com' must be a GUID/],
        ["a private IP range", { network: { allowedIpRanges: ["10.0.0.0/8"] } }, /network\.allowedIpRanges\[0\]: '10\.0\.0\.0\/8' is a private/],
        ["an IP range with host bits", { network: { allowedIpRanges: ["203.0.113.5/24"] } }, /has host bits set/],
        ["the same IP range twice", { network: { allowedIpRanges: ["203.0.113.0/24", "203.0.113.0/24"] } }, /allowedIpRanges\[1\]: '203\.0\.113\.0\/24' is listed twice/],
        ["a subnet id that is a VNet id", { network: { allowedSubnetIds: [VNET] } }, /network\.allowedSubnetIds\[0\]: .* must be an ARM subnet id/],
        ["an unknown bypass", { network: { bypass: "Everything" as never } }, /network\.bypass: 'Everything'/],
        ["an unknown public network access value", { publicNetworkAccess: "Open" as never }, /publicNetworkAccess: 'Open' must be one of "Enabled", "Disabled"/],
        ["public access re-enabled beside a private endpoint without a reason", { privateEndpoint: { subnetId: SUBNET_PE }, publicNetworkAccess: "Enabled" }, /publicNetworkAccess: 'Enabled' re-opens the public endpoint .* set publicNetworkAccessReason/],
        ["a blank reason", { privateEndpoint: { subnetId: SUBNET_PE }, publicNetworkAccess: "Enabled", publicNetworkAccessReason: "  " }, /set publicNetworkAccessReason/],
        ["a reason where none is needed", { publicNetworkAccessReason: "because" }, /publicNetworkAccessReason: only applies when/],
        ["firewall rules that Disabled public access would ignore", { privateEndpoint: { subnetId: SUBNET_PE }, network: { allowedIpRanges: ["203.0.113.0/24"] } }, /network: allowedIpRanges and allowedSubnetIds have no effect while publicNetworkAccess is Disabled/],
        ["a private endpoint subnet that is not a subnet", { privateEndpoint: { subnetId: VNET } }, /privateEndpoint\.subnetId: .* must be an ARM subnet id/],
        ["an existing zone for another service", { privateEndpoint: { subnetId: SUBNET_PE, privateDnsZoneId: `${NET}/privateDnsZones/privatelink.documents.azure.com` } }, /privateEndpoint\.privateDnsZoneId: .* must be the privatelink\.vaultcore\.azure\.net zone/],
        ["VNet links beside an existing zone", { privateEndpoint: { subnetId: SUBNET_PE, privateDnsZoneId: `${NET}/privateDnsZones/privatelink.vaultcore.azure.net`, linkVirtualNetworkIds: [VNET] } }, /privateEndpoint\.linkVirtualNetworkIds: only applies/],
        ["tags without the ownership tags", { tags: { CostCenter: "42" } }, /tags: Team, Environment, Tier, ManagedBy missing/],
    ];
    for (const [what, override, expected] of cases) {
        it(`refuses ${what}`, () => {
            assert.throws(() => validateKeyVaultArgs("app", { ...base, ...override }),
                (e: Error) => e instanceof pulumi.RunError && e.message.startsWith("KeyVault 'app' has invalid arguments") && expected.test(e.message));
        });
    }

    const accepted: Array<[string, Partial<KeyVaultArgs>]> = [
        ["the defaults", {}],
        ["dev relaxations: 7 days, no purge protection", { softDeleteRetentionDays: 7, purgeProtection: false }],
        ["an access-policy vault with a reader assignment", { authorizationMode: "accessPolicies", accessPolicies: [policy], roleAssignments: [{ principalId: OPS, principalType: "Group", role: "reader" }] }],
        ["a CMK-style vault: public, AzureServices bypass, no rules", { tier: "prod", network: { bypass: "AzureServices" } }],
        ["a private vault re-opened with a reason and rules", { privateEndpoint: { subnetId: SUBNET_PE }, publicNetworkAccess: "Enabled", publicNetworkAccessReason: "build agents", network: { allowedIpRanges: ["203.0.113.0/24"] } }],
        ["an explicitly private vault without an endpoint here", { publicNetworkAccess: "Disabled", network: { bypass: "AzureServices" } }],
        ["Outputs it cannot inspect yet", { vaultName: pulumi.output("x"), tenantId: pulumi.output("y"), location: pulumi.output("z") }],
    ];
    for (const [what, override] of accepted) {
        it(`accepts ${what}`, () => {
            assert.doesNotThrow(() => validateKeyVaultArgs("app", { ...base, ...override }));
        });
    }

    it("reports every problem in one error", () => {
        assert.throws(() => validateKeyVaultArgs("app", { ...base, softDeleteRetentionDays: 1, sku: "free" as never }),
            (e: Error) => /softDeleteRetentionDays: 1/.test(e.message) && /sku: 'free'/.test(e.message));
    });

    it("is what the constructor runs, so bad arguments create nothing", () => {
        assert.throws(() => new KeyVault("bad", { ...base, softDeleteRetentionDays: 0 }), (e: Error) => e instanceof pulumi.RunError && /KeyVault 'bad'/.test(e.message));
    });
});
