import { createHash } from "node:crypto";
import { z } from "zod";

import { schemaProblems, type FieldProblem } from "../../config/problems";
import { EmailSchema, IpRuleSchema, LocationSchema, parseStackConfig, RoleGrantSchema, StackConfigError, SubnetIdSchema, TeamSchema as ConfigTeamSchema, TIERS, type StackConfigInput } from "../../config/schema";
import { PlatformNotConfiguredError, ValidationError } from "./errors";
import type { PlatformProfile } from "./platformProfile";

/**
 * The declarative spec a team PUTs for one environment, and how it becomes a stack config.
 *
 * The spec's fields are built from the stack-config schema's own field rules, and every
 * cross-field rule lives only in that schema: the spec is merged with the platform profile
 * into a stack config, which `parseStackConfig` validates, and each problem is reported
 * against the spec field the client wrote (or, when the platform profile is what is
 * missing, as a 422 naming the profile key). So anything the program would refuse is
 * refused at PUT time, in the same words `pulumi up` would use.
 */

export const ENVIRONMENT_NAME_RULE = "must be 3-24 lowercase letters, digits and hyphens, start with a letter, and contain no '--' or trailing hyphen";

export const EnvironmentNameSchema = z.string()
    .regex(/^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,23}$/, ENVIRONMENT_NAME_RULE).max(24, ENVIRONMENT_NAME_RULE)
    .meta({ description: `Environment name, also the Pulumi stack name; ${ENVIRONMENT_NAME_RULE}.`, example: "payments-dev" });

export const TeamSchema = ConfigTeamSchema.meta({ description: "Owning team. Non-admin callers may only use their own team.", example: "payments" });

const AccessGrantSchema = RoleGrantSchema.meta({
    description: "One Key Vault RBAC grant: principalId (Entra object id), principalType, and a built-in data-plane role by friendly name.",
    example: { principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" },
});

export const EnvironmentSpecSchema = z.object({
    tier: z.enum(TIERS).meta({ description: "Environment tier; decides soft-delete retention, purge protection, log retention and network rules (prod gets the platform's private endpoint).", example: "dev" }),
    location: LocationSchema.meta({ description: "Azure region, as ARM spells it. The platform profile may limit the regions of a tier.", example: "westeurope" }),
    team: TeamSchema,
    network: z.object({
        allowedIpRanges: z.array(IpRuleSchema).max(1000)
            .meta({ description: "Public IPv4 addresses or CIDR ranges the vault firewall admits (not with a private endpoint).", example: ["203.0.113.0/24"] })
            .optional(),
        allowedSubnetIds: z.array(SubnetIdSchema).max(200)
            .meta({ description: "ARM ids of subnets (with the Microsoft.KeyVault service endpoint) the firewall admits.", example: [] })
            .optional(),
    }).strict().meta({ description: "Vault firewall; everything else is denied." }).optional(),
    access: z.array(AccessGrantSchema).max(100)
        .meta({ description: "Data-plane role grants on the vault.", example: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }] })
        .optional(),
    cosmos: z.object({
        enabled: z.boolean().meta({ description: "Create a Cosmos DB account encrypted with a customer-managed key from the vault.", example: true }),
    }).strict().meta({ description: "Optional Cosmos DB account with a customer-managed key." }).optional(),
    alerts: z.object({
        emails: z.array(EmailSchema).min(1).max(50).meta({ description: "Addresses the vault's alerts are sent to.", example: ["ops@example.com"] }),
    }).strict().meta({ description: "Alert receivers; prod needs some, here or in the platform profile." }).optional(),
    ttlHours: z.number().int().min(1).max(720)
        .meta({ description: "Destroy the environment this many hours after its spec last changed (1-720).", example: 72, format: "int32" })
        .optional(),
}).strict().meta({
    description: "Desired state of one Key Vault environment.",
    example: {
        tier: "dev", location: "westeurope", team: "payments",
        network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
        access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
        cosmos: { enabled: true }, alerts: { emails: ["ops@example.com"] }, ttlHours: 72,
    },
});

export type EnvironmentSpec = z.infer<typeof EnvironmentSpecSchema>;

/** A PUT after validation: the typed spec, the stack config it yields, and the hash of both. */
export interface DesiredEnvironment {
    name: string;
    spec: EnvironmentSpec;
    config: StackConfigInput;
    /** Changes when the spec or what the platform profile adds to it changes, so a profile change is not a no-op. */
    hash: string;
}

/**
 * A 2-8 character resource-name prefix derived from the environment name: up to four
 * of its letters and digits, then four hex digits of its hash, so that
 * `payments-dev-a` and `payments-dev-b` do not share resource names.
 */
export function namePrefixFor(name: string): string {
    const head = name.replace(/[^a-z0-9]/g, "").slice(0, 4);
    const hash = createHash("sha256").update(name).digest("hex").slice(0, 4);
    return `${head}${hash}`;
}

/**
 * The stack config for a spec: the spec's fields plus what the platform profile sets for
 * its tier. The Environment tag comes from the stack name, which is the environment's name.
 */
export function deriveStackConfig(name: string, spec: EnvironmentSpec, profile: PlatformProfile): StackConfigInput {
    const tier = profile.tiers[spec.tier] ?? {};
    return {
        tier: spec.tier,
        team: spec.team,
        managedBy: "keyvault-platform-server",
        location: spec.location,
        namePrefix: namePrefixFor(name),
        roleAssignments: (spec.access ?? []).map((a) => ({ principalId: a.principalId, principalType: a.principalType, role: a.role })),
        allowedIpRanges: spec.network?.allowedIpRanges ?? [],
        allowedSubnetIds: spec.network?.allowedSubnetIds ?? [],
        ...(tier.privateEndpoint ? { privateEndpoint: tier.privateEndpoint } : {}),
        cosmos: { enabled: spec.cosmos?.enabled ?? false },
        monitoring: {
            alertEmails: spec.alerts?.emails ?? tier.alertEmails ?? [],
            ...(tier.logAnalyticsWorkspaceId ? { workspaceId: tier.logAnalyticsWorkspaceId } : {}),
        },
        ...(tier.rotationSubnetId ? { rotation: { subnetId: tier.rotationSubnetId } } : {}),
        tags: tier.tags ?? {},
    };
}

/** Where each stack-config key came from: a spec field the client wrote, or a key of the platform profile. */
const CONFIG_KEY_SOURCES: ReadonlyArray<[RegExp, (tier: string) => { spec: string } | { profile: string }]> = [
    [/^tier/, () => ({ spec: "tier" })],
    [/^team/, () => ({ spec: "team" })],
    [/^location/, () => ({ spec: "location" })],
    [/^roleAssignments/, () => ({ spec: "access" })],
    [/^allowedIpRanges/, () => ({ spec: "network.allowedIpRanges" })],
    [/^allowedSubnetIds/, () => ({ spec: "network.allowedSubnetIds" })],
    [/^monitoring\.alertEmails/, () => ({ spec: "alerts.emails" })],
    [/^cosmos/, () => ({ spec: "cosmos" })],
    [/^namePrefix/, () => ({ spec: "name" })],
    [/^privateEndpoint/, (t) => ({ profile: `tiers.${t}.privateEndpoint` })],
    [/^monitoring\.workspaceId/, (t) => ({ profile: `tiers.${t}.logAnalyticsWorkspaceId` })],
    [/^rotation/, (t) => ({ profile: `tiers.${t}.rotationSubnetId` })],
    [/^tags/, (t) => ({ profile: `tiers.${t}.tags` })],
];

function sourceOf(configKey: string, tier: string): { spec: string } | { profile: string } {
    for (const [pattern, source] of CONFIG_KEY_SOURCES) {
        if (pattern.test(configKey)) {
            const s = source(tier);
            return "spec" in s ? { spec: configKey.replace(pattern, s.spec) } : s;
        }
    }
    return { spec: configKey };
}

/**
 * The stack config for a spec, validated by the one stack-config schema. Problems in
 * the client's fields are a ValidationError naming those fields; problems the platform
 * profile must fix are a PlatformNotConfiguredError naming the profile keys.
 */
export function stackConfigFor(name: string, spec: EnvironmentSpec, profile: PlatformProfile): StackConfigInput {
    const config = deriveStackConfig(name, spec, profile);
    const allowed = profile.tiers[spec.tier]?.allowedLocations;
    const problems: FieldProblem[] = allowed && !allowed.includes(spec.location)
        ? [{ path: "location", message: `must be one of ${allowed.map((l) => JSON.stringify(l)).join(", ")} (the platform's regions for ${spec.tier})` }]
        : [];
    try {
        parseStackConfig(config);
    } catch (e) {
        if (!(e instanceof StackConfigError)) throw e;
        const platform: FieldProblem[] = [];
        for (const p of e.problems) {
            const source = sourceOf(p.path, spec.tier);
            if ("profile" in source) platform.push({ path: source.profile, message: p.message });
            else problems.push({ path: source.spec, message: p.message });
        }
        if (problems.length === 0 && platform.length > 0) throw new PlatformNotConfiguredError(spec.tier, platform);
    }
    if (problems.length > 0) throw new ValidationError(problems, "The environment spec is invalid.");
    return config;
}

/** Validates a PUT body for environment `name` once, at the edge; the service takes the result as it is. */
export function parseDesiredEnvironment(name: string, body: unknown, profile: PlatformProfile): DesiredEnvironment {
    const result = EnvironmentSpecSchema.safeParse(body);
    if (!result.success) throw new ValidationError(schemaProblems(result.error, body, { schema: EnvironmentSpecSchema }), "The environment spec is invalid.");
    const spec = result.data;
    // A name carries its team, so whether another team's name is taken or free never changes the answer.
    if (!name.startsWith(`${spec.team}-`)) {
        throw new ValidationError([{ path: "name", message: `must start with the team's name and a hyphen (${spec.team}-); environment names are namespaced by team` }], "The environment spec is invalid.");
    }
    const config = stackConfigFor(name, spec, profile);
    return { name, spec, config, hash: specHash({ spec, config }) };
}

/** JSON with object keys sorted at every level, so equal specs serialize identically. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
    }
    return JSON.stringify(value) ?? "null";
}

/** Stable hash of a spec's canonical JSON: equal specs hash equal regardless of key order. */
export function specHash(spec: unknown): string {
    return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}
