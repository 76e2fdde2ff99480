import type { ClaimRequest, Store } from "../domain/store";

/**
 * The Worker takes on at most `maxConcurrent` runs and asks the store for the same number
 * as the global cap. With several worker processes the two differ: each process runs what
 * its host can carry (KVP_WORKER_CONCURRENCY), and the store's claim bounds the sum across
 * every process (KVP_MAX_CONCURRENCY, which protects the cloud APIs from throttling).
 * This view of the store makes every claim carry the global cap instead.
 */
export function withGlobalCap<S extends Store>(store: S, maxRunning: number): S {
    if (!Number.isInteger(maxRunning) || maxRunning < 1) throw new Error(`The global cap must be a whole number of at least 1 (got ${maxRunning})`);
    return new Proxy(store, {
        get(target, property) {
            if (property === "claim") return (request: ClaimRequest, start: Parameters<Store["claim"]>[1]) => target.claim({ ...request, maxRunning }, start);
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
    });
}
