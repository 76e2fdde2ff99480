import type { SecretProperties } from "@azure/keyvault-secrets";
import { z } from "zod";
import { hasPendingRotation, ProtocolDeps, rotateSecret } from "./protocol";
import type { RotationResult } from "./result";
import { parseRotationConfig, RotationConfigError } from "./rotationConfig";
import { formatProblem, hasRotationTags, RotationSpec, SpecError, specFromTags } from "./spec";
import type { CredentialTarget } from "./targets/target";
import { isPendingSecretName, readLatest, ROTATION_OF_TAG } from "./vault";

/** Builds the target for a spec; production wires ARM and PostgreSQL, tests wire local ones. */
export type TargetFactory = (spec: RotationSpec) => Promise<CredentialTarget>;

export interface ServiceDeps extends ProtocolDeps {
    /** Required. Creates the provider side of a rotation. */
    targets: TargetFactory;
    /** Required. The `rotation-config` secret's name. */
    configSecretName: string;
    /** Optional. Subscription for rotation-config entries that name none. Defaults to none. */
    subscriptionId?: string;
    /** Required. The timer rotates secrets whose expiry is within this many days. */
    windowDays: number;
}

export const NEAR_EXPIRY_EVENT = "Microsoft.KeyVault.SecretNearExpiry";
const DAY_MS = 24 * 60 * 60 * 1000;

/** The Event Grid payload of SecretNearExpiry (Key Vault's schema). */
const NearExpiryData = z.object({
    VaultName: z.string().optional(),
    ObjectName: z.string().min(1),
    Version: z.string().optional(),
    NBF: z.number().nullable().optional(),
    EXP: z.number().nullable().optional(),
});

export const OnDemandRequest = z.object({
    secretName: z.string({ error: "is required: the name of the secret to rotate" })
        .regex(/^[A-Za-z0-9-]{1,127}$/, "must be a Key Vault secret name (1-127 letters, digits and hyphens)"),
}).strict();

/**
 * The use cases behind the three triggers. One rotation per secret at a time in
 * this process; across instances the protocol's claim check makes a second
 * runner step aside.
 */
export class RotationService {
    private readonly locks = new Map<string, Promise<unknown>>();

    constructor(private readonly deps: ServiceDeps) {}

    /** Event Grid: rotates the secret the event names, unless that version was already replaced. */
    async onNearExpiry(event: { eventType: string; subject: string; data?: Record<string, unknown> }): Promise<RotationResult> {
        if (event.eventType !== NEAR_EXPIRY_EVENT) {
            return { secret: event.subject, target: "unknown", outcome: "skipped", reason: `event type ${event.eventType} is not ${NEAR_EXPIRY_EVENT}` };
        }
        const data = NearExpiryData.safeParse(event.data ?? {});
        const name = data.success ? data.data.ObjectName : event.subject;
        return this.rotate(name, { onlyVersion: data.success ? data.data.Version : undefined });
    }

    /** HTTP: rotates now, due or not. */
    rotateNow(secretName: string): Promise<RotationResult> {
        return this.rotate(secretName, {});
    }

    /**
     * Timer: every tagged secret whose expiry is within the window (or that has
     * none yet), every rotation-config entry likewise, and every secret with a
     * half-finished rotation. Invalid tags and config are reported, not skipped.
     */
    async scan(): Promise<RotationResult[]> {
        const { vault, logger } = this.deps;
        const now = (this.deps.now ?? (() => new Date()))();
        const latest = new Map<string, SecretProperties>();
        for await (const p of vault.listPropertiesOfSecrets()) latest.set(p.name, p);

        const results: RotationResult[] = [];
        const due = new Set<string>();
        const recoverable = new Set<string>();
        const isDue = (p: SecretProperties | undefined) => !p?.expiresOn || p.expiresOn.getTime() - now.getTime() <= this.deps.windowDays * DAY_MS;

        const config = await this.loadConfig();
        if (config instanceof RotationConfigError) results.push(configFailure(this.deps.configSecretName, config));
        const configured = new Set(Array.isArray(config) ? config.map((s) => s.secretName) : []);
        for (const spec of Array.isArray(config) ? config : []) if (isDue(latest.get(spec.secretName))) due.add(spec.secretName);

        for (const [name, p] of latest) {
            if (isPendingSecretName(name)) {
                const of = p.tags?.[ROTATION_OF_TAG];
                if (of) recoverable.add(of);
            } else if (!configured.has(name) && p.enabled !== false && hasRotationTags(p.tags) && isDue(p)) {
                due.add(name);
            }
        }
        for (const name of recoverable) {
            if (!due.has(name) && await hasPendingRotation(vault, name)) due.add(name);
        }
        for (const name of [...due].sort()) results.push(await this.rotate(name, {}, Array.isArray(config) ? config : undefined));
        logger.info("rotation.scan", {
            secrets: latest.size,
            acted: results.length,
            failed: results.filter((r) => r.outcome === "failed").length,
        });
        return results;
    }

    private async rotate(secretName: string, opts: { onlyVersion?: string }, config?: RotationSpec[]): Promise<RotationResult> {
        if (isPendingSecretName(secretName)) {
            return { secret: secretName, target: "unknown", outcome: "skipped", reason: "this is a pending companion secret; its rotation is recovered through the secret it belongs to" };
        }
        return this.locked(secretName, async () => {
            const spec = await this.resolveSpec(secretName, config);
            if (!("providerAddress" in spec)) return spec;
            if (opts.onlyVersion) {
                const current = await readLatest(this.deps.vault, secretName);
                if (current?.properties.version !== opts.onlyVersion && !(await hasPendingRotation(this.deps.vault, secretName))) {
                    return {
                        secret: secretName, target: spec.target, outcome: "skipped" as const, credentialId: current?.properties.tags?.CredentialId, version: current?.properties.version,
                        reason: `the event is for version ${opts.onlyVersion}, which is no longer current`,
                    };
                }
            }
            let target: CredentialTarget;
            try {
                target = await this.deps.targets(spec);
            } catch (e) {
                return { secret: secretName, target: spec.target, outcome: "failed" as const, reason: `cannot reach the target: ${(e as Error).message}`, retryable: true };
            }
            try {
                return await rotateSecret(spec, target, this.deps);
            } finally {
                await target.close();
            }
        });
    }

    /**
     * The rotation-config entry wins over tags: the tags a promotion writes are a copy
     * of it. A broken config does not stop tagged secrets from rotating.
     */
    private async resolveSpec(secretName: string, config?: RotationSpec[]): Promise<RotationSpec | RotationResult> {
        const entries = config ?? await this.loadConfig();
        const entry = Array.isArray(entries) ? entries.find((s) => s.secretName === secretName) : undefined;
        if (entry) return entry;
        const current = await readLatest(this.deps.vault, secretName);
        if (!current || !hasRotationTags(current.properties.tags)) {
            if (entries instanceof RotationConfigError) return { ...configFailure(this.deps.configSecretName, entries), secret: secretName };
            const why = current ? "the secret has no rotation tags" : "the secret does not exist";
            return { secret: secretName, target: "unknown", outcome: "skipped", reason: `${why} and no ${this.deps.configSecretName} entry names it` };
        }
        try {
            return specFromTags(secretName, current.properties.tags);
        } catch (e) {
            if (!(e instanceof SpecError)) throw e;
            this.deps.logger.error("rotation.invalid-tags", { secret: secretName, problems: e.problems.map(formatProblem).join("; ") });
            return { secret: secretName, target: "unknown", outcome: "failed", reason: e.message, retryable: false };
        }
    }

    private async loadConfig(): Promise<RotationSpec[] | RotationConfigError> {
        const secret = await readLatest(this.deps.vault, this.deps.configSecretName);
        if (!secret) return [];
        try {
            return parseRotationConfig(secret.value ?? "", this.deps.subscriptionId);
        } catch (e) {
            if (!(e instanceof RotationConfigError)) throw e;
            this.deps.logger.error("rotation.invalid-config", { secret: this.deps.configSecretName, problems: e.problems.map((p) => `${p.path} ${p.problem}`).join("; ") });
            return e;
        }
    }

    private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
        const before = this.locks.get(key) ?? Promise.resolve();
        const run = before.then(fn, fn);
        const tail = run.catch(() => undefined);
        this.locks.set(key, tail);
        try {
            return await run;
        } finally {
            if (this.locks.get(key) === tail) this.locks.delete(key);
        }
    }
}

function configFailure(configSecretName: string, e: RotationConfigError): RotationResult {
    return { secret: configSecretName, target: "sql", outcome: "failed", reason: e.message, retryable: false };
}
