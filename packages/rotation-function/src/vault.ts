import type { KeyVaultSecret, SecretProperties } from "@azure/keyvault-secrets";

/**
 * The subset of `SecretClient` the rotation uses. The real client satisfies it
 * structurally; tests use a double that keeps Key Vault's version semantics.
 */
export interface VaultPort {
    getSecret(name: string, options?: { version?: string }): Promise<KeyVaultSecret>;
    setSecret(name: string, value: string, options?: {
        tags?: Record<string, string>;
        contentType?: string;
        enabled?: boolean;
        expiresOn?: Date;
    }): Promise<KeyVaultSecret>;
    updateSecretProperties(name: string, version: string, options?: {
        tags?: Record<string, string>;
        enabled?: boolean;
        expiresOn?: Date;
        contentType?: string;
    }): Promise<SecretProperties>;
    listPropertiesOfSecrets(): AsyncIterable<SecretProperties>;
    listPropertiesOfSecretVersions(name: string): AsyncIterable<SecretProperties>;
}

/** Tags the protocol writes; the target tags (tags.ts) are the user's. */
export const STATE_TAG = "RotationState";
export const ROTATION_ID_TAG = "RotationId";
export const ROTATION_OF_TAG = "RotationOf";
export const ROTATION_BASE_TAG = "RotationBase";
export const ROTATED_AT_TAG = "RotatedAt";

export type RotationState = "current" | "pending" | "promoted" | "rolled-back" | "superseded";

/**
 * Pending values live in a companion secret, never as a new version of the secret
 * itself: readers resolve "latest" to the newest version even when it is disabled
 * (and then get 403 "Operation get is not allowed on a disabled secret"), so a
 * pending version of the secret would break every consumer until promotion.
 */
export const PENDING_SUFFIX = "-rotation-pending";
export const MAX_SECRET_NAME = 127;

export function pendingSecretName(secretName: string): string {
    return `${secretName}${PENDING_SUFFIX}`;
}

export function isPendingSecretName(name: string): boolean {
    return name.endsWith(PENDING_SUFFIX);
}

/** Key Vault answers 404 with code SecretNotFound; the double mimics both fields. */
export function isNotFound(e: unknown): boolean {
    const err = e as { statusCode?: number; code?: string } | undefined;
    return err?.statusCode === 404 || err?.code === "SecretNotFound";
}

/** Reads the latest version, or undefined when the secret does not exist. */
export async function readLatest(vault: VaultPort, name: string): Promise<KeyVaultSecret | undefined> {
    try {
        return await vault.getSecret(name);
    } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
    }
}

export async function listVersions(vault: VaultPort, name: string): Promise<SecretProperties[]> {
    const out: SecretProperties[] = [];
    try {
        for await (const p of vault.listPropertiesOfSecretVersions(name)) out.push(p);
    } catch (e) {
        if (isNotFound(e)) return [];
        throw e;
    }
    return out;
}
