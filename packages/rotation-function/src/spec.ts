import { z } from "zod";
import { parsePostgresAddress, parseSqlServerId, POSTGRES_ADDRESS_RULE, SQL_ADDRESS_RULE } from "./address";

/**
 * What a rotation needs to know about one secret, whether it came from the
 * secret's own tags or from an entry of the `rotation-config` secret.
 */
export const TARGET_KINDS = ["postgres", "sql"] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export interface RotationSpec {
    secretName: string;
    target: TargetKind;
    providerAddress: string;
    /**
     * The credential the current version holds. A `rotation-config` entry may leave
     * it out for sql; the target then takes the admin login from the server itself.
     */
    credentialId?: string;
    /** postgres only: the two login roles that alternate. */
    credentialPair?: readonly [string, string];
    validityPeriodDays: number;
    source: "tags" | "rotation-config";
}

/** The tags a user puts on a secret to have it rotated. */
export const TAGS = {
    target: "RotationTarget",
    providerAddress: "ProviderAddress",
    credentialId: "CredentialId",
    credentialPair: "CredentialPair",
    validityPeriodDays: "ValidityPeriodDays",
} as const;

export const VALIDITY_DAYS = { min: 1, max: 3650 } as const;

/** Unquoted lower-case identifiers: safe in SQL (still quoted) and in a connection URI. */
export const POSTGRES_ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
export const POSTGRES_ROLE_RULE = "must be a lower-case PostgreSQL role name (a-z, 0-9, _; at most 63 characters; not starting with a digit)";
/** Azure SQL admin logins: letters, digits and _, starting with a letter. */
export const SQL_LOGIN = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
export const SQL_LOGIN_RULE = "must be the server's admin login: a letter, then letters, digits or _ (at most 128)";

export interface SpecProblem {
    /** The tag (or config path) at fault. */
    field: string;
    /** The offending value, or undefined when it is missing. */
    value: string | undefined;
    problem: string;
}

export class SpecError extends Error {
    constructor(readonly secretName: string, readonly problems: SpecProblem[]) {
        super(`secret "${secretName}" has invalid rotation settings: ${problems.map(formatProblem).join("; ")}`);
        this.name = "SpecError";
    }
}

export function formatProblem(p: SpecProblem): string {
    return p.value === undefined ? `${p.field} is missing: ${p.problem}` : `${p.field}="${p.value}" ${p.problem}`;
}

const validity = z.string({ error: "is required: a whole number of days" })
    .regex(/^\d{1,4}$/, `must be a whole number of days from ${VALIDITY_DAYS.min} to ${VALIDITY_DAYS.max}`)
    .transform(Number)
    .refine((n) => n >= VALIDITY_DAYS.min && n <= VALIDITY_DAYS.max, `must be a whole number of days from ${VALIDITY_DAYS.min} to ${VALIDITY_DAYS.max}`);

const TagSchema = z.object({
    [TAGS.target]: z.enum(TARGET_KINDS, { error: `must be one of ${TARGET_KINDS.map((k) => `"${k}"`).join(", ")}` }),
    [TAGS.providerAddress]: z.string({ error: "is required" }),
    [TAGS.credentialId]: z.string({ error: "is required: the credential the current version holds" }),
    [TAGS.credentialPair]: z.string().optional(),
    [TAGS.validityPeriodDays]: validity,
}).superRefine((t, ctx) => {
    const issue = (tag: string, message: string) => ctx.addIssue({ code: "custom", path: [tag], message });
    const address = t[TAGS.providerAddress];
    const credential = t[TAGS.credentialId];
    const pair = t[TAGS.credentialPair];
    if (t[TAGS.target] === "sql") {
        if (!parseSqlServerId(address)) issue(TAGS.providerAddress, SQL_ADDRESS_RULE);
        if (!SQL_LOGIN.test(credential)) issue(TAGS.credentialId, SQL_LOGIN_RULE);
        if (pair !== undefined) issue(TAGS.credentialPair, "is not allowed for sql: an Azure SQL server has a single admin login");
        return;
    }
    if (!parsePostgresAddress(address)) issue(TAGS.providerAddress, POSTGRES_ADDRESS_RULE);
    const roles = pair?.split(",").map((r) => r.trim());
    if (!roles) issue(TAGS.credentialPair, "is required for postgres: the two login roles that alternate, e.g. app_a,app_b");
    else if (roles.length !== 2 || roles[0] === roles[1] || !roles.every((r) => POSTGRES_ROLE.test(r))) {
        issue(TAGS.credentialPair, `must name two different roles separated by a comma, each of which ${POSTGRES_ROLE_RULE}`);
    } else if (!roles.includes(credential)) issue(TAGS.credentialId, `must be one of the CredentialPair roles (${roles.join(", ")})`);
});

/** True when a secret carries any rotation tag, so a broken set is reported rather than ignored. */
export function hasRotationTags(tags: Record<string, string> | undefined): boolean {
    return Object.values(TAGS).some((t) => tags?.[t] !== undefined);
}

/** Builds the spec from a secret's tags, or throws SpecError naming every bad tag. */
export function specFromTags(secretName: string, tags: Record<string, string> | undefined): RotationSpec {
    const parsed = TagSchema.safeParse(tags ?? {});
    if (!parsed.success) {
        throw new SpecError(secretName, parsed.error.issues.map((i) => {
            const field = String(i.path[0] ?? "tags");
            return { field, value: tags?.[field], problem: i.message };
        }));
    }
    const t = parsed.data;
    const pair = t[TAGS.credentialPair]?.split(",").map((r) => r.trim());
    return {
        secretName,
        target: t[TAGS.target],
        providerAddress: t[TAGS.providerAddress],
        credentialId: t[TAGS.credentialId],
        ...(pair ? { credentialPair: [pair[0], pair[1]] as const } : {}),
        validityPeriodDays: t[TAGS.validityPeriodDays],
        source: "tags",
    };
}

/** The tags a promoted version carries, so the secret stays self-describing. */
export function specTags(spec: RotationSpec, credentialId: string): Record<string, string> {
    return {
        [TAGS.target]: spec.target,
        [TAGS.providerAddress]: spec.providerAddress,
        [TAGS.credentialId]: credentialId,
        ...(spec.credentialPair ? { [TAGS.credentialPair]: spec.credentialPair.join(",") } : {}),
        [TAGS.validityPeriodDays]: String(spec.validityPeriodDays),
    };
}
