import { enqueueDestroy } from "../domain/commands";
import type { EventHub } from "../domain/eventHub";
import type { Ids, Logger } from "../domain/runtime";
import type { Store } from "../domain/store";
import { TTL_ACTOR } from "./systemActors";

export interface SweepContext {
    store: Store;
    hub: EventHub;
    ids: Ids;
    logger: Logger;
    maxAttempts: number;
    now: Date;
}

/**
 * Enqueues a destroy for every environment whose TTL has passed, each in its own
 * transaction that re-reads the environment, so a PUT that just extended the TTL wins.
 * Returns the names it expired.
 */
export async function sweepExpiredEnvironments(ctx: SweepContext, batch = 100): Promise<string[]> {
    const now = ctx.now.toISOString();
    const expired = await ctx.store.listExpiredEnvironments(now, batch);
    const done: string[] = [];
    for (const candidate of expired) {
        const outcome = await ctx.store.transaction(async (tx) => {
            const env = await tx.getEnvironment(candidate.name);
            if (!env || !env.expiresAt || env.expiresAt > now || env.status === "destroyed" || env.status === "destroying") return undefined;
            return enqueueDestroy(tx, { ids: ctx.ids, now, maxAttempts: ctx.maxAttempts }, env, TTL_ACTOR, "environment.expire");
        });
        if (!outcome?.created) continue;
        for (const e of outcome.events) ctx.hub.publish(e);
        ctx.logger.info({ environment: candidate.name, operationId: outcome.operation.id, expiresAt: candidate.expiresAt }, "TTL passed: destroy enqueued");
        done.push(candidate.name);
    }
    if (done.length > 0) ctx.hub.enqueued();
    return done;
}
