import type { OperationSettings } from "./operationSettings";
import type { EnvironmentStatus, Operation, OperationKind, OperationState } from "./ports";

/**
 * How operations move an environment's status, and what crash recovery does with an
 * interrupted operation. Pure, so the rules are table-tested in one place.
 */

/** Status while an operation of this kind runs; undefined leaves it alone (preview, refresh). */
export function statusWhileRunning(kind: OperationKind): EnvironmentStatus | undefined {
    switch (kind) {
        case "update": return "provisioning";
        case "destroy": return "destroying";
        default: return undefined;
    }
}

/**
 * Status after a run ended in `state`. A canceled or failed update or destroy leaves
 * the stack somewhere between the old and the desired state, so it reads `failed`
 * until a later update succeeds.
 */
export function statusAfter(kind: OperationKind, state: OperationState): EnvironmentStatus | undefined {
    if (kind === "preview" || kind === "refresh") return undefined;
    if (state === "succeeded") return kind === "update" ? "ready" : "destroyed";
    if (state === "failed" || state === "canceled") return "failed";
    return undefined;
}

/**
 * Status after a queued operation is canceled before it ran. Only a create (an update of an
 * environment still `pending`, with no other update on its way) changes anything: nothing of
 * it exists, so it reads `destroyed`, the status that already means "no resources; PUT the
 * spec to create it". Left `pending`, it would wait for a run that never comes.
 */
export function statusAfterQueuedCancel(kind: OperationKind, envStatus: EnvironmentStatus, updatesStillActive: number): EnvironmentStatus | undefined {
    return kind === "update" && envStatus === "pending" && updatesStillActive === 0 ? "destroyed" : undefined;
}

export type RecoveryDecision =
    | { action: "retry" }
    | { action: "fail"; code: string; message: string };

/**
 * What to do with an operation a crash or lost lease interrupted. Updates, previews and
 * refreshes are declarative, so repeating them is safe and they are retried while
 * attempts remain. A destroy is never repeated without a fresh request: it is the one
 * irreversible operation, and someone should look at why it was cut short.
 */
export function recoveryDecision(op: Pick<Operation, "kind" | "attempt" | "maxAttempts">): RecoveryDecision {
    if (op.kind === "destroy") {
        return { action: "fail", code: "interrupted", message: "The destroy was interrupted (the server stopped or lost its lease); send DELETE again to retry it." };
    }
    if (op.attempt >= op.maxAttempts) {
        return { action: "fail", code: "interrupted", message: `The operation was interrupted on its last allowed attempt (${op.attempt} of ${op.maxAttempts}).` };
    }
    return { action: "retry" };
}

/** Attempts left decide whether a retryable engine failure goes back in the queue. */
export function mayRetry(op: Pick<Operation, "attempt" | "maxAttempts">, settings: Pick<OperationSettings, "maxAttempts">): boolean {
    return op.attempt < Math.min(op.maxAttempts, settings.maxAttempts);
}
