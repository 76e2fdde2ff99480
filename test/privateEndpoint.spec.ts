import { strict as assert } from "node:assert";
import { record, unwrap, SUBSCRIPTION_ID } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { PrivateEndpoint, PrivateEndpointArgs, validatePrivateEndpointArgs } from "../components/privateEndpoint";

const NET_RG = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-net/providers/Microsoft.Network`;
const VNET = `${NET_RG}/virtualNetworks/vnet-hub`;
const SUBNET = `${VNET}/subnets/snet-pe`;
const OTHER_VNET = `${NET_RG}/virtualNetworks/vnet-spoke`;
const VAULT_ID = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-kvp-dev-abc123`;
const EXISTING_ZONE = `${NET_RG}/privateDnsZones/privatelink.vaultcore.azure.net`;

const T = {
    component: "keyvault-platform:network:PrivateEndpoint",
    pe: "azure-native:network:PrivateEndpoint",
    zoneGroup: "azure-native:network:PrivateDnsZoneGroup",
    zone: "azure-native:privatedns:PrivateZone",
    link: "azure-native:privatedns:VirtualNetworkLink",
};

const vaultArgs: PrivateEndpointArgs = {
    resourceGroupName: "rg-app",
    location: "westeurope",
    targetResourceId: VAULT_ID,
    groupId: "vault",
    privateDnsZoneName: "privatelink.vaultcore.azure.net",
    subnetId: SUBNET,
    tags: { Environment: "dev" },
};

describe("PrivateEndpoint", () => {
    it("connects to the target's sub-resource from the given subnet", async () => {
        const rec = await record(() => new PrivateEndpoint("kv", vaultArgs));
        const pe = rec.one(T.pe);
        assert.equal(pe.inputs.resourceGroupName, "rg-app");
        assert.equal(pe.inputs.location, "westeurope");
        assert.equal(pe.inputs.subnet.id, SUBNET);
        assert.equal(pe.inputs.privateLinkServiceConnections.length, 1);
        const conn = pe.inputs.privateLinkServiceConnections[0];
        assert.equal(conn.privateLinkServiceId, VAULT_ID);
        assert.deepEqual(conn.groupIds, ["vault"]);
        assert.ok(conn.name, "the connection is named");
        assert.equal(pe.inputs.manualPrivateLinkServiceConnections, undefined, "auto-approved, not manual");
        assert.deepEqual(pe.inputs.tags, { Environment: "dev" });
    });

    it("creates the privatelink zone at location global and links it to the subnet's VNet without auto-registration", async () => {
        const rec = await record(() => new PrivateEndpoint("kv", vaultArgs));
        const zone = rec.one(T.zone);
        assert.equal(zone.inputs.privateZoneName, "privatelink.vaultcore.azure.net");
        assert.equal(zone.inputs.location, "global");
        assert.equal(zone.inputs.resourceGroupName, "rg-app");
        const link = rec.one(T.link);
        assert.equal(link.inputs.virtualNetwork.id, VNET);
        assert.equal(link.inputs.registrationEnabled, false);
        assert.equal(link.inputs.location, "global");
        assert.equal(link.inputs.privateZoneName, "privatelink.vaultcore.azure.net");
        assert.ok(rec.dependsOn(link, zone), "the link waits for the zone");
    });

    it("registers the endpoint in the created zone through a DNS zone group and reports both ids", async () => {
        let pe!: PrivateEndpoint;
        const rec = await record(() => { pe = new PrivateEndpoint("kv", vaultArgs); });
        const zone = rec.one(T.zone);
        const endpoint = rec.one(T.pe);
        const group = rec.one(T.zoneGroup);
        assert.equal(group.inputs.privateEndpointName, endpoint.state.name);
        assert.equal(group.inputs.resourceGroupName, "rg-app");
        assert.equal(group.inputs.privateDnsZoneConfigs.length, 1);
        assert.equal(group.inputs.privateDnsZoneConfigs[0].privateDnsZoneId, zone.id);
        assert.match(zone.id, /\/privateDnsZones\/privatelink\.vaultcore\.azure\.net$/);
        assert.ok(rec.dependsOn(group, endpoint) && rec.dependsOn(group, zone));
        assert.equal(await unwrap(pe.resourceId), endpoint.id);
        assert.equal(await unwrap(pe.privateDnsZoneId), zone.id);
    });

    it("links one VNet per listed id instead of the subnet's VNet", async () => {
        const rec = await record(() => new PrivateEndpoint("kv", { ...vaultArgs, linkVirtualNetworkIds: [VNET, OTHER_VNET] }));
        const linked = rec.ofType(T.link).map((l) => l.inputs.virtualNetwork.id).sort();
        assert.deepEqual(linked, [OTHER_VNET, VNET].sort());
    });

    it("names links by VNet, so reordering the list keeps every link's logical name", async () => {
        const names = async (ids: string[]) => (await record(() => new PrivateEndpoint("kv", { ...vaultArgs, linkVirtualNetworkIds: ids })))
            .ofType(T.link).map((l) => `${l.name}=${l.inputs.virtualNetwork.id}`).sort();
        assert.deepEqual(await names([VNET, OTHER_VNET]), await names([OTHER_VNET, VNET]));
    });

    it("uses an existing zone as given and creates no zone or link", async () => {
        let pe!: PrivateEndpoint;
        const rec = await record(() => { pe = new PrivateEndpoint("kv", { ...vaultArgs, privateDnsZoneId: EXISTING_ZONE }); });
        assert.equal(rec.ofType(T.zone).length, 0);
        assert.equal(rec.ofType(T.link).length, 0);
        assert.equal(rec.one(T.zoneGroup).inputs.privateDnsZoneConfigs[0].privateDnsZoneId, EXISTING_ZONE);
        assert.equal(await unwrap(pe.privateDnsZoneId), EXISTING_ZONE);
    });

    it("serves Cosmos DB with group id Sql on the documents zone", async () => {
        const cosmosId = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-app/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-kvp-dev-abc123`;
        const rec = await record(() => new PrivateEndpoint("cosmos", {
            ...vaultArgs, targetResourceId: cosmosId, groupId: "Sql", privateDnsZoneName: "privatelink.documents.azure.com",
        }));
        const conn = rec.one(T.pe).inputs.privateLinkServiceConnections[0];
        assert.deepEqual(conn.groupIds, ["Sql"]);
        assert.equal(conn.privateLinkServiceId, cosmosId);
        assert.equal(rec.one(T.zone).inputs.privateZoneName, "privatelink.documents.azure.com");
    });

    it("parents every child to the component", async () => {
        const rec = await record(() => new PrivateEndpoint("kv", vaultArgs));
        const component = rec.one(T.component);
        const children = rec.resources.filter((r) => r.type !== T.component);
        assert.equal(children.length, 4);
        for (const c of children) assert.equal(c.parentUrn, component.urn, c.name);
    });
});

describe("validatePrivateEndpointArgs", () => {
    const cases: Array<[string, Partial<PrivateEndpointArgs>, RegExp]> = [
        ["a subnet id that is a VNet id", { subnetId: VNET }, /subnetId: '.*vnet-hub' must be an ARM subnet id/],
        ["a group id with a dot", { groupId: "vault.x" }, /groupId: 'vault\.x'/],
        ["an empty group id", { groupId: "" }, /groupId: ''/],
        ["a zone name that is not privatelink", { privateDnsZoneName: "vaultcore.azure.net" }, /privateDnsZoneName: 'vaultcore\.azure\.net' must be a lowercase privatelink zone/],
        ["an upper-case zone name", { privateDnsZoneName: "privatelink.Vaultcore.azure.net" }, /privateDnsZoneName/],
        ["a zone id that is not a DNS zone", { privateDnsZoneId: VNET }, /privateDnsZoneId: .* must be an ARM private DNS zone id/],
        ["a zone id for another service's zone", { privateDnsZoneId: `${NET_RG}/privateDnsZones/privatelink.blob.core.windows.net` }, /must be the privatelink\.vaultcore\.azure\.net zone/],
        ["VNet links alongside an existing zone", { privateDnsZoneId: EXISTING_ZONE, linkVirtualNetworkIds: [VNET] }, /linkVirtualNetworkIds: only applies when the zone is created here/],
        ["a link target that is a subnet", { linkVirtualNetworkIds: [SUBNET] }, /linkVirtualNetworkIds: '.*snet-pe' must be a virtual network id/],
        ["a link target that is not an ARM id", { linkVirtualNetworkIds: ["vnet-hub"] }, /linkVirtualNetworkIds: 'vnet-hub' must be an ARM resource id/],
        ["the same VNet twice in another case", { linkVirtualNetworkIds: [VNET, VNET.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/")] }, /is listed twice/],
    ];
    for (const [what, override, expected] of cases) {
        it(`refuses ${what}`, () => {
            assert.throws(() => validatePrivateEndpointArgs("kv", { ...vaultArgs, ...override }),
                (e: Error) => e instanceof pulumi.RunError && e.message.startsWith("PrivateEndpoint 'kv'") && expected.test(e.message));
        });
    }

    it("accepts the vault and Cosmos shapes, and Outputs it can only check at deploy time", () => {
        assert.doesNotThrow(() => validatePrivateEndpointArgs("kv", vaultArgs));
        assert.doesNotThrow(() => validatePrivateEndpointArgs("kv", { ...vaultArgs, privateDnsZoneId: EXISTING_ZONE.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/") }));
        assert.doesNotThrow(() => validatePrivateEndpointArgs("kv", { ...vaultArgs, subnetId: pulumi.output("not-checked-yet"), privateDnsZoneId: pulumi.output("x") }));
    });

    it("is what the constructor runs, before anything is registered", () => {
        assert.throws(() => new PrivateEndpoint("bad", { ...vaultArgs, groupId: "" }), (e: Error) => e instanceof pulumi.RunError && /PrivateEndpoint 'bad'/.test(e.message));
    });
});
