import * as pulumi from "@pulumi/pulumi";
import { PrivateDnsZoneGroup } from "@pulumi/azure-native/network/privateDnsZoneGroup";
import { PrivateEndpoint as AzurePrivateEndpoint } from "@pulumi/azure-native/network/privateEndpoint";
import { PrivateZone } from "@pulumi/azure-native/privatedns/privateZone";
import { VirtualNetworkLink } from "@pulumi/azure-native/privatedns/virtualNetworkLink";
import { createHash } from "node:crypto";
import { armResourceIdProblem, privateDnsZoneIdProblem, subnetIdProblem, vnetIdOfSubnet } from "../config/validators";

export interface PrivateEndpointArgs {
    /** Required. Resource group that holds the endpoint (and the DNS zone, when one is created). */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Region of the endpoint; it must be the region of the subnet's VNet. */
    location: pulumi.Input<string>;
    /** Required. ARM id of the resource the endpoint connects to (a vault, a Cosmos DB account, ...). */
    targetResourceId: pulumi.Input<string>;
    /** Required. Private-link sub-resource of the target: `vault` for Key Vault, `Sql` for Cosmos DB (NoSQL). */
    groupId: string;
    /** Required. The privatelink zone that resolves the target, e.g. privatelink.vaultcore.azure.net. */
    privateDnsZoneName: string;
    /** Required. ARM id of the subnet that hosts the endpoint's network interface. */
    subnetId: pulumi.Input<string>;
    /** Optional. An existing private DNS zone (often a hub's) to register in. Defaults to creating the zone here. */
    privateDnsZoneId?: pulumi.Input<string>;
    /**
     * Optional. VNets to link a created zone to, so they resolve the private address.
     * Only applies when the zone is created here. Defaults to the endpoint subnet's VNet.
     */
    linkVirtualNetworkIds?: string[];
    /** Optional. Tags for every resource created. Defaults to none. */
    tags?: Record<string, string>;
}

const VNET_ID = /\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+$/i;

type CheckedArgs = Pick<PrivateEndpointArgs, "groupId" | "privateDnsZoneName" | "subnetId" | "privateDnsZoneId" | "linkVirtualNetworkIds">;

/** Every problem with the endpoint's arguments, one `field: value reason` line each; Outputs are checked by ARM. */
export function privateEndpointProblems(args: CheckedArgs): string[] {
    const problems: string[] = [];
    if (!/^[A-Za-z0-9_]+$/.test(args.groupId)) {
        problems.push(`groupId: '${args.groupId}' must be a private-link sub-resource name such as vault or Sql`);
    }
    if (!/^privatelink\.[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(args.privateDnsZoneName)) {
        problems.push(`privateDnsZoneName: '${args.privateDnsZoneName}' must be a lowercase privatelink zone such as privatelink.vaultcore.azure.net`);
    }
    if (typeof args.subnetId === "string") {
        const p = subnetIdProblem(args.subnetId);
        if (p) problems.push(`subnetId: '${args.subnetId}' ${p}`);
    }
    if (typeof args.privateDnsZoneId === "string") {
        const p = privateDnsZoneIdProblem(args.privateDnsZoneId);
        if (p) {
            problems.push(`privateDnsZoneId: '${args.privateDnsZoneId}' ${p}`);
        } else if (!args.privateDnsZoneId.toLowerCase().endsWith(`/privatednszones/${args.privateDnsZoneName}`)) {
            problems.push(`privateDnsZoneId: '${args.privateDnsZoneId}' must be the ${args.privateDnsZoneName} zone: the endpoint only resolves through that zone`);
        }
    }
    if (args.privateDnsZoneId !== undefined && args.linkVirtualNetworkIds !== undefined) {
        problems.push("linkVirtualNetworkIds: only applies when the zone is created here; omit it when privateDnsZoneId is given (link the existing zone where it lives)");
    }
    const seen = new Set<string>();
    for (const id of args.linkVirtualNetworkIds ?? []) {
        const p = armResourceIdProblem(id) ?? (VNET_ID.test(id) ? undefined : "must be a virtual network id (…/providers/Microsoft.Network/virtualNetworks/<vnet>)");
        if (p) problems.push(`linkVirtualNetworkIds: '${id}' ${p}`);
        if (seen.has(id.toLowerCase())) problems.push(`linkVirtualNetworkIds: '${id}' is listed twice; a zone links to each VNet once`);
        seen.add(id.toLowerCase());
    }
    return problems;
}

/** Throws a RunError listing every bad argument, naming the component, the field, the value and what is allowed. */
export function validatePrivateEndpointArgs(name: string, args: PrivateEndpointArgs): void {
    const problems = privateEndpointProblems(args);
    if (problems.length > 0) throw new pulumi.RunError(`PrivateEndpoint '${name}' has invalid arguments: ${problems.join("; ")}`);
}

/** A short, order-independent key per VNet, so reordering the list never replaces a link. */
function linkKey(vnetId: string): string {
    return createHash("sha256").update(vnetId.toLowerCase()).digest("hex").slice(0, 8);
}

/**
 * A private endpoint for any private-link target, registered in its privatelink
 * DNS zone so that the target's public hostname resolves to the private address
 * inside the linked VNets.
 */
export class PrivateEndpoint extends pulumi.ComponentResource {
    /** ARM id of the private endpoint. */
    public readonly resourceId: pulumi.Output<string>;
    /** ARM id of the private DNS zone the endpoint registers in (given or created). */
    public readonly privateDnsZoneId: pulumi.Output<string>;

    constructor(name: string, args: PrivateEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        validatePrivateEndpointArgs(name, args);
        super("keyvault-platform:network:PrivateEndpoint", name, {}, opts);

        const zoneId = args.privateDnsZoneId !== undefined
            ? pulumi.output(args.privateDnsZoneId)
            : this.createZone(name, args);

        const endpoint = new AzurePrivateEndpoint(`${name}-pe`, {
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            subnet: { id: args.subnetId },
            privateLinkServiceConnections: [{
                name: `${name}-${args.groupId.toLowerCase()}`,
                privateLinkServiceId: args.targetResourceId,
                groupIds: [args.groupId],
            }],
            tags: args.tags,
        }, { parent: this });

        // The zone group makes Azure maintain the A record for the endpoint's address.
        new PrivateDnsZoneGroup(`${name}-dns`, {
            resourceGroupName: args.resourceGroupName,
            privateEndpointName: endpoint.name,
            privateDnsZoneGroupName: "default",
            privateDnsZoneConfigs: [{ name: args.privateDnsZoneName.replace(/\./g, "-"), privateDnsZoneId: zoneId }],
        }, { parent: this });

        this.resourceId = endpoint.id;
        this.privateDnsZoneId = zoneId;
        this.registerOutputs({ resourceId: this.resourceId, privateDnsZoneId: this.privateDnsZoneId });
    }

    private createZone(name: string, args: PrivateEndpointArgs): pulumi.Output<string> {
        // Private DNS zones are global resources; ARM refuses any other location.
        const zone = new PrivateZone(`${name}-zone`, {
            resourceGroupName: args.resourceGroupName,
            privateZoneName: args.privateDnsZoneName,
            location: "global",
            tags: args.tags,
        }, { parent: this });

        const links: Array<[string, pulumi.Input<string>]> = args.linkVirtualNetworkIds
            ? args.linkVirtualNetworkIds.map((id) => [`${name}-link-${linkKey(id)}`, id])
            : [[`${name}-link`, pulumi.output(args.subnetId).apply(vnetIdOfSubnet)]];
        for (const [linkName, vnetId] of links) {
            new VirtualNetworkLink(linkName, {
                resourceGroupName: args.resourceGroupName,
                privateZoneName: zone.name,
                location: "global",
                virtualNetwork: { id: vnetId },
                // Auto-registration would put VM records in a zone meant only for private-link records.
                registrationEnabled: false,
                tags: args.tags,
            }, { parent: this });
        }
        return zone.id;
    }
}
