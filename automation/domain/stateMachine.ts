import type { OperationState } from "./ports";

/**
 * The operation lifecycle. Two edges go beyond the obvious chain, each for a reason:
 * running → queued is a retry after a transient engine failure (the operation goes back
 * in the queue with backoff instead of holding a worker slot while it waits), and
 * interrupted → canceled lets a client give up on work a crash left behind.
 */
export const TRANSITIONS: Readonly<Record<OperationState, readonly OperationState[]>> = {
    queued: ["running", "canceled"],
    running: ["succeeded", "failed", "canceled", "interrupted", "queued"],
    interrupted: ["queued", "failed", "canceled"],
    succeeded: [],
    failed: [],
    canceled: [],
};

export class IllegalTransitionError extends Error {
    constructor(public readonly from: OperationState, public readonly to: OperationState) {
        super(`An operation cannot go from ${from} to ${to}; allowed from ${from}: ${TRANSITIONS[from].join(", ") || "nothing (terminal)"}`);
        this.name = "IllegalTransitionError";
    }
}

export function canTransition(from: OperationState, to: OperationState): boolean {
    return TRANSITIONS[from].includes(to);
}

/** Throws IllegalTransitionError unless `from → to` is in the table. */
export function assertTransition(from: OperationState, to: OperationState): void {
    if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
