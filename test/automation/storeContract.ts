import { strict as assert } from "node:assert";
import { ConflictError, NotFoundError, ValidationError } from "../../automation/domain/errors";
import type { Operation, OperationKind } from "../../automation/domain/ports";
import { IllegalTransitionError } from "../../automation/domain/stateMachine";
import type { Store } from "../../automation/domain/store";
import { ADMIN, claimOne, ManualClock, PAYMENTS_OPERATOR } from "./domainFixtures";

/**
 * The behaviour every Store must have, whatever it runs on. A store implementation
 * registers itself with `describeStoreContract`; the embedded SQLite store does in
 * storeSqlite.spec.ts, and a PostgreSQL store must pass the same suite.
 */
export interface StoreHarness {
    store: Store;
    /** Closes the store and opens it again on the same durable data (a restart). */
    reopen(): Promise<Store>;
    /** Closes the store and deletes its data. */
    dispose(): Promise<void>;
}

export function describeStoreContract(name: string, factory: () => Promise<StoreHarness>): void {
    describe(`Store contract: ${name}`, () => {
        let h: StoreHarness;
        let store: Store;
        let clock: ManualClock;
        let n = 0;

        beforeEach(async () => {
            h = await factory();
            store = h.store;
            clock = new ManualClock();
        });
        afterEach(async () => h.dispose());

        const now = () => clock.iso();
        async function env(name: string, team = "payments", status: "pending" | "ready" = "pending", expiresAt: string | null = null) {
            return store.upsertEnvironment({ name, team, spec: { tier: "dev", team }, specHash: `hash-${name}`, status, expiresAt, now: now() });
        }
        async function enqueue(environment: string, kind: OperationKind = "update", specHash = "h1", team = "payments") {
            return store.enqueueOperation({ id: `op-${++n}`, environment, team, kind, specHash, requestedBy: "alice", maxAttempts: 3, now: now() });
        }
        const claim = (workerId = "w1", maxRunning = 10, leaseMs = 30_000) => claimOne(store, { workerId, leaseMs, maxRunning, now: now() });

        describe("environments", () => {
            it("stores, updates and reads an environment back", async () => {
                await env("pay-dev");
                const updated = await store.updateEnvironment("pay-dev", { status: "ready", outputs: { vaultUri: "https://x" }, lastOperationId: "op-9", now: clock.iso(1000) });
                assert.equal(updated.status, "ready");
                assert.deepEqual(updated.outputs, { vaultUri: "https://x" });
                assert.equal(updated.lastOperationId, "op-9");
                assert.equal(updated.updatedAt, clock.iso(1000));
                assert.deepEqual((await store.getEnvironment("pay-dev"))?.spec, { tier: "dev", team: "payments" });
                assert.equal(await store.getEnvironment("missing"), undefined);
            });

            it("clears outputs and TTL with null", async () => {
                await env("pay-dev", "payments", "ready", clock.iso(60_000));
                await store.updateEnvironment("pay-dev", { outputs: { a: 1 }, now: now() });
                const cleared = await store.updateEnvironment("pay-dev", { outputs: null, expiresAt: null, now: now() });
                assert.equal(cleared.outputs, undefined);
                assert.equal(cleared.expiresAt, undefined);
            });

            it("reports an update of a missing environment as NotFoundError", async () => {
                await assert.rejects(store.updateEnvironment("ghost", { status: "ready", now: now() }), NotFoundError);
            });

            it("removes an environment", async () => {
                await env("pay-dev");
                await store.removeEnvironment("pay-dev");
                assert.equal(await store.getEnvironment("pay-dev"), undefined);
            });

            it("pages through environments by name with an opaque cursor, without gaps or repeats", async () => {
                const names = ["e-07", "e-03", "e-01", "e-05", "e-02", "e-06", "e-04"];
                for (const name of names) await env(name);
                const seen: string[] = [];
                let cursor: string | undefined;
                let pages = 0;
                do {
                    const page = await store.listEnvironments({ limit: 3, cursor });
                    seen.push(...page.items.map((e) => e.name));
                    cursor = page.nextCursor;
                    pages++;
                } while (cursor);
                assert.deepEqual(seen, [...names].sort());
                assert.equal(pages, 3);
            });

            it("filters by team and status", async () => {
                await env("a-pay", "payments", "ready");
                await env("b-pay", "payments", "pending");
                await env("c-search", "search", "ready");
                assert.deepEqual((await store.listEnvironments({ limit: 10, team: "payments" })).items.map((e) => e.name), ["a-pay", "b-pay"]);
                assert.deepEqual((await store.listEnvironments({ limit: 10, status: "ready" })).items.map((e) => e.name), ["a-pay", "c-search"]);
                assert.deepEqual((await store.listEnvironments({ limit: 10, team: "search", status: "pending" })).items, []);
            });

            it("refuses a cursor it did not issue, naming the cursor", async () => {
                await assert.rejects(store.listEnvironments({ limit: 5, cursor: "not-a-cursor" }), (e: unknown) => e instanceof ValidationError && e.problems[0].path === "cursor");
            });

            it("lists environments whose TTL passed, once, and not while a destroy is pending", async () => {
                await env("old-one", "payments", "ready", clock.iso(-1_000));
                await env("fresh-one", "payments", "ready", clock.iso(60_000));
                await env("no-ttl", "payments", "ready", null);
                assert.deepEqual((await store.listExpiredEnvironments(now(), 10)).map((e) => e.name), ["old-one"]);
                await enqueue("old-one", "destroy");
                assert.deepEqual(await store.listExpiredEnvironments(now(), 10), []);
            });

            it("tracks whether a stack needs recovery before its next run", async () => {
                await env("pay-dev");
                assert.equal(await store.isRecoveryPending("pay-dev"), false);
                await store.transaction((tx) => tx.setRecoveryPending("pay-dev", true));
                assert.equal(await store.isRecoveryPending("pay-dev"), true);
                assert.equal(await store.transaction((tx) => tx.isRecoveryPending("pay-dev")), true);
                // Inside one transaction, a read after the environment's row was read, and after the flag was written.
                assert.deepEqual(await store.transaction(async (tx) => {
                    await tx.getEnvironment("pay-dev");
                    const read = await tx.isRecoveryPending("pay-dev");
                    await tx.setRecoveryPending("pay-dev", false);
                    return [read, await tx.isRecoveryPending("pay-dev")];
                }), [true, false]);
                await store.setRecoveryPending("pay-dev", true);
                await store.setRecoveryPending("pay-dev", false);
                assert.equal(await store.isRecoveryPending("pay-dev"), false);
            });
        });

        describe("queue", () => {
            it("collapses a redundant update into the one already queued for the environment", async () => {
                await env("pay-dev");
                const first = await enqueue("pay-dev", "update", "h1");
                const second = await store.enqueueOperation({ id: "op-x", environment: "pay-dev", team: "payments", kind: "update", specHash: "h2", requestedBy: "bob", maxAttempts: 3, now: now() });
                assert.equal(first.collapsed, false);
                assert.equal(second.collapsed, true);
                assert.equal(second.operation.id, first.operation.id);
                assert.equal(second.operation.specHash, "h2");
                assert.equal(second.operation.requestedBy, "bob");
                assert.equal((await store.listActiveOperations("pay-dev")).length, 1);
            });

            it("does not collapse into a running update, nor across environments or kinds", async () => {
                await env("pay-dev");
                await env("pay-stg");
                await enqueue("pay-dev");
                await claim();
                assert.equal((await enqueue("pay-dev")).collapsed, false);
                assert.equal((await enqueue("pay-stg")).collapsed, false);
                assert.equal((await enqueue("pay-stg", "preview")).collapsed, false);
                assert.equal((await enqueue("pay-stg", "preview")).collapsed, false);
            });

            it("keeps a preview's proposed spec with the operation, through a claim and a restart", async () => {
                const proposed = { tier: "staging", location: "westeurope", team: "payments", cosmos: { enabled: true } };
                const { operation } = await store.enqueueOperation({ id: "op-p", environment: "pay-new", team: "payments", kind: "preview", specHash: "hp", proposedSpec: proposed, requestedBy: "alice", maxAttempts: 3, now: now() });
                assert.deepEqual(operation.proposedSpec, proposed);
                assert.equal((await enqueue("pay-dev", "preview")).operation.proposedSpec, undefined, "a preview of the stored spec has none");
                const claimed = await claim();
                assert.equal(claimed?.id, "op-p");
                assert.deepEqual(claimed?.proposedSpec, proposed);
                store = await h.reopen();
                assert.deepEqual((await store.getOperation("op-p"))?.proposedSpec, proposed);
            });

            it("claims the oldest queued operation, sets the lease and counts the attempt", async () => {
                await env("pay-dev");
                const { operation } = await enqueue("pay-dev");
                const claimed = await claim("w1", 10, 30_000);
                assert.equal(claimed?.id, operation.id);
                assert.equal(claimed?.state, "running");
                assert.equal(claimed?.attempt, 1);
                assert.equal(claimed?.leaseOwner, "w1");
                assert.equal(claimed?.leaseExpiresAt, clock.iso(30_000));
                assert.equal(claimed?.startedAt, now());
                assert.equal(await claim(), undefined);
            });

            it("never runs two operations of one environment at once, and keeps their order", async () => {
                await env("pay-dev");
                await env("pay-stg");
                const a1 = await enqueue("pay-dev");
                const a2 = await enqueue("pay-dev", "preview");
                const b1 = await enqueue("pay-stg");
                assert.equal((await claim())?.id, a1.operation.id);
                assert.equal((await claim())?.id, b1.operation.id);
                assert.equal(await claim(), undefined, "pay-dev's second operation must wait for the first");
                await store.finishOperation({ id: a1.operation.id, workerId: "w1", state: "succeeded", now: now() });
                assert.equal((await claim())?.id, a2.operation.id);
            });

            it("respects the global cap on running operations", async () => {
                for (const e of ["e-aa", "e-bb", "e-cc"]) {
                    await env(e);
                    await enqueue(e);
                }
                assert.ok(await claim("w1", 2));
                assert.ok(await claim("w2", 2));
                assert.equal(await claim("w3", 2), undefined);
            });

            it("hands each operation to exactly one of many concurrent claimers", async () => {
                for (let i = 0; i < 5; i++) {
                    await env(`env-${i}`);
                    await enqueue(`env-${i}`);
                }
                const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => claim(`w${i}`, 3)));
                const won = claims.filter((c): c is Operation => c !== undefined);
                assert.equal(won.length, 3);
                assert.equal(new Set(won.map((c) => c.id)).size, 3);
            });

            it("never records a claimed run's start before the environment's last change, however early the claim read its clock", async () => {
                await env("pay-dev");
                await enqueue("pay-dev");
                // The run before this one ended, and changed the environment, after the claimer read the time.
                await store.updateEnvironment("pay-dev", { status: "ready", now: clock.iso(5_000) });
                assert.equal((await claim())?.startedAt, clock.iso(5_000));
                await env("pay-prod");
                await enqueue("pay-prod");
                clock.advance(60_000);
                assert.equal((await claim())?.startedAt, clock.iso(), "a later claim keeps its own time");
            });

            it("claims up to its limit in one call, oldest first, one per environment, within the global cap", async () => {
                for (const e of ["e-aa", "e-bb", "e-cc", "e-dd"]) await env(e);
                const order = [await enqueue("e-aa"), await enqueue("e-aa", "preview"), await enqueue("e-bb"), await enqueue("e-cc"), await enqueue("e-dd")].map((r) => r.operation.id);
                const request = { workerId: "w1", leaseMs: 30_000, now: now() };
                const first = await store.claim({ ...request, maxRunning: 10, limit: 3 }, async (_tx, op) => op);
                assert.deepEqual(first.map((o) => o.id), [order[0], order[2], order[3]], "the second operation of e-aa waits behind the first");
                assert.ok(first.every((o) => o.state === "running" && o.attempt === 1 && o.leaseOwner === "w1"));
                // Four running would pass the cap of 4 only by one: one more is claimed, whatever the limit.
                const second = await store.claim({ ...request, maxRunning: 4, limit: 3 }, async (_tx, op) => op);
                assert.deepEqual(second.map((o) => o.id), [order[4]]);
                assert.deepEqual(await store.claim({ ...request, maxRunning: 10, limit: 3 }, async (_tx, op) => op), []);
            });

            it("runs each claim's start inside the claim's transaction: what it writes commits with the claim", async () => {
                await env("pay-dev");
                await env("pay-stg");
                const a = (await enqueue("pay-dev")).operation;
                const b = (await enqueue("pay-stg")).operation;
                const started = await store.claim({ workerId: "w1", leaseMs: 30_000, maxRunning: 10, limit: 2, now: now() }, async (tx, op) => {
                    // Inside the transaction, the claim is already visible.
                    assert.equal((await tx.getOperation(op.id))?.state, "running");
                    await tx.updateEnvironment(op.environment, { status: "provisioning", now: now() });
                    return (await tx.appendEvents(op.id, [{ type: "state", data: { state: "running" }, at: now() }]))[0].seq;
                });
                assert.deepEqual(started, [1, 1]);
                for (const [op, environment] of [[a, "pay-dev"], [b, "pay-stg"]] as const) {
                    assert.equal((await store.getEnvironment(environment))?.status, "provisioning");
                    assert.deepEqual((await store.listEvents(op.id, 0, 10)).map((e) => e.type), ["state"]);
                }
            });

            it("takes back every claim of a call whose start fails, and its writes with them", async () => {
                await env("pay-dev");
                await env("pay-stg");
                await enqueue("pay-dev");
                await enqueue("pay-stg");
                let starts = 0;
                await assert.rejects(store.claim({ workerId: "w1", leaseMs: 30_000, maxRunning: 10, limit: 2, now: now() }, async (tx, op) => {
                    await tx.updateEnvironment(op.environment, { status: "provisioning", now: now() });
                    if (++starts === 2) throw new Error("start failed");
                    return op;
                }), /start failed/);
                assert.equal(starts, 2);
                for (const environment of ["pay-dev", "pay-stg"]) {
                    const [op] = await store.listActiveOperations(environment);
                    assert.equal(op.state, "queued");
                    assert.equal(op.attempt, 0);
                    assert.equal((await store.getEnvironment(environment))?.status, "pending");
                }
                assert.equal((await claim())?.environment, "pay-dev", "the queue is as it was");
            });

            it("waits for notBefore, and keeps later operations of that environment behind it", async () => {
                await env("pay-dev");
                const first = await enqueue("pay-dev");
                await enqueue("pay-dev", "preview");
                await claim();
                await store.requeueOperation({ id: first.operation.id, workerId: "w1", notBefore: clock.iso(10_000), error: { code: "throttled", message: "slow down" }, now: now() });
                assert.equal(await claim(), undefined);
                clock.advance(10_001);
                const again = await claim();
                assert.equal(again?.id, first.operation.id);
                assert.equal(again?.attempt, 2);
                assert.equal(again?.notBefore, undefined);
            });

            it("turns a lapsed lease into interrupted, flags the stack, and blocks the environment until recovered", async () => {
                await env("pay-dev");
                const { operation } = await enqueue("pay-dev");
                await enqueue("pay-dev", "preview");
                await claim("w1", 10, 1_000);
                assert.deepEqual(await store.reclaimExpiredLeases(clock.iso(500)), [], "a live lease is left alone");
                const reclaimed = await store.reclaimExpiredLeases(clock.iso(1_001));
                assert.deepEqual(reclaimed.map((o) => [o.id, o.state]), [[operation.id, "interrupted"]]);
                assert.equal(await store.isRecoveryPending("pay-dev"), true);
                assert.equal(await claim(), undefined, "nothing else runs there while an operation is interrupted");
                assert.deepEqual((await store.renewLease(operation.id, "w1", 1_000, now())).owned, false);
                await assert.rejects(store.finishOperation({ id: operation.id, workerId: "w1", state: "succeeded", now: now() }), ConflictError);
                const requeued = await store.requeueOperation({ id: operation.id, notBefore: now(), now: now() });
                assert.equal(requeued.state, "queued");
                assert.equal((await claim())?.id, operation.id);
            });

            it("reclaims live leases too when asked (an exclusive store at start)", async () => {
                await env("pay-dev");
                await enqueue("pay-dev");
                await claim("w1", 10, 60_000);
                assert.equal((await store.reclaimExpiredLeases(now(), { includeLive: true })).length, 1);
                assert.deepEqual((await store.listOperationsByState("interrupted", 10)).length, 1);
            });

            it("renews a lease only for its holder and reports a cancel request", async () => {
                await env("pay-dev");
                const { operation } = await enqueue("pay-dev");
                await claim("w1", 10, 1_000);
                assert.deepEqual(await store.renewLease(operation.id, "w2", 1_000, now()), { owned: false, cancelRequested: false });
                assert.deepEqual(await store.renewLease(operation.id, "w1", 5_000, now()), { owned: true, cancelRequested: false });
                assert.equal((await store.getOperation(operation.id))?.leaseExpiresAt, clock.iso(5_000));
                const flagged = await store.requestCancel(operation.id, now());
                assert.equal(flagged.state, "running");
                assert.equal(flagged.cancelRequested, true);
                assert.deepEqual(await store.renewLease(operation.id, "w1", 5_000, now()), { owned: true, cancelRequested: true });
            });

            it("cancels a queued operation at once, leaves a canceled one alone, and refuses a finished one", async () => {
                await env("pay-dev");
                const { operation } = await enqueue("pay-dev");
                const canceled = await store.requestCancel(operation.id, clock.iso(5));
                assert.equal(canceled.state, "canceled");
                assert.equal(canceled.finishedAt, clock.iso(5));
                assert.equal((await store.requestCancel(operation.id, now())).state, "canceled");
                const other = await enqueue("pay-dev");
                await claim();
                await store.finishOperation({ id: other.operation.id, workerId: "w1", state: "succeeded", summary: { create: 3 }, now: now() });
                await assert.rejects(store.requestCancel(other.operation.id, now()), ConflictError);
                await assert.rejects(store.requestCancel("nope", now()), NotFoundError);
            });

            it("finishes with summary or error, only by the lease holder, and only along the state machine", async () => {
                await env("pay-dev");
                const { operation } = await enqueue("pay-dev");
                await claim();
                await assert.rejects(store.finishOperation({ id: operation.id, workerId: "w2", state: "succeeded", now: now() }), ConflictError);
                const failed = await store.finishOperation({ id: operation.id, workerId: "w1", state: "failed", error: { code: "policy_violation", message: "no", details: [{ policy: "p" }] }, now: clock.iso(9) });
                assert.equal(failed.state, "failed");
                assert.equal(failed.finishedAt, clock.iso(9));
                assert.deepEqual(failed.error, { code: "policy_violation", message: "no", details: [{ policy: "p" }] });
                assert.equal(failed.leaseOwner, undefined);
                await assert.rejects(store.requeueOperation({ id: operation.id, notBefore: now(), now: now() }), IllegalTransitionError);
                await assert.rejects(store.failInterrupted(operation.id, { code: "x", message: "y" }, now()), IllegalTransitionError);
            });

            it("counts operations by kind and state", async () => {
                await env("pay-dev");
                await env("pay-stg");
                await enqueue("pay-dev");
                await enqueue("pay-stg");
                await enqueue("pay-stg", "preview");
                await claim();
                const counts = await store.countOperations();
                const count = (kind: string, state: string) => counts.find((c) => c.kind === kind && c.state === state)?.count ?? 0;
                assert.equal(count("update", "running"), 1);
                assert.equal(count("update", "queued"), 1);
                assert.equal(count("preview", "queued"), 1);
            });

            it("lists an environment's operations newest first", async () => {
                await env("pay-dev");
                const a = await enqueue("pay-dev", "preview");
                const b = await enqueue("pay-dev", "refresh");
                assert.deepEqual((await store.listOperations("pay-dev", 10)).map((o) => o.id), [b.operation.id, a.operation.id]);
                assert.equal((await store.listOperations("pay-dev", 1)).length, 1);
            });
        });

        describe("events, audit and idempotency", () => {
            it("numbers events per operation from 1 and lists those after a sequence number", async () => {
                for (let i = 0; i < 5; i++) await store.appendEvent("op-a", { type: "t", data: { i }, at: now() });
                await store.appendEvent("op-b", { type: "t", data: {}, at: now() });
                const all = await store.listEvents("op-a", 0, 100);
                assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5]);
                assert.deepEqual(all.map((e) => (e.data as { i: number }).i), [0, 1, 2, 3, 4]);
                assert.deepEqual((await store.listEvents("op-a", 3, 100)).map((e) => e.seq), [4, 5]);
                assert.deepEqual((await store.listEvents("op-a", 0, 2)).map((e) => e.seq), [1, 2]);
                assert.deepEqual((await store.listEvents("op-b", 0, 100)).map((e) => e.seq), [1]);
            });

            it("appends a batch of events in order after those already stored, numbered consecutively", async () => {
                await store.appendEvent("op-a", { type: "first", data: null, at: now() });
                const batch = await store.appendEvents("op-a", ["x", "y", "z"].map((type, i) => ({ type, data: { i }, at: now() })));
                assert.deepEqual(batch.map((e) => [e.seq, e.type]), [[2, "x"], [3, "y"], [4, "z"]]);
                assert.deepEqual((await store.listEvents("op-a", 0, 100)).map((e) => [e.seq, e.type, e.data]),
                    [[1, "first", null], [2, "x", { i: 0 }], [3, "y", { i: 1 }], [4, "z", { i: 2 }]]);
                assert.deepEqual(await store.appendEvents("op-a", []), []);
                assert.equal((await store.appendEvent("op-a", { type: "last", data: null, at: now() })).seq, 5);
            });

            it("appends the bursts of several operations together, each numbered after its own events", async () => {
                await store.appendEvent("op-a", { type: "first", data: null, at: now() });
                const stored = await store.appendEventBursts([
                    { operationId: "op-a", events: [{ type: "x", data: 1, at: now() }, { type: "y", data: 2, at: now() }] },
                    { operationId: "op-b", events: [{ type: "z", data: 3, at: now() }] },
                    { operationId: "op-c", events: [] },
                ]);
                assert.deepEqual(stored.map((list) => list.map((e) => [e.operationId, e.seq, e.type])), [[["op-a", 2, "x"], ["op-a", 3, "y"]], [["op-b", 1, "z"]], []]);
                assert.deepEqual((await store.listEvents("op-a", 0, 100)).map((e) => e.type), ["first", "x", "y"]);
                assert.deepEqual((await store.listEvents("op-b", 0, 100)).map((e) => e.data), [3]);
            });

            it("numbers two bursts of one operation in one call in the order given, around another operation's", async () => {
                const stored = await store.appendEventBursts([
                    { operationId: "op-a", events: [{ type: "a1", data: null, at: now() }] },
                    { operationId: "op-b", events: [{ type: "b1", data: null, at: now() }, { type: "b2", data: null, at: now() }] },
                    { operationId: "op-a", events: [{ type: "a2", data: null, at: now() }, { type: "a3", data: null, at: now() }] },
                ]);
                assert.deepEqual(stored.map((list) => list.map((e) => `${e.operationId}:${e.seq}:${e.type}`)), [["op-a:1:a1"], ["op-b:1:b1", "op-b:2:b2"], ["op-a:2:a2", "op-a:3:a3"]]);
                assert.deepEqual((await store.listEvents("op-a", 0, 100)).map((e) => e.type), ["a1", "a2", "a3"]);
                assert.deepEqual(await store.appendEventBursts([{ operationId: "op-a", events: [] }]), [[]]);
                assert.equal((await store.appendEvent("op-a", { type: "a4", data: null, at: now() })).seq, 4);
            });

            it("pages through the audit log newest first, without gaps or repeats", async () => {
                for (let i = 0; i < 7; i++) {
                    await store.appendAudit({ id: `a-${i}`, at: now(), actor: i % 2 ? ADMIN : PAYMENTS_OPERATOR, action: "environment.put", target: `env-${i}`, outcome: "accepted", details: { i } });
                }
                const seen: string[] = [];
                let cursor: string | undefined;
                do {
                    const page = await store.listAudit({ limit: 3, cursor });
                    seen.push(...page.items.map((a) => a.id));
                    cursor = page.nextCursor;
                } while (cursor);
                assert.deepEqual(seen, ["a-6", "a-5", "a-4", "a-3", "a-2", "a-1", "a-0"]);
                const [latest] = (await store.listAudit({ limit: 1 })).items;
                assert.deepEqual(latest.actor, PAYMENTS_OPERATOR, "entry 6 was written by the operator");
                assert.deepEqual(latest.details, { i: 6 });
                await assert.rejects(store.listAudit({ limit: 3, cursor: "garbage" }), ValidationError);
            });

            it("remembers an idempotency record per caller and key, and purges old ones", async () => {
                await store.putIdempotency({ scope: "alice", key: "k1", requestHash: "r1", response: { status: 202 }, createdAt: clock.iso(-10_000) });
                await store.putIdempotency({ scope: "bob", key: "k1", requestHash: "r2", response: { status: 200 }, createdAt: now() });
                assert.deepEqual((await store.getIdempotency("alice", "k1"))?.response, { status: 202 });
                assert.equal((await store.getIdempotency("bob", "k1"))?.requestHash, "r2");
                assert.equal(await store.getIdempotency("carol", "k1"), undefined);
                await assert.rejects(store.putIdempotency({ scope: "alice", key: "k1", requestHash: "r3", response: {}, createdAt: now() }));
                assert.equal(await store.purgeIdempotency(clock.iso(-1)), 1);
                assert.equal(await store.getIdempotency("alice", "k1"), undefined);
            });
        });

        describe("transactions and durability", () => {
            it("rolls back every write of a transaction that throws", async () => {
                await assert.rejects(store.transaction(async (tx) => {
                    await tx.upsertEnvironment({ name: "pay-dev", team: "payments", spec: {}, specHash: "h", status: "pending", expiresAt: null, now: now() });
                    await tx.enqueueOperation({ id: "op-t", environment: "pay-dev", team: "payments", kind: "update", requestedBy: "a", maxAttempts: 3, now: now() });
                    await tx.appendAudit({ id: "au-t", at: now(), actor: ADMIN, action: "x", target: "pay-dev", outcome: "accepted" });
                    throw new Error("boom");
                }), /boom/);
                assert.equal(await store.getEnvironment("pay-dev"), undefined);
                assert.equal(await store.getOperation("op-t"), undefined);
                assert.deepEqual((await store.listAudit({ limit: 10 })).items, []);
            });

            it("keeps concurrent transactions apart", async () => {
                await env("pay-dev");
                // Each transaction reads, yields, then writes: interleaving would lose increments.
                await Promise.all(Array.from({ length: 10 }, () => store.transaction(async (tx) => {
                    const current = await tx.getEnvironment("pay-dev");
                    await new Promise((r) => setImmediate(r));
                    const count = Number((current?.outputs as { count?: number } | undefined)?.count ?? 0);
                    await tx.updateEnvironment("pay-dev", { outputs: { count: count + 1 }, now: now() });
                })));
                assert.deepEqual((await store.getEnvironment("pay-dev"))?.outputs, { count: 10 });
            });

            it("keeps everything across a restart", async () => {
                await env("pay-dev", "payments", "ready", clock.iso(3_600_000));
                const queued = await enqueue("pay-dev");
                await claim();
                await store.appendEvent(queued.operation.id, { type: "resource-pre", data: { urn: "u" }, at: now() });
                await store.appendAudit({ id: "au-1", at: now(), actor: PAYMENTS_OPERATOR, action: "environment.put", target: "pay-dev", outcome: "accepted" });
                await store.putIdempotency({ scope: "alice", key: "k", requestHash: "r", response: { status: 202 }, createdAt: now() });
                const before = await store.getOperation(queued.operation.id);

                store = await h.reopen();

                assert.equal((await store.getEnvironment("pay-dev"))?.expiresAt, clock.iso(3_600_000));
                assert.deepEqual(await store.getOperation(queued.operation.id), before);
                assert.equal((await store.listEvents(queued.operation.id, 0, 10)).length, 1);
                assert.equal((await store.listAudit({ limit: 10 })).items[0].id, "au-1");
                assert.equal((await store.getIdempotency("alice", "k"))?.requestHash, "r");
                assert.equal((await store.appendEvent(queued.operation.id, { type: "t", data: null, at: now() })).seq, 2);
            });

            it("reports itself ready", async () => {
                const r = await store.readiness();
                assert.equal(r.ok, true, r.detail);
            });
        });
    });
}
