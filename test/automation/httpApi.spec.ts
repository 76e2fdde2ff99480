import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import request from "supertest";
import { createEngine } from "../../automation/engine";
import { TEST_DOUBLE_SECRET } from "../../automation/engine/testDouble";
import { bearer, spec, startHarness, TEAM_A, TOKENS, type Harness } from "./httpHarness";

const PROBLEM = /^application\/problem\+json/;

function assertProblem(res: request.Response, status: number): void {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
    assert.match(res.headers["content-type"], PROBLEM);
    assert.equal(res.body.status, status);
    assert.equal(typeof res.body.type, "string");
    assert.equal(typeof res.body.title, "string");
    assert.match(res.body.instance, /^\/[^#]*#.+$/, "instance is the path plus the request id");
    assert.ok(!("stack" in res.body), "no stack trace");
}

describe("HTTP API: happy paths over the real store", () => {
    let h: Harness;
    beforeEach(async () => { h = await startHarness(); });
    afterEach(() => h.close());

    it("PUT queues an update: 202, Location, environment and operation", async () => {
        const res = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        assert.equal(res.status, 202, res.text);
        assert.equal(res.headers.location, `/v1/operations/${res.body.operation.id}`);
        assert.equal(res.body.environment.name, "payments-dev");
        assert.equal(res.body.environment.team, TEAM_A);
        assert.equal(res.body.operation.kind, "update");
        assert.equal(res.body.operation.state, "queued");
        assert.equal((await h.store.listOperationsByState("queued", 10)).length, 1);
    });

    it("PUT with the same Idempotency-Key replays the first response and queues nothing new", async () => {
        const first = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).set("Idempotency-Key", "req-1").send(spec());
        const again = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).set("Idempotency-Key", "req-1").send(spec());
        assert.equal(again.status, 202);
        assert.equal(again.body.operation.id, first.body.operation.id);
        const other = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).set("Idempotency-Key", "req-1").send(spec({ tier: "staging" }));
        assertProblem(other, 412);
        assert.equal((await h.store.listOperationsByState("queued", 10)).length, 1);
    });

    it("GET lists and reads environments, with redacted outputs and the last operation", async () => {
        await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        await request(h.app).put("/v1/environments/payments-qa").set(bearer(TOKENS.operatorA)).send(spec());
        await h.store.updateEnvironment("payments-dev", {
            outputs: { vaultUri: "https://kv.vault.azure.net/", nested: { connectionString: TEST_DOUBLE_SECRET } }, now: new Date().toISOString(),
        });

        const page1 = await request(h.app).get("/v1/environments?limit=1").set(bearer(TOKENS.readerA));
        assert.equal(page1.status, 200, page1.text);
        assert.deepEqual(page1.body.items.map((e: { name: string }) => e.name), ["payments-dev"]);
        assert.ok(page1.body.nextCursor);
        const page2 = await request(h.app).get("/v1/environments").query({ limit: "1", cursor: page1.body.nextCursor }).set(bearer(TOKENS.readerA));
        assert.deepEqual(page2.body.items.map((e: { name: string }) => e.name), ["payments-qa"]);
        const filtered = await request(h.app).get("/v1/environments?status=ready").set(bearer(TOKENS.admin));
        assert.deepEqual(filtered.body.items, []);

        const one = await request(h.app).get("/v1/environments/payments-dev").set(bearer(TOKENS.readerA));
        assert.equal(one.status, 200);
        assert.equal(one.body.spec.tier, "dev");
        assert.equal(one.body.outputs.vaultUri, "https://kv.vault.azure.net/");
        assert.notEqual(one.body.outputs.nested.connectionString, TEST_DOUBLE_SECRET);
        assert.ok(!one.text.includes(TEST_DOUBLE_SECRET));
        assert.equal(one.body.lastOperation.kind, "update");
    });

    it("preview, refresh and DELETE answer 202 with the operation's Location", async () => {
        await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        for (const action of ["preview", "refresh"]) {
            const res = await request(h.app).post(`/v1/environments/payments-dev/${action}`).set(bearer(TOKENS.operatorA));
            assert.equal(res.status, 202, res.text);
            assert.equal(res.body.operation.kind, action);
            assert.equal(res.headers.location, `/v1/operations/${res.body.operation.id}`);
        }
        const del = await request(h.app).delete("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA));
        assert.equal(del.status, 202, del.text);
        assert.equal(del.body.operation.kind, "destroy");
        const op = await request(h.app).get(del.headers.location).set(bearer(TOKENS.readerA));
        assert.equal(op.status, 200);
        assert.equal(op.body.id, del.body.operation.id);
    });

    it("cancels a queued operation at once", async () => {
        const put = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        const res = await request(h.app).post(`/v1/operations/${put.body.operation.id}/cancel`).set(bearer(TOKENS.operatorA));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.state, "canceled");
    });

    it("shows the audit log to admins, with the actor of each mutation", async () => {
        await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        const res = await request(h.app).get("/v1/audit?limit=5").set(bearer(TOKENS.admin));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.items[0].action, "environment.put");
        assert.equal(res.body.items[0].actor.subject, "token:payments-operator");
        assert.ok(res.body.items[0].requestId, "audit entries carry the request id");
    });

    it("answers health, readiness (announcing the test double) and metrics", async () => {
        const health = await request(h.app).get("/healthz");
        assert.deepEqual([health.status, health.body], [200, { ok: true }]);
        const ready = await request(h.app).get("/readyz");
        assert.equal(ready.status, 200, ready.text);
        assert.equal(ready.body.engine, "test-double");
        assert.match(JSON.stringify(ready.body.checks), /TEST DOUBLE/);
        await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        const metrics = await request(h.app).get("/metrics");
        assert.equal(metrics.status, 200);
        assert.match(metrics.text, /kvp_operations\{kind="update",state="queued"\} 1/);
        assert.match(metrics.text, /kvp_queue_depth 1/);
        assert.match(metrics.text, /kvp_http_request_duration_seconds_count\{method="PUT",route="\/v1\/environments\/{name}",status="202"\} 1/);
    });

    it("sets security headers and a request id on every response", async () => {
        const res = await request(h.app).get("/healthz").set("X-Request-Id", "trace-123");
        assert.equal(res.headers["x-request-id"], "trace-123");
        assert.match(res.headers["content-security-policy"], /default-src 'none'/);
        assert.equal(res.headers["x-content-type-options"], "nosniff");
        assert.equal(res.headers["x-powered-by"], undefined);
        const generated = await request(h.app).get("/healthz").set("X-Request-Id", "bad id\twith spaces");
        assert.match(generated.headers["x-request-id"], /^[0-9a-f-]{36}$/);
    });
});

describe("HTTP API: with a worker running operations on the real program (offline engine)", () => {
    let h: Harness;
    before(async () => { h = await startHarness({ worker: true, offline: true }); });
    after(() => h.close());

    it("answers 200 with no operation when the same spec is already applied", async function () {
        this.timeout(90_000);
        const put = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        assert.equal(put.status, 202);
        for (let i = 0; i < 3000; i++) {
            const op = await request(h.app).get(put.headers.location).set(bearer(TOKENS.readerA));
            if (op.body.state === "succeeded") break;
            await new Promise((r) => setTimeout(r, 20));
        }
        const env = await request(h.app).get("/v1/environments/payments-dev").set(bearer(TOKENS.readerA));
        assert.equal(env.body.status, "ready");
        assert.equal(env.body.lastOperation.state, "succeeded");
        const again = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        assert.equal(again.status, 200, again.text);
        assert.equal(again.headers.location, undefined);
        assert.equal(again.body.operation, undefined);
        const changed = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec({ tier: "staging" }));
        assert.equal(changed.status, 202, "a changed spec queues an update");
        const metrics = await request(h.app).get("/metrics");
        assert.match(metrics.text, /kvp_operation_duration_seconds_count\{kind="update",state="succeeded"\} 1/);
        assert.match(metrics.text, /kvp_operations_finished_total\{kind="update",state="succeeded"\} 1/);
    });
});

describe("HTTP API: without the Pulumi CLI", () => {
    let h: Harness;
    let dataDir: string;
    before(async () => {
        dataDir = mkdtempSync(path.join(tmpdir(), "kvp-nocli-"));
        const engine = createEngine({ engine: "pulumi", dataDir, passphrase: "a-test-passphrase-value", pulumiCommand: path.join(dataDir, "no-such-pulumi") });
        h = await startHarness({ worker: true, engineOverride: engine });
    });
    after(async () => {
        await h.close();
        rmSync(dataDir, { recursive: true, force: true });
    });

    it("answers /readyz with 503 naming the missing CLI and how to install it", async () => {
        const res = await request(h.app).get("/readyz");
        assert.equal(res.status, 503, res.text);
        assert.equal(res.body.ok, false);
        const cli = res.body.checks.find((c: { name: string }) => c.name === "pulumi-cli");
        assert.equal(cli.ok, false);
        assert.match(cli.detail, /get\.pulumi\.com|pulumi\.com\/docs\/install/);
    });

    it("fails operations quickly with that reason instead of hanging", async () => {
        const put = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        let op = put.body.operation;
        const deadline = Date.now() + 10_000;
        while (!["succeeded", "failed", "canceled"].includes(op.state) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
            op = (await request(h.app).get(put.headers.location).set(bearer(TOKENS.readerA))).body;
        }
        assert.equal(op.state, "failed");
        assert.equal(op.error.code, "cli_missing");
        assert.match(op.error.message, /install/);
    });
});

describe("HTTP API: errors are problem+json", () => {
    let h: Harness;
    beforeEach(async () => { h = await startHarness({ bodyLimitBytes: 2048 }); });
    afterEach(() => h.close());

    it("names every bad field of a PUT body", async () => {
        const res = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA))
            .send(spec({ tier: "qa", network: { allowedIpRanges: ["10.0.0.0/8"] }, extra: 1 }));
        assertProblem(res, 400);
        const paths = res.body.errors.map((e: { path: string }) => e.path);
        assert.ok(paths.includes("tier"), JSON.stringify(res.body.errors));
        assert.ok(paths.includes("extra"), JSON.stringify(res.body.errors));
        assert.ok(paths.some((p: string) => p.startsWith("network.allowedIpRanges")), JSON.stringify(res.body.errors));
        assert.match(res.body.errors.find((e: { path: string }) => e.path === "tier").message, /dev.*staging.*prod/);
    });

    it("names bad path and query parameters", async () => {
        const name = await request(h.app).get("/v1/environments/Not_A_Name").set(bearer(TOKENS.readerA));
        assertProblem(name, 400);
        assert.equal(name.body.errors[0].path, "path.name");
        const query = await request(h.app).get("/v1/environments?limit=0&status=gone&colour=red").set(bearer(TOKENS.readerA));
        assertProblem(query, 400);
        assert.deepEqual(query.body.errors.map((e: { path: string }) => e.path).sort(), ["query.colour", "query.limit", "query.status"]);
    });

    it("answers malformed JSON with 400 without quoting the body", async () => {
        const res = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA))
            .set("Content-Type", "application/json").send("{\"tier\": secret-value-here");
        assertProblem(res, 400);
        assert.ok(!res.text.includes("secret-value-here"));
    });

    it("answers a body over the limit with 413", async () => {
        const res = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA))
            .send(spec({ padding: "x".repeat(4096) }));
        assertProblem(res, 413);
    });

    it("answers a non-JSON body with 415", async () => {
        const res = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).set("Content-Type", "text/plain").send("tier=dev");
        assertProblem(res, 415);
    });

    it("answers unknown routes and resources with 404", async () => {
        assertProblem(await request(h.app).get("/nope"), 404);
        assertProblem(await request(h.app).get("/v1/environments/missing-env").set(bearer(TOKENS.readerA)), 404);
        assertProblem(await request(h.app).get("/v1/operations/does-not-exist").set(bearer(TOKENS.readerA)), 404);
    });

    it("answers a PUT on an environment being destroyed with 409", async () => {
        await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec());
        await request(h.app).delete("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA));
        assertProblem(await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec({ tier: "staging" })), 409);
    });

    it("turns an unexpected failure into a generic 500 and logs it", async () => {
        h.service.getEnvironment = async () => { throw new Error("disk on fire at /var/secret/path"); };
        const res = await request(h.app).get("/v1/environments/payments-dev").set(bearer(TOKENS.readerA));
        assertProblem(res, 500);
        assert.ok(!res.text.includes("disk on fire"));
        assert.ok(h.logs.some((l) => l.includes("disk on fire") && l.includes("unhandled error")));
    });

    it("answers 503 when the store is unavailable", async () => {
        await h.store.close();
        const res = await request(h.app).get("/v1/environments").set(bearer(TOKENS.readerA));
        assertProblem(res, 503);
        assert.ok(res.headers["retry-after"]);
    });
});

describe("HTTP API: rate limiting", () => {
    let h: Harness;
    before(async () => { h = await startHarness({ rateLimitPerMin: 3 }); });
    after(() => h.close());

    it("answers 429 problem+json with Retry-After once a caller exceeds its budget, per caller", async () => {
        for (let i = 0; i < 3; i++) assert.equal((await request(h.app).get("/v1/environments").set(bearer(TOKENS.readerA))).status, 200);
        const limited = await request(h.app).get("/v1/environments").set(bearer(TOKENS.readerA));
        assertProblem(limited, 429);
        assert.ok(limited.headers["retry-after"]);
        assert.equal((await request(h.app).get("/v1/environments").set(bearer(TOKENS.admin))).status, 200, "another caller has its own budget");
        assert.equal((await request(h.app).get("/healthz")).status, 200, "probes are not rate limited");
    });
});
