import { Client, ClientConfig, escapeIdentifier, escapeLiteral } from "pg";
import type { ConnectionOptions } from "node:tls";
import { parsePostgresAddress, PostgresAddress, POSTGRES_ADDRESS_RULE } from "../address";
import { DEFAULT_LENGTH, generatePassword } from "../password";
import { scramVerifier } from "../scram";
import { POSTGRES_ROLE } from "../spec";
import type { Credential, CredentialTarget, LoginCheck } from "./target";

/** How the function reaches the server as a role allowed to ALTER ROLE the pair. */
export interface PostgresAdmin {
    /** Required. The admin role (in Azure, the PostgreSQL principal mapped to the function's managed identity). */
    user: string;
    /** Required. Returns the admin password; in Azure an Entra access token, fetched per connection. */
    password: () => Promise<string>;
    /** Optional. TLS for admin and verification connections. Defaults to none (a local server). */
    ssl?: boolean | ConnectionOptions;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * PostgreSQL dual credentials. Two login roles (members of one group role that owns
 * the privileges) alternate: each rotation sets the password of the role the current
 * version does NOT hold, so consumers of the current value keep working.
 *
 * The password is sent as a SCRAM-SHA-256 verifier built here, inside a quoted
 * literal, with the role as a quoted identifier (ALTER ROLE takes no bind parameters).
 * The clear password never reaches the server's statement log.
 */
export class PostgresDualTarget implements CredentialTarget {
    readonly kind = "postgres" as const;
    readonly verifiesLogin = true;
    private readonly address: PostgresAddress;

    constructor(providerAddress: string, private readonly pair: readonly [string, string], private readonly admin: PostgresAdmin) {
        const address = parsePostgresAddress(providerAddress);
        if (!address) throw new Error(`ProviderAddress ${POSTGRES_ADDRESS_RULE}`);
        if (!pair.every((r) => POSTGRES_ROLE.test(r))) throw new Error("CredentialPair must name two lower-case PostgreSQL roles");
        this.address = address;
    }

    nextCredential(current: string | undefined): string {
        return current === this.pair[0] ? this.pair[1] : this.pair[0];
    }

    newPassword(credentialId: string): string {
        return generatePassword({ length: DEFAULT_LENGTH, loginName: credentialId });
    }

    encode({ credentialId, password }: Credential): string {
        const { host, port, database } = this.address;
        return `postgresql://${credentialId}:${password}@${host}:${port}/${database}`;
    }

    decode(value: string): Credential {
        const m = /^postgresql:\/\/([a-z_][a-z0-9_]*):([^@]+)@/.exec(value);
        if (!m || !this.pair.includes(m[1])) throw new Error(`the value is not a postgresql:// URI for one of the roles ${this.pair.join(", ")}`);
        return { credentialId: m[1], password: m[2] };
    }

    async setPassword({ credentialId, password }: Credential): Promise<void> {
        this.assertInPair(credentialId);
        const client = new Client(this.config(this.admin.user, await this.admin.password()));
        await client.connect();
        try {
            await client.query(`ALTER ROLE ${escapeIdentifier(credentialId)} WITH PASSWORD ${escapeLiteral(scramVerifier(password))}`);
        } finally {
            await client.end();
        }
    }

    /** A fresh connection as the role itself: the only proof a consumer's login would work. */
    async verify({ credentialId, password }: Credential): Promise<LoginCheck> {
        this.assertInPair(credentialId);
        const client = new Client(this.config(credentialId, password));
        try {
            await client.connect();
            const { rows } = await client.query<{ who: string }>("SELECT current_user AS who");
            return rows[0]?.who === credentialId ? { ok: true } : { ok: false, reason: `logged in as ${rows[0]?.who}, not ${credentialId}` };
        } catch (e) {
            return { ok: false, reason: `login as ${credentialId} failed: ${(e as Error).message}` };
        } finally {
            await client.end().catch(() => undefined);
        }
    }

    async close(): Promise<void> {}

    private assertInPair(role: string): void {
        if (!this.pair.includes(role)) throw new Error(`role ${role} is not in the CredentialPair (${this.pair.join(", ")})`);
    }

    private config(user: string, password: string): ClientConfig {
        return {
            host: this.address.host,
            port: this.address.port,
            database: this.address.database,
            user,
            password,
            ssl: this.admin.ssl ?? false,
            connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
            application_name: "keyvault-rotation",
        };
    }
}
