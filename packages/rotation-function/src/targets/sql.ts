import { parseSqlServerId, SQL_ADDRESS_RULE, SqlServerAddress } from "../address";
import { DEFAULT_LENGTH, generatePassword } from "../password";
import type { Credential, CredentialTarget, LoginCheck } from "./target";

/** The part of `SqlManagementClient.servers` the rotation uses. */
export interface SqlServersPort {
    get(resourceGroupName: string, serverName: string): Promise<{ administratorLogin?: string; state?: string; fullyQualifiedDomainName?: string }>;
    beginUpdateAndWait(resourceGroupName: string, serverName: string, parameters: { administratorLoginPassword: string }): Promise<{ state?: string }>;
}

/** A real login check (e.g. a TDS connection); supplying one makes `verifiesLogin` true. */
export type SqlLoginVerifier = (server: { fqdn: string; login: string }, password: string) => Promise<LoginCheck>;

/**
 * The Azure SQL server admin password, through ARM. A server has one admin login, so
 * between the provider change and the promotion the vault's current version no longer
 * logs in: the working value is then the pending one, still in the vault.
 *
 * Without a login verifier the check is ARM's word: the update LRO succeeded, and the
 * server reports state Ready with the expected admin login. ARM never returns the
 * password, so that does not prove the password; resumes therefore always re-apply.
 */
export class SqlAdminTarget implements CredentialTarget {
    readonly kind = "sql" as const;
    readonly verifiesLogin: boolean;

    private constructor(
        private readonly address: SqlServerAddress,
        private readonly login: string,
        private readonly fqdn: string,
        private readonly servers: SqlServersPort,
        private readonly loginVerifier: SqlLoginVerifier | undefined,
    ) {
        this.verifiesLogin = loginVerifier !== undefined;
    }

    /** Reads the server once: its admin login is the credential, and must match CredentialId when one is given. */
    static async create(providerAddress: string, credentialId: string | undefined, servers: SqlServersPort, loginVerifier?: SqlLoginVerifier): Promise<SqlAdminTarget> {
        const address = parseSqlServerId(providerAddress);
        if (!address) throw new Error(`ProviderAddress ${SQL_ADDRESS_RULE}`);
        const server = await servers.get(address.resourceGroup, address.serverName);
        const login = server.administratorLogin;
        if (!login) throw new Error(`server ${address.serverName} reports no administratorLogin (an Entra-only server has no password to rotate)`);
        if (credentialId !== undefined && credentialId.toLowerCase() !== login.toLowerCase()) {
            throw new Error(`CredentialId "${credentialId}" is not the admin login of server ${address.serverName} ("${login}")`);
        }
        const fqdn = server.fullyQualifiedDomainName ?? `${address.serverName}.database.windows.net`;
        return new SqlAdminTarget(address, login, fqdn, servers, loginVerifier);
    }

    nextCredential(): string {
        return this.login;
    }

    newPassword(credentialId: string): string {
        return generatePassword({ length: DEFAULT_LENGTH, loginName: credentialId });
    }

    /** The value is the bare password; the login is the CredentialId tag. */
    encode({ password }: Credential): string {
        return password;
    }

    decode(value: string): Credential {
        return { credentialId: this.login, password: value };
    }

    async setPassword({ password }: Credential): Promise<void> {
        await this.servers.beginUpdateAndWait(this.address.resourceGroup, this.address.serverName, { administratorLoginPassword: password });
    }

    async verify({ password }: Credential): Promise<LoginCheck> {
        if (this.loginVerifier) return this.loginVerifier({ fqdn: this.fqdn, login: this.login }, password);
        const server = await this.servers.get(this.address.resourceGroup, this.address.serverName);
        if (server.state !== "Ready") return { ok: false, reason: `server ${this.address.serverName} is in state ${server.state ?? "unknown"}, not Ready` };
        if (server.administratorLogin?.toLowerCase() !== this.login.toLowerCase()) {
            return { ok: false, reason: `server ${this.address.serverName} now reports admin login ${server.administratorLogin}` };
        }
        return { ok: true };
    }

    async close(): Promise<void> {}
}
