import { SqlManagementClient } from "@azure/arm-sql";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { parseSqlServerId } from "./address";
import type { Logger } from "./log";
import { RotationService, TargetFactory } from "./service";
import type { Settings } from "./settings";
import { PostgresDualTarget } from "./targets/postgres";
import { SqlAdminTarget } from "./targets/sql";
import type { VaultPort } from "./vault";

/** Entra ID tokens are the password for Azure Database for PostgreSQL's Entra authentication. */
export const POSTGRES_TOKEN_SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

/**
 * Production targets: Azure SQL through ARM, PostgreSQL with the function's
 * managed identity as the admin role (no stored admin password), both over TLS.
 */
export function productionTargets(settings: Settings, credential: TokenCredential): TargetFactory {
    const sqlClients = new Map<string, SqlManagementClient>();
    return async (spec) => {
        if (spec.target === "sql") {
            const subscriptionId = parseSqlServerId(spec.providerAddress)?.subscriptionId ?? "";
            let client = sqlClients.get(subscriptionId);
            if (!client) sqlClients.set(subscriptionId, client = new SqlManagementClient(credential, subscriptionId));
            return SqlAdminTarget.create(spec.providerAddress, spec.credentialId, client.servers);
        }
        if (!settings.POSTGRES_ADMIN_USER) throw new Error("the POSTGRES_ADMIN_USER app setting is required for postgres targets");
        if (!spec.credentialPair) throw new Error("a postgres target needs the CredentialPair tag");
        return new PostgresDualTarget(spec.providerAddress, spec.credentialPair, {
            user: settings.POSTGRES_ADMIN_USER,
            password: async () => {
                const token = await credential.getToken(POSTGRES_TOKEN_SCOPE);
                if (!token) throw new Error(`no Entra token for ${POSTGRES_TOKEN_SCOPE}`);
                return token.token;
            },
            ssl: { rejectUnauthorized: true },
        });
    };
}

/** One credential and one vault client per worker; a service per invocation for its logger. */
export function productionServices(settings: Settings): (logger: Logger) => RotationService {
    const credential = new DefaultAzureCredential();
    const vault: VaultPort = new SecretClient(settings.KEY_VAULT_URL, credential);
    const targets = productionTargets(settings, credential);
    return (logger) => new RotationService({
        vault,
        logger,
        targets,
        configSecretName: settings.ROTATION_CONFIG_SECRET,
        subscriptionId: settings.SUBSCRIPTION_ID,
        windowDays: settings.ROTATION_WINDOW_DAYS,
    });
}
