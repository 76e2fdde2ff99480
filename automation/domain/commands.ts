import { STATE_EVENT, StateEventData } from "./eventHub";
import type { Ids } from "./runtime";
import type { Actor, AuditEntry, Environment, Operation, OperationEvent } from "./ports";
import type { StoreTx } from "./store";

/**
 * Transactional steps shared by the service (DELETE) and the TTL sweeper, so a
 * destroy is enqueued, announced and audited the same way whoever asks for it.
 */

export interface TxContext {
    ids: Ids;
    now: string;
    maxAttempts: number;
    requestId?: string;
}

/** What a state event carries besides the state and attempt it reads off the operation. */
export type StateEventExtra = Omit<StateEventData, "state" | "attempt">;

/** Records a state change as an event, so SSE clients see the lifecycle next to engine output. */
export function recordState(tx: StoreTx, op: Operation, now: string, extra: StateEventExtra = {}): Promise<OperationEvent> {
    const data: StateEventData = { state: op.state, attempt: op.attempt, ...extra };
    return tx.appendEvent(op.id, { type: STATE_EVENT, data, at: now });
}

export function audit(tx: StoreTx, ctx: TxContext, actor: Actor, action: string, target: string, outcome: AuditEntry["outcome"], details?: unknown): Promise<AuditEntry> {
    return tx.appendAudit({ id: ctx.ids.newId(), at: ctx.now, actor, action, target, outcome, details, requestId: ctx.requestId });
}

export interface DestroyEnqueued {
    operation: Operation;
    /** False when a destroy was already queued or running and is returned instead. */
    created: boolean;
    /** Events written, to publish once the transaction commits. */
    events: OperationEvent[];
    canceledIds: string[];
}

/**
 * Enqueues a destroy for `env`. Queued updates, previews and refreshes of the environment
 * are canceled first: running them just before the destroy would only build what is
 * about to be removed. A destroy already queued or running is returned as is.
 */
export async function enqueueDestroy(tx: StoreTx, ctx: TxContext, env: Environment, actor: Actor, action: string): Promise<DestroyEnqueued> {
    const active = await tx.listActiveOperations(env.name);
    const existing = active.find((o) => o.kind === "destroy");
    if (existing) {
        await audit(tx, ctx, actor, action, env.name, "accepted", { operationId: existing.id, alreadyRequested: true });
        return { operation: existing, created: false, events: [], canceledIds: [] };
    }
    const events: OperationEvent[] = [];
    const canceledIds: string[] = [];
    for (const op of active.filter((o) => o.state === "queued")) {
        const canceled = await tx.requestCancel(op.id, ctx.now);
        events.push(await recordState(tx, canceled, ctx.now, { error: { code: "superseded", message: "Canceled because the environment is being destroyed." } }));
        canceledIds.push(op.id);
    }
    const { operation } = await tx.enqueueOperation({
        id: ctx.ids.newId(), environment: env.name, team: env.team, kind: "destroy",
        requestedBy: actor.subject, maxAttempts: ctx.maxAttempts, now: ctx.now,
    });
    events.push(await recordState(tx, operation, ctx.now));
    await tx.updateEnvironment(env.name, { lastOperationId: operation.id, now: ctx.now });
    await audit(tx, ctx, actor, action, env.name, "accepted", { operationId: operation.id, canceled: canceledIds });
    return { operation, created: true, events, canceledIds };
}
