import { EventEmitter } from "node:events";
import type { z } from "zod";
import { configKeyFor, isLoadable, prefixProblem, toTree, TreeConflictError } from "./keys";
import type { SecretClientPort, SecretPropertiesLike } from "./port";

/** Which configuration keys a reload added, changed or dropped. Never the values. */
export interface ConfigChange {
    added: string[];
    updated: string[];
    removed: string[];
}

export interface KeyVaultConfigOptions<S extends z.ZodType = z.ZodType> {
    /** Optional. A SecretClient (or a double with the same subset). Defaults to a SecretClient over `vaultUrl` with DefaultAzureCredential. */
    client?: SecretClientPort;
    /** Optional. The vault URL, used only when `client` is absent. */
    vaultUrl?: string;
    /** Required. Secrets named `<prefix>--...` are loaded; others are ignored (like a .NET KeyVaultSecretManager). */
    prefix: string;
    /** Optional. Milliseconds between reloads; 0 disables reloading. Defaults to 300000 (5 minutes). Minimum 1000. */
    reloadIntervalMs?: number;
    /** Optional. A zod schema for the whole configuration tree; `value()` returns the parsed, typed object. */
    schema?: S;
    /** Optional. Secret values fetched in parallel during a load. Defaults to 8, well under Key Vault's throttling limits. */
    concurrency?: number;
    /** Optional. Where reload failures go when nobody listens for "error". Defaults to console. */
    logger?: { warn(message: string): void };
    /** Optional. Clock, for tests. Defaults to the system clock. */
    now?: () => Date;
    /** Optional. Timer functions, for tests. Default to the global ones. */
    timers?: { setTimeout: (fn: () => void, ms: number) => unknown; clearTimeout: (handle: unknown) => void };
}

/** A configuration problem; the message names the key and never contains a secret value. */
export class KeyVaultConfigError extends Error {
    constructor(message: string, public readonly key?: string) {
        super(message);
        this.name = "KeyVaultConfigError";
    }
}

interface Entry {
    key: string;
    value: string;
    version?: string;
}

const DEFAULT_RELOAD_MS = 5 * 60_000;
const MIN_RELOAD_MS = 1000;

function validate(options: KeyVaultConfigOptions): void {
    const p = prefixProblem(options.prefix);
    if (p) throw new KeyVaultConfigError(`createKeyVaultConfig: ${p}`);
    const interval = options.reloadIntervalMs;
    if (interval !== undefined && (!Number.isInteger(interval) || (interval !== 0 && interval < MIN_RELOAD_MS))) {
        throw new KeyVaultConfigError(`createKeyVaultConfig: reloadIntervalMs ${JSON.stringify(interval)} is invalid; use 0 (no reload) or a whole number of milliseconds >= ${MIN_RELOAD_MS}`);
    }
    const c = options.concurrency;
    if (c !== undefined && (!Number.isInteger(c) || c < 1 || c > 32)) {
        throw new KeyVaultConfigError(`createKeyVaultConfig: concurrency ${JSON.stringify(c)} is invalid; use a whole number from 1 to 32`);
    }
    if (!options.client && !options.vaultUrl) {
        throw new KeyVaultConfigError("createKeyVaultConfig: pass either client or vaultUrl (https://<vault>.vault.azure.net/)");
    }
    if (!options.client && options.vaultUrl && !/^https:\/\/[^/\s]+\/?$/.test(options.vaultUrl)) {
        throw new KeyVaultConfigError(`createKeyVaultConfig: vaultUrl ${JSON.stringify(options.vaultUrl)} is invalid; use the vault's https URL, e.g. https://kv-app-prod.vault.azure.net/`);
    }
}

async function defaultClient(vaultUrl: string): Promise<SecretClientPort> {
    // Loaded lazily so callers that inject a client never pay for the Azure SDKs.
    const [{ SecretClient }, { DefaultAzureCredential }] = await Promise.all([import("@azure/keyvault-secrets"), import("@azure/identity")]);
    return new SecretClient(vaultUrl, new DefaultAzureCredential());
}

/** Formats a zod path as a configuration key, so errors read like the keys users set. */
function keyOfPath(path: ReadonlyArray<PropertyKey>): string {
    return path.map(String).join(":") || "(root)";
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await fn(items[i]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/**
 * Configuration loaded from Key Vault secrets, reloaded on an interval.
 * Lookups are case-insensitive, as in .NET configuration and as Key Vault names are.
 * Events: "change" (ConfigChange) after a reload that changed something; "error" (Error) when a reload fails.
 */
export class KeyVaultConfig<T = Record<string, unknown>> extends EventEmitter {
    private entries = new Map<string, Entry>();
    private typed: T | undefined;
    private timer: unknown;
    private stopped = false;
    private loadedOnce = false;
    private loading: Promise<ConfigChange> | undefined;

    /** @internal Use createKeyVaultConfig. */
    constructor(private readonly client: SecretClientPort, private readonly options: KeyVaultConfigOptions) {
        super();
    }

    /** The raw string value of a key such as `ConnectionStrings:Database`, or undefined. */
    get(key: string): string | undefined {
        return this.entries.get(key.toLowerCase())?.value;
    }

    /** The value of a key; throws KeyVaultConfigError naming the key when it is absent. */
    require(key: string): string {
        const v = this.get(key);
        if (v === undefined) throw new KeyVaultConfigError(`${key} is not set; add the secret ${this.options.prefix}--${key.split(":").join("--")}`, key);
        return v;
    }

    /** A key's value parsed by a zod schema (e.g. z.coerce.number()); errors name the key, never the value. */
    getAs<V>(key: string, schema: z.ZodType<V>): V {
        const result = schema.safeParse(this.require(key));
        if (!result.success) throw new KeyVaultConfigError(`${key}: ${result.error.issues.map((i) => i.message).join("; ")}`, key);
        return result.data;
    }

    /** Every loaded key, in original case, sorted. */
    keys(): string[] {
        return [...this.entries.values()].map((e) => e.key).sort();
    }

    /** The configuration as a nested object: `ConnectionStrings:Database` becomes `{ ConnectionStrings: { Database } }`. */
    tree(): Record<string, unknown> {
        return toTree([...this.entries.values()].map((e) => [e.key, e.value]));
    }

    /** The tree parsed by the schema given at creation; throws when no schema was given. */
    value(): T {
        if (!this.options.schema) throw new KeyVaultConfigError("value() needs a schema: pass `schema` to createKeyVaultConfig, or use get()/tree()");
        return this.typed as T;
    }

    /** Stops reloading. Values stay readable. */
    stop(): void {
        this.stopped = true;
        if (this.timer !== undefined) this.timers().clearTimeout(this.timer);
        this.timer = undefined;
    }

    /** Reloads now (coalescing with a reload already running), emits "change" if anything did, and reports what changed. */
    reload(): Promise<ConfigChange> {
        this.loading ??= this.load().finally(() => {
            this.loading = undefined;
        });
        return this.loading;
    }

    /** @internal */
    start(): void {
        const interval = this.options.reloadIntervalMs ?? DEFAULT_RELOAD_MS;
        if (interval === 0 || this.stopped) return;
        this.timer = this.timers().setTimeout(() => {
            this.timer = undefined;
            this.reload()
                .catch((err: Error) => this.reportFailure(err))
                .finally(() => this.start());
        }, interval);
        // A config reload must never keep the process alive on its own.
        (this.timer as { unref?: () => void }).unref?.();
    }

    private timers() {
        return this.options.timers ?? { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    }

    private reportFailure(err: Error): void {
        if (this.listenerCount("error") > 0) this.emit("error", err);
        else (this.options.logger ?? console).warn(`keyvault-config: reload failed, keeping the previous values: ${err.message}`);
    }

    /** Lists, fetches only what changed (by version), validates, then swaps in atomically. */
    private async load(): Promise<ConfigChange> {
        const now = (this.options.now ?? (() => new Date()))();
        const wanted: Array<{ key: string; props: SecretPropertiesLike }> = [];
        for await (const props of this.client.listPropertiesOfSecrets()) {
            const key = configKeyFor(props.name, this.options.prefix);
            if (key !== undefined && isLoadable(props, now)) wanted.push({ key, props });
        }
        const next = new Map<string, Entry>();
        await mapLimit(wanted, this.options.concurrency ?? 8, async ({ key, props }) => {
            const known = this.entries.get(key.toLowerCase());
            if (known && props.version !== undefined && known.version === props.version) {
                next.set(key.toLowerCase(), known);
                return;
            }
            const secret = await this.client.getSecret(props.name, props.version ? { version: props.version } : undefined);
            if (secret.value !== undefined) next.set(key.toLowerCase(), { key, value: secret.value, version: secret.properties.version ?? props.version });
        });
        const typed = this.options.schema ? this.parse(next) : undefined;

        const change: ConfigChange = { added: [], updated: [], removed: [] };
        for (const [k, e] of next) {
            const before = this.entries.get(k);
            if (!before) change.added.push(e.key);
            else if (before.value !== e.value) change.updated.push(e.key);
        }
        for (const [k, e] of this.entries) if (!next.has(k)) change.removed.push(e.key);
        for (const list of Object.values(change)) list.sort();

        this.entries = next;
        this.typed = typed as T;
        const first = !this.loadedOnce;
        this.loadedOnce = true;
        if (!first && change.added.length + change.updated.length + change.removed.length > 0) this.emit("change", change);
        return change;
    }

    private parse(entries: Map<string, Entry>): unknown {
        let tree: Record<string, unknown>;
        try {
            tree = toTree([...entries.values()].map((e) => [e.key, e.value]));
        } catch (e) {
            if (e instanceof TreeConflictError) throw new KeyVaultConfigError(e.message, e.key);
            throw e;
        }
        const result = this.options.schema!.safeParse(tree);
        if (!result.success) {
            const lines = result.error.issues.map((i) => `${keyOfPath(i.path)}: ${i.message}`);
            throw new KeyVaultConfigError(`configuration does not match the schema:\n  - ${lines.join("\n  - ")}`, keyOfPath(result.error.issues[0].path));
        }
        return result.data;
    }
}

/**
 * Loads `<prefix>--*` secrets (enabled, unexpired, already valid) into configuration
 * keys and keeps them fresh: the Node counterpart of .NET's AddAzureKeyVault with a
 * prefix-filtering KeyVaultSecretManager. Resolves after the first load, so a missing
 * or invalid configuration fails at start-up rather than at first use.
 */
export async function createKeyVaultConfig<S extends z.ZodType = z.ZodType<Record<string, unknown>>>(options: KeyVaultConfigOptions<S>): Promise<KeyVaultConfig<z.output<S>>> {
    validate(options);
    const client = options.client ?? (await defaultClient(options.vaultUrl!));
    const config = new KeyVaultConfig<z.output<S>>(client, options);
    await config.reload();
    config.start();
    return config;
}
