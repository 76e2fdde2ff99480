import * as pulumi from "@pulumi/pulumi";
import { AccessPolicy } from "@pulumi/azure-native/keyvault/accessPolicy";
import { Vault } from "@pulumi/azure-native/keyvault/vault";
import {
    AccessPolicyConfig, CERTIFICATE_PERMISSIONS, TIERS, Tier, KEY_PERMISSIONS, RoleGrant, SECRET_PERMISSIONS,
} from "../config/schema";
import { FORBIDDEN_ROLE_IDS, KEY_VAULT_ROLE_NAMES, KEY_VAULT_ROLES, PRINCIPAL_TYPES } from "@keyvault-platform/conventions";
import { ipRuleProblem, isGuid, locationProblem, subnetIdProblem, tagProblem } from "../config/validators";
import { nameProblem, platformTagProblems, platformTags, validateVaultName } from "./helpers/naming";
import { PrivateEndpoint, privateEndpointProblems } from "./privateEndpoint";
import { AuthorizationMode, grantVaultAccess } from "./vaultAccess";

/** The zone Key Vault private endpoints resolve through, and the endpoint's sub-resource. */
export const VAULT_PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net";
export const VAULT_PRIVATE_LINK_GROUP_ID = "vault";

export type VaultSku = "standard" | "premium";
export type NetworkBypass = "AzureServices" | "None";
export type PublicNetworkAccess = "Enabled" | "Disabled";

/** Azure's per-vault firewall limits. */
const MAX_IP_RULES = 1000;
const MAX_VNET_RULES = 200;

export interface KeyVaultNetworkArgs {
    /** Optional. Public IPv4 addresses or CIDR ranges let through the firewall. Defaults to none. */
    allowedIpRanges?: string[];
    /** Optional. Subnet ids (with the Microsoft.KeyVault service endpoint) let through the firewall. Defaults to none. */
    allowedSubnetIds?: string[];
    /** Optional. Whether trusted Azure services bypass the firewall. Defaults to "None"; a CMK vault needs "AzureServices". */
    bypass?: NetworkBypass;
}

export interface KeyVaultPrivateEndpointArgs {
    /** Required. Subnet that hosts the endpoint's network interface. */
    subnetId: string;
    /** Optional. An existing privatelink.vaultcore.azure.net zone. Defaults to creating one. */
    privateDnsZoneId?: string;
    /** Optional. VNets to link a created zone to. Defaults to the endpoint subnet's VNet. */
    linkVirtualNetworkIds?: string[];
}

export interface KeyVaultArgs {
    /** Required. Resource group of the vault. */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Azure region of the vault. */
    location: pulumi.Input<string>;
    /** Required. Globally unique vault name (see `vaultName` in naming.ts); validated against Key Vault's rules. */
    vaultName: pulumi.Input<string>;
    /** Required. Entra tenant that authenticates data-plane requests. */
    tenantId: pulumi.Input<string>;
    /** Required. Subscription whose role definitions the role assignments reference. */
    subscriptionId: pulumi.Input<string>;
    /** Required. The tier of the vault's environment; prod refuses purgeProtection false. */
    tier: Tier;
    /** Optional. "premium" adds HSM-backed keys. Defaults to "standard". */
    sku?: VaultSku;
    /** Optional. Days a deleted vault or object stays recoverable, an integer from 7 to 90. Defaults to 90. */
    softDeleteRetentionDays?: number;
    /**
     * Optional. Whether purge protection is on. Defaults to true. Once on, Azure never lets it be
     * turned off, so false only matters at creation (e.g. a dev vault that must be torn down cheaply).
     */
    purgeProtection?: boolean;
    /** Optional. "rbac" (role assignments) or "accessPolicies" (classic vault access policies). Defaults to "rbac". */
    authorizationMode?: AuthorizationMode;
    /** Optional. Access policies, accessPolicies mode only; `all` and `purge` are refused. Defaults to none. */
    accessPolicies?: AccessPolicyConfig[];
    /**
     * Optional. Built-in Key Vault roles to grant on the vault, by friendly name. In accessPolicies mode
     * only "reader" (management-plane read) applies. Defaults to none.
     */
    roleAssignments?: RoleGrant[];
    /** Optional. Firewall: the default action is always Deny. Defaults to no rules and bypass "None". */
    network?: KeyVaultNetworkArgs;
    /** Optional. Serve the vault through a private endpoint (group id `vault`). Defaults to none. */
    privateEndpoint?: KeyVaultPrivateEndpointArgs;
    /**
     * Optional. Whether the public endpoint answers at all. Defaults to "Disabled" when a private endpoint
     * is given, else "Enabled" (the firewall still denies by default).
     */
    publicNetworkAccess?: PublicNetworkAccess;
    /**
     * Optional. Why the public endpoint stays open although a private endpoint serves the vault;
     * required exactly when publicNetworkAccess is "Enabled" with a private endpoint. Recorded as a tag.
     */
    publicNetworkAccessReason?: string;
    /** Optional. Let VMs retrieve certificates stored as secrets. Defaults to false. */
    enabledForDeployment?: boolean;
    /** Optional. Let ARM template deployments retrieve secrets. Defaults to false. */
    enabledForTemplateDeployment?: boolean;
    /** Optional. Let Azure Disk Encryption retrieve secrets and unwrap keys. Defaults to false. */
    enabledForDiskEncryption?: boolean;
    /** Required. The platform's tags: the four ownership tags (packages/conventions/tags.ts) plus any extra ones. */
    tags: Record<string, string>;
}

/** The tag that records why a privately served vault keeps its public endpoint. */
export const PUBLIC_ACCESS_REASON_TAG = "PublicNetworkAccessReason";

type Resolved = Required<Omit<KeyVaultArgs, "privateEndpoint" | "publicNetworkAccessReason" | "network">> & {
    network: Required<KeyVaultNetworkArgs>;
    privateEndpoint?: KeyVaultPrivateEndpointArgs;
    publicNetworkAccessReason?: string;
};

/** The secure defaults, applied in one place. */
function withDefaults(args: KeyVaultArgs): Resolved {
    return {
        ...args,
        sku: args.sku ?? "standard",
        softDeleteRetentionDays: args.softDeleteRetentionDays ?? 90,
        purgeProtection: args.purgeProtection ?? true,
        authorizationMode: args.authorizationMode ?? "rbac",
        accessPolicies: args.accessPolicies ?? [],
        roleAssignments: args.roleAssignments ?? [],
        network: {
            allowedIpRanges: args.network?.allowedIpRanges ?? [],
            allowedSubnetIds: args.network?.allowedSubnetIds ?? [],
            bypass: args.network?.bypass ?? "None",
        },
        publicNetworkAccess: args.publicNetworkAccess ?? (args.privateEndpoint ? "Disabled" : "Enabled"),
        enabledForDeployment: args.enabledForDeployment ?? false,
        enabledForTemplateDeployment: args.enabledForTemplateDeployment ?? false,
        enabledForDiskEncryption: args.enabledForDiskEncryption ?? false,
    };
}

const oneOf = (values: readonly string[]) => values.map((v) => `"${v}"`).join(", ");

function permissionProblems(field: string, perms: readonly string[] | undefined, allowed: readonly string[]): string[] {
    if (perms === undefined) return [];
    if (!Array.isArray(perms)) return [`${field}: must be a list of permissions; allowed: ${allowed.join(", ")}`];
    const problems: string[] = [];
    perms.forEach((p, i) => {
        if (p === "all" || p === "purge") {
            // `all` grows silently with every new permission; `purge` defeats soft delete (PSRule Azure.KeyVault.AccessPolicy).
            problems.push(`${field}[${i}]: '${p}' is never granted; list the permissions needed instead; allowed: ${allowed.join(", ")}`);
        } else if (!allowed.includes(p)) {
            problems.push(`${field}[${i}]: unknown permission '${p}'; allowed: ${allowed.join(", ")}`);
        }
    });
    return problems;
}

function accessProblems(a: Resolved): string[] {
    const problems: string[] = [];
    if (a.authorizationMode === "rbac" && a.accessPolicies.length > 0) {
        problems.push("accessPolicies: only apply when authorizationMode is \"accessPolicies\"; with \"rbac\", use roleAssignments");
    }
    const objects = new Set<string>();
    a.accessPolicies.forEach((p, i) => {
        const f = `accessPolicies[${i}]`;
        if (typeof p.objectId !== "string" || !isGuid(p.objectId)) problems.push(`${f}.objectId: '${p.objectId}' must be a GUID (an Entra object id)`);
        else if (objects.has(p.objectId.toLowerCase())) problems.push(`${f}.objectId: '${p.objectId}' has two policies; a vault holds one policy per object, so merge them`);
        else objects.add(p.objectId.toLowerCase());
        problems.push(...permissionProblems(`${f}.secrets`, p.secrets, SECRET_PERMISSIONS));
        problems.push(...permissionProblems(`${f}.keys`, p.keys, KEY_PERMISSIONS));
        problems.push(...permissionProblems(`${f}.certificates`, p.certificates, CERTIFICATE_PERMISSIONS));
        if ((p.secrets ?? []).length + (p.keys ?? []).length + (p.certificates ?? []).length === 0) {
            problems.push(`${f}: grants no permission at all; remove it or list the secrets, keys or certificates permissions needed`);
        }
    });
    const grants = new Set<string>();
    a.roleAssignments.forEach((g, i) => {
        const f = `roleAssignments[${i}]`;
        const role = KEY_VAULT_ROLES[g.role as keyof typeof KEY_VAULT_ROLES];
        if (!role) {
            problems.push(`${f}.role: unknown role '${g.role}'; allowed: ${KEY_VAULT_ROLE_NAMES.join(", ")}`);
        } else if (FORBIDDEN_ROLE_IDS[role.id]) {
            problems.push(`${f}.role: '${g.role}' is ${FORBIDDEN_ROLE_IDS[role.id]}, which can grant itself data-plane access and is never assigned`);
        } else if (a.authorizationMode === "accessPolicies" && g.role !== "reader") {
            problems.push(`${f}.role: '${g.role}' has no effect on an access-policy vault; use accessPolicies (only "reader" applies)`);
        }
        if (!(PRINCIPAL_TYPES as readonly string[]).includes(g.principalType)) {
            problems.push(`${f}.principalType: '${g.principalType}' must be one of ${oneOf(PRINCIPAL_TYPES)}`);
        }
        if (typeof g.principalId !== "string" || !isGuid(g.principalId)) {
            problems.push(`${f}.principalId: '${g.principalId}' must be a GUID (an Entra object id)`);
        } else {
            const key = `${g.principalId.toLowerCase()}|${g.role}`;
            if (grants.has(key)) problems.push(`${f}: grants '${g.role}' to ${g.principalId} twice`);
            grants.add(key);
        }
    });
    return problems;
}

function networkProblems(a: Resolved): string[] {
    const problems: string[] = [];
    const { allowedIpRanges, allowedSubnetIds, bypass } = a.network;
    const listed = (field: string, values: string[], max: number, problem: (v: string) => string | undefined) => {
        if (values.length > max) problems.push(`network.${field}: lists ${values.length} entries; Key Vault allows at most ${max}`);
        const seen = new Set<string>();
        values.forEach((v, i) => {
            const p = problem(v);
            if (p) problems.push(`network.${field}[${i}]: '${v}' ${p}`);
            if (seen.has(v.toLowerCase())) problems.push(`network.${field}[${i}]: '${v}' is listed twice`);
            seen.add(v.toLowerCase());
        });
    };
    listed("allowedIpRanges", allowedIpRanges, MAX_IP_RULES, ipRuleProblem);
    listed("allowedSubnetIds", allowedSubnetIds, MAX_VNET_RULES, subnetIdProblem);
    if (!["AzureServices", "None"].includes(bypass)) problems.push(`network.bypass: '${bypass}' must be one of "AzureServices", "None"`);

    if (!["Enabled", "Disabled"].includes(a.publicNetworkAccess)) {
        problems.push(`publicNetworkAccess: '${a.publicNetworkAccess}' must be one of "Enabled", "Disabled"`);
    }
    if (a.privateEndpoint) {
        problems.push(...privateEndpointProblems({ ...a.privateEndpoint, groupId: VAULT_PRIVATE_LINK_GROUP_ID, privateDnsZoneName: VAULT_PRIVATE_DNS_ZONE })
            .map((p) => `privateEndpoint.${p}`));
    }
    const reasonNeeded = a.privateEndpoint !== undefined && a.publicNetworkAccess === "Enabled";
    if (reasonNeeded && !a.publicNetworkAccessReason?.trim()) {
        problems.push("publicNetworkAccess: 'Enabled' re-opens the public endpoint of a vault served by a private endpoint; set publicNetworkAccessReason to say why, or leave publicNetworkAccess unset (Disabled)");
    }
    if (!reasonNeeded && a.publicNetworkAccessReason !== undefined) {
        problems.push("publicNetworkAccessReason: only applies when publicNetworkAccess is 'Enabled' alongside a private endpoint; remove it");
    }
    if (a.publicNetworkAccessReason !== undefined) {
        const p = tagProblem(PUBLIC_ACCESS_REASON_TAG, a.publicNetworkAccessReason);
        if (p) problems.push(`publicNetworkAccessReason: ${p}`);
    }
    if (a.publicNetworkAccess === "Disabled" && allowedIpRanges.length + allowedSubnetIds.length > 0) {
        // Azure ignores every firewall rule while public access is Disabled, so the rules would only look effective.
        problems.push("network: allowedIpRanges and allowedSubnetIds have no effect while publicNetworkAccess is Disabled; remove them, or enable public access (with publicNetworkAccessReason when a private endpoint serves the vault)");
    }
    return problems;
}

/**
 * Checks KeyVault arguments without creating anything. Throws a RunError that names the
 * component and lists every problem as `field: value reason; allowed ...`. Inputs that are
 * Outputs cannot be seen yet; the vault name is checked again once it resolves.
 */
export function validateKeyVaultArgs(name: string, args: KeyVaultArgs): void {
    const a = withDefaults(args);
    const problems: string[] = [];
    if (!(TIERS as readonly string[]).includes(a.tier)) problems.push(`tier: '${a.tier}' must be one of ${oneOf(TIERS)}`);
    if (typeof a.vaultName === "string") {
        const p = nameProblem("keyVault", a.vaultName);
        if (p) problems.push(`vaultName: ${p}`);
    }
    for (const field of ["tenantId", "subscriptionId"] as const) {
        const v = a[field];
        if (typeof v === "string" && !isGuid(v)) problems.push(`${field}: '${v}' must be a GUID`);
    }
    if (typeof a.location === "string") {
        const p = locationProblem(a.location);
        if (p) problems.push(`location: '${a.location}' ${p}`);
    }
    if (!["standard", "premium"].includes(a.sku)) problems.push(`sku: '${a.sku}' must be one of "standard", "premium"`);
    const days = a.softDeleteRetentionDays;
    if (!Number.isInteger(days) || days < 7 || days > 90) problems.push(`softDeleteRetentionDays: ${days} must be a whole number of days from 7 to 90`);
    if (a.tier === "prod" && !a.purgeProtection) problems.push("purgeProtection: false is refused in prod: a purged prod vault is unrecoverable");
    if (!["rbac", "accessPolicies"].includes(a.authorizationMode)) problems.push(`authorizationMode: '${a.authorizationMode}' must be one of "rbac", "accessPolicies"`);
    problems.push(...accessProblems(a), ...networkProblems(a), ...platformTagProblems(a.tags));
    if (problems.length > 0) throw new pulumi.RunError(`KeyVault '${name}' has invalid arguments: ${problems.join("; ")}`);
}

/**
 * An Azure Key Vault with the secure defaults of the Azure Verified Modules: soft delete
 * with 90 days' retention, purge protection, RBAC authorization, a deny-by-default firewall,
 * and no public endpoint when a private endpoint serves it.
 */
export class KeyVault extends pulumi.ComponentResource {
    /** ARM id of the vault. */
    public readonly resourceId: pulumi.Output<string>;
    /** The vault's name. */
    public readonly name: pulumi.Output<string>;
    /** Data-plane URI, e.g. https://kv-kvp-prod-abc123.vault.azure.net/. */
    public readonly uri: pulumi.Output<string>;
    /** ARM id of the private endpoint, when one was asked for. */
    public readonly privateEndpointId?: pulumi.Output<string>;

    constructor(name: string, args: KeyVaultArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate before registering, so bad arguments leave nothing half-registered behind.
        validateKeyVaultArgs(name, args);
        super("keyvault-platform:keyvault:KeyVault", name, {}, opts);
        const a = withDefaults(args);
        const tags = platformTags(`KeyVault '${name}'`, {
            ...a.tags,
            ...(a.publicNetworkAccessReason ? { [PUBLIC_ACCESS_REASON_TAG]: a.publicNetworkAccessReason } : {}),
        });

        const vault = new Vault(`${name}-vault`, {
            vaultName: pulumi.output(a.vaultName).apply(validateVaultName),
            resourceGroupName: a.resourceGroupName,
            location: a.location,
            tags,
            properties: {
                tenantId: a.tenantId,
                sku: { family: "A", name: a.sku },
                enableSoftDelete: true,
                softDeleteRetentionInDays: a.softDeleteRetentionDays,
                // ARM refuses enablePurgeProtection: false; "off" can only be said by leaving it unset.
                ...(a.purgeProtection ? { enablePurgeProtection: true } : {}),
                enableRbacAuthorization: a.authorizationMode === "rbac",
                // No inline accessPolicies: standalone AccessPolicy resources (below, and grantVaultAccess
                // elsewhere) would be wiped by inline ones on the vault's next update.
                networkAcls: {
                    defaultAction: "Deny",
                    bypass: a.network.bypass,
                    ipRules: a.network.allowedIpRanges.map((value) => ({ value })),
                    virtualNetworkRules: a.network.allowedSubnetIds.map((id) => ({ id, ignoreMissingVnetServiceEndpoint: false })),
                },
                publicNetworkAccess: a.publicNetworkAccess,
                enabledForDeployment: a.enabledForDeployment,
                enabledForTemplateDeployment: a.enabledForTemplateDeployment,
                enabledForDiskEncryption: a.enabledForDiskEncryption,
            },
        }, { parent: this });

        this.createAccessPolicies(name, a, vault);
        for (const g of a.roleAssignments) {
            // Named by (role, principal), like the assignment's GUID, so reordering the list replaces nothing.
            grantVaultAccess({
                name: `${name}-ra-${g.role}-${g.principalId.toLowerCase()}`,
                // Role assignments are RBAC even on an access-policy vault, where only "reader" passes validation.
                mode: "rbac",
                scope: vault.id,
                vaultName: vault.name,
                resourceGroupName: a.resourceGroupName,
                tenantId: a.tenantId,
                principalId: g.principalId,
                principalType: g.principalType,
                role: g.role,
                subscriptionId: a.subscriptionId,
            }, this);
        }

        if (a.privateEndpoint) {
            const pe = new PrivateEndpoint(`${name}-pe`, {
                resourceGroupName: a.resourceGroupName,
                location: a.location,
                targetResourceId: vault.id,
                groupId: VAULT_PRIVATE_LINK_GROUP_ID,
                privateDnsZoneName: VAULT_PRIVATE_DNS_ZONE,
                subnetId: a.privateEndpoint.subnetId,
                privateDnsZoneId: a.privateEndpoint.privateDnsZoneId,
                linkVirtualNetworkIds: a.privateEndpoint.linkVirtualNetworkIds,
                tags,
            }, { parent: this });
            this.privateEndpointId = pe.resourceId;
        }

        this.resourceId = vault.id;
        this.name = vault.name;
        this.uri = vault.properties.vaultUri;
        this.registerOutputs({ resourceId: this.resourceId, name: this.name, uri: this.uri, privateEndpointId: this.privateEndpointId });
    }

    /**
     * One standalone policy per object. They are created one after another because they all
     * edit the vault's one policy list; Terraform's azurerm provider locks per vault for the same reason.
     */
    private createAccessPolicies(name: string, a: Resolved, vault: Vault): void {
        let previous: AccessPolicy | undefined;
        for (const p of a.accessPolicies) {
            previous = new AccessPolicy(`${name}-policy-${p.objectId.toLowerCase()}`, {
                vaultName: vault.name,
                resourceGroupName: a.resourceGroupName,
                policy: {
                    tenantId: a.tenantId,
                    objectId: p.objectId,
                    permissions: { secrets: p.secrets ?? [], keys: p.keys ?? [], certificates: p.certificates ?? [] },
                },
            }, { parent: this, dependsOn: previous ? [previous] : [] });
        }
    }
}
