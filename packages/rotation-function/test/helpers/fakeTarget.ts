import type { Credential, CredentialTarget, LoginCheck } from "../../src/targets/target";
import { generatePassword } from "../../src/password";

/**
 * An in-memory provider with two logins (or one, for a single-credential target),
 * to drive protocol branches that a real server cannot be made to take on demand.
 */
export class FakeTarget implements CredentialTarget {
    readonly kind: "postgres" | "sql";
    readonly passwords = new Map<string, string>();
    failSetPassword: Error | undefined;
    calls: string[] = [];

    constructor(readonly logins: readonly string[], readonly verifiesLogin = true) {
        this.kind = logins.length === 2 ? "postgres" : "sql";
    }

    nextCredential(current: string | undefined): string {
        return this.logins.length === 1 ? this.logins[0] : current === this.logins[0] ? this.logins[1] : this.logins[0];
    }

    newPassword(): string {
        return generatePassword({ length: 20 });
    }

    encode({ credentialId, password }: Credential): string {
        return `${credentialId}:${password}`;
    }

    decode(value: string): Credential {
        const [credentialId, password] = value.split(":");
        return { credentialId, password };
    }

    async setPassword({ credentialId, password }: Credential): Promise<void> {
        this.calls.push(`set ${credentialId}`);
        if (this.failSetPassword) throw this.failSetPassword;
        this.passwords.set(credentialId, password);
    }

    async verify(c: Credential): Promise<LoginCheck> {
        this.calls.push(`verify ${c.credentialId}`);
        return this.logsIn(c) ? { ok: true } : { ok: false, reason: `wrong password for ${c.credentialId}` };
    }

    logsIn({ credentialId, password }: Credential): boolean {
        return this.passwords.get(credentialId) === password;
    }

    async close(): Promise<void> {}
}
