import { randomUUID } from "node:crypto";
import type { KeyVaultSecret, SecretProperties } from "@azure/keyvault-secrets";
import type { Logger } from "./log";
import type { RotationResult } from "./result";
import { RotationSpec, specTags, TAGS } from "./spec";
import type { Credential, CredentialTarget } from "./targets/target";
import {
    listVersions, MAX_SECRET_NAME, pendingSecretName, readLatest, ROTATED_AT_TAG, ROTATION_BASE_TAG, ROTATION_ID_TAG,
    ROTATION_OF_TAG, RotationState, STATE_TAG, VaultPort,
} from "./vault";

/**
 * The crash-safe rotation protocol. Every step is a single vault or provider write,
 * and after each one the vault still holds a credential that logs in:
 *
 *   1. stage   the new value in the companion secret, tagged RotationState=pending
 *   2. apply   the password at the provider (the alternate login for dual credentials)
 *   3. verify  a login with the new value
 *   4. promote the value to a new current version of the secret, expiring now + validity
 *   5. retire  the pending marker (disable it)
 *
 * A run that finds an enabled pending marker recovers it before anything else:
 * resume (verify or re-apply, then promote) when the marker still belongs to the
 * current version, roll back (re-establish the current value, discard the pending
 * one) when it does not or when it cannot be applied.
 */
export const FAILPOINTS = ["after-stage", "after-provider", "after-verify", "after-promote"] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

/** Called between steps; tests throw or kill the process here. */
export type FailpointHook = (point: Failpoint, secretName: string) => void | Promise<void>;

export interface ProtocolDeps {
    /** Required. The vault that holds the secret and its pending companion. */
    vault: VaultPort;
    /** Required. Receives metadata only, never values. */
    logger: Logger;
    /** Optional. Fault injection between steps. Defaults to none. */
    failpoint?: FailpointHook;
    /** Optional. The clock for expiresOn. Defaults to the system clock. */
    now?: () => Date;
}

const CONTENT_TYPES = { postgres: "postgresql-connection-uri", sql: "password" } as const;
const PROTOCOL_TAGS = [STATE_TAG, ROTATION_ID_TAG, ROTATION_OF_TAG, ROTATION_BASE_TAG, ROTATED_AT_TAG];
const NO_VERSION = "none";
const DAY_MS = 24 * 60 * 60 * 1000;

/** A step that did not complete; the message names the step and never a value. */
export class StepError extends Error {
    constructor(readonly step: string, reason: string) {
        super(`${step}: ${reason}`);
        this.name = "StepError";
    }
}

/** True when an earlier run left this secret's rotation half done. */
export async function hasPendingRotation(vault: VaultPort, secretName: string): Promise<boolean> {
    return (await enabledPendings(vault, secretName)).length > 0;
}

/** Enabled pending markers of a secret, oldest first. */
async function enabledPendings(vault: VaultPort, secretName: string): Promise<SecretProperties[]> {
    const versions = await listVersions(vault, pendingSecretName(secretName));
    return versions
        .filter((p) => p.enabled && p.tags?.[STATE_TAG] === "pending" && p.tags?.[ROTATION_OF_TAG] === secretName)
        .sort((a, b) => (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0) || (a.version ?? "").localeCompare(b.version ?? ""));
}

export async function rotateSecret(spec: RotationSpec, target: CredentialTarget, deps: ProtocolDeps): Promise<RotationResult> {
    const run = new Rotation(spec, target, deps);
    try {
        if (pendingSecretName(spec.secretName).length > MAX_SECRET_NAME) {
            return run.result("failed", `the secret name is too long: its pending companion "${pendingSecretName(spec.secretName)}" would exceed ${MAX_SECRET_NAME} characters`, { retryable: false });
        }
        const pending = await run.enabledPendings();
        if (pending.length > 0) return await run.recover(pending);
        return await run.rotate();
    } catch (e) {
        return run.result("failed", `${(e as Error).message}; any pending value is kept for the next run to finish or roll back`, { retryable: true });
    }
}

class Rotation {
    private readonly name: string;
    private readonly pendingName: string;
    private currentCredential: string | undefined;
    private currentVersion: string | undefined;

    constructor(private readonly spec: RotationSpec, private readonly target: CredentialTarget, private readonly deps: ProtocolDeps) {
        this.name = spec.secretName;
        this.pendingName = pendingSecretName(spec.secretName);
    }

    async rotate(): Promise<RotationResult> {
        const { vault, logger } = this.deps;
        const current = await this.readCurrent();
        const next = this.target.nextCredential(current ? this.spec.credentialId ?? this.target.decode(current.value ?? "").credentialId : undefined);
        const credential: Credential = { credentialId: next, password: this.target.newPassword(next) };
        const value = this.target.encode(credential);
        const rotationId = randomUUID();

        const staged = await vault.setSecret(this.pendingName, value, {
            enabled: true,
            contentType: CONTENT_TYPES[this.target.kind],
            tags: {
                ...specTags(this.spec, next),
                [STATE_TAG]: "pending",
                [ROTATION_OF_TAG]: this.name,
                [ROTATION_ID_TAG]: rotationId,
                [ROTATION_BASE_TAG]: current?.properties.version ?? NO_VERSION,
            },
        });
        logger.info("rotation.staged", this.fields({ credentialId: next, rotationId, pendingVersion: staged.properties.version }));

        // Claim check: this run proceeds only if it is the sole pending rotation and the
        // current version is still the one it started from; otherwise it steps aside.
        const rivals = (await this.enabledPendings()).filter((p) => p.version !== staged.properties.version);
        const latest = await readLatest(vault, this.name);
        if (rivals.length > 0 || latest?.properties.version !== current?.properties.version) {
            await this.retire(staged.properties, "superseded");
            return this.result("skipped", rivals.length > 0 ? "another rotation of this secret is in progress" : "the current version changed while staging; the next run starts from the new one");
        }
        await this.failpoint("after-stage");

        await this.target.setPassword(credential);
        logger.info("rotation.provider-updated", this.fields({ credentialId: next, rotationId }));
        await this.failpoint("after-provider");

        const check = await this.target.verify(credential);
        if (!check.ok) throw new StepError("verify", check.reason);
        logger.info("rotation.verified", this.fields({ credentialId: next, rotationId, provesLogin: this.target.verifiesLogin }));
        await this.failpoint("after-verify");

        await this.assertStillPending(staged.properties);
        const promoted = await this.promote(credential.credentialId, value, rotationId, current);
        await this.failpoint("after-promote");

        await this.retire(staged.properties, "promoted");
        return this.result("rotated", `credential ${next} set at the provider, verified and promoted; it expires in ${this.spec.validityPeriodDays} days`, { version: promoted });
    }

    /** Finishes or undoes a rotation that an earlier run left half done. */
    async recover(pendings: SecretProperties[]): Promise<RotationResult> {
        const { vault, logger } = this.deps;
        const [pending, ...rivals] = pendings;
        for (const rival of rivals) await this.retire(rival, "superseded");
        const rotationId = pending.tags?.[ROTATION_ID_TAG] ?? "";
        logger.warn("rotation.recovering", this.fields({ rotationId, pendingVersion: pending.version, credentialId: pending.tags?.[TAGS.credentialId] }));

        const current = await this.readCurrent();
        if (current && current.properties.tags?.[ROTATION_ID_TAG] === rotationId) {
            await this.retire(pending, "promoted");
            return this.result("resumed", "the promotion had completed; retired the pending marker");
        }
        if ((current?.properties.version ?? NO_VERSION) !== pending.tags?.[ROTATION_BASE_TAG]) {
            return this.rollback(pending, current, "the current version changed after this value was staged");
        }

        const staged = await vault.getSecret(this.pendingName, { version: pending.version });
        const credential = this.target.decode(staged.value ?? "");
        let check = this.target.verifiesLogin ? await this.target.verify(credential) : undefined;
        if (!check?.ok) {
            try {
                await this.target.setPassword(credential);
            } catch (e) {
                return this.rollback(pending, current, `re-applying the staged password failed: ${(e as Error).message}`);
            }
            check = await this.target.verify(credential);
            if (!check.ok) return this.rollback(pending, current, `the staged password does not log in after re-applying it: ${check.reason}`);
        }
        const version = await this.promote(credential.credentialId, staged.value ?? "", rotationId, current);
        await this.retire(pending, "promoted");
        return this.result("resumed", `finished the rotation to credential ${credential.credentialId} that an earlier run had staged`, { version });
    }

    /**
     * Discards the pending value, but only once the current value is proven (or,
     * for targets that cannot prove a login, re-applied): nothing is thrown away
     * while it might be the only working credential.
     */
    private async rollback(pending: SecretProperties, current: KeyVaultSecret | undefined, why: string): Promise<RotationResult> {
        if (!current) {
            return this.result("failed", `${why}, and there is no current version to fall back to; the pending value is kept`, { retryable: true });
        }
        const credential = this.target.decode(current.value ?? "");
        let check = this.target.verifiesLogin ? await this.target.verify(credential) : undefined;
        if (!check?.ok) {
            await this.target.setPassword(credential);
            check = await this.target.verify(credential);
            if (!check.ok) {
                return this.result("failed", `${why}; the current value does not log in either (${check.reason}); the pending value is kept`, { retryable: true });
            }
        }
        await this.retire(pending, "rolled-back");
        this.deps.logger.warn("rotation.rolled-back", this.fields({ rotationId: pending.tags?.[ROTATION_ID_TAG], reason: why }));
        return this.result("rolled-back", `${why}; the current value still logs in and the pending value was discarded`);
    }

    private async promote(credentialId: string, value: string, rotationId: string, current: KeyVaultSecret | undefined): Promise<string> {
        const now = (this.deps.now ?? (() => new Date()))();
        const userTags = Object.fromEntries(Object.entries(current?.properties.tags ?? {}).filter(([k]) => !PROTOCOL_TAGS.includes(k)));
        const promoted = await this.deps.vault.setSecret(this.name, value, {
            enabled: true,
            contentType: CONTENT_TYPES[this.target.kind],
            expiresOn: new Date(now.getTime() + this.spec.validityPeriodDays * DAY_MS),
            tags: {
                ...userTags,
                ...specTags(this.spec, credentialId),
                [STATE_TAG]: "current",
                [ROTATION_ID_TAG]: rotationId,
                [ROTATED_AT_TAG]: now.toISOString(),
            },
        });
        this.currentCredential = credentialId;
        this.currentVersion = promoted.properties.version;
        this.deps.logger.info("rotation.promoted", this.fields({ credentialId, rotationId, version: promoted.properties.version, expiresOn: promoted.properties.expiresOn?.toISOString() }));
        return promoted.properties.version ?? "";
    }

    private async retire(pending: SecretProperties, state: RotationState): Promise<void> {
        await this.deps.vault.updateSecretProperties(this.pendingName, pending.version ?? "", {
            enabled: false,
            tags: { ...pending.tags, [STATE_TAG]: state },
        });
        this.deps.logger.info("rotation.pending-retired", this.fields({ pendingVersion: pending.version, state }));
    }

    /** A run that finished someone else's marker must not promote over their work. */
    private async assertStillPending(staged: SecretProperties): Promise<void> {
        const mine = (await this.enabledPendings()).some((p) => p.version === staged.version);
        if (!mine) throw new StepError("promote", "another run retired this rotation's pending marker before promotion");
    }

    enabledPendings(): Promise<SecretProperties[]> {
        return enabledPendings(this.deps.vault, this.name);
    }

    private async readCurrent(): Promise<KeyVaultSecret | undefined> {
        const current = await readLatest(this.deps.vault, this.name);
        this.currentVersion = current?.properties.version;
        this.currentCredential = current?.properties.tags?.[TAGS.credentialId] ?? this.spec.credentialId;
        return current;
    }

    private async failpoint(point: Failpoint): Promise<void> {
        await this.deps.failpoint?.(point, this.name);
    }

    private fields(extra: Record<string, string | number | boolean | undefined>) {
        return { secret: this.name, target: this.target.kind, ...extra };
    }

    result(outcome: RotationResult["outcome"], reason: string, extra: { version?: string; retryable?: boolean } = {}): RotationResult {
        const result: RotationResult = {
            secret: this.name,
            target: this.spec.target,
            outcome,
            credentialId: this.currentCredential,
            version: extra.version ?? this.currentVersion,
            reason,
            ...(outcome === "failed" ? { retryable: extra.retryable ?? true } : {}),
        };
        this.deps.logger[outcome === "failed" ? "error" : "info"]("rotation.result", { ...result });
        return result;
    }
}
