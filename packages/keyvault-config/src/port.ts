/**
 * The subset of `@azure/keyvault-secrets`' SecretClient the loader uses. The real
 * client satisfies it structurally; tests pass an in-memory double.
 */

/** Secret metadata as listed by the vault (never the value). */
export interface SecretPropertiesLike {
    readonly name: string;
    readonly version?: string;
    readonly enabled?: boolean;
    readonly notBefore?: Date;
    readonly expiresOn?: Date;
    readonly updatedOn?: Date;
}

export interface SecretLike {
    readonly value?: string;
    readonly properties: SecretPropertiesLike;
}

export interface SecretClientPort {
    /** Lists the latest version's properties of every secret in the vault. */
    listPropertiesOfSecrets(): AsyncIterable<SecretPropertiesLike>;
    /** Reads a secret's value; the loader always names the version it listed. */
    getSecret(name: string, options?: { version?: string }): Promise<SecretLike>;
}
