import * as pulumi from "@pulumi/pulumi";
import { DatabaseAccount } from "@pulumi/azure-native/cosmosdb/databaseAccount";
import { Key } from "@pulumi/azure-native/keyvault/key";
import { UserAssignedIdentity } from "@pulumi/azure-native/managedidentity/userAssignedIdentity";
import type * as inputs from "@pulumi/azure-native/types/input";
import { CONSISTENCY_LEVELS } from "../config/schema";
import { locationProblem } from "../config/validators";
import { AuthorizationMode, grantVaultAccess } from "./vaultAccess";

const COMPONENT = "CosmosCmk";

export const CMK_KEY_SIZES = [2048, 3072, 4096] as const;
export type CmkKeySize = (typeof CMK_KEY_SIZES)[number];
export type ConsistencyLevel = (typeof CONSISTENCY_LEVELS)[number];
export const CONTINUOUS_BACKUP_TIERS = ["Continuous7Days", "Continuous30Days"] as const;
export type ContinuousBackupTier = (typeof CONTINUOUS_BACKUP_TIERS)[number];

export interface CosmosCmkArgs {
    /** Required. Resource group of the Cosmos DB account and its identity. */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Region of the account resource and its identity. */
    location: pulumi.Input<string>;
    /** Required. Globally unique Cosmos DB account name (3-44 lowercase letters, digits, hyphens). */
    accountName: pulumi.Input<string>;
    /** Required. Subscription that holds the role definitions. */
    subscriptionId: pulumi.Input<string>;
    /** Required. Entra tenant of the identity (used by access policies). */
    tenantId: pulumi.Input<string>;
    /**
     * Required. The dedicated CMK vault (purge protection on, bypass AzureServices, nothing else in it),
     * created by the caller. The key is created in it; its resource group is read from `resourceId`.
     */
    cmkVault: { resourceId: pulumi.Input<string>; name: pulumi.Input<string> };
    /** Required. How the CMK vault authorizes data-plane calls: an RBAC role on the key, or a vault access policy. */
    authorizationMode: AuthorizationMode;
    /** Required. Regions in failover order; the first is the write region. */
    locations: string[];
    /** Optional. Default consistency level. Defaults to Session. */
    consistencyLevel?: ConsistencyLevel;
    /** Optional. RSA key size in bits. Defaults to 3072 (the size Microsoft recommends). */
    keySize?: CmkKeySize;
    /** Optional. Create the CMK as RSA-HSM, which requires a premium vault. Defaults to false (software RSA). */
    hsm?: boolean;
    /** Optional. Days until each key version expires. Defaults to 365. */
    keyExpiryDays?: number;
    /** Optional. Days after creation at which Key Vault rotates the key. Defaults to 180. */
    keyRotationDays?: number;
    /** Optional. Days before expiry at which Key Vault emits a near-expiry event. Defaults to 30. */
    keyNotifyDaysBeforeExpiry?: number;
    /** Optional. Whether the account accepts traffic from public networks. Defaults to Disabled (Azure Policy 797b37f7). */
    publicNetworkAccess?: "Enabled" | "Disabled";
    /** Optional. Name of the key inside the CMK vault. Defaults to cosmos-cmk. */
    keyName?: string;
    /**
     * Optional. Make every region zone redundant. Defaults to false: regions without
     * availability zones reject the account, so this is a per-stack decision.
     */
    zoneRedundant?: boolean;
    /**
     * Optional. Continuous (point-in-time) backup tier. Defaults to Continuous7Days, which is free;
     * with CMK it needs the user-assigned default identity this component sets up.
     */
    backupTier?: ContinuousBackupTier;
    /** Optional. Tags for the identity, key and account. Defaults to none. */
    tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The plain (non-Output) settings, after defaults, that decide the component's shape. */
export interface CosmosCmkSettings {
    authorizationMode: AuthorizationMode;
    locations: string[];
    consistencyLevel: ConsistencyLevel;
    keySize: CmkKeySize;
    keyExpiryDays: number;
    keyRotationDays: number;
    keyNotifyDaysBeforeExpiry: number;
    publicNetworkAccess: "Enabled" | "Disabled";
    keyName: string;
    zoneRedundant: boolean;
    backupTier: ContinuousBackupTier;
}

function fail(field: string, value: unknown, allowed: string): never {
    throw new pulumi.RunError(`${COMPONENT}: ${field} ${JSON.stringify(value)} is invalid; ${allowed}`);
}

function wholeDays(field: string, value: number, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max) fail(field, value, `must be a whole number of days from ${min} to ${max}`);
}

/**
 * Applies the secure defaults and validates everything that shapes the resources.
 * Bounds match the stack-config schema and Key Vault's rotation-policy limits
 * (rotation and notification at least 7 days; expiry at least 28 days).
 */
export function resolveCosmosCmkSettings(args: Pick<CosmosCmkArgs, keyof CosmosCmkSettings>): CosmosCmkSettings {
    const s: CosmosCmkSettings = {
        authorizationMode: args.authorizationMode,
        locations: args.locations,
        consistencyLevel: args.consistencyLevel ?? "Session",
        keySize: args.keySize ?? 3072,
        keyExpiryDays: args.keyExpiryDays ?? 365,
        keyRotationDays: args.keyRotationDays ?? 180,
        keyNotifyDaysBeforeExpiry: args.keyNotifyDaysBeforeExpiry ?? 30,
        publicNetworkAccess: args.publicNetworkAccess ?? "Disabled",
        keyName: args.keyName ?? "cosmos-cmk",
        zoneRedundant: args.zoneRedundant ?? false,
        backupTier: args.backupTier ?? "Continuous7Days",
    };
    if (s.authorizationMode !== "rbac" && s.authorizationMode !== "accessPolicies") fail("authorizationMode", s.authorizationMode, "allowed: rbac, accessPolicies");
    if (!Array.isArray(s.locations) || s.locations.length === 0) fail("locations", s.locations, "list at least one region (the first is the write region)");
    s.locations.forEach((l, i) => {
        const p = locationProblem(l);
        if (p) fail(`locations[${i}]`, l, p);
    });
    const dup = s.locations.find((l, i) => s.locations.indexOf(l) !== i);
    if (dup !== undefined) fail("locations", s.locations, `lists ${dup} twice; each region appears once`);
    if (!(CONSISTENCY_LEVELS as readonly string[]).includes(s.consistencyLevel)) fail("consistencyLevel", s.consistencyLevel, `allowed: ${CONSISTENCY_LEVELS.join(", ")}`);
    if (!(CMK_KEY_SIZES as readonly number[]).includes(s.keySize)) fail("keySize", s.keySize, `allowed RSA sizes: ${CMK_KEY_SIZES.join(", ")}`);
    wholeDays("keyExpiryDays", s.keyExpiryDays, 30, 3650);
    wholeDays("keyRotationDays", s.keyRotationDays, 7, 3650);
    wholeDays("keyNotifyDaysBeforeExpiry", s.keyNotifyDaysBeforeExpiry, 7, 90);
    const latestRotation = s.keyExpiryDays - s.keyNotifyDaysBeforeExpiry;
    if (s.keyRotationDays >= latestRotation) {
        fail("keyRotationDays", s.keyRotationDays, `must be less than keyExpiryDays - keyNotifyDaysBeforeExpiry (${latestRotation}) so the key rotates before anyone is warned it expires`);
    }
    if (s.publicNetworkAccess !== "Enabled" && s.publicNetworkAccess !== "Disabled") fail("publicNetworkAccess", s.publicNetworkAccess, "allowed: Enabled, Disabled");
    if (!/^[A-Za-z0-9-]{1,127}$/.test(s.keyName)) fail("keyName", s.keyName, "must be 1-127 letters, digits and hyphens (a Key Vault object name)");
    if (!(CONTINUOUS_BACKUP_TIERS as readonly string[]).includes(s.backupTier)) fail("backupTier", s.backupTier, `allowed: ${CONTINUOUS_BACKUP_TIERS.join(", ")}`);
    return s;
}

/** Expiry of the first key version, in Unix seconds, as Key Vault's `expires` attribute wants it. */
export function keyExpiresAt(now: Date, expiryDays: number): number {
    return Math.floor(now.getTime() / 1000) + expiryDays * 86_400;
}

/** The key's rotation policy: rotate after `rotationDays`, warn `notifyDays` before expiry, new versions live `expiryDays`. */
export function cmkRotationPolicy(s: Pick<CosmosCmkSettings, "keyExpiryDays" | "keyRotationDays" | "keyNotifyDaysBeforeExpiry">): inputs.keyvault.RotationPolicyArgs {
    return {
        attributes: { expiryTime: `P${s.keyExpiryDays}D` },
        lifetimeActions: [
            { action: { type: "rotate" }, trigger: { timeAfterCreate: `P${s.keyRotationDays}D` } },
            { action: { type: "notify" }, trigger: { timeBeforeExpiry: `P${s.keyNotifyDaysBeforeExpiry}D` } },
        ],
    };
}

/** The resource group named in an ARM id, e.g. the CMK vault's. */
export function resourceGroupOfId(field: string, id: string): string {
    const m = /\/resourceGroups\/([^/]+)\//i.exec(id);
    if (!m) fail(field, id, "must be an ARM resource id: /subscriptions/<guid>/resourceGroups/<rg>/providers/...");
    return m[1];
}

/** Bounded staleness needs explicit bounds; these are the smallest valid for multi-region accounts too. */
function consistencyPolicy(level: ConsistencyLevel): inputs.cosmosdb.ConsistencyPolicyArgs {
    return level === "BoundedStaleness"
        ? { defaultConsistencyLevel: level, maxIntervalInSeconds: 300, maxStalenessPrefix: 100_000 }
        : { defaultConsistencyLevel: level };
}

/**
 * A Cosmos DB account encrypted with a customer-managed key held in a dedicated CMK vault.
 *
 * Order matters: the account's user-assigned identity must hold Key Vault Crypto Service
 * Encryption User on the key before the account is created, or creation fails, so the
 * account depends on the grant explicitly (there is no data flow between them).
 */
export class CosmosCmk extends pulumi.ComponentResource {
    /** Name of the Cosmos DB account. */
    public readonly accountName: pulumi.Output<string>;
    /** The account's document endpoint. */
    public readonly endpoint: pulumi.Output<string>;
    /** ARM id of the account. */
    public readonly resourceId: pulumi.Output<string>;
    /** Versionless URI of the CMK, so rotations need no redeploy. */
    public readonly keyUri: pulumi.Output<string>;
    /** ARM id of the account's user-assigned identity. */
    public readonly identityId: pulumi.Output<string>;
    /** Object id of the account's user-assigned identity. */
    public readonly identityPrincipalId: pulumi.Output<string>;

    constructor(name: string, args: CosmosCmkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("keyvault-platform:data:CosmosCmk", name, {}, opts);
        const s = resolveCosmosCmkSettings(args);
        const vaultResourceGroup = pulumi.output(args.cmkVault.resourceId).apply((id) => resourceGroupOfId("cmkVault.resourceId", id));

        const identity = new UserAssignedIdentity(`${name}-identity`, {
            resourceName: pulumi.interpolate`id-${args.accountName}`,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            tags: args.tags,
        }, { parent: this });

        const key = new Key(`${name}-cmk`, {
            resourceGroupName: vaultResourceGroup,
            vaultName: args.cmkVault.name,
            keyName: s.keyName,
            properties: {
                kty: args.hsm ? "RSA-HSM" : "RSA",
                keySize: s.keySize,
                keyOps: ["wrapKey", "unwrapKey"],
                attributes: { enabled: true, expires: keyExpiresAt(new Date(), s.keyExpiryDays) },
                rotationPolicy: cmkRotationPolicy(s),
            },
            tags: args.tags,
        }, {
            parent: this,
            // The clock moves on every run; after creation the rotation policy owns expiry, so a new
            // timestamp must not show up as a diff (ARM would not apply it to an existing key anyway).
            ignoreChanges: ["properties.attributes.expires"],
        });

        const grant = grantVaultAccess({
            name: `${name}-cmk-access`,
            mode: s.authorizationMode,
            scope: key.id,
            vaultName: args.cmkVault.name,
            resourceGroupName: vaultResourceGroup,
            tenantId: args.tenantId,
            principalId: identity.principalId,
            principalType: "ServicePrincipal",
            role: "crypto-service-encryption-user",
            subscriptionId: args.subscriptionId,
        }, this);

        const account = new DatabaseAccount(`${name}-account`, {
            accountName: args.accountName,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            kind: "GlobalDocumentDB",
            databaseAccountOfferType: "Standard",
            locations: s.locations.map((locationName, failoverPriority) => ({ locationName, failoverPriority, isZoneRedundant: s.zoneRedundant })),
            enableAutomaticFailover: s.locations.length > 1,
            consistencyPolicy: consistencyPolicy(s.consistencyLevel),
            keyVaultKeyUri: key.keyUri,
            identity: { type: "UserAssigned", userAssignedIdentities: [identity.id] },
            defaultIdentity: pulumi.interpolate`UserAssignedIdentity=${identity.id}`,
            backupPolicy: { type: "Continuous", continuousModeProperties: { tier: s.backupTier } },
            disableLocalAuth: true,
            disableKeyBasedMetadataWriteAccess: true,
            minimalTlsVersion: "Tls12",
            publicNetworkAccess: s.publicNetworkAccess,
            tags: args.tags,
        }, { parent: this, dependsOn: [grant] });

        this.accountName = account.name;
        this.endpoint = account.documentEndpoint;
        this.resourceId = account.id;
        this.keyUri = key.keyUri;
        this.identityId = identity.id;
        this.identityPrincipalId = identity.principalId;
        this.registerOutputs({
            accountName: this.accountName,
            endpoint: this.endpoint,
            resourceId: this.resourceId,
            keyUri: this.keyUri,
            identityId: this.identityId,
            identityPrincipalId: this.identityPrincipalId,
        });
    }
}
