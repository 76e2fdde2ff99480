import { createHash } from "node:crypto";
import { z } from "zod";
import { keyOf, valueAt } from "../../config/paths";
import { KEY_VAULT_ROLE_NAMES, PRINCIPAL_TYPES } from "../../config/roles";
import { ENVIRONMENTS, parseStackConfig, StackConfigError, StackConfigInput } from "../../config/schema";
import { emailProblem, ipRuleProblem, isGuid, locationProblem, subnetIdProblem, tagProblem } from "../../config/validators";
import { Problem, ValidationError } from "./errors";

/**
 * The declarative spec a team PUTs for one environment. Every field is checked
 * with the validators and enums the components use, and the derived stack config
 * goes through `parseStackConfig`, so anything a component would refuse is a 400
 * at PUT time rather than a failed operation minutes later.
 */

/** Wraps a shared reason-returning validator as a zod string check. */
const checked = (problem: (v: string) => string | undefined) =>
    z.string().superRefine((v, ctx) => {
        const p = problem(v);
        if (p) ctx.addIssue({ code: "custom", message: p });
    });

export const ENVIRONMENT_NAME_RULE = "must be 3-24 lowercase letters, digits and hyphens, start with a letter, and contain no '--' or trailing hyphen";

export const EnvironmentNameSchema = z.string()
    .regex(/^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,23}$/, ENVIRONMENT_NAME_RULE)
    .meta({ description: `Environment name, also the Pulumi stack name; ${ENVIRONMENT_NAME_RULE}.`, example: "payments-dev" });

export const TeamSchema = z.string()
    .regex(/^[a-z][a-z0-9-]{1,31}$/, "must be 2-32 lowercase letters, digits and hyphens, starting with a letter")
    .meta({ description: "Owning team. Non-admin callers may only use their own team.", example: "payments" });

const AccessGrantSchema = z.object({
    principalId: z.string().refine(isGuid, { message: "must be a GUID such as 00000000-0000-0000-0000-000000000000" })
        .meta({ description: "Entra object id of the user, group or service principal.", example: "3fa85f64-5717-4562-b3fc-2c963f66afa6" }),
    principalType: z.enum(PRINCIPAL_TYPES).meta({ description: "Kind of principal.", example: "Group" }),
    role: z.enum(KEY_VAULT_ROLE_NAMES).meta({ description: "Built-in Key Vault data-plane role, by friendly name.", example: "secrets-user" }),
}).strict().meta({ description: "One Key Vault RBAC grant." });

export const EnvironmentSpecSchema = z.object({
    tier: z.enum(ENVIRONMENTS).meta({ description: "Environment tier; decides soft-delete retention, purge protection and log retention.", example: "dev" }),
    location: checked(locationProblem).meta({ description: "Azure region, as ARM spells it.", example: "westeurope" }),
    team: TeamSchema,
    network: z.object({
        allowedIpRanges: z.array(checked(ipRuleProblem)).max(1000)
            .meta({ description: "Public IPv4 addresses or CIDR ranges the vault firewall admits.", example: ["203.0.113.0/24"] })
            .optional(),
        allowedSubnetIds: z.array(checked(subnetIdProblem)).max(200)
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
        emails: z.array(checked(emailProblem)).min(1).max(50).meta({ description: "Addresses the vault's alerts are sent to.", example: ["ops@example.com"] }),
    }).strict().meta({ description: "Alert receivers; required in prod." }).optional(),
    ttlHours: z.number().int().min(1).max(720)
        .meta({ description: "Destroy the environment this many hours after its spec last changed (1-720).", example: 72 })
        .optional(),
}).strict().superRefine((spec, ctx) => {
    // Mirrors the stack-config rule so the field is named in spec terms and the schema alone is enough to be valid.
    if (spec.tier === "prod" && !spec.alerts?.emails.length) {
        ctx.addIssue({ code: "custom", path: ["alerts", "emails"], message: "needs at least one address in prod: alerts nobody receives protect nothing" });
    }
}).meta({
    description: "Desired state of one Key Vault environment.",
    example: {
        tier: "dev", location: "westeurope", team: "payments",
        network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
        access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
        cosmos: { enabled: true }, alerts: { emails: ["ops@example.com"] }, ttlHours: 72,
    },
});

export type EnvironmentSpec = z.infer<typeof EnvironmentSpecSchema>;

export const MANAGED_BY_TAG = "keyvault-platform-server";

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

/** The stack config for a spec: the one input the engine gets, derived on every run. */
export function specToStackConfig(name: string, spec: EnvironmentSpec): StackConfigInput {
    return {
        environment: spec.tier,
        location: spec.location,
        namePrefix: namePrefixFor(name),
        roleAssignments: (spec.access ?? []).map((a) => ({ principalId: a.principalId, principalType: a.principalType, role: a.role })),
        allowedIpRanges: spec.network?.allowedIpRanges ?? [],
        allowedSubnetIds: spec.network?.allowedSubnetIds ?? [],
        cosmos: { enabled: spec.cosmos?.enabled ?? false },
        monitoring: { alertEmails: spec.alerts?.emails ?? [] },
        tags: { Team: spec.team, Environment: name, ManagedBy: MANAGED_BY_TAG },
    };
}

/** Stack-config keys mapped back to the spec field a client wrote, so a 400 names their field. */
const CONFIG_KEY_TO_SPEC: ReadonlyArray<[RegExp, string]> = [
    [/^environment/, "tier"],
    [/^roleAssignments/, "access"],
    [/^allowedIpRanges/, "network.allowedIpRanges"],
    [/^allowedSubnetIds/, "network.allowedSubnetIds"],
    [/^monitoring\.alertEmails/, "alerts.emails"],
    [/^namePrefix/, "name"],
    [/^tags\.Environment/, "name"],
    [/^tags\.Team/, "team"],
];

function specPathOf(configKey: string): string {
    for (const [pattern, specKey] of CONFIG_KEY_TO_SPEC) {
        if (pattern.test(configKey)) return configKey.replace(pattern, specKey);
    }
    return configKey;
}

function zodProblems(error: z.ZodError, input: unknown, prefix = ""): Problem[] {
    return error.issues.flatMap((issue): Problem[] => {
        const missing = prefix === "" && issue.path.length > 0 && valueAt(input, issue.path) === undefined;
        const at = (extra: PropertyKey[] = []) => {
            const p = keyOf([...issue.path, ...extra]);
            return prefix ? (p ? `${prefix}.${p}` : prefix) : p || "(body)";
        };
        switch (issue.code) {
            case "unrecognized_keys":
                return issue.keys.map((k) => ({ path: at([k]), message: "is not a known field" }));
            case "invalid_value":
                return [{ path: at(), message: `${missing ? "is required and " : ""}must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}` }];
            case "invalid_type":
                return [{ path: at(), message: `${missing ? "is required and " : ""}must be ${issue.expected === "array" ? "a list" : issue.expected === "object" ? "an object" : `a ${issue.expected}`}` }];
            case "too_small":
                return [{ path: at(), message: issue.origin === "array" ? `must list at least ${issue.minimum} item(s)` : `must be at least ${issue.minimum}${issue.origin === "string" ? " characters" : ""}` }];
            case "too_big":
                return [{ path: at(), message: issue.origin === "array" ? `must list at most ${issue.maximum} item(s)` : `must be at most ${issue.maximum}${issue.origin === "string" ? " characters" : ""}` }];
            default:
                return [{ path: at(), message: issue.message }];
        }
    });
}

/** Validates an environment name; throws ValidationError naming `name`. */
export function parseEnvironmentName(name: unknown): string {
    const result = EnvironmentNameSchema.safeParse(name);
    if (!result.success) throw new ValidationError(zodProblems(result.error, name, "name"), "The environment name is invalid.");
    return result.data;
}

/**
 * Validates a PUT body for environment `name` and proves the derived stack config is
 * one the components accept. Throws ValidationError listing every bad field.
 */
export function parseEnvironmentSpec(name: string, body: unknown): EnvironmentSpec {
    const result = EnvironmentSpecSchema.safeParse(body);
    if (!result.success) throw new ValidationError(zodProblems(result.error, body), "The environment spec is invalid.");
    const spec = result.data;
    const tagProblems = [["Team", spec.team], ["Environment", name]].flatMap(([k, v]) => {
        const p = tagProblem(k, v);
        return p ? [{ path: k === "Team" ? "team" : "name", message: p }] : [];
    });
    if (tagProblems.length > 0) throw new ValidationError(tagProblems, "The environment spec is invalid.");
    try {
        parseStackConfig(specToStackConfig(name, spec));
    } catch (e) {
        if (!(e instanceof StackConfigError)) throw e;
        throw new ValidationError(e.problems.map((p) => ({ path: specPathOf(p.key), message: p.message })), "The environment spec is invalid.");
    }
    return spec;
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
