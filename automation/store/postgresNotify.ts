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
    /**
     * Per operation: the highest seq notified, the highest relayed, and whether a read is under
     * way. A burst of notifications for one operation becomes one read of everything after what
     * was relayed, so a thousand watchers of a hundred busy runs cost a few reads, not one per
     * event; operations are read independently, each in commit order. A notification that
     * carries its events and follows on from what was relayed needs no read at all.
     */
    const relays = new Map<string, { notified: number; relayed: number; reading: boolean }>();
    const relay = async (operationId: string) => {
        const r = relays.get(operationId)!;
        r.reading = true;
        try {
            while (r.relayed < r.notified && hub.subscriberCount(operationId) > 0) {
                const events = await store.listEvents(operationId, r.relayed, RELAY_BATCH);
                if (events.length === 0) break;
                for (const event of events) hub.publish(event);
                r.relayed = events[events.length - 1].seq;
            }
        } catch (e) {
            logger?.warn({ err: e, operationId }, "could not relay an event from another replica");
        } finally {
            r.reading = false;
            // What was relayed is known; a watcher that comes later replays from the store itself.
            if (r.relayed >= r.notified || hub.subscriberCount(operationId) === 0) relays.delete(operationId);
        }
    };
    return store.listen((n) => {
        switch (n.kind) {
            case "enqueued":
                hub.enqueued();
                return;
            case "cancel":
                hub.cancelRequested(n.operationId);
                return;
            case "event": {
                if (hub.subscriberCount(n.operationId) === 0) return;
                let r = relays.get(n.operationId);
                if (!r) {
                    r = { notified: n.seq, relayed: (n.from ?? n.seq) - 1, reading: false };
                    relays.set(n.operationId, r);
                }
                r.notified = Math.max(r.notified, n.seq);
                if (r.reading) return;
                if (n.events && n.from === r.relayed + 1 && n.seq === r.notified) {
                    // The burst came with the notification, next in line: no read needed.
                    for (const event of n.events) hub.publish(event);
                    relays.delete(n.operationId);
                    return;
                }
                void relay(n.operationId);
            }
        }
    }, (e) => logger?.warn({ err: e }, "store notifications interrupted; reconnecting"));
}

/** Events read per round trip when relaying a burst. */
const RELAY_BATCH = 500;
