import { strict as assert } from "node:assert";
import { ConflictError, ForbiddenError, NotFoundError, PreconditionFailedError, ValidationError } from "../../automation/domain/errors";
import { STATE_EVENT } from "../../automation/domain/eventHub";
import type { OperationEvent } from "../../automation/domain/ports";
import { EnvironmentService } from "../../automation/domain/service";
import type { Store } from "../../automation/domain/store";
import { TestDoubleEngine } from "../../automation/engine/testDouble";
import { openSqliteStore } from "../../automation/store/sqlite";
import { ADMIN, claimOne, desired, ManualClock, PAYMENTS_OPERATOR, PAYMENTS_READER, SEARCH_OPERATOR, sequentialIds, tempDir, validSpec } from "./domainFixtures";

describe("EnvironmentService", () => {
    let dir: ReturnType<typeof tempDir>;
    let store: Store;
    let clock: ManualClock;
    let service: EnvironmentService;

    beforeEach(async () => {
        dir = tempDir("service");
        store = await openSqliteStore({ dataDir: dir.path });
        clock = new ManualClock();
        service = new EnvironmentService({ store, engine: new TestDoubleEngine(), clock, ids: sequentialIds() });
    });
    afterEach(async () => {
        await store.close();
        dir.remove();
    });

    /** Marks the environment's queued update as applied, as the worker would. */
    async function markApplied(name: string) {
        const op = await claimOne(store, { workerId: "w", leaseMs: 60_000, maxRunning: 10, now: clock.iso() });
        assert.ok(op, "an operation should have been queued");
        await store.finishOperation({ id: op.id, workerId: "w", state: "succeeded", now: clock.iso() });
        await store.updateEnvironment(name, { status: "ready", now: clock.iso() });
    }

    async function auditActions() {
        return (await store.listAudit({ limit: 100 })).items.map((a) => `${a.actor.subject} ${a.action} ${a.target} ${a.outcome}`);
    }

    describe("putEnvironment", () => {
        it("stores a new environment as pending, queues an update and audits the actor", async () => {
            const result = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()), undefined, { requestId: "req-1" });
            assert.equal(result.status, 202);
            assert.equal(result.operation?.kind, "update");
            assert.equal(result.operation?.state, "queued");
            assert.equal(result.operation?.requestedBy, "alice");
            assert.equal(result.environment.status, "pending");
            assert.equal(result.environment.specHash, desired("payments-dev", validSpec()).hash);
            assert.equal(result.environment.lastOperation?.id, result.operation?.id);
            const [entry] = (await store.listAudit({ limit: 1 })).items;
            assert.deepEqual([entry.actor, entry.action, entry.target, entry.outcome, entry.requestId], [PAYMENTS_OPERATOR, "environment.put", "payments-dev", "accepted", "req-1"]);
            const events = await store.listEvents(result.operation!.id, 0, 10);
            assert.deepEqual(events.map((e) => [e.type, (e.data as { state: string }).state]), [[STATE_EVENT, "queued"]]);
        });

        it("answers 200 with no operation when the same spec is applied and nothing is pending", async () => {
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await markApplied("payments-dev");
            const again = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            assert.equal(again.status, 200);
            assert.equal(again.operation, undefined);
            assert.equal(again.environment.status, "ready");
            assert.equal((await store.listOperations("payments-dev", 10)).length, 1);
        });

        it("returns the pending update for the same spec instead of queuing another", async () => {
            const first = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            const second = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            assert.equal(second.status, 202);
            assert.equal(second.operation?.id, first.operation?.id);
        });

        it("collapses a changed spec into the update still queued", async () => {
            const first = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            const changed = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec({ cosmos: { enabled: true } })));
            assert.equal(changed.operation?.id, first.operation?.id);
            assert.equal(changed.operation?.specHash, desired("payments-dev", validSpec({ cosmos: { enabled: true } })).hash);
            assert.equal((await store.listOperations("payments-dev", 10)).length, 1);
        });

        it("queues a new update for the same spec after a failed one", async () => {
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            const op = await claimOne(store, { workerId: "w", leaseMs: 60_000, maxRunning: 10, now: clock.iso() });
            await store.finishOperation({ id: op!.id, workerId: "w", state: "failed", error: { code: "failed", message: "x" }, now: clock.iso() });
            await store.updateEnvironment("payments-dev", { status: "failed", now: clock.iso() });
            const retry = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            assert.equal(retry.status, 202);
            assert.notEqual(retry.operation?.id, op!.id);
        });

        it("replays the first response for a repeated Idempotency-Key and refuses it with another body", async () => {
            const first = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()), "key-1");
            await markApplied("payments-dev");
            const replay = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()), "key-1");
            assert.deepEqual(replay, { ...JSON.parse(JSON.stringify(first)), replayed: true });
            assert.equal(first.replayed, undefined, "a first answer is not a replay");
            await assert.rejects(service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec({ ttlHours: 5 })), "key-1"), PreconditionFailedError);
            // Another caller's identical key is a different key.
            const other = await service.putEnvironment(ADMIN, desired("payments-dev", validSpec({ ttlHours: 5 })), "key-1");
            assert.equal(other.status, 202);
            await assert.rejects(service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()), "has spaces"), (e: unknown) => e instanceof ValidationError && e.problems[0].path === "Idempotency-Key");
        });

        it("sets the TTL from ttlHours, keeps it for the same spec, and clears it when ttlHours goes", async () => {
            const created = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec({ ttlHours: 2 })));
            assert.equal(created.environment.expiresAt, clock.iso(2 * 3_600_000));
            clock.advance(60_000);
            const same = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec({ ttlHours: 2 })));
            assert.equal(same.environment.expiresAt, clock.iso(2 * 3_600_000 - 60_000));
            const changed = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec({ ttlHours: 3 })));
            assert.equal(changed.environment.expiresAt, clock.iso(3 * 3_600_000));
            const spec = validSpec();
            delete spec.ttlHours;
            assert.equal((await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", spec))).environment.expiresAt, undefined);
        });

        it("enforces roles and team ownership, and audits each refusal", async () => {
            await assert.rejects(service.putEnvironment(PAYMENTS_READER, desired("payments-dev", validSpec())), ForbiddenError);
            await assert.rejects(service.putEnvironment(PAYMENTS_OPERATOR, desired("search-dev", validSpec({ team: "search" }))), ForbiddenError);
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await assert.rejects(service.putEnvironment(SEARCH_OPERATOR, desired("payments-dev", validSpec())), ForbiddenError);
            await assert.rejects(service.putEnvironment({ subject: "x", role: "operator" }, desired("payments-dev", validSpec())), ForbiddenError);
            const admin = await service.putEnvironment(ADMIN, desired("search-dev", validSpec({ team: "search" })));
            assert.equal(admin.environment.team, "search");
            const actions = await auditActions();
            assert.ok(actions.includes("rita environment.put payments-dev rejected"));
            assert.ok(actions.includes("bob environment.put payments-dev rejected"));
            assert.ok(actions.includes("admin-1 environment.put search-dev accepted"));
        });

        it("never sees a bad spec: the edge refuses it, naming the field, before anything is stored", async () => {
            assert.throws(() => desired("payments-dev", validSpec({ tier: "qa" })), (e: unknown) => e instanceof ValidationError && e.problems[0].path === "tier");
            assert.equal(await store.getEnvironment("payments-dev"), undefined);
            assert.deepEqual(await store.countOperations(), []);
        });

        it("refuses a new spec while the environment is being destroyed", async () => {
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await service.deleteEnvironment(PAYMENTS_OPERATOR, "payments-dev");
            await assert.rejects(service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec())), ConflictError);
        });
    });

    describe("reads", () => {
        it("redacts secret outputs, nested ones too, and includes the last operation", async () => {
            const put = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await store.updateEnvironment("payments-dev", { outputs: { vaultUri: "https://kv/", diagnostics: { connectionString: "AccountKey=s3cr3t" } }, now: clock.iso() });
            const view = await service.getEnvironment(PAYMENTS_READER, "payments-dev");
            assert.deepEqual(view.outputs, { vaultUri: "https://kv/", diagnostics: { connectionString: "[secret]" } });
            assert.equal(view.lastOperation?.id, put.operation?.id);
            assert.ok(!JSON.stringify(view).includes("s3cr3t"));
        });

        it("hides other teams' environments and operations as not found", async () => {
            const put = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await assert.rejects(service.getEnvironment(SEARCH_OPERATOR, "payments-dev"), NotFoundError);
            await assert.rejects(service.getOperation(SEARCH_OPERATOR, put.operation!.id), NotFoundError);
            await assert.rejects(service.listEvents(SEARCH_OPERATOR, put.operation!.id), NotFoundError);
            await assert.rejects(service.cancelOperation(SEARCH_OPERATOR, put.operation!.id), NotFoundError);
            await assert.rejects(service.requestOperation(SEARCH_OPERATOR, "payments-dev", "preview"), NotFoundError);
            await assert.rejects(service.deleteEnvironment(SEARCH_OPERATOR, "payments-dev"), NotFoundError);
            assert.equal((await service.getEnvironment(ADMIN, "payments-dev")).team, "payments");
        });

        it("lists only the caller's team, filters by status, and pages", async () => {
            for (const name of ["payments-a", "payments-b", "payments-c"]) await service.putEnvironment(PAYMENTS_OPERATOR, desired(name, validSpec()));
            await service.putEnvironment(SEARCH_OPERATOR, desired("search-a", validSpec({ team: "search" })));
            const page1 = await service.listEnvironments(PAYMENTS_READER, { limit: 2 });
            assert.deepEqual(page1.items.map((e) => e.name), ["payments-a", "payments-b"]);
            const page2 = await service.listEnvironments(PAYMENTS_READER, { limit: 2, cursor: page1.nextCursor });
            assert.deepEqual(page2.items.map((e) => e.name), ["payments-c"]);
            assert.equal(page2.nextCursor, undefined);
            assert.equal((await service.listEnvironments(ADMIN)).items.length, 4);
            assert.deepEqual((await service.listEnvironments(ADMIN, { team: "search" })).items.map((e) => e.name), ["search-a"]);
            assert.deepEqual((await service.listEnvironments(ADMIN, { status: "ready" })).items, []);
            await assert.rejects(service.listEnvironments(PAYMENTS_READER, { team: "search" }), ForbiddenError);
            await assert.rejects(service.listEnvironments(ADMIN, { limit: 101 }), (e: unknown) => e instanceof ValidationError && e.problems[0].path === "limit");
            await assert.rejects(service.listEnvironments(ADMIN, { status: "sleeping" }), (e: unknown) => e instanceof ValidationError && e.problems[0].path === "status");
        });

        it("keeps the audit log to admins", async () => {
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await assert.rejects(service.listAudit(PAYMENTS_OPERATOR), ForbiddenError);
            const page = await service.listAudit(ADMIN, { limit: 10 });
            assert.equal(page.items[0].action, "environment.put");
        });

        it("combines the engine's and the store's readiness", async () => {
            const r = await service.readiness();
            assert.equal(r.ok, true);
            assert.deepEqual(r.checks.map((c) => c.name), ["engine", "store"]);
        });

        it("counts operations and the queue depth for metrics", async () => {
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-a", validSpec()));
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-b", validSpec()));
            const stats = await service.operationStats();
            assert.equal(stats.queueDepth, 2);
            assert.deepEqual(stats.counts, [{ kind: "update", state: "queued", count: 2 }]);
        });
    });

    describe("operations", () => {
        it("queues a preview and a refresh of the stored spec, but not on a destroyed environment", async () => {
            await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            const preview = await service.requestOperation(PAYMENTS_OPERATOR, "payments-dev", "preview");
            const refresh = await service.requestOperation(PAYMENTS_OPERATOR, "payments-dev", "refresh");
            assert.deepEqual([preview.kind, refresh.kind], ["preview", "refresh"]);
            await assert.rejects(service.requestOperation(PAYMENTS_READER, "payments-dev", "preview"), ForbiddenError);
            await store.updateEnvironment("payments-dev", { status: "destroyed", now: clock.iso() });
            await assert.rejects(service.requestOperation(PAYMENTS_OPERATOR, "payments-dev", "refresh"), ConflictError);
            await assert.rejects(service.requestOperation(PAYMENTS_OPERATOR, "nothing-here", "refresh"), NotFoundError);
        });

        it("cancels what was queued when a destroy is requested, and returns the same destroy twice", async () => {
            const put = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            const destroy = await service.deleteEnvironment(PAYMENTS_OPERATOR, "payments-dev");
            assert.equal(destroy.kind, "destroy");
            assert.equal((await store.getOperation(put.operation!.id))?.state, "canceled");
            assert.equal((await service.deleteEnvironment(PAYMENTS_OPERATOR, "payments-dev")).id, destroy.id);
            await store.updateEnvironment("payments-dev", { status: "destroyed", now: clock.iso() });
            await assert.rejects(service.deleteEnvironment(PAYMENTS_OPERATOR, "payments-dev"), ConflictError);
        });

        it("cancels a queued operation at once and tells live subscribers", async () => {
            const put = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            const seen: OperationEvent[] = [];
            const unsubscribe = service.subscribe(put.operation!.id, (e) => seen.push(e));
            const canceled = await service.cancelOperation(PAYMENTS_OPERATOR, put.operation!.id);
            unsubscribe();
            assert.equal(canceled.state, "canceled");
            assert.deepEqual(seen.map((e) => [e.seq, (e.data as { state: string }).state]), [[2, "canceled"]]);
            assert.deepEqual((await service.listEvents(PAYMENTS_READER, put.operation!.id, 1)).map((e) => e.seq), [2]);
            assert.equal(service.hub.subscriberCount(), 0);
        });

        it("flags a running operation for cancellation and wakes its worker", async () => {
            const put = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await claimOne(store, { workerId: "w", leaseMs: 60_000, maxRunning: 10, now: clock.iso() });
            const asked: string[] = [];
            service.hub.onCancelRequested((id) => asked.push(id));
            const flagged = await service.cancelOperation(PAYMENTS_OPERATOR, put.operation!.id);
            assert.equal(flagged.state, "running");
            assert.equal(flagged.cancelRequested, true);
            assert.deepEqual(asked, [put.operation!.id]);
            assert.ok((await auditActions()).includes(`alice operation.cancel ${put.operation!.id} accepted`));
        });

        it("refuses to cancel a finished operation", async () => {
            const put = await service.putEnvironment(PAYMENTS_OPERATOR, desired("payments-dev", validSpec()));
            await markApplied("payments-dev");
            await assert.rejects(service.cancelOperation(PAYMENTS_OPERATOR, put.operation!.id), ConflictError);
        });
    });
});
