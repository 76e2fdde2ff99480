import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { KeyVaultSecret, SecretProperties } from "@azure/keyvault-secrets";
import type { VaultPort } from "../../src/vault";

/**
 * A Key Vault double for the SecretClient subset the rotation uses, with the
 * semantics the protocol depends on:
 * - every setSecret creates a new version; versions are never deleted;
 * - "latest" is the newest version, even when it is disabled, and getting a disabled
 *   version (latest or explicit) fails with 403 "Operation get is not allowed on a
 *   disabled secret." (as Key Vault does);
 * - updateSecretProperties replaces the tag set when tags are given;
 * - list operations return properties, never values.
 * With a file path, state is read before and written (atomically) after every call,
 * so a child process that is SIGKILLed leaves exactly the writes it completed.
 */
interface VersionRecord {
    version: string;
    value: string;
    enabled: boolean;
    tags: Record<string, string>;
    contentType?: string;
    expiresOn?: string;
    createdOn: string;
    updatedOn: string;
}

type State = Record<string, VersionRecord[]>;

const VAULT_URL = "https://double.vault.azure.net";

export class RestErrorLike extends Error {
    constructor(readonly statusCode: number, readonly code: string, message: string) {
        super(message);
    }
}

export class VaultDouble implements VaultPort {
    private state: State = {};
    /** Every call in order, for tests that assert what was (not) done. */
    readonly calls: string[] = [];

    constructor(private readonly file?: string) {
        if (file) {
            try {
                this.load();
            } catch {
                this.save();
            }
        }
    }

    async getSecret(name: string, options?: { version?: string }): Promise<KeyVaultSecret> {
        this.load();
        this.calls.push(`get ${name}${options?.version ? `@${options.version}` : ""}`);
        const v = this.find(name, options?.version);
        if (!v.enabled) throw new RestErrorLike(403, "Forbidden", "Operation get is not allowed on a disabled secret.");
        return { name, value: v.value, properties: this.properties(name, v) };
    }

    async setSecret(name: string, value: string, options: { tags?: Record<string, string>; contentType?: string; enabled?: boolean; expiresOn?: Date } = {}): Promise<KeyVaultSecret> {
        this.load();
        this.calls.push(`set ${name}`);
        const now = new Date().toISOString();
        const v: VersionRecord = {
            version: randomBytes(16).toString("hex"),
            value,
            enabled: options.enabled ?? true,
            tags: { ...options.tags },
            contentType: options.contentType,
            expiresOn: options.expiresOn?.toISOString(),
            createdOn: now,
            updatedOn: now,
        };
        (this.state[name] ??= []).push(v);
        this.save();
        return { name, value, properties: this.properties(name, v) };
    }

    async updateSecretProperties(name: string, version: string, options: { tags?: Record<string, string>; enabled?: boolean; expiresOn?: Date; contentType?: string } = {}): Promise<SecretProperties> {
        this.load();
        this.calls.push(`update ${name}@${version}`);
        const v = this.find(name, version);
        if (options.tags !== undefined) v.tags = { ...options.tags };
        if (options.enabled !== undefined) v.enabled = options.enabled;
        if (options.expiresOn !== undefined) v.expiresOn = options.expiresOn.toISOString();
        if (options.contentType !== undefined) v.contentType = options.contentType;
        v.updatedOn = new Date().toISOString();
        this.save();
        return this.properties(name, v);
    }

    async *listPropertiesOfSecrets(): AsyncIterable<SecretProperties> {
        this.load();
        this.calls.push("list secrets");
        for (const [name, versions] of Object.entries(this.state)) yield this.properties(name, versions[versions.length - 1]);
    }

    async *listPropertiesOfSecretVersions(name: string): AsyncIterable<SecretProperties> {
        this.load();
        this.calls.push(`list versions ${name}`);
        for (const v of this.state[name] ?? []) yield this.properties(name, v);
    }

    /** Test inspection: every version of a secret, values included, oldest first. */
    versions(name: string): Array<SecretProperties & { value: string }> {
        this.load();
        return (this.state[name] ?? []).map((v) => ({ ...this.properties(name, v), value: v.value }));
    }

    /** Test inspection: the latest version, readable or not. */
    latest(name: string): (SecretProperties & { value: string }) | undefined {
        const all = this.versions(name);
        return all[all.length - 1];
    }

    private find(name: string, version?: string): VersionRecord {
        const versions = this.state[name];
        if (!versions || versions.length === 0) throw new RestErrorLike(404, "SecretNotFound", `A secret with (name/id) ${name} was not found in this key vault.`);
        const v = version ? versions.find((x) => x.version === version) : versions[versions.length - 1];
        if (!v) throw new RestErrorLike(404, "SecretNotFound", `A secret with (name/id) ${name}/${version} was not found in this key vault.`);
        return v;
    }

    private properties(name: string, v: VersionRecord): SecretProperties {
        return {
            vaultUrl: VAULT_URL,
            name,
            version: v.version,
            id: `${VAULT_URL}/secrets/${name}/${v.version}`,
            enabled: v.enabled,
            tags: { ...v.tags },
            contentType: v.contentType,
            expiresOn: v.expiresOn ? new Date(v.expiresOn) : undefined,
            createdOn: new Date(v.createdOn),
            updatedOn: new Date(v.updatedOn),
        };
    }

    private load(): void {
        if (this.file) this.state = JSON.parse(readFileSync(this.file, "utf8")) as State;
    }

    private save(): void {
        if (!this.file) return;
        const tmp = `${this.file}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(this.state));
        renameSync(tmp, this.file);
    }
}
