import { strict as assert } from "node:assert";
import request from "supertest";
import { TERMINAL_STATES, type Actor } from "../../automation/domain/ports";
import { bearer, spec, startHarness, TOKENS, type Harness } from "./httpHarness";

const ADMIN: Actor = { subject: "test", role: "admin" };

/**
 * A dry run shows a spec's plan before anything is applied: on the offline engine the preview
 * runs the real program with the spec from the request, while the stored spec stays as it was.
 */

interface Op { id: string; kind: string; state: string; error?: { message: string } }

/** Resolves on the operation's final state, woken by its own events rather than by polling. */
function finished(h: Harness, id: string): Promise<Op> {
    return new Promise((resolve, reject) => {
        const check = () => h.service.getOperation(ADMIN, id).then((op) => {
            if (!TERMINAL_STATES.has(op.state)) return;
            stop();
            resolve(op);
        }, reject);
        const stop = h.service.subscribe(id, () => void check());
        void check();
    });
}

async function planOf(h: Harness, id: string): Promise<Array<{ op: string; type: string }>> {
    return (await request(h.app).get(`/v1/operations/${id}/plan?limit=100`).set(bearer(TOKENS.readerA)).expect(200)).body.items;
}

describe("dry run: a spec's plan before it is applied (offline engine)", function () {
    this.timeout(120_000);
    let h: Harness;
    before(async () => { h = await startHarness({ worker: true, offline: true }); });
    after(() => h.close());

    it("plans a new environment without applying it, and a PUT of the same spec then applies it", async () => {
        const res = await request(h.app).post("/v1/environments/pay-dry/dry-run").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        assert.match(res.headers.location, /^\/v1\/operations\//);
        const op = await finished(h, res.body.operation.id);
        assert.equal(op.kind, "preview");
        assert.equal(op.state, "succeeded", op.error?.message);
        const plan = await planOf(h, op.id);
        assert.ok(plan.some((s) => s.type === "azure-native:keyvault:Vault" && s.op === "create"), JSON.stringify(plan.map((s) => s.type)));

        const env = (await request(h.app).get("/v1/environments/pay-dry").set(bearer(TOKENS.readerA)).expect(200)).body;
        assert.equal(env.status, "pending", "nothing was applied");
        assert.equal(env.outputs, undefined);
        const history = (await request(h.app).get("/v1/environments/pay-dry/operations").set(bearer(TOKENS.readerA)).expect(200)).body.items as Op[];
        assert.deepEqual(history.map((o) => o.kind), ["preview"], "no update was queued");

        const put = await request(h.app).put("/v1/environments/pay-dry").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        assert.equal((await finished(h, put.body.operation.id)).state, "succeeded");
        assert.equal((await request(h.app).get("/v1/environments/pay-dry").set(bearer(TOKENS.readerA))).body.status, "ready");
    });

    it("plans a change to a ready environment and leaves its stored spec and status alone", async () => {
        const before = (await request(h.app).get("/v1/environments/pay-dry").set(bearer(TOKENS.readerA))).body;
        const res = await request(h.app).post("/v1/environments/pay-dry/dry-run").set(bearer(TOKENS.operatorA)).send(spec({ cosmos: { enabled: true } })).expect(202);
        const op = await finished(h, res.body.operation.id);
        assert.equal(op.state, "succeeded", op.error?.message);
        const plan = await planOf(h, op.id);
        assert.ok(plan.some((s) => s.op === "create" && s.type === "azure-native:cosmosdb:DatabaseAccount"), `the plan adds no Cosmos account: ${plan.filter((s) => s.op !== "same").map((s) => s.type).join(", ")}`);
        assert.ok(plan.some((s) => s.op === "same"), "what does not change is planned as same");
        const after = (await request(h.app).get("/v1/environments/pay-dry").set(bearer(TOKENS.readerA))).body;
        assert.equal(after.specHash, before.specHash);
        assert.equal(after.status, "ready");
    });

    it("validates the body as a PUT does, and refuses readers and other teams", async () => {
        const bad = await request(h.app).post("/v1/environments/pay-dry/dry-run").set(bearer(TOKENS.operatorA)).send(spec({ alerts: { emails: ["nope"] } })).expect(400);
        assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path), ["alerts.emails[0]"]);
        await request(h.app).post("/v1/environments/pay-dry/dry-run").set(bearer(TOKENS.readerA)).send(spec()).expect(403);
        await request(h.app).post("/v1/environments/pay-dry/dry-run").set(bearer(TOKENS.operatorB)).send(spec({ team: "billing" })).expect(403);
    });
});
