import { strict as assert } from "node:assert";
import request from "supertest";
import { EMPTY_PROFILE } from "../../automation/domain/platformProfile";
import { TAG_KEYS } from "@keyvault-platform/conventions";
import { bearer, startHarness, TOKENS, type Harness } from "./httpHarness";

/**
 * The self-service path end to end on the real program: the offline engine evaluates
 * program.ts under mocks with the stack config the server derives from a spec and the
 * example platform profile, and the policy pack checks it. What a team sees in the plan
 * is what `pulumi preview` of that config would list.
 */

interface PlanStep { seq: number; op: string; type: string; name: string; urn: string; inputs: Record<string, unknown> }

async function finished(h: Harness, location: string): Promise<{ state: string; error?: { code: string; message: string }; summary?: Record<string, number> }> {
    for (let i = 0; i < 3000; i++) {
        const res = await request(h.app).get(location).set(bearer(TOKENS.admin));
        assert.equal(res.status, 200, res.text);
        const op = res.body;
        if (["succeeded", "failed", "canceled"].includes(op.state)) return op;
        await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`operation ${location} did not finish`);
}

async function wholePlan(h: Harness, operationId: string, limit: number): Promise<{ steps: PlanStep[]; pages: number }> {
    const steps: PlanStep[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
        const res = await request(h.app).get(`/v1/operations/${operationId}/plan`).query({ limit, ...(cursor ? { cursor } : {}) }).set(bearer(TOKENS.readerA));
        assert.equal(res.status, 200, res.text);
        assert.ok(res.body.items.length <= limit);
        steps.push(...res.body.items);
        cursor = res.body.nextCursor;
        pages++;
    } while (cursor);
    return { steps, pages };
}

const PROD_SPEC = { tier: "prod", location: "westeurope", team: "payments" };

describe("self-service on the real program (offline engine, example platform profile)", function () {
    this.timeout(120_000);
    let h: Harness;
    before(async () => { h = await startHarness({ worker: true, offline: true }); });
    after(() => h.close());

    it("says on /readyz that it provisions nothing", async () => {
        const res = await request(h.app).get("/readyz");
        assert.equal(res.body.engine, "offline");
        assert.match(JSON.stringify(res.body.checks), /OFFLINE engine.*provision NOTHING/);
    });

    it("previews a prod spec as pulumi up prod would: a private endpoint with its DNS zone group, every resource tagged with its owner", async () => {
        const put = await request(h.app).put("/v1/environments/payments-prod").set(bearer(TOKENS.operatorA)).send(PROD_SPEC);
        assert.equal(put.status, 202, put.text);
        const preview = await request(h.app).post("/v1/environments/payments-prod/preview").set(bearer(TOKENS.operatorA));
        assert.equal(preview.status, 202, preview.text);
        const op = await finished(h, preview.headers.location);
        assert.equal(op.state, "succeeded", JSON.stringify(op.error));

        const { steps, pages } = await wholePlan(h, preview.body.operation.id, 7);
        assert.ok(pages > 1, "the plan is paged");
        assert.equal(new Set(steps.map((s) => s.seq)).size, steps.length, "no step twice across pages");
        const types = new Set(steps.map((s) => s.type));
        for (const t of ["azure-native:keyvault:Vault", "azure-native:network:PrivateEndpoint", "azure-native:network:PrivateDnsZoneGroup"]) assert.ok(types.has(t), `the plan has no ${t}`);

        const vault = steps.find((s) => s.type === "azure-native:keyvault:Vault" && s.name.endsWith("kv-vault"))!;
        assert.equal((vault.inputs.properties as { publicNetworkAccess: string }).publicNetworkAccess, "Disabled");
        const zoneGroup = steps.find((s) => s.type === "azure-native:network:PrivateDnsZoneGroup")!;
        assert.match(JSON.stringify(zoneGroup.inputs), /privateDnsZones\/privatelink\.vaultcore\.azure\.net/, "the zone group uses the profile's shared zone");

        const taggable = steps.filter((s) => s.inputs.tags !== undefined);
        assert.ok(taggable.length >= 5, `only ${taggable.length} taggable resources`);
        for (const s of taggable) {
            const tags = s.inputs.tags as Record<string, string>;
            assert.equal(tags[TAG_KEYS.team], "payments", s.name);
            assert.equal(tags[TAG_KEYS.environment], "payments-prod", s.name);
            assert.equal(tags[TAG_KEYS.tier], "prod", s.name);
            assert.equal(tags[TAG_KEYS.managedBy], "keyvault-platform-server", s.name);
            assert.equal(tags.CostCenter, "platform-prod", `${s.name} carries the profile's extra tags`);
        }
    });

    it("applies the spec, stores the outputs the program computes, and then previews no change", async () => {
        const env = await request(h.app).get("/v1/environments/payments-prod").set(bearer(TOKENS.readerA));
        const applied = await finished(h, `/v1/operations/${env.body.lastOperationId}`);
        assert.equal(applied.state, "succeeded", JSON.stringify(applied.error));
        const after = (await request(h.app).get("/v1/environments/payments-prod").set(bearer(TOKENS.readerA))).body;
        assert.equal(after.status, "ready");
        assert.match(after.outputs.vaultUri, /^https:\/\/kv-.*\.vault\.azure\.net\/$/);
        assert.match(after.outputs.workspaceId, /log-central-prod$/, "prod logs go to the profile's central workspace");

        const preview = await request(h.app).post("/v1/environments/payments-prod/preview").set(bearer(TOKENS.operatorA));
        const op = await finished(h, preview.headers.location);
        assert.deepEqual(Object.keys(op.summary ?? {}), ["same"], JSON.stringify(op.summary));
    });

    it("previews a proposed change before it is applied, and leaves the stored spec alone", async () => {
        const before = (await request(h.app).get("/v1/environments/payments-prod").set(bearer(TOKENS.readerA))).body;
        const res = await request(h.app).post("/v1/environments/payments-prod/preview").set(bearer(TOKENS.operatorA)).send({ ...PROD_SPEC, cosmos: { enabled: true } });
        assert.equal(res.status, 202, res.text);
        assert.deepEqual(res.body.operation.proposedSpec.cosmos, { enabled: true });
        const op = await finished(h, res.headers.location);
        assert.equal(op.state, "succeeded", JSON.stringify(op.error));
        const { steps } = await wholePlan(h, res.body.operation.id, 100);
        const creates = steps.filter((s) => s.op === "create").map((s) => s.type);
        assert.ok(creates.includes("azure-native:cosmosdb:DatabaseAccount"), `planned creates: ${creates.join(", ")}`);
        assert.ok(steps.some((s) => s.op === "same" && s.type === "azure-native:keyvault:Vault"), "the applied vault stays as it is");
        const after = (await request(h.app).get("/v1/environments/payments-prod").set(bearer(TOKENS.readerA))).body;
        assert.deepEqual(after.spec, before.spec, "a preview never changes the stored spec");
        assert.equal(after.specHash, before.specHash);
    });

    it("previews a new environment's spec before it exists, and creates nothing in the store", async () => {
        const res = await request(h.app).post("/v1/environments/payments-qa/preview").set(bearer(TOKENS.operatorA)).send({ tier: "dev", location: "westeurope", team: "payments" });
        assert.equal(res.status, 202, res.text);
        const op = await finished(h, res.headers.location);
        assert.equal(op.state, "succeeded", JSON.stringify(op.error));
        const { steps } = await wholePlan(h, res.body.operation.id, 100);
        assert.ok(steps.length > 0 && steps.every((s) => s.op === "create"), "everything is new");
        assert.equal((await request(h.app).get("/v1/environments/payments-qa").set(bearer(TOKENS.readerA))).status, 404);
    });

    it("validates a proposed spec exactly as a PUT does, naming the field", async () => {
        const res = await request(h.app).post("/v1/environments/payments-qa/preview").set(bearer(TOKENS.operatorA)).send({ tier: "qa", location: "westeurope", team: "payments" });
        assert.equal(res.status, 400, res.text);
        assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ["tier"]);
        const other = await request(h.app).post("/v1/environments/payments-qa/preview").set(bearer(TOKENS.operatorA)).send({ tier: "dev", location: "westeurope", team: "billing" });
        assert.equal(other.status, 400, "a proposed spec is held to the caller's team and its name prefix too");
        assert.match(other.text, /payments-qa|team/);
    });

    it("refuses a spec the policy pack rejects, with the violations, as pulumi up --policy-pack would", async () => {
        // A region outside the profile passes nothing; one inside it but outside the pack's list fails the pack.
        const h2 = await startHarness({ worker: true, offline: true, profile: EMPTY_PROFILE });
        try {
            const put = await request(h2.app).put("/v1/environments/search-dev").set(bearer(TOKENS.admin)).send({ tier: "dev", location: "eastus2", team: "search" });
            assert.equal(put.status, 202, put.text);
            const op = await finished(h2, put.headers.location);
            assert.equal(op.state, "failed");
            assert.equal(op.error?.code, "policy_violation");
            assert.match(op.error?.message ?? "", /allowed-locations/);
        } finally {
            await h2.close();
        }
    });

    it("answers 422 naming the profile key when the profile cannot serve prod, and queues nothing", async () => {
        const h2 = await startHarness({ worker: false, offline: true, profile: EMPTY_PROFILE });
        try {
            const res = await request(h2.app).put("/v1/environments/payments-prod").set(bearer(TOKENS.operatorA)).send({ ...PROD_SPEC, alerts: { emails: ["ops@example.com"] } });
            assert.equal(res.status, 422, res.text);
            assert.match(res.headers["content-type"], /application\/problem\+json/);
            assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ["tiers.prod.privateEndpoint"]);
            assert.match(res.body.detail, /platform profile \(KVP_PLATFORM_FILE\)/);
            assert.deepEqual(await h2.store.countOperations(), []);
        } finally {
            await h2.close();
        }
    });

    it("destroys what the last update registered", async () => {
        const del = await request(h.app).delete("/v1/environments/payments-prod").set(bearer(TOKENS.operatorA));
        assert.equal(del.status, 202, del.text);
        const op = await finished(h, del.headers.location);
        assert.equal(op.state, "succeeded");
        assert.ok((op.summary?.delete ?? 0) > 5, JSON.stringify(op.summary));
        const { steps } = await wholePlan(h, del.body.operation.id, 100);
        assert.ok(steps.every((s) => s.op === "delete"));
    });
});
