/**
 * The contract between the HTTP layer, the domain service, the durable store and
 * the engine. Each side depends on these types only, so a store (embedded or
 * PostgreSQL) or an engine (Automation API or the test double) can be swapped
 * without touching the others.
 */
import type { StackConfigInput } from "../../config/schema";

export type Tier = "dev" | "staging" | "prod";
export type CallerRole = "admin" | "operator" | "reader";

/** Who is calling. Admins see every team; others only their own. */
export interface Actor {
    /** Stable subject: token id or JWT `sub`. Never the token itself. */
    subject: string;
    role: CallerRole;
    /** Team the actor belongs to; undefined only for admins. */
    team?: string;
}

export const OPERATION_KINDS = ["update", "preview", "refresh", "destroy"] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export const OPERATION_STATES = ["queued", "running", "succeeded", "failed", "canceled", "interrupted"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<OperationState> = new Set(["succeeded", "failed", "canceled"]);

export const ENVIRONMENT_STATUSES = ["pending", "provisioning", "ready", "failed", "destroying", "destroyed"] as const;
export type EnvironmentStatus = (typeof ENVIRONMENT_STATUSES)[number];

/** A client-facing error: a stable code plus a message that is safe to show (no raw CLI output). */
export interface OperationError {
    code: string;
    message: string;
    /** Structured, safe detail, e.g. policy violations: [{ policy, message, resource }]. */
    details?: unknown;
}

export interface Operation {
    id: string;
    environment: string;
    team: string;
    kind: OperationKind;
    state: OperationState;
    /** Hash of the spec this operation applies (update/preview only). */
    specHash?: string;
    /**
     * Set on a preview of a spec that is not the stored one: what the preview plans, as the
     * client sent it (validated at the edge). The environment's stored spec is left alone.
     */
    proposedSpec?: unknown;
    requestedBy: string;
    attempt: number;
    maxAttempts: number;
    createdAt: string;
    startedAt?: string;
    finishedAt?: string;
    /** Earliest time a (re)try may start; set by backoff. */
    notBefore?: string;
    cancelRequested: boolean;
    /** Worker holding the lease while running, and when the lease lapses. */
    leaseOwner?: string;
    leaseExpiresAt?: string;
    /** Set on success: change counts by op (create/update/delete/same). */
    summary?: Record<string, number>;
    error?: OperationError;
}

export interface Environment {
    name: string;
    team: string;
    spec: unknown;
    specHash: string;
    status: EnvironmentStatus;
    /** Stack outputs with every secret already redacted. */
    outputs?: Record<string, unknown>;
    createdAt: string;
    updatedAt: string;
    /** TTL environments are destroyed after this instant. */
    expiresAt?: string;
    lastOperationId?: string;
}

export interface OperationEvent {
    operationId: string;
    /** Monotonic per operation, from 1; the SSE id. */
    seq: number;
    at: string;
    type: string;
    data: unknown;
}

/** One resource step of an operation: what `pulumi preview --json` lists as a step. */
export interface PlanStep {
    /** The event's seq, which pages the plan. */
    seq: number;
    /** create, update, replace, delete, same, refresh... as the engine names it. */
    op: string;
    type: string;
    /** The resource's logical name. */
    name: string;
    urn: string;
    /** The inputs the program gave the resource, with every secret replaced by "[secret]". */
    inputs: Record<string, unknown>;
}

export interface AuditEntry {
    id: string;
    at: string;
    actor: Actor;
    action: string;
    target: string;
    outcome: "accepted" | "rejected" | "succeeded" | "failed";
    details?: unknown;
    requestId?: string;
}

// ---- Engine port ----------------------------------------------------------

export interface EngineEvent {
    type: string;
    /** Safe, structured data (resource URN/type/op, diagnostics with secrets masked). */
    data: unknown;
}

export interface EngineRunRequest {
    operationId: string;
    kind: OperationKind;
    /** The Pulumi stack name, equal to the environment name. */
    stackName: string;
    /**
     * Stack config derived from the stored spec and the platform profile on every run, and
     * already validated for update and preview (automation/domain/spec.ts stackConfigFor).
     */
    config: StackConfigInput;
    signal: AbortSignal;
    onEvent(event: EngineEvent): void;
}

export interface EngineResult {
    /** Outputs; values marked secret by Pulumi are replaced by "[secret]" before they leave the engine. */
    outputs?: Record<string, unknown>;
    /** Change counts by op, e.g. { create: 12, same: 3 }. */
    summary?: Record<string, number>;
}

export interface Readiness {
    ok: boolean;
    checks: Array<{ name: string; ok: boolean; detail: string }>;
}

export interface Engine {
    /** "pulumi" for the Automation API adapter; the test double names itself loudly. */
    readonly name: string;
    readiness(): Promise<Readiness>;
    run(request: EngineRunRequest): Promise<EngineResult>;
    /** Cancels any update the backend still holds for the stack and clears pending operations (crash recovery). */
    recoverStack(stackName: string): Promise<void>;
    /** Removes the stack and its working directory after a destroy. */
    removeStack(stackName: string): Promise<void>;
}

/** Engine failures carry a stable code; `retryable` drives the worker's backoff. */
export class EngineError extends Error {
    constructor(
        public readonly code:
            | "cli_missing" | "concurrent_update" | "throttled" | "policy_violation" | "stack_not_found"
            | "config_invalid" | "canceled" | "timeout" | "failed",
        message: string,
        public readonly retryable: boolean,
        public readonly details?: unknown,
    ) {
        super(message);
        this.name = "EngineError";
    }
}
