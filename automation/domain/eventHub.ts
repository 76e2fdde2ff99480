import type { Operation, OperationEvent } from "./ports";

export type EventListener = (event: OperationEvent) => void;

/** Event type the worker and service record for every state change; data is `StateEventData`. */
export const STATE_EVENT = "operation.state";

/**
 * The first event of a dry run: the spec to preview instead of the stored one. Kept with the
 * operation (not the environment), so previewing a change leaves the stored spec alone.
 */
export const DRY_RUN_SPEC_EVENT = "preview.spec";

export interface StateEventData {
    state: Operation["state"];
    attempt: number;
    error?: Operation["error"];
    summary?: Operation["summary"];
    /** On terminal states: wall time of the last attempt. */
    durationMs?: number;
    /** On a retry: when the next attempt may start. */
    notBefore?: string;
}

/** True for the event after which an operation's stream has nothing more to say. */
export function isFinalEvent(event: OperationEvent): boolean {
    if (event.type !== STATE_EVENT) return false;
    const state = (event.data as StateEventData).state;
    return state === "succeeded" || state === "failed" || state === "canceled";
}

/**
 * In-process fan-out of stored events to live subscribers (SSE), and of wake-ups to
 * the worker. Events are published only after they are stored, so a subscriber that
 * replays from the store and then listens never misses or reorders one.
 */
export class EventHub {
    private readonly byOperation = new Map<string, Set<EventListener>>();
    private readonly everything = new Set<EventListener>();
    private readonly cancelListeners = new Set<(operationId: string) => void>();
    private readonly enqueueListeners = new Set<() => void>();

    subscribe(operationId: string, listener: EventListener): () => void {
        let set = this.byOperation.get(operationId);
        if (!set) this.byOperation.set(operationId, (set = new Set()));
        set.add(listener);
        return () => {
            set.delete(listener);
            if (set.size === 0 && this.byOperation.get(operationId) === set) this.byOperation.delete(operationId);
        };
    }

    /** Every event of every operation (metrics). */
    subscribeAll(listener: EventListener): () => void {
        this.everything.add(listener);
        return () => this.everything.delete(listener);
    }

    publish(event: OperationEvent): void {
        for (const listener of [...(this.byOperation.get(event.operationId) ?? []), ...this.everything]) {
            try {
                listener(event);
            } catch {
                // A broken subscriber (a closed SSE socket) must not stop the others or the worker.
            }
        }
    }

    onCancelRequested(listener: (operationId: string) => void): () => void {
        this.cancelListeners.add(listener);
        return () => this.cancelListeners.delete(listener);
    }

    cancelRequested(operationId: string): void {
        for (const listener of this.cancelListeners) listener(operationId);
    }

    onEnqueued(listener: () => void): () => void {
        this.enqueueListeners.add(listener);
        return () => this.enqueueListeners.delete(listener);
    }

    enqueued(): void {
        for (const listener of this.enqueueListeners) listener();
    }

    /** Live subscriptions, for tests and metrics. */
    subscriberCount(operationId?: string): number {
        return operationId === undefined
            ? [...this.byOperation.values()].reduce((n, s) => n + s.size, 0)
            : this.byOperation.get(operationId)?.size ?? 0;
    }
}
