/**
 * The two `ProviderAddress` forms, parsed into what each target needs.
 *
 * - sql: the server's ARM id, `/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Sql/servers/<name>`.
 * - postgres: `<host>[:<port>]/<database>`, where host is a DNS name or IPv4 address and
 *   port defaults to 5432. It names the server the function connects to as the admin
 *   role, and it is also the host consumers find in the connection URI stored in the vault.
 */

export interface SqlServerAddress {
    subscriptionId: string;
    resourceGroup: string;
    serverName: string;
}

export interface PostgresAddress {
    host: string;
    port: number;
    database: string;
}

const SQL_SERVER_ID = /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/([-\w.()]{1,90})\/providers\/Microsoft\.Sql\/servers\/([a-z0-9][a-z0-9-]{0,61}[a-z0-9]?)$/i;

export const SQL_ADDRESS_RULE = "must be an Azure SQL server ARM id: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Sql/servers/<name>";
export const POSTGRES_ADDRESS_RULE = "must be <host>[:<port>]/<database>, e.g. pg-prod.postgres.database.azure.com:5432/orders";

export function parseSqlServerId(value: string): SqlServerAddress | undefined {
    const m = SQL_SERVER_ID.exec(value);
    return m ? { subscriptionId: m[1], resourceGroup: m[2], serverName: m[3] } : undefined;
}

export function sqlServerId(a: SqlServerAddress): string {
    return `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/Microsoft.Sql/servers/${a.serverName}`;
}

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** Database names are kept to characters that need no escaping in a URI path. */
const DATABASE = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

export function parsePostgresAddress(value: string): PostgresAddress | undefined {
    const m = /^([^:/]+)(?::(\d{1,5}))?\/([^/]+)$/.exec(value);
    if (!m || !HOST.test(m[1]) || !DATABASE.test(m[3])) return undefined;
    const port = m[2] === undefined ? 5432 : Number(m[2]);
    if (port < 1 || port > 65535) return undefined;
    return { host: m[1].toLowerCase(), port, database: m[3] };
}
