import type { TargetKind } from "../spec";

/** A credential as the vault holds it: which login, and its password. */
export interface Credential {
    credentialId: string;
    password: string;
}

export type LoginCheck = { ok: true } | { ok: false; reason: string };

/**
 * One system whose password the vault holds. Implementations never log or return
 * a password, and every method is idempotent, because a resumed rotation repeats it.
 */
export interface CredentialTarget {
    readonly kind: TargetKind;
    /**
     * True when `verify` proves that the password logs in. When false (Azure SQL
     * checked through ARM), a resume never trusts `verify` to tell whether the staged
     * password was applied, and re-applies it first.
     */
    readonly verifiesLogin: boolean;
    /** The credential to rotate next, given the one the current version holds (undefined: none yet). */
    nextCredential(current: string | undefined): string;
    newPassword(credentialId: string): string;
    /** The vault value for a credential (a password, or a connection URI that carries the login). */
    encode(credential: Credential): string;
    /** Reverses `encode`; throws (without echoing the value) when the value is not in this target's format. */
    decode(value: string): Credential;
    setPassword(credential: Credential): Promise<void>;
    verify(credential: Credential): Promise<LoginCheck>;
    close(): Promise<void>;
}
