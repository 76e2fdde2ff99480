import { strict as assert } from "node:assert";
import type { ClaimRequest, Store } from "../../automation/domain/store";
import { loadSettings } from "../../automation/server/settings";
import { withGlobalCap } from "../../automation/worker/capacity";

/** Per-process worker concurrency and the global cap are separate knobs once workers scale out. */
describe("worker capacity across processes", () => {
    class FakeStore {
        readonly exclusive = false;
        claims: ClaimRequest[] = [];
        private closed = false;
        async claim(request: ClaimRequest) {
            this.claims.push(request);
            return [];
        }
        async close() {
            this.closed = true;
        }
        isClosed() {
            return this.closed;
        }
    }

    it("makes every claim carry the global cap, whatever the worker asks for", async () => {
        const inner = new FakeStore();
        const capped = withGlobalCap(inner as unknown as Store, 12);
        await capped.claim({ workerId: "w", leaseMs: 1000, maxRunning: 3, limit: 2, now: "2026-01-01T00:00:00.000Z" }, async (_tx, op) => op);
        assert.deepEqual(inner.claims, [{ workerId: "w", leaseMs: 1000, maxRunning: 12, limit: 2, now: "2026-01-01T00:00:00.000Z" }]);
    });

    it("passes every other member through, bound to the real store", async () => {
        const inner = new FakeStore();
        const capped = withGlobalCap(inner as unknown as Store, 4);
        assert.equal(capped.exclusive, false);
        await capped.close();
        assert.ok(inner.isClosed(), "close reached the store with its own `this`");
    });

    it("refuses a cap below one", () => {
        assert.throws(() => withGlobalCap(new FakeStore() as unknown as Store, 0), /at least 1/);
    });

    it("defaults a process's concurrency to the global cap and refuses more than it", () => {
        assert.equal(loadSettings({ KVP_MAX_CONCURRENCY: "6" }, "/srv").workerConcurrency, 6);
        assert.equal(loadSettings({ KVP_MAX_CONCURRENCY: "16", KVP_WORKER_CONCURRENCY: "4" }, "/srv").workerConcurrency, 4);
        assert.throws(() => loadSettings({ KVP_MAX_CONCURRENCY: "2", KVP_WORKER_CONCURRENCY: "4" }, "/srv"), /KVP_WORKER_CONCURRENCY: must not exceed KVP_MAX_CONCURRENCY \(2\)/);
    });
});
