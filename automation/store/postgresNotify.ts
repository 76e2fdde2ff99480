import type { EventHub } from "../domain/eventHub";
import type { Logger } from "../domain/runtime";
import type { PostgresStore } from "./postgres";

/**
 * Feeds what other replicas commit into this process's EventHub. Stored events of another
 * process's run reach local SSE subscribers, new work wakes the local worker at once, and
 * a cancel reaches the replica that holds the run. Polling and lease renewal still cover
 * everything a lost notification would have carried, so this only makes things faster.
 * Returns a function that stops the bridge.
 */
export async function bridgeStoreNotifications(store: PostgresStore, hub: EventHub, logger?: Logger): Promise<() => Promise<void>> {
    // One chain: events are read back and published in the order they were committed.
    let chain: Promise<void> = Promise.resolve();
    return store.listen((n) => {
        switch (n.kind) {
            case "enqueued":
                hub.enqueued();
                return;
            case "cancel":
                hub.cancelRequested(n.operationId);
                return;
            case "event":
                if (hub.subscriberCount(n.operationId) === 0) return;
                chain = chain
                    .then(async () => {
                        for (const event of await store.listEvents(n.operationId, n.seq - 1, 1)) hub.publish(event);
                    })
                    .catch((e: unknown) => logger?.warn({ err: e, operationId: n.operationId }, "could not relay an event from another replica"));
        }
    }, (e) => logger?.warn({ err: e }, "store notifications interrupted; reconnecting"));
}
