import { audit, recordState } from "../domain/commands";
import type { EventHub } from "../domain/eventHub";
import { recoveryDecision, statusAfter } from "../domain/lifecycle";
import { backoffMs, OperationSettings } from "../domain/operationSettings";
import type { Operation, OperationEvent } from "../domain/ports";
import type { Ids, Logger } from "../domain/runtime";
import type { Store } from "../domain/store";
import { RECOVERY_ACTOR } from "./systemActors";

export interface RecoveryContext {
    store: Store;
    hub: EventHub;
    ids: Ids;
    logger: Logger;
    settings: OperationSettings;
    random: () => number;
    now: Date;
}

export interface RecoveryReport {
    /** Operations found running without a live lease, now `interrupted`. */
    reclaimed: string[];
    /** Interrupted operations put back in the queue (their stack is recovered before they run). */
    retried: string[];
    /** Interrupted operations failed by policy. */
    failed: string[];
}

/**
 * Crash recovery. Running operations whose lease is gone (all of them, with
 * `includeLive`, when this process holds the store exclusively and so cannot be
 * sharing the work) become `interrupted`, and their environments are flagged so the
 * engine cancels any stale lock and clears pending operations before the next run
 * there. Each interrupted operation is then retried with backoff or failed, as
 * `recoveryDecision` says.
 */
export async function recoverInterrupted(ctx: RecoveryContext, includeLive: boolean): Promise<RecoveryReport> {
    const now = ctx.now.toISOString();
    const report: RecoveryReport = { reclaimed: [], retried: [], failed: [] };
    const reclaimed = await ctx.store.reclaimExpiredLeases(now, { includeLive });
    for (const op of reclaimed) {
        report.reclaimed.push(op.id);
        const event = await ctx.store.transaction((tx) => recordState(tx, op, now, { error: { code: "interrupted", message: "The server stopped or lost its lease while this operation ran." } }));
        ctx.hub.publish(event);
        ctx.logger.warn({ operationId: op.id, environment: op.environment, kind: op.kind, attempt: op.attempt }, "operation interrupted: its worker is gone");
    }

    for (const op of await ctx.store.listOperationsByState("interrupted", 1000)) {
        const decision = recoveryDecision(op);
        const events = await ctx.store.transaction(async (tx): Promise<OperationEvent[]> => {
            const current = await tx.getOperation(op.id);
            if (current?.state !== "interrupted") return [];
            const txCtx = { ids: ctx.ids, now, maxAttempts: ctx.settings.maxAttempts };
            if (decision.action === "retry") {
                const notBefore = new Date(ctx.now.getTime() + backoffMs(op.attempt, ctx.settings, ctx.random)).toISOString();
                const error = { code: "interrupted", message: "Interrupted; retrying after the stack is recovered." };
                const requeued = await tx.requeueOperation({ id: op.id, notBefore, error, now });
                await audit(tx, txCtx, RECOVERY_ACTOR, "operation.recover", op.id, "accepted", { environment: op.environment, action: "retry", notBefore });
                report.retried.push(op.id);
                return [await recordState(tx, requeued, now, { error, notBefore })];
            }
            const error = { code: decision.code, message: decision.message };
            const failed: Operation = await tx.failInterrupted(op.id, error, now);
            const status = statusAfter(op.kind, "failed");
            if (status && (await tx.getEnvironment(op.environment))) await tx.updateEnvironment(op.environment, { status, now });
            await audit(tx, txCtx, RECOVERY_ACTOR, "operation.recover", op.id, "failed", { environment: op.environment, action: "fail", reason: decision.message });
            report.failed.push(op.id);
            return [await recordState(tx, failed, now, { error })];
        });
        for (const e of events) ctx.hub.publish(e);
    }
    if (report.retried.length > 0) ctx.hub.enqueued();
    if (report.reclaimed.length + report.retried.length + report.failed.length > 0) ctx.logger.info({ ...report }, "crash recovery done");
    return report;
}
