import * as pulumi from "@pulumi/pulumi";
import { RandomString } from "@pulumi/random/randomString";
import { ResourceGroup as AzureResourceGroup } from "@pulumi/azure-native/resources/resourceGroup";
import { TIERS, Tier } from "../config/schema";
import { locationProblem } from "../config/validators";
import { nameWithSuffix, platformTagProblems, platformTags, resourceGroupName } from "./helpers/naming";

/** Length of the random suffix: 36^6 ≈ 2×10^9 combinations keeps global names (vault, Cosmos, storage) apart. */
export const SUFFIX_LENGTH = 6;

export interface ResourceGroupArgs {
    /** Required. Short lowercase prefix for every resource name, 2-8 letters and digits starting with a letter. */
    prefix: string;
    /** Required. The tier of the environment this group holds; part of every name. */
    tier: Tier;
    /** Required. Azure region, e.g. westeurope. */
    location: pulumi.Input<string>;
    /** Required. The platform's tags: the four ownership tags (packages/conventions/tags.ts) plus any extra ones. */
    tags: Record<string, string>;
}

/** Throws a RunError listing every bad argument, naming the component, the field, the value and what is allowed. */
export function validateResourceGroupArgs(name: string, args: ResourceGroupArgs): void {
    const problems: string[] = [];
    if (!/^[a-z][a-z0-9]{1,7}$/.test(args.prefix)) {
        problems.push(`prefix: '${args.prefix}' must be 2-8 lowercase letters and digits, starting with a letter`);
    }
    if (!(TIERS as readonly string[]).includes(args.tier)) {
        problems.push(`tier: '${args.tier}' must be one of ${TIERS.join(", ")}`);
    }
    if (typeof args.location === "string") {
        const p = locationProblem(args.location);
        if (p) problems.push(`location: '${args.location}' ${p}`);
    }
    problems.push(...platformTagProblems(args.tags));
    if (problems.length > 0) throw new pulumi.RunError(`ResourceGroup '${name}' has invalid arguments: ${problems.join("; ")}`);
}

/**
 * The environment's resource group and the random suffix every globally unique
 * name in it shares. The suffix lives in Pulumi state, so it is generated once
 * and stays the same on every later `pulumi up`.
 */
export class ResourceGroup extends pulumi.ComponentResource {
    /** The resource group's name, rg-<prefix>-<env>-<suffix>. */
    public readonly name: pulumi.Output<string>;
    /** ARM id of the resource group. */
    public readonly resourceId: pulumi.Output<string>;
    /** Region of the resource group. */
    public readonly location: pulumi.Output<string>;
    /** Random lowercase suffix for names in this environment; pass it to the naming builders. */
    public readonly suffix: pulumi.Output<string>;
    /** The tags applied to the group, for children created elsewhere. */
    public readonly tags: Record<string, string>;

    constructor(name: string, args: ResourceGroupArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate before registering, so bad arguments leave nothing half-registered behind.
        validateResourceGroupArgs(name, args);
        super("keyvault-platform:core:ResourceGroup", name, {}, opts);
        this.tags = platformTags(`ResourceGroup '${name}'`, args.tags);

        // Lowercase letters and digits only: the one alphabet every name rule (storage's included) accepts.
        const suffix = new RandomString(`${name}-suffix`, {
            length: SUFFIX_LENGTH,
            lower: true,
            upper: false,
            numeric: true,
            special: false,
        }, { parent: this });

        const group = new AzureResourceGroup(`${name}-rg`, {
            resourceGroupName: nameWithSuffix(resourceGroupName, args.prefix, args.tier, suffix.result),
            location: args.location,
            tags: this.tags,
        }, { parent: this });

        this.name = group.name;
        this.resourceId = group.id;
        this.location = group.location;
        this.suffix = suffix.result;
        this.registerOutputs({ name: this.name, resourceId: this.resourceId, location: this.location, suffix: this.suffix, tags: this.tags });
    }
}
