import { z } from "zod";
import { ROTATION_CONFIG_SECRET } from "./rotationConfig";

/**
 * App settings the function reads, validated once at start-up so a missing or
 * malformed one fails with its name. ROTATION_SCHEDULE is read by the Functions
 * host itself (the timer binding's `%ROTATION_SCHEDULE%`), not by this code.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SettingsSchema = z.object({
    /** The vault whose secrets are rotated, e.g. https://kv-prod.vault.azure.net/. */
    KEY_VAULT_URL: z.url({ protocol: /^https$/, message: "must be the vault's https URL, e.g. https://kv-prod.vault.azure.net/" }),
    /** Secrets whose expiry is within this many days are rotated by the timer (Key Vault's SecretNearExpiry fires at 30). */
    ROTATION_WINDOW_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    /** The name of the JSON `rotation-config` secret. */
    ROTATION_CONFIG_SECRET: z.string().regex(/^[A-Za-z0-9-]{1,127}$/, "must be a Key Vault secret name").default(ROTATION_CONFIG_SECRET),
    /** Subscription of rotation-config entries that name none (the SUBSCRIPTION_ID app setting). */
    SUBSCRIPTION_ID: z.string().regex(GUID, "must be a subscription GUID").optional(),
    /** The PostgreSQL role mapped to the function's managed identity; required only for postgres targets. */
    POSTGRES_ADMIN_USER: z.string().min(1).optional(),
    /** Client id of a user-assigned identity; read by DefaultAzureCredential itself. */
    AZURE_CLIENT_ID: z.string().regex(GUID, "must be the user-assigned identity's client id (a GUID)").optional(),
});

export type Settings = z.infer<typeof SettingsSchema>;

export class SettingsError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid app settings: ${problems.join("; ")}`);
        this.name = "SettingsError";
    }
}

export function parseSettings(env: Record<string, string | undefined>): Settings {
    const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
    const parsed = SettingsSchema.safeParse(present);
    if (!parsed.success) {
        throw new SettingsError(parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`));
    }
    return parsed.data;
}
