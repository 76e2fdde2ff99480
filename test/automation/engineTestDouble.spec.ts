import { strict as assert } from "node:assert";
import { type EngineEvent, type EngineRunRequest, type OperationKind } from "../../automation/domain/ports";
import { createEngine, PulumiEngine, TEST_DOUBLE_SECRET, TestDoubleEngine } from "../../automation/engine";
import { rejection } from "./engineAssertions";

let n = 0;
function request(stackName: string, kind: OperationKind = "update", signal = new AbortController().signal): EngineRunRequest & { events: EngineEvent[] } {
    const events: EngineEvent[] = [];
    return { operationId: `op-${++n}`, kind, stackName, config: { tier: "dev" }, signal, onEvent: (e) => events.push(e), events };
}


describe("test double engine", () => {
    it("names itself as a test double, in its name and its readiness check", async () => {
        const engine = new TestDoubleEngine();
        assert.match(engine.name, /test-double.*NOT FOR PRODUCTION/);
        const r = await engine.readiness();
        assert.equal(r.ok, true);
        assert.match(r.checks[0].detail, /TEST DOUBLE/);
    });

    it("succeeds by default with progress events spread over the run, then a summary", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 40, progressEvents: 3 });
        const req = request("alpha");
        const times: number[] = [];
        const onEvent = req.onEvent;
        req.onEvent = (e) => {
            times.push(Date.now());
            onEvent(e);
        };
        const result = await engine.run(req);
        assert.deepEqual(result.summary, { create: 3 });
        assert.equal(req.events.filter((e) => e.type === "resource-outputs").length, 3);
        assert.equal(req.events.at(-1)?.type, "summary");
        assert.ok(times.at(-1)! - times[0] >= 25, "events arrive over time, not in one burst");
    });

    it("returns fake outputs with a nested secret-looking value for redaction tests", async () => {
        const result = await new TestDoubleEngine({ latencyMs: 0 }).run(request("beta"));
        const storage = (result.outputs?.diagnostics as { storage: { connectionString: string } }).storage;
        assert.ok(storage.connectionString.includes(TEST_DOUBLE_SECRET));
    });

    it("fails with a scripted EngineError code, retryable as that code usually is", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 0 }).script("gamma", { kind: "fail", code: "throttled" }, { kind: "fail", code: "policy_violation", details: [{ policy: "p" }] });
        const first = await rejection(engine.run(request("gamma")));
        assert.deepEqual([first.code, first.retryable], ["throttled", true]);
        const second = await rejection(engine.run(request("gamma")));
        assert.deepEqual([second.code, second.retryable, second.details], ["policy_violation", false, [{ policy: "p" }]]);
        await engine.run(request("gamma"));
        assert.deepEqual(engine.calls.map((c) => c.result), ["throttled", "policy_violation", "succeeded"]);
    });

    it("fails retryably N times, then succeeds", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 0 }).script("delta", { kind: "flaky", failures: 2 });
        for (let i = 0; i < 2; i++) {
            const e = await rejection(engine.run(request("delta")));
            assert.deepEqual([e.code, e.retryable], ["concurrent_update", true]);
        }
        await engine.run(request("delta"));
    });

    it("prefers a stack's own script over the shared one", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 0 }).scriptNext({ kind: "fail", code: "failed" }).script("mine", { kind: "succeed" });
        await engine.run(request("mine"));
        assert.equal((await rejection(engine.run(request("other")))).code, "failed");
    });

    it("hangs until aborted, then ends as canceled", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 0 }).script("eps", { kind: "hang" });
        const c = new AbortController();
        const run = engine.run(request("eps", "update", c.signal));
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(engine.inFlight("eps"), 1);
        c.abort();
        assert.equal((await rejection(run)).code, "canceled");
        assert.equal(engine.inFlight("eps"), 0);
    });

    it("stops a slow run at once when aborted", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 10_000 });
        const c = new AbortController();
        const started = Date.now();
        const run = engine.run(request("zeta", "destroy", c.signal));
        setTimeout(() => c.abort(), 10);
        assert.equal((await rejection(run)).code, "canceled");
        assert.ok(Date.now() - started < 1_000);
    });

    it("records overlapping runs per stack so tests can prove the queue never allows them", async () => {
        const engine = new TestDoubleEngine({ latencyMs: 30 });
        await Promise.all([engine.run(request("same")), engine.run(request("same")), engine.run(request("other"))]);
        await engine.run(request("serial"));
        await engine.run(request("serial"));
        assert.equal(engine.maxConcurrentByStack.get("same"), 2);
        assert.equal(engine.maxConcurrentByStack.get("other"), 1);
        assert.equal(engine.maxConcurrentByStack.get("serial"), 1);
        assert.equal(engine.maxConcurrentOverall, 3);
    });

    it("records recoveries and removals", async () => {
        const engine = new TestDoubleEngine();
        await engine.recoverStack("a");
        await engine.removeStack("a");
        assert.deepEqual([engine.recovered, engine.removed], [["a"], ["a"]]);
    });
});

describe("createEngine", () => {
    const warnings: unknown[][] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (...args: unknown[]) => warnings.push(args) };

    beforeEach(() => warnings.splice(0));

    it("builds the Pulumi engine unless told otherwise", () => {
        const engine = createEngine({ dataDir: "/tmp/kvp-engine-factory", passphrase: "a-long-test-passphrase", logger: logger as never });
        assert.ok(engine instanceof PulumiEngine);
        assert.equal(engine.name, "pulumi");
        assert.equal(warnings.length, 0);
    });

    it("builds the test double only when chosen, and warns about it", () => {
        const engine = createEngine({ engine: "test-double", dataDir: "/tmp/kvp-engine-factory", logger: logger as never });
        assert.ok(engine instanceof TestDoubleEngine);
        assert.equal(warnings.length, 1);
        assert.match(String(warnings[0][1]), /TEST DOUBLE/);
    });
});
