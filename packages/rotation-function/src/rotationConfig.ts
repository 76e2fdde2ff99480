import { z } from "zod";
import { sqlServerId } from "./address";
import { RotationSpec, SQL_LOGIN, SQL_LOGIN_RULE, VALIDITY_DAYS } from "./spec";

/**
 * The `rotation-config` secret: `{ "databases": [{ "server", "resource_group",
 * "secret_name", ... }] }`, each entry an Azure SQL server whose admin password lives
 * in `secret_name`. Entries map onto the same engine as tagged secrets (target sql).
 */
export const ROTATION_CONFIG_SECRET = "rotation-config";
export const DEFAULT_CONFIG_VALIDITY_DAYS = 90;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const Entry = z.object({
    server: z.string({ error: "is required: the Azure SQL server name" })
        .regex(/^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/, "must be an Azure SQL server name (lower-case letters, digits and hyphens, 2-63 characters)"),
    resource_group: z.string({ error: "is required: the server's resource group" })
        .regex(/^[-\w.()]{1,90}$/, "must be a resource group name (1-90 letters, digits, - _ . ( ))"),
    secret_name: z.string({ error: "is required: the vault secret that holds the admin password" })
        .regex(/^[A-Za-z0-9-]{1,100}$/, "must be a Key Vault secret name of letters, digits and hyphens (at most 100, leaving room for the pending companion)"),
    subscription_id: z.string().regex(GUID, "must be a subscription GUID").optional(),
    admin_login: z.string().regex(SQL_LOGIN, SQL_LOGIN_RULE).optional(),
    validity_period_days: z.number().int(`must be a whole number of days from ${VALIDITY_DAYS.min} to ${VALIDITY_DAYS.max}`)
        .min(VALIDITY_DAYS.min, `must be at least ${VALIDITY_DAYS.min}`).max(VALIDITY_DAYS.max, `must be at most ${VALIDITY_DAYS.max}`).optional(),
});

const ConfigSchema = z.object({
    databases: z.array(Entry, { error: "is required: a list of { server, resource_group, secret_name } entries" }),
}).superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.databases.forEach((d, i) => {
        const first = seen.get(d.secret_name);
        if (first !== undefined) ctx.addIssue({ code: "custom", path: ["databases", i, "secret_name"], message: `repeats databases[${first}].secret_name; each secret can be rotated by one entry only` });
        else seen.set(d.secret_name, i);
    });
});

export interface ConfigProblem {
    /** Where in the document, e.g. `databases[1].resource_group`. */
    path: string;
    problem: string;
}

export class RotationConfigError extends Error {
    constructor(readonly problems: ConfigProblem[]) {
        super(`${ROTATION_CONFIG_SECRET} is invalid: ${problems.map((p) => `${p.path} ${p.problem}`).join("; ")}`);
        this.name = "RotationConfigError";
    }
}

function pathOf(path: ReadonlyArray<PropertyKey>): string {
    return path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), "") || "(root)";
}

/**
 * Parses the secret's value into rotation specs. `defaultSubscriptionId` (the
 * SUBSCRIPTION_ID app setting) serves entries that name none.
 */
export function parseRotationConfig(text: string, defaultSubscriptionId: string | undefined): RotationSpec[] {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (e) {
        throw new RotationConfigError([{ path: "(root)", problem: `is not valid JSON (${(e as Error).message})` }]);
    }
    const parsed = ConfigSchema.safeParse(json);
    if (!parsed.success) throw new RotationConfigError(parsed.error.issues.map((i) => ({ path: pathOf(i.path), problem: i.message })));
    const problems: ConfigProblem[] = [];
    const specs = parsed.data.databases.flatMap((d, i): RotationSpec[] => {
        const subscriptionId = d.subscription_id ?? defaultSubscriptionId;
        if (!subscriptionId || !GUID.test(subscriptionId)) {
            problems.push({ path: `databases[${i}].subscription_id`, problem: "is required when the SUBSCRIPTION_ID app setting is not a subscription GUID" });
            return [];
        }
        return [{
            secretName: d.secret_name,
            target: "sql",
            providerAddress: sqlServerId({ subscriptionId, resourceGroup: d.resource_group, serverName: d.server }),
            ...(d.admin_login ? { credentialId: d.admin_login } : {}),
            validityPeriodDays: d.validity_period_days ?? DEFAULT_CONFIG_VALIDITY_DAYS,
            source: "rotation-config",
        }];
    });
    if (problems.length > 0) throw new RotationConfigError(problems);
    return specs;
}
