import { strict as assert } from "node:assert";
import { UnavailableError } from "../../automation/domain/errors";
import { STATE_EVENT, StateEventData } from "../../automation/domain/eventHub";
import type { OperationSettings } from "../../automation/domain/operationSettings";
import { Engine, EngineError, EngineResult, EngineRunRequest, Operation, OperationEvent, Readiness } from "../../automation/domain/ports";
import type { Clock } from "../../automation/domain/runtime";
import { EnvironmentService } from "../../automation/domain/service";
import type { ClaimRequest, NewEvent, Store, StoreTx } from "../../automation/domain/store";
import { TEST_DOUBLE_SECRET, TestDoubleEngine } from "../../automation/engine/testDouble";
import { openSqliteStore } from "../../automation/store/sqlite";
import { burstAppender, groupedAppends, limitConcurrency, OUTCOMES_AT_ONCE } from "../../automation/worker/runOperation";
import { withGlobalCap } from "../../automation/worker/capacity";
import { Worker } from "../../automation/worker/worker";
import { ADMIN, claimOne, desired, eventually, ManualClock, PAYMENTS_OPERATOR, tempDir, validSpec } from "./domainFixtures";

/** `target` with some members replaced; every other member is the target's own, bound to it. */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
    return new Proxy(target, {
        get(t, property) {
            if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
            const value: unknown = Reflect.get(t, property, t);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(t) : value;
        },
    });
}

const FAST: Partial<OperationSettings> = {
    pollMs: 10, leaseMs: 400, heartbeatMs: 50, backoffBaseMs: 5, backoffMaxMs: 20, abortGraceMs: 200,
    stopDeadlineMs: 300, ttlSweepMs: 20, idleTimeoutMs: 10_000, operationTimeoutMs: 20_000, maxAttempts: 3, maxConcurrent: 4,
};

interface Rig {
    store: Store;
    service: EnvironmentService;
    worker: Worker;
    engine: Engine;
    dataDir: string;
}

describe("Worker", () => {
    let dir: ReturnType<typeof tempDir>;
    const open: Array<{ store: Store; worker?: Worker }> = [];

    beforeEach(() => (dir = tempDir("worker")));
    afterEach(async () => {
        for (const { store, worker } of open.splice(0)) {
            await worker?.stop();
            await store.close();
        }
        dir.remove();
    });

    async function rig(engine: Engine, settings: Partial<OperationSettings> = {}, clock?: Clock, start = true): Promise<Rig> {
        const store = await openSqliteStore({ dataDir: dir.path });
        const merged = { ...FAST, ...settings };
        const service = new EnvironmentService({ store, engine, settings: merged, clock });
        const worker = new Worker({ store, engine, hub: service.hub, settings: merged, clock, random: () => 0.5, workerId: "test-worker" });
        open.push({ store, worker });
        if (start) await worker.start();
        return { store, service, worker, engine, dataDir: dir.path };
    }

    async function put(r: Rig, name = "payments-dev", spec = validSpec()): Promise<Operation> {
        const result = await r.service.putEnvironment(PAYMENTS_OPERATOR, desired(name, spec));
        assert.ok(result.operation);
        return result.operation;
    }

    function settled(r: Rig, id: string, timeoutMs = 5_000): Promise<Operation> {
        return eventually(async () => {
            const op = await r.store.getOperation(id);
            return op && ["succeeded", "failed", "canceled"].includes(op.state) ? op : undefined;
        }, `operation ${id} to finish`, timeoutMs);
    }

    function running(r: Rig, id: string): Promise<Operation> {
        return eventually(async () => {
            const op = await r.store.getOperation(id);
            return op?.state === "running" ? op : undefined;
        }, `operation ${id} to run`);
    }

    const states = (events: OperationEvent[]) => events.filter((e) => e.type === STATE_EVENT).map((e) => (e.data as StateEventData).state);

    it("runs an update: stores events in order, streams them live, redacts outputs and marks the environment ready", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 40, progressEvents: 2 });
        const r = await rig(engine);
        const op = await put(r);
        const live: OperationEvent[] = [];
        r.service.subscribe(op.id, (e) => live.push(e));

        const done = await settled(r, op.id);
        assert.equal(done.state, "succeeded");
        assert.equal(done.attempt, 1);
        assert.deepEqual(done.summary, { create: 2 });
        const env = await r.service.getEnvironment(PAYMENTS_OPERATOR, "payments-dev");
        assert.equal(env.status, "ready");
        assert.equal((env.outputs as { vaultName: string }).vaultName, "kv-payments-dev");
        assert.ok(!JSON.stringify(env).includes(TEST_DOUBLE_SECRET), "a nested secret output reached the client");

        const stored = await r.store.listEvents(op.id, 0, 100);
        assert.deepEqual(stored.map((e) => e.seq), stored.map((_, i) => i + 1));
        assert.deepEqual(states(stored), ["queued", "running", "succeeded"]);
        assert.ok(stored.some((e) => e.type === "resource-pre"));
        assert.deepEqual(live.map((e) => e.seq), stored.slice(1).map((e) => e.seq), "live subscribers see every event after the first, in order");
        const audit = (await r.store.listAudit({ limit: 10 })).items.map((a) => `${a.actor.subject} ${a.action} ${a.outcome}`);
        assert.ok(audit.includes("system:worker operation.update succeeded"));
    });

    /**
     * A view of the store whose claim hands its start a transaction in which `method` fails with
     * UnavailableError (a failover) the first `times` calls.
     */
    function failingInClaim(store: Store, method: keyof StoreTx, times: number): { store: Store; failed: () => number } {
        let failed = 0;
        const tx = (inner: StoreTx) => failed >= times ? inner : overriding(inner, {
            [method]: async () => {
                failed++;
                throw new UnavailableError("Connection terminated unexpectedly");
            },
        });
        const view = overriding(store, {
            claim: <T>(request: ClaimRequest, start: (tx: StoreTx, operation: Operation) => Promise<T>) => store.claim(request, (inner, op) => start(tx(inner), op)),
        });
        return { store: view, failed: () => failed };
    }

    it("claims and records the start in one commit: a start that cannot be written leaves the operation queued, untouched", async () => {
        const r = await rig(new TestDoubleEngine({ latencyMs: 5 }), {}, undefined, false);
        const op = await put(r);
        // The status is written first, then the running event: the event's failure must take the status and the claim back with it.
        const view = failingInClaim(r.store, "appendEvent", 1_000);
        const worker = new Worker({ store: view.store, engine: r.engine, hub: r.service.hub, settings: FAST, workerId: "failing-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        await eventually(async () => (view.failed() >= 3 ? true : undefined), "three claims to fail");
        await worker.stop();
        const after = await r.store.getOperation(op.id);
        assert.equal(after?.state, "queued");
        assert.equal(after?.attempt, 0, "no attempt was used up by the claims that did not stand");
        assert.equal(after?.leaseOwner, undefined);
        assert.equal((await r.store.getEnvironment("payments-dev"))?.status, "pending", "the provisioning status went back with the claim");
        assert.equal((r.engine as TestDoubleEngine).calls.length, 0, "the engine was never called");
        assert.deepEqual(states(await r.store.listEvents(op.id, 0, 100)), ["queued"]);
    });

    it("claims again after a store failure in the claim, and the run uses its first attempt", async () => {
        const r = await rig(new TestDoubleEngine({ latencyMs: 5 }), {}, undefined, false);
        const op = await put(r);
        const view = failingInClaim(r.store, "getEnvironment", 1);
        const worker = new Worker({ store: view.store, engine: r.engine, hub: r.service.hub, settings: FAST, workerId: "blinking-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        const done = await settled(r, op.id);
        assert.equal(view.failed(), 1);
        assert.equal(done.state, "succeeded");
        assert.equal(done.attempt, 1);
        assert.deepEqual(states(await r.store.listEvents(op.id, 0, 100)), ["queued", "running", "succeeded"]);
    });

    it("retries a retryable engine failure with backoff, then succeeds", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "flaky", failures: 2, code: "throttled" });
        const r = await rig(engine);
        const op = await put(r);
        const done = await settled(r, op.id);
        assert.equal(done.state, "succeeded");
        assert.equal(done.attempt, 3);
        assert.equal(done.error, undefined, "a success clears the last attempt's error");
        const stored = await r.store.listEvents(op.id, 0, 100);
        assert.deepEqual(states(stored), ["queued", "running", "queued", "running", "queued", "running", "succeeded"]);
        const retry = stored.find((e) => e.type === STATE_EVENT && (e.data as StateEventData).state === "queued" && (e.data as StateEventData).notBefore);
        assert.equal((retry?.data as StateEventData).error?.code, "throttled");
    });

    it("retries a run whose store failed for a moment (a failover) while clearing a stack's recovery, instead of failing it as internal", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        const r = await rig(engine, {}, undefined, false);
        const op = await put(r);
        await r.store.setRecoveryPending("payments-dev", true);
        let failures = 1;
        const blinking = overriding(r.store, {
            transaction: <T>(fn: (tx: StoreTx) => Promise<T>) => {
                if (failures-- > 0) return Promise.reject(new UnavailableError("Connection terminated unexpectedly"));
                return r.store.transaction(fn);
            },
        });
        const worker = new Worker({ store: blinking, engine: r.engine, hub: r.service.hub, settings: FAST, random: () => 0.5, workerId: "blinking-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        const done = await settled(r, op.id);
        assert.equal(done.state, "succeeded");
        assert.equal(done.attempt, 2);
        const retried = (await r.store.listEvents(op.id, 0, 100)).find((e) => e.type === STATE_EVENT && (e.data as StateEventData).notBefore);
        assert.equal((retried?.data as StateEventData).error?.code, "unavailable");
        assert.deepEqual(engine.recovered, ["payments-dev", "payments-dev"], "the second attempt recovered the stack again, since the first could not record it");
        assert.equal(await r.store.isRecoveryPending("payments-dev"), false);
    });

    it("stores an outcome the store refused for a moment (a full connection table), instead of leaving it to recovery", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        const r = await rig(engine, {}, undefined, false);
        const op = await put(r);
        let refusals = 2;
        let renewals = 0;
        const refusing = overriding(r.store, {
            transaction: <T>(fn: (tx: StoreTx) => Promise<T>) => {
                if (refusals-- > 0) return Promise.reject(new UnavailableError("sorry, too many clients already"));
                return r.store.transaction(fn);
            },
            renewLease: (...args: Parameters<Store["renewLease"]>) => {
                renewals++;
                return r.store.renewLease(...args);
            },
        });
        const worker = new Worker({ store: refusing, engine, hub: r.service.hub, settings: FAST, random: () => 0.5, workerId: "refused-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        const done = await settled(r, op.id);
        assert.equal(done.state, "succeeded");
        assert.equal(done.attempt, 1, "the engine ran once");
        assert.equal(engine.calls.length, 1);
        assert.ok(renewals >= 2, "the lease was kept while the outcome waited");
        const stored = await r.store.listEvents(op.id, 0, 100);
        assert.deepEqual(states(stored), ["queued", "running", "succeeded"]);
        assert.equal(stored.filter((e) => e.type === "summary").length, 1, "the engine's last event was stored once");
    });

    it(`stores at most ${OUTCOMES_AT_ONCE} outcomes at once when many runs end together, and every one of them`, async () => {
        const engine = new TestDoubleEngine({ latencyMs: 40, progressEvents: 0 });
        const r = await rig(engine, { maxConcurrent: 6 }, undefined, false);
        const ids: string[] = [];
        for (const name of ["payments-aa", "payments-bb", "payments-cc", "payments-dd", "payments-ee", "payments-ff"]) ids.push((await put(r, name)).id);
        let inFlight = 0;
        let peak = 0;
        const counting = overriding(r.store, {
            transaction: async <T>(fn: (tx: StoreTx) => Promise<T>) => {
                peak = Math.max(peak, ++inFlight);
                try {
                    // Held open a while, as a busy PostgreSQL holds each outcome: the ones behind pile up.
                    await new Promise((resolve) => setTimeout(resolve, 30));
                    return await r.store.transaction(fn);
                } finally {
                    inFlight--;
                }
            },
        });
        const worker = new Worker({ store: counting, engine, hub: r.service.hub, settings: { ...FAST, maxConcurrent: 6 }, random: () => 0.5, workerId: "outcome-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        for (const id of ids) assert.equal((await settled(r, id)).state, "succeeded");
        assert.equal(engine.maxConcurrentOverall, 6, "the six runs overlapped, so their outcomes could have gone together");
        assert.equal(peak, OUTCOMES_AT_ONCE);
    });

    it("starts the next run once the engine is done with one, while that one's outcome is still being stored", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 30, progressEvents: 0 });
        const r = await rig(engine, {}, undefined, false);
        const first = await put(r, "payments-aa");
        const second = await put(r, "payments-bb");
        let firstWhenSecondStarted: string | undefined;
        const watching = overriding(engine, {
            run: async (req: EngineRunRequest) => {
                if (req.operationId === second.id) firstWhenSecondStarted = (await r.store.getOperation(first.id))?.state;
                return engine.run(req);
            },
        });
        // Every outcome waits 150 ms before its transaction, as behind a busy PostgreSQL.
        const slow = overriding(r.store, {
            transaction: async <T>(fn: (tx: StoreTx) => Promise<T>) => {
                await new Promise((resolve) => setTimeout(resolve, 150));
                return r.store.transaction(fn);
            },
        });
        // One slot in this process, a global cap of 4 across processes: the cap does not bind.
        const worker = new Worker({ store: withGlobalCap(slow, 4), engine: watching, hub: r.service.hub, settings: { ...FAST, maxConcurrent: 1 }, random: () => 0.5, workerId: "slot-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        for (const id of [first.id, second.id]) assert.equal((await settled(r, id)).state, "succeeded");
        assert.equal(firstWhenSecondStarted, "running", "the second run reached the engine before the first one's outcome was stored");
        assert.equal(engine.maxConcurrentOverall, 1, "the engine still ran one operation at a time");
    });

    it("stores a run's outcome after the claim for the slot it freed, so that claim does not wait behind it", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 20, progressEvents: 0 });
        const r = await rig(engine, {}, undefined, false);
        const first = await put(r, "payments-aa");
        const second = await put(r, "payments-bb");
        let claims = 0;
        let firstWhenSecondClaimed: string | undefined;
        const slowClaims = overriding(r.store, {
            claim: async <T>(request: ClaimRequest, start: (tx: StoreTx, op: Operation) => Promise<T>) => {
                const nth = ++claims;
                // The claim after the first run: slow, as behind other workers' claims.
                if (nth === 2) await new Promise((resolve) => setTimeout(resolve, 100));
                const claimed = await r.store.claim(request, start);
                if (nth === 2) firstWhenSecondClaimed = (await r.store.getOperation(first.id))?.state;
                return claimed;
            },
        });
        const worker = new Worker({ store: withGlobalCap(slowClaims, 4), engine, hub: r.service.hub, settings: { ...FAST, maxConcurrent: 1 }, random: () => 0.5, workerId: "claim-first-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        for (const id of [first.id, second.id]) assert.equal((await settled(r, id)).state, "succeeded");
        assert.deepEqual(engine.calls.map((c) => c.operationId), [first.id, second.id], "the second claim took the second operation");
        assert.equal(firstWhenSecondClaimed, "running", "the first run's outcome waited for the claim");
    });

    it("does not claim as a run ends when the last claim found nothing more to take", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 30, progressEvents: 0 });
        const r = await rig(engine, {}, undefined, false);
        const only = await put(r, "payments-aa");
        let claims = 0;
        const counting = overriding(r.store, {
            claim: <T>(request: ClaimRequest, start: (tx: StoreTx, op: Operation) => Promise<T>) => {
                claims++;
                return r.store.claim(request, start);
            },
        });
        // A long poll: every claim here is one the worker asked for on a run's end or on a wake-up.
        const worker = new Worker({ store: withGlobalCap(counting, 4), engine, hub: r.service.hub, settings: { ...FAST, maxConcurrent: 2, pollMs: 60_000 }, random: () => 0.5, workerId: "drained-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        assert.equal((await settled(r, only.id)).state, "succeeded");
        await eventually(async () => claims >= 2, "the claim after the outcome");
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(claims, 2, "one claim at the start (one operation for two slots) and one once the outcome was stored, none as the engine finished");
    });

    it("keeps a destroy's slot until its stack record is removed", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5, progressEvents: 0 });
        const r = await rig(engine, {}, undefined, false);
        await put(r, "payments-aa");
        const destroy = await r.service.deleteEnvironment(PAYMENTS_OPERATOR, "payments-aa");
        const next = await put(r, "payments-bb");
        const order: string[] = [];
        const watching = overriding(engine, {
            run: (req: EngineRunRequest) => {
                order.push(`run ${req.kind} ${req.stackName}`);
                return engine.run(req);
            },
            removeStack: async (stackName: string) => {
                await new Promise((resolve) => setTimeout(resolve, 100));
                order.push(`removed ${stackName}`);
                return engine.removeStack(stackName);
            },
        });
        const worker = new Worker({ store: withGlobalCap(r.store, 4), engine: watching, hub: r.service.hub, settings: { ...FAST, maxConcurrent: 1 }, random: () => 0.5, workerId: "destroy-worker" });
        open.push({ store: r.store, worker });
        await worker.start();
        for (const id of [destroy.id, next.id]) assert.equal((await settled(r, id)).state, "succeeded");
        assert.deepEqual(order, ["run destroy payments-aa", "removed payments-aa", "run update payments-bb"]);
    });

    it("fails once the attempts are used up", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "flaky", failures: 5 });
        const r = await rig(engine, { maxAttempts: 2 });
        const done = await settled(r, (await put(r)).id);
        assert.equal(done.state, "failed");
        assert.equal(done.attempt, 2);
        assert.equal(done.error?.code, "concurrent_update");
        assert.equal((await r.store.getEnvironment("payments-dev"))?.status, "failed");
    });

    it("ends an operation the policy pack refused as failed, naming each policy in the operation and its events", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 1 });
        const violations = [
            { policy: "kv-purge-protection-prod", pack: "keyvault-baseline", message: "Key vaults in a production tier have purge protection enabled.", urn: "urn:pulumi:prod::keyvault-platform::azure-native:keyvault:Vault::env-kv-vault" },
            { policy: "no-privileged-role-at-data-scope", pack: "keyvault-baseline", message: "No Owner role at vault scope." },
        ];
        engine.script("payments-dev", { kind: "fail", code: "policy_violation", message: "2 mandatory policy violations", retryable: false, details: violations });
        const r = await rig(engine);
        const done = await settled(r, (await put(r)).id);
        assert.equal(done.state, "failed");
        assert.equal(done.attempt, 1, "a policy violation is not retried");
        assert.equal(done.error?.code, "policy_violation");
        assert.deepEqual((done.error?.details as Array<{ policy: string }>).map((v) => v.policy), ["kv-purge-protection-prod", "no-privileged-role-at-data-scope"]);
        const events = await r.service.listEvents(ADMIN, done.id, 0);
        const final = events.filter((e) => e.type === STATE_EVENT).pop()!;
        assert.equal((final.data as StateEventData).state, "failed");
        assert.match(JSON.stringify(final.data), /kv-purge-protection-prod/);
    });

    it("fails fast, without retrying, when the Pulumi CLI is missing", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 1 });
        engine.script("payments-dev", { kind: "fail", code: "cli_missing", message: "The Pulumi CLI is not installed: see https://www.pulumi.com/docs/install/", retryable: true });
        const r = await rig(engine);
        const started = Date.now();
        const done = await settled(r, (await put(r)).id, 2_000);
        assert.ok(Date.now() - started < 2_000);
        assert.equal(done.state, "failed");
        assert.equal(done.attempt, 1);
        assert.equal(done.error?.code, "cli_missing");
        assert.match(done.error?.message ?? "", /pulumi\.com\/docs\/install/);
    });

    it("cancels a running operation through its AbortSignal", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "hang" });
        const r = await rig(engine);
        const op = await put(r);
        await running(r, op.id);
        await r.service.cancelOperation(PAYMENTS_OPERATOR, op.id);
        const done = await settled(r, op.id);
        assert.equal(done.state, "canceled");
        assert.equal((await r.store.getEnvironment("payments-dev"))?.status, "failed");
        assert.equal(await r.store.isRecoveryPending("payments-dev"), true, "an aborted run may leave a lock: clean up before the next");
    });

    it("notices a cancel requested through the store alone (another process) at the next heartbeat", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "hang" });
        const r = await rig(engine);
        const op = await put(r);
        await running(r, op.id);
        await r.store.requestCancel(op.id, new Date().toISOString());
        assert.equal((await settled(r, op.id)).state, "canceled");
    });

    it("stops an operation that goes quiet for the idle timeout", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "hang" });
        const r = await rig(engine, { idleTimeoutMs: 100 });
        const done = await settled(r, (await put(r)).id);
        assert.equal(done.state, "failed");
        assert.equal(done.error?.code, "timeout");
        assert.match(done.error?.message ?? "", /No progress/);
    });

    it("stops an operation that runs past the overall timeout", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "hang" });
        const r = await rig(engine, { operationTimeoutMs: 100 });
        const done = await settled(r, (await put(r)).id);
        assert.equal(done.error?.code, "timeout");
        assert.match(done.error?.message ?? "", /past its/);
    });

    it("records the outcome even when the engine ignores its AbortSignal", async () => {
        const deaf: Engine = {
            name: "deaf",
            readiness: async (): Promise<Readiness> => ({ ok: true, checks: [] }),
            run: () => new Promise<EngineResult>(() => {}),
            recoverStack: async () => {},
            removeStack: async () => {},
        };
        const r = await rig(deaf, { abortGraceMs: 50 });
        const op = await put(r);
        await running(r, op.id);
        await r.service.cancelOperation(PAYMENTS_OPERATOR, op.id);
        assert.equal((await settled(r, op.id, 2_000)).state, "canceled");
    });

    it("never runs two operations of one environment at once and keeps to the global cap", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 30, progressEvents: 1 });
        const r = await rig(engine, { maxConcurrent: 2 });
        const ids: string[] = [];
        for (const name of ["payments-aa", "payments-bb", "payments-cc"]) {
            ids.push((await put(r, name)).id);
            ids.push((await r.service.requestOperation(PAYMENTS_OPERATOR, name, "preview")).id);
            ids.push((await r.service.requestOperation(PAYMENTS_OPERATOR, name, "refresh")).id);
        }
        for (const id of ids) assert.equal((await settled(r, id)).state, "succeeded");
        assert.ok([...engine.maxConcurrentByStack.values()].every((n) => n === 1), JSON.stringify([...engine.maxConcurrentByStack]));
        assert.equal(engine.maxConcurrentOverall, 2);
        const aa = engine.calls.filter((c) => c.stackName === "payments-aa").map((c) => c.kind);
        assert.deepEqual(aa, ["update", "preview", "refresh"], "one environment's operations run in the order they were asked for");
    });

    it("destroys on DELETE, removes the stack and clears the outputs", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        const r = await rig(engine);
        await settled(r, (await put(r)).id);
        const destroy = await r.service.deleteEnvironment(PAYMENTS_OPERATOR, "payments-dev");
        assert.equal((await settled(r, destroy.id)).state, "succeeded");
        const env = await r.store.getEnvironment("payments-dev");
        assert.equal(env?.status, "destroyed");
        assert.equal(env?.outputs, undefined);
        assert.deepEqual(engine.removed, ["payments-dev"]);
    });

    it("destroys an environment whose TTL passed, once", async () => {
        const clock = new ManualClock(Date.now());
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        const r = await rig(engine, {}, clock);
        await settled(r, (await put(r, "payments-dev", validSpec({ ttlHours: 1 }))).id);
        await settled(r, (await put(r, "payments-keep", validSpec({ ttlHours: 5 }))).id);
        clock.advance(3_600_001);
        const destroyed = await eventually(async () => (await r.store.getEnvironment("payments-dev"))?.status === "destroyed", "the TTL destroy");
        assert.ok(destroyed);
        assert.equal((await r.store.getEnvironment("payments-keep"))?.status, "ready");
        assert.deepEqual(engine.removed, ["payments-dev"]);
        const audit = (await r.store.listAudit({ limit: 50 })).items.map((a) => `${a.actor.subject} ${a.action} ${a.target}`);
        assert.ok(audit.includes("system:ttl environment.expire payments-dev"));
        await new Promise((res) => setTimeout(res, 100));
        assert.equal(engine.calls.filter((c) => c.kind === "destroy").length, 1, "a destroyed environment is not expired again");
    });

    describe("crash recovery at start", () => {
        /** Leaves operations `running` under a worker that no longer exists, as a killed process would. */
        async function crashedWith(kinds: Array<["update" | "destroy", number]>): Promise<{ ids: string[] }> {
            const store = await openSqliteStore({ dataDir: dir.path });
            const service = new EnvironmentService({ store, engine: new TestDoubleEngine(), settings: FAST });
            const ids: string[] = [];
            for (const [i, [kind, attempt]] of kinds.entries()) {
                const name = `payments-crash-${i}`;
                const now = () => new Date().toISOString();
                let op: Operation;
                if (kind === "update") {
                    op = (await service.putEnvironment(ADMIN, desired(name, validSpec()))).operation!;
                } else {
                    await service.putEnvironment(ADMIN, desired(name, validSpec()));
                    const update = await claimOne(store, { workerId: "old", leaseMs: 60_000, maxRunning: 9, now: now() });
                    await store.finishOperation({ id: update!.id, workerId: "old", state: "succeeded", now: now() });
                    op = await service.deleteEnvironment(ADMIN, name);
                }
                for (let a = 0; a < attempt; a++) {
                    const claimed = await claimOne(store, { workerId: "dead-worker", leaseMs: 60_000, maxRunning: 9, now: new Date().toISOString() });
                    assert.equal(claimed?.id, op.id);
                    if (a < attempt - 1) await store.requeueOperation({ id: op.id, workerId: "dead-worker", notBefore: new Date().toISOString(), now: new Date().toISOString() });
                }
                ids.push(op.id);
            }
            await store.close();
            return { ids };
        }

        it("recovers the stack and retries an update left running by a dead process", async () => {
            const { ids: [id] } = await crashedWith([["update", 1]]);
            const engine = new TestDoubleEngine({ latencyMs: 5 });
            const r = await rig(engine);
            const done = await settled(r, id);
            assert.equal(done.state, "succeeded");
            assert.equal(done.attempt, 2);
            assert.deepEqual(engine.recovered, ["payments-crash-0"], "the stack is cleaned up before it runs again");
            assert.equal(await r.store.isRecoveryPending("payments-crash-0"), false);
            assert.deepEqual(states(await r.store.listEvents(id, 0, 100)), ["queued", "interrupted", "queued", "running", "succeeded"], "the dead worker wrote no running event; recovery writes the rest");
        });

        it("fails by policy an interrupted destroy and an update on its last attempt", async () => {
            const { ids: [destroyId, lastTryId] } = await crashedWith([["destroy", 1], ["update", 3]]);
            const engine = new TestDoubleEngine({ latencyMs: 5 });
            const r = await rig(engine);
            const destroy = await settled(r, destroyId);
            assert.equal(destroy.state, "failed");
            assert.match(destroy.error?.message ?? "", /DELETE again/);
            assert.equal((await r.store.getEnvironment("payments-crash-0"))?.status, "failed");
            const lastTry = await settled(r, lastTryId);
            assert.equal(lastTry.state, "failed");
            assert.equal(lastTry.error?.code, "interrupted");
            assert.equal(engine.calls.length, 0);
            const audit = (await r.store.listAudit({ limit: 50 })).items.map((a) => `${a.actor.subject} ${a.action} ${a.outcome}`);
            assert.ok(audit.includes("system:recovery operation.recover failed"));
        });
    });

    it("on a shared store, leaves a live lease alone at start and takes the operation over once the lease lapses", async () => {
        const r = await rig(new TestDoubleEngine({ latencyMs: 5 }), {}, undefined, false);
        const op = await put(r);
        await claimOne(r.store, { workerId: "other-process", leaseMs: 300, maxRunning: 9, now: new Date().toISOString() });
        const shared = overriding(r.store, { exclusive: false });
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        const worker = new Worker({ store: shared, engine, hub: r.service.hub, settings: FAST, random: () => 0.5 });
        open.push({ store: r.store, worker });
        await worker.start();
        assert.equal((await r.store.getOperation(op.id))?.state, "running", "another worker's live lease is respected");
        const done = await settled(r, op.id);
        assert.equal(done.state, "succeeded");
        assert.equal(done.attempt, 2);
        assert.deepEqual(engine.recovered, ["payments-dev"]);
    });

    it("stops gracefully: running work ends interrupted, queued work stays queued, and both resume after a restart", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.script("payments-dev", { kind: "hang" });
        const r = await rig(engine, { maxConcurrent: 1 });
        const hung = await put(r);
        await running(r, hung.id);
        const waiting = await put(r, "payments-stg");
        const started = Date.now();
        await r.worker.stop();
        assert.ok(Date.now() - started < FAST.stopDeadlineMs! + FAST.abortGraceMs! + 1_000, "stop() must respect its deadline");
        assert.equal((await r.store.getOperation(hung.id))?.state, "interrupted");
        assert.equal((await r.store.getOperation(waiting.id))?.state, "queued");

        const again = new Worker({ store: r.store, engine, hub: r.service.hub, settings: FAST, random: () => 0.5 });
        open.push({ store: r.store, worker: again });
        await again.start();
        assert.equal((await settled(r, hung.id)).state, "succeeded");
        assert.equal((await settled(r, waiting.id)).state, "succeeded");
        assert.deepEqual(engine.recovered, ["payments-dev"]);
    });

    it("fails a run whose stack recovery reports the CLI missing, quickly", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        engine.recoverStack = async () => {
            throw new EngineError("cli_missing", "The Pulumi CLI is not installed.", false);
        };
        const r = await rig(engine, {}, undefined, false);
        const op = await put(r);
        await r.store.setRecoveryPending("payments-dev", true);
        await r.worker.start();
        const done = await settled(r, op.id, 2_000);
        assert.equal(done.error?.code, "cli_missing");
        assert.equal(engine.calls.length, 0, "nothing runs on a stack that could not be recovered");
    });

    it("fails an update as config_invalid, without running the engine, once the platform profile no longer supports its spec", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        // Accepted against the example profile; this worker runs with no profile, so prod has no private endpoint.
        const r = await rig(engine);
        const op = await settled(r, (await put(r, "payments-prod", { tier: "prod", location: "westeurope", team: "payments", alerts: { emails: ["ops@example.com"] } })).id);
        assert.equal(op.state, "failed");
        assert.equal(op.error?.code, "config_invalid");
        assert.match(op.error?.message ?? "", /tiers\.prod\.privateEndpoint/);
        assert.equal(engine.calls.length, 0);
    });

    it("hands engine requests the config derived from the stored spec", async () => {
        const seen: EngineRunRequest[] = [];
        const engine = new TestDoubleEngine({ latencyMs: 5 });
        const run = engine.run.bind(engine);
        engine.run = (req) => (seen.push(req), run(req));
        const r = await rig(engine);
        await settled(r, (await put(r, "payments-dev", validSpec({ tier: "staging" }))).id);
        assert.equal(seen[0].config.tier, "staging");
        assert.equal(seen[0].config.team, "payments");
        assert.equal(seen[0].config.managedBy, "keyvault-platform-server");
        assert.equal(seen[0].stackName, "payments-dev");
    });
});

describe("a run's engine events", () => {
    /** appendEvents that numbers from 1 and holds each call until released, recording the bursts it was given. */
    function slowStore(failFirst = false) {
        const bursts: string[][] = [];
        const releases: Array<() => void> = [];
        let seq = 0;
        return {
            bursts,
            release: () => releases.shift()?.(),
            store: {
                async appendEvents(operationId: string, events: NewEvent[]): Promise<OperationEvent[]> {
                    bursts.push(events.map((e) => e.type));
                    await new Promise<void>((resolve) => releases.push(resolve));
                    if (failFirst && bursts.length === 1) throw new UnavailableError("the store went away");
                    return events.map((e) => ({ operationId, seq: ++seq, at: e.at, type: e.type, data: e.data }));
                },
            },
        };
    }
    const event = (type: string): NewEvent => ({ type, data: null, at: "2030-01-01T00:00:00.000Z" });

    it("stores what the engine emits together in one transaction, and what came meanwhile in the next, in order", async () => {
        const s = slowStore();
        const published: string[] = [];
        const events = burstAppender(s.store, "op-1", (e) => published.push(`${e.seq}:${e.type}`), (e) => assert.fail(String(e)));
        events.add(event("a"));
        events.add(event("b"));
        await eventually(() => s.bursts.length === 1, "the first burst");
        events.add(event("c"));
        events.add(event("d"));
        events.add(event("e"));
        s.release();
        await eventually(() => s.bursts.length === 2, "the second burst");
        let drained = false;
        const done = events.drained().then(() => (drained = true));
        await new Promise((r) => setImmediate(r));
        assert.equal(drained, false, "drained waits for the burst being stored");
        s.release();
        await done;
        assert.deepEqual(s.bursts, [["a", "b"], ["c", "d", "e"]]);
        assert.deepEqual(published, ["1:a", "2:b", "3:c", "4:d", "5:e"]);
    });

    it("reports a burst the store refused and still stores the next one", async () => {
        const s = slowStore(true);
        const published: string[] = [];
        const failures: number[] = [];
        const events = burstAppender(s.store, "op-1", (e) => published.push(e.type), (_e, count) => failures.push(count));
        events.add(event("a"));
        events.add(event("b"));
        await eventually(() => s.bursts.length === 1, "the first burst");
        events.add(event("c"));
        s.release();
        await eventually(() => s.bursts.length === 2, "the second burst");
        s.release();
        await events.drained();
        assert.deepEqual(failures, [2]);
        assert.deepEqual(published, ["c"]);
    });
});

describe("a process's event appends", () => {
    const event = (type: string): NewEvent => ({ type, data: null, at: "2030-01-01T00:00:00.000Z" });

    it("go to the store in one transaction for every run that handed in a burst meanwhile, each run's in order", async () => {
        const groups: string[][] = [];
        const releases: Array<() => void> = [];
        const seqs = new Map<string, number>();
        const grouped = groupedAppends({
            async appendEventBursts(bursts) {
                groups.push(bursts.map((b) => `${b.operationId}:${b.events.map((e) => e.type).join("")}`));
                await new Promise<void>((resolve) => releases.push(resolve));
                return bursts.map((b) => b.events.map((e) => {
                    const seq = (seqs.get(b.operationId) ?? 0) + 1;
                    seqs.set(b.operationId, seq);
                    return { operationId: b.operationId, seq, at: e.at, type: e.type, data: e.data };
                }));
            },
        });
        const first = [grouped.appendEvents("op-a", [event("a"), event("b")]), grouped.appendEvents("op-b", [event("x")])];
        await eventually(() => groups.length === 1, "the first transaction");
        const second = [grouped.appendEvents("op-a", [event("c")]), grouped.appendEvents("op-c", [event("y")])];
        releases.shift()!();
        const [a1, b1] = await Promise.all(first);
        await eventually(() => groups.length === 2, "the second transaction");
        releases.shift()!();
        const [a2, c1] = await Promise.all(second);
        assert.deepEqual(groups, [["op-a:ab", "op-b:x"], ["op-a:c", "op-c:y"]]);
        assert.deepEqual([a1, b1, a2, c1].map((list) => list.map((e) => `${e.operationId}#${e.seq}`)), [["op-a#1", "op-a#2"], ["op-b#1"], ["op-a#3"], ["op-c#1"]]);
    });

    it("stores a group again when the store refused it for a moment, before the bursts that came meanwhile", async () => {
        const stored: string[][] = [];
        let calls = 0;
        const grouped = groupedAppends({
            async appendEventBursts(bursts) {
                if (++calls === 1) throw new UnavailableError("sorry, too many clients already");
                stored.push(bursts.map((b) => `${b.operationId}:${b.events.map((e) => e.type).join("")}`));
                return bursts.map((b) => b.events.map((e, i) => ({ operationId: b.operationId, seq: i + 1, at: e.at, type: e.type, data: e.data })));
            },
        });
        const first = Promise.all([grouped.appendEvents("op-a", [event("a")]), grouped.appendEvents("op-b", [event("b")])]);
        await eventually(() => calls === 1, "the refused attempt");
        const later = grouped.appendEvents("op-a", [event("c")]);
        assert.deepEqual((await first).map((events) => events.map((e) => e.type)), [["a"], ["b"]]);
        await later;
        assert.deepEqual(stored, [["op-a:a", "op-b:b"], ["op-a:c"]]);
    });

    it("fails every burst of a group the store kept refusing, or refused for good, and stores the next ones", async () => {
        for (const [failure, refusals] of [[new UnavailableError("the store went away"), 5], [new Error("a bug"), 1]] as const) {
            let calls = 0;
            const grouped = groupedAppends({
                async appendEventBursts(bursts) {
                    if (++calls <= refusals) throw failure;
                    return bursts.map((b) => b.events.map((e, i) => ({ operationId: b.operationId, seq: i + 1, at: e.at, type: e.type, data: e.data })));
                },
            });
            const refused = await Promise.allSettled([grouped.appendEvents("op-a", [event("a")]), grouped.appendEvents("op-b", [event("b")])]);
            assert.deepEqual(refused.map((r) => r.status), ["rejected", "rejected"]);
            assert.equal(calls, refusals, "tried as often as a refusal of its kind allows");
            assert.deepEqual((await grouped.appendEvents("op-a", [event("c")])).map((e) => e.type), ["c"]);
        }
    });
});

describe("limitConcurrency", () => {
    it("runs at most `max` at once, the rest in the order they came, and a failure passes its place on", async () => {
        const turn = limitConcurrency(2);
        const releases = new Map<string, () => void>();
        const started: string[] = [];
        const job = (name: string, fail = false) => turn(async () => {
            started.push(name);
            await new Promise<void>((resolve) => releases.set(name, resolve));
            if (fail) throw new Error(`${name} failed`);
            return name;
        });
        const results = [job("a", true), job("b"), job("c"), job("d")].map((p) => p.catch((e: Error) => e.message));
        await eventually(() => started.length === 2, "the first two");
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual(started, ["a", "b"], "the third waits while two run");
        releases.get("a")!();
        await eventually(() => started.length === 3, "c to take a's place");
        assert.deepEqual(started, ["a", "b", "c"]);
        releases.get("b")!();
        await eventually(() => started.length === 4, "d to take b's place");
        releases.get("c")!();
        releases.get("d")!();
        assert.deepEqual(await Promise.all(results), ["a failed", "b", "c", "d"]);
        // Every place was handed back: two run at once again, straight away.
        const later = [job("e"), job("f")];
        await eventually(() => started.length === 6, "e and f together");
        releases.get("e")!();
        releases.get("f")!();
        assert.deepEqual(await Promise.all(later), ["e", "f"]);
    });
});
