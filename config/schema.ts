import * as z from "./zod";
import { ProblemListError, schemaProblems, type FieldProblem } from "./problems";
import { KEY_VAULT_ROLE_NAMES, PRINCIPAL_TYPES, MANAGERS, reservedTagProblem, TIERS, type Tier } from "@keyvault-platform/conventions";
import {
    ARM_ID_SHAPE, armResourceIdProblem, EMAIL, emailProblem, IP_RULE_SHAPE, ipRuleProblem, LOCATION_SHAPE, locationProblem, ncrontabProblem,
    privateDnsZoneIdProblem, subnetIdProblem, tagProblem, workspaceIdProblem,
} from "./validators";

/**
 * The one schema for a stack's configuration. `pulumi up` reads it from
 * Pulumi.<stack>.yaml, and the self-service server derives it from a stored spec;
 * both go through `parseStackConfig`, so the two paths cannot drift.
 */

export { TIERS, type Tier } from "@keyvault-platform/conventions";

/** The region a stack or spec gets when it names none. */
export const DEFAULT_LOCATION = "westeurope";

/**
 * Longest accepted value of each free-form field. The longest real value of each kind is far
 * shorter; the bound is there so a request cannot make the server parse megabytes of one field,
 * and the OpenAPI document publishes it (maxLength) from these same schemas.
 */
export const FIELD_MAX_LENGTH = { location: 40, ipRule: 43, armId: 512, email: 254, team: 32, ncrontab: 100 } as const;

/**
 * Wraps a reason-returning check as a zod refinement whose message names the rule. `shape`, a
 * pattern every valid value matches (the check may refuse more), is published in the JSON schema
 * so clients and the OpenAPI document see it; the check alone decides.
 */
const check = (problem: (v: string) => string | undefined, maxLength: number, shape?: RegExp) => {
    const s = z.string().max(maxLength).superRefine((v, ctx) => {
        const p = problem(v);
        if (p) ctx.addIssue({ code: "custom", message: p });
    });
    return shape ? s.meta({ pattern: shape.source }) : s;
};

/** An Entra object id; documented as `format: uuid`, which accepts exactly what isGuid does. */
const guid = z.guid({ message: "must be a GUID such as 00000000-0000-0000-0000-000000000000" }).max(36);

// Field rules shared with the self-service spec (automation/domain/spec.ts), which builds its fields from these.
export const LocationSchema = check(locationProblem, FIELD_MAX_LENGTH.location, LOCATION_SHAPE);
export const IpRuleSchema = check(ipRuleProblem, FIELD_MAX_LENGTH.ipRule, IP_RULE_SHAPE);
export const SubnetIdSchema = check(subnetIdProblem, FIELD_MAX_LENGTH.armId, ARM_ID_SHAPE);
export const EmailSchema = check(emailProblem, FIELD_MAX_LENGTH.email, EMAIL);
export const TeamSchema = z.string().max(FIELD_MAX_LENGTH.team).regex(/^[a-z][a-z0-9-]{1,31}$/, "must be 2-32 lowercase letters, digits and hyphens, starting with a letter");

export const SECRET_PERMISSIONS = ["get", "list", "set", "delete", "backup", "restore", "recover"] as const;
export const KEY_PERMISSIONS = [
    "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list", "create", "update", "import",
    "delete", "backup", "restore", "recover", "release", "rotate", "getrotationpolicy", "setrotationpolicy",
] as const;
export const CERTIFICATE_PERMISSIONS = [
    "get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers", "listissuers",
    "setissuers", "deleteissuers", "manageissuers", "recover", "backup", "restore",
] as const;

/**
 * `all` and `purge` are refused with a dedicated message (PSRule Azure.KeyVault.AccessPolicy):
 * `all` silently grows with every new permission, and `purge` defeats soft delete.
 */
const permissionList = <T extends readonly [string, ...string[]]>(allowed: T) =>
    z.array(z.string()).superRefine((perms, ctx) => {
        perms.forEach((p, i) => {
            if (p === "all" || p === "purge") {
                ctx.addIssue({ code: "custom", path: [i], message: `'${p}' is never granted: list the permissions needed instead (PSRule Azure.KeyVault.AccessPolicy); allowed: ${allowed.join(", ")}` });
            } else if (!(allowed as readonly string[]).includes(p)) {
                ctx.addIssue({ code: "custom", path: [i], message: `unknown permission '${p}'; allowed: ${allowed.join(", ")}` });
            }
        });
    }).default([]);

export const RoleGrantSchema = z.object({
    /** Entra object id of the user, group or service principal. */
    principalId: guid,
    principalType: z.enum(PRINCIPAL_TYPES),
    role: z.enum(KEY_VAULT_ROLE_NAMES),
}).strict();
export type RoleGrant = z.infer<typeof RoleGrantSchema>;

export const AccessPolicySchema = z.object({
    objectId: guid,
    secrets: permissionList(SECRET_PERMISSIONS),
    keys: permissionList(KEY_PERMISSIONS),
    certificates: permissionList(CERTIFICATE_PERMISSIONS),
}).strict();
export type AccessPolicyConfig = z.infer<typeof AccessPolicySchema>;

export const PrivateEndpointSchema = z.object({
    /** Subnet that hosts the private endpoint's NIC. */
    subnetId: SubnetIdSchema,
    /** An existing privatelink.vaultcore.azure.net zone; when absent the program creates one. */
    privateDnsZoneId: check(privateDnsZoneIdProblem, FIELD_MAX_LENGTH.armId).optional(),
    /** VNets to link a created zone to. Defaults to the endpoint subnet's VNet. */
    linkVirtualNetworkIds: z.array(check(armResourceIdProblem, FIELD_MAX_LENGTH.armId)).optional(),
}).strict().superRefine((pe, ctx) => {
    if (pe.privateDnsZoneId && !/\/privateDnsZones\/privatelink\.vaultcore\.azure\.net$/i.test(pe.privateDnsZoneId)) {
        ctx.addIssue({ code: "custom", path: ["privateDnsZoneId"], message: "must be a privatelink.vaultcore.azure.net zone (the zone Key Vault private endpoints resolve through)" });
    }
    if (pe.privateDnsZoneId && pe.linkVirtualNetworkIds) {
        ctx.addIssue({ code: "custom", path: ["linkVirtualNetworkIds"], message: "only applies when the program creates the zone; omit it when privateDnsZoneId is given" });
    }
});

export const CONSISTENCY_LEVELS = ["Eventual", "ConsistentPrefix", "Session", "BoundedStaleness", "Strong"] as const;

export const CosmosSchema = z.object({
    enabled: z.boolean().default(false),
    /** Regions in failover order; the first is the write region. Defaults to the stack location. */
    locations: z.array(LocationSchema).min(1).optional(),
    consistencyLevel: z.enum(CONSISTENCY_LEVELS).default("Session"),
    /** RSA size of the customer-managed key. */
    keySize: z.literal([2048, 3072, 4096]).default(3072),
    /** Days until the CMK version expires; rotation must happen before this. */
    keyExpiryDays: z.number().int().min(30).max(3650).default(365),
    /** Days after creation at which Key Vault rotates the CMK automatically. */
    keyRotationDays: z.number().int().min(7).max(3650).default(180),
    /** Days before expiry at which Key Vault emits a near-expiry notification. */
    keyNotifyDaysBeforeExpiry: z.number().int().min(7).max(90).default(30),
}).strict().superRefine((c, ctx) => {
    if (c.keyRotationDays >= c.keyExpiryDays - c.keyNotifyDaysBeforeExpiry) {
        ctx.addIssue({ code: "custom", path: ["keyRotationDays"], message: `must be less than keyExpiryDays - keyNotifyDaysBeforeExpiry (${c.keyExpiryDays - c.keyNotifyDaysBeforeExpiry}) so the key rotates before anyone is warned it expires` });
    }
    if (c.locations && new Set(c.locations).size !== c.locations.length) {
        ctx.addIssue({ code: "custom", path: ["locations"], message: "lists a region twice; each Cosmos DB region appears once" });
    }
});

export const AlertThresholdsSchema = z.object({
    /** Requests from one caller IP in a 5-minute bin above which the unusual-access alert fires. */
    unusualAccessPerCallerIp: z.number().int().min(1).default(100),
    /** Failed operations per operation and caller in the evaluation window. */
    failedOperations: z.number().int().min(1).default(10),
    /** Failed authorizations (HTTP 401/403) in the evaluation window. */
    failedAuthorizations: z.number().int().min(1).default(5),
    /** Availability below this percentage fires the availability alert. */
    availabilityPercent: z.number().min(50).max(100).default(99.9),
    /** Vault saturation (ServiceApiLatency-bound capacity) above this percentage fires. */
    saturationPercent: z.number().min(1).max(100).default(75),
}).strict();

export const MonitoringSchema = z.object({
    /** Use an existing workspace instead of creating one. */
    workspaceId: check(workspaceIdProblem, FIELD_MAX_LENGTH.armId).optional(),
    /** Workspace retention for a created workspace. */
    retentionDays: z.number().int().min(30).max(730).optional(),
    alertEmails: z.array(EmailSchema).default([]),
    thresholds: AlertThresholdsSchema.default(AlertThresholdsSchema.parse({})),
}).strict();

export const ROTATION_TARGETS = ["postgres", "sql"] as const;

export const RotationSchema = z.object({
    enabled: z.boolean().default(false),
    /** Safety-net timer (NCRONTAB); Event Grid SecretNearExpiry is the primary trigger. */
    schedule: check(ncrontabProblem, FIELD_MAX_LENGTH.ncrontab).default("0 0 3 * * *"),
    /** ARM ids of the rotation targets; the function gets the matching provider role on each. */
    sqlServerIds: z.array(check(armResourceIdProblem, FIELD_MAX_LENGTH.armId)).default([]),
    postgresServerIds: z.array(check(armResourceIdProblem, FIELD_MAX_LENGTH.armId)).default([]),
    /** Subnet delegated to Microsoft.App/environments for the function's VNet integration. */
    subnetId: SubnetIdSchema.optional(),
}).strict();

export const CertificateSchema = z.object({
    name: z.string().regex(/^[A-Za-z0-9-]{1,127}$/, "must be 1-127 letters, digits and hyphens (a Key Vault object name)"),
    subject: z.string().regex(/^CN=.+/, "must be an X.500 subject starting with CN=, e.g. CN=api.example.com"),
    dnsNames: z.array(z.string().regex(/^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/i, "must be a DNS name")).default([]),
    validityMonths: z.number().int().min(1).max(120).default(12),
}).strict();

export const CSI_OBJECT_TYPES = ["secret", "key", "cert"] as const;

export const SecretsStoreCsiSchema = z.object({
    enabled: z.boolean().default(false),
    /** The AKS cluster's OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl). */
    oidcIssuerUrl: z.url({ protocol: /^https$/, message: "must be an https URL (the cluster's OIDC issuer)" }).optional(),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name (RFC 1123 label)").default("default"),
    serviceAccountName: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a Kubernetes name (RFC 1123 subdomain)").default("keyvault-reader"),
    /** Vault objects to mount; `syncAs` also copies a secret into the synced Kubernetes Secret under that key. */
    objects: z.array(z.object({
        objectName: z.string().regex(/^[A-Za-z0-9-]{1,127}$/, "must be a Key Vault object name"),
        objectType: z.enum(CSI_OBJECT_TYPES).default("secret"),
        syncAs: z.string().regex(/^[-._a-zA-Z0-9]+$/, "must be a valid Secret data key").optional(),
    }).strict()).default([]),
    /** Name of the synced Kubernetes Secret. */
    syncSecretName: z.string().default("app-secrets"),
    /** Deploy an example workload that mounts the volume and reads a synced secret. */
    exampleDeployment: z.boolean().default(true),
}).strict().superRefine((c, ctx) => {
    if (c.enabled && !c.oidcIssuerUrl) {
        ctx.addIssue({ code: "custom", path: ["oidcIssuerUrl"], message: "is required when secretsStoreCsi is enabled (workload identity federates with the cluster's issuer)" });
    }
});

export const StackConfigSchema = z.object({
    /** dev, staging or prod: decides the secure defaults below and the rules that may not be relaxed. */
    tier: z.enum(TIERS),
    /** The owning team; becomes the Team tag on every resource. */
    team: TeamSchema.default("platform"),
    /** What applies this config; the self-service server sets keyvault-platform-server. Becomes the ManagedBy tag. */
    managedBy: z.enum(MANAGERS).default("keyvault-platform"),
    location: LocationSchema.default(DEFAULT_LOCATION),
    /** Short lowercase prefix for resource names. */
    namePrefix: z.string().regex(/^[a-z][a-z0-9]{1,7}$/, "must be 2-8 lowercase letters and digits, starting with a letter").default("kvp"),
    vaultSku: z.enum(["standard", "premium"]).default("standard"),
    softDeleteRetentionDays: z.number().int().min(7).max(90).optional(),
    purgeProtection: z.boolean().optional(),
    authorizationMode: z.enum(["rbac", "accessPolicies"]).default("rbac"),
    /** Kind of identity that runs `pulumi up` (it gets data-plane grants for certificates and the function package). */
    deployerPrincipalType: z.enum(["User", "ServicePrincipal"]).default("ServicePrincipal"),
    roleAssignments: z.array(RoleGrantSchema).default([]),
    accessPolicies: z.array(AccessPolicySchema).default([]),
    allowedIpRanges: z.array(IpRuleSchema).max(1000).default([]),
    allowedSubnetIds: z.array(SubnetIdSchema).max(200).default([]),
    /** Whether trusted Azure services may bypass the firewall. Defaults to None; the CMK vault always uses AzureServices. */
    networkBypass: z.enum(["AzureServices", "None"]).default("None"),
    privateEndpoint: PrivateEndpointSchema.optional(),
    /** Vault capabilities that stay off unless a workload needs them. */
    enabledForDeployment: z.boolean().default(false),
    enabledForTemplateDeployment: z.boolean().default(false),
    enabledForDiskEncryption: z.boolean().default(false),
    cosmos: CosmosSchema.default(CosmosSchema.parse({})),
    monitoring: MonitoringSchema.default(MonitoringSchema.parse({})),
    rotation: RotationSchema.default(RotationSchema.parse({})),
    certificates: z.array(CertificateSchema).default([]),
    certificateContactEmails: z.array(EmailSchema).default([]),
    secretsStoreCsi: SecretsStoreCsiSchema.default(SecretsStoreCsiSchema.parse({})),
    tags: z.record(z.string(), z.string()).default({}).superRefine((tags, ctx) => {
        for (const [k, v] of Object.entries(tags)) {
            const p = reservedTagProblem(k) ?? tagProblem(k, v);
            if (p) ctx.addIssue({ code: "custom", path: [k], message: p });
        }
    }),
}).strict().superRefine((c, ctx) => {
    if (c.authorizationMode === "rbac" && c.accessPolicies.length > 0) {
        ctx.addIssue({ code: "custom", path: ["accessPolicies"], message: "only applies when authorizationMode is accessPolicies; with rbac, use roleAssignments" });
    }
    if (c.authorizationMode === "accessPolicies" && c.roleAssignments.some((r) => r.role !== "reader")) {
        ctx.addIssue({ code: "custom", path: ["roleAssignments"], message: "data-plane roles have no effect on an access-policy vault; use accessPolicies (only the reader role applies)" });
    }
    const seen = new Set<string>();
    c.roleAssignments.forEach((r, i) => {
        const key = `${r.principalId.toLowerCase()}|${r.role}`;
        if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["roleAssignments", i], message: `grants ${r.role} to ${r.principalId} twice` });
        seen.add(key);
    });
    if (c.tier === "prod" && c.purgeProtection === false) {
        ctx.addIssue({ code: "custom", path: ["purgeProtection"], message: "cannot be false in prod: a purged prod vault is unrecoverable" });
    }
    if (c.privateEndpoint && (c.allowedIpRanges.length > 0 || c.allowedSubnetIds.length > 0)) {
        // With a private endpoint, public network access is Disabled and Azure ignores firewall rules.
        ctx.addIssue({ code: "custom", path: [c.allowedIpRanges.length > 0 ? "allowedIpRanges" : "allowedSubnetIds"], message: "has no effect with a private endpoint (public network access is Disabled); reach the vault through the endpoint's VNet instead" });
    }
    if (c.tier === "prod" && !c.privateEndpoint) {
        ctx.addIssue({ code: "custom", path: ["privateEndpoint"], message: "is required in prod: a production vault is reached only through a private endpoint, never over its public address" });
    }
    if (c.tier === "prod" && c.monitoring.alertEmails.length === 0) {
        ctx.addIssue({ code: "custom", path: ["monitoring", "alertEmails"], message: "needs at least one address in prod: alerts nobody receives protect nothing" });
    }
    if (c.certificates.length > 0 && c.certificateContactEmails.length === 0) {
        ctx.addIssue({ code: "custom", path: ["certificateContactEmails"], message: "needs at least one address: certificates use an EmailContacts lifetime action" });
    }
    if (c.rotation.enabled && c.privateEndpoint && !c.rotation.subnetId) {
        ctx.addIssue({ code: "custom", path: ["rotation", "subnetId"], message: "is required when the vault has a private endpoint: the rotation function reaches the vault only through VNet integration" });
    }
    if (c.rotation.enabled && c.rotation.sqlServerIds.length + c.rotation.postgresServerIds.length === 0) {
        ctx.addIssue({ code: "custom", path: ["rotation"], message: "is enabled but names no target; set sqlServerIds or postgresServerIds" });
    }
});

export type StackConfigInput = z.input<typeof StackConfigSchema>;
type ParsedStackConfig = z.output<typeof StackConfigSchema>;

/** Per-tier secure defaults: applied once, so every tier-dependent default is in one place. */
export const TIER_DEFAULTS: Record<Tier, { softDeleteRetentionDays: number; purgeProtection: boolean; logRetentionDays: number; cosmosPublicNetworkAccess: "Enabled" | "Disabled" }> = {
    // dev trades recoverability for cheap teardown; purge protection can never be turned off once on.
    dev: { softDeleteRetentionDays: 7, purgeProtection: false, logRetentionDays: 30, cosmosPublicNetworkAccess: "Enabled" },
    staging: { softDeleteRetentionDays: 90, purgeProtection: true, logRetentionDays: 90, cosmosPublicNetworkAccess: "Disabled" },
    // 365 days matches Azure Policy's audit-log retention parameter.
    prod: { softDeleteRetentionDays: 90, purgeProtection: true, logRetentionDays: 365, cosmosPublicNetworkAccess: "Disabled" },
};

/** The validated config, with every tier-dependent default resolved. */
export type StackConfig = Omit<ParsedStackConfig, "softDeleteRetentionDays" | "purgeProtection" | "monitoring" | "cosmos"> & {
    softDeleteRetentionDays: number;
    purgeProtection: boolean;
    monitoring: ParsedStackConfig["monitoring"] & { retentionDays: number };
    cosmos: ParsedStackConfig["cosmos"] & { locations: string[]; publicNetworkAccess: "Enabled" | "Disabled" };
};

export class StackConfigError extends ProblemListError<FieldProblem> {
    constructor(problems: FieldProblem[], prefix = "keyvault-platform") {
        super("Invalid stack configuration", problems, (p) => `${prefix}:${p.path}: ${p.message}${p.value === undefined ? "" : ` (got ${JSON.stringify(p.value)})`}`);
    }
}

/** Validates raw config and resolves the tier's defaults. Throws StackConfigError naming every bad key. */
export function parseStackConfig(raw: unknown): StackConfig {
    const result = StackConfigSchema.safeParse(raw);
    if (!result.success) throw new StackConfigError(schemaProblems(result.error, raw, { schema: StackConfigSchema, withValues: true }));
    const c = result.data;
    const defaults = TIER_DEFAULTS[c.tier];
    return {
        ...c,
        softDeleteRetentionDays: c.softDeleteRetentionDays ?? defaults.softDeleteRetentionDays,
        purgeProtection: c.purgeProtection ?? defaults.purgeProtection,
        monitoring: { ...c.monitoring, retentionDays: c.monitoring.retentionDays ?? defaults.logRetentionDays },
        cosmos: { ...c.cosmos, locations: c.cosmos.locations ?? [c.location], publicNetworkAccess: defaults.cosmosPublicNetworkAccess },
    };
}

/** Top-level config keys, for Pulumi.yaml checks and for reading pulumi.Config. */
export const STACK_CONFIG_KEYS = Object.keys(StackConfigSchema.shape) as Array<keyof ParsedStackConfig>;
