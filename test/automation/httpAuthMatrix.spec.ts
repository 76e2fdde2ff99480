import { strict as assert } from "node:assert";
import request from "supertest";
import { bearer, spec, startHarness, TEAM_B, TOKENS, type Harness } from "./httpHarness";

/**
 * Every route crossed with every kind of caller. The environment and its
 * operation belong to team A ("payments"); operatorB is on team B.
 */

type Caller = "none" | "bad" | "reader" | "operatorOther" | "operatorSame" | "admin";
const CALLERS: Caller[] = ["none", "bad", "reader", "operatorOther", "operatorSame", "admin"];
const HEADERS: Record<Caller, Record<string, string>> = {
    none: {},
    bad: bearer("not-a-valid-token-0123456789"),
    reader: bearer(TOKENS.readerA),
    operatorOther: bearer(TOKENS.operatorB),
    operatorSame: bearer(TOKENS.operatorA),
    admin: bearer(TOKENS.admin),
};

interface Case {
    route: string;
    /** Prepares the state; returns the operation id to use. */
    setup?: (h: Harness, opId: string) => Promise<void>;
    send(h: Harness, opId: string, headers: Record<string, string>): request.Test;
    expected: Record<Caller, number>;
}

const AUTHED = { none: 401, bad: 401 };
const READ = { ...AUTHED, reader: 200, operatorOther: 404, operatorSame: 200, admin: 200 };
const MUTATE = { ...AUTHED, reader: 403, operatorOther: 404, operatorSame: 202, admin: 202 };
const OPEN = { none: 200, bad: 200, reader: 200, operatorOther: 200, operatorSame: 200, admin: 200 };

const CASES: Case[] = [
    { route: "PUT /v1/environments/{name}", send: (h, _id, hd) => request(h.app).put("/v1/environments/payments-dev").set(hd).send(spec()), expected: { ...MUTATE, operatorOther: 403 } },
    { route: "GET /v1/environments", send: (h, _id, hd) => request(h.app).get("/v1/environments").set(hd), expected: { ...READ, operatorOther: 200 } },
    { route: "GET /v1/environments/{name}", send: (h, _id, hd) => request(h.app).get("/v1/environments/payments-dev").set(hd), expected: READ },
    { route: "GET /v1/environments/{name}/operations", send: (h, _id, hd) => request(h.app).get("/v1/environments/payments-dev/operations").set(hd), expected: READ },
    { route: "GET /v1/whoami", send: (h, _id, hd) => request(h.app).get("/v1/whoami").set(hd), expected: { ...READ, operatorOther: 200 } },
    { route: "POST /v1/environments/{name}/preview", send: (h, _id, hd) => request(h.app).post("/v1/environments/payments-dev/preview").set(hd), expected: MUTATE },
    { route: "POST /v1/environments/{name}/refresh", send: (h, _id, hd) => request(h.app).post("/v1/environments/payments-dev/refresh").set(hd), expected: MUTATE },
    { route: "DELETE /v1/environments/{name}", send: (h, _id, hd) => request(h.app).delete("/v1/environments/payments-dev").set(hd), expected: MUTATE },
    { route: "GET /v1/operations/{id}", send: (h, id, hd) => request(h.app).get(`/v1/operations/${id}`).set(hd), expected: READ },
    {
        route: "GET /v1/operations/{id}/events",
        // A finished operation, so the stream replays and ends.
        setup: async (h, id) => { await request(h.app).post(`/v1/operations/${id}/cancel`).set(bearer(TOKENS.admin)).expect(200); },
        send: (h, id, hd) => request(h.app).get(`/v1/operations/${id}/events`).set(hd),
        expected: READ,
    },
    { route: "POST /v1/operations/{id}/cancel", send: (h, id, hd) => request(h.app).post(`/v1/operations/${id}/cancel`).set(hd), expected: { ...MUTATE, operatorSame: 200, admin: 200 } },
    { route: "GET /v1/audit", send: (h, _id, hd) => request(h.app).get("/v1/audit").set(hd), expected: { ...AUTHED, reader: 403, operatorOther: 403, operatorSame: 403, admin: 200 } },
    { route: "GET /healthz", send: (h, _id, hd) => request(h.app).get("/healthz").set(hd), expected: OPEN },
    { route: "GET /readyz", send: (h, _id, hd) => request(h.app).get("/readyz").set(hd), expected: OPEN },
    { route: "GET /metrics", send: (h, _id, hd) => request(h.app).get("/metrics").set(hd), expected: OPEN },
    { route: "GET /openapi.json", send: (h, _id, hd) => request(h.app).get("/openapi.json").set(hd), expected: OPEN },
    { route: "GET /docs", send: (h, _id, hd) => request(h.app).get("/docs").set(hd), expected: OPEN },
];

describe("HTTP auth matrix: every route × every caller", () => {
    for (const c of CASES) {
        describe(c.route, () => {
            let h: Harness;
            let opId: string;
            before(async () => {
                h = await startHarness();
                const put = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.admin)).send(spec()).expect(202);
                opId = put.body.operation.id;
                await c.setup?.(h, opId);
            });
            after(() => h.close());

            for (const caller of CALLERS) {
                it(`answers ${caller} with ${c.expected[caller]}`, async () => {
                    const res = await c.send(h, opId, HEADERS[caller]);
                    assert.equal(res.status, c.expected[caller], `${c.route} as ${caller}: ${res.text.slice(0, 300)}`);
                    if (res.status === 401) {
                        assert.match(res.headers["www-authenticate"], /^Bearer realm="keyvault-platform"/);
                    }
                    if (res.status >= 400) assert.match(res.headers["content-type"], /^application\/problem\+json/);
                });
            }
        });
    }

    it("confines a non-admin's list to its own team, and refuses asking for another team", async () => {
        const h = await startHarness();
        try {
            await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
            await request(h.app).put("/v1/environments/billing-dev").set(bearer(TOKENS.operatorB)).send(spec({ team: TEAM_B })).expect(202);
            const own = await request(h.app).get("/v1/environments").set(bearer(TOKENS.operatorB)).expect(200);
            assert.deepEqual(own.body.items.map((e: { name: string }) => e.name), ["billing-dev"]);
            await request(h.app).get("/v1/environments?team=payments").set(bearer(TOKENS.operatorB)).expect(403);
            const all = await request(h.app).get("/v1/environments").set(bearer(TOKENS.admin)).expect(200);
            assert.equal(all.body.items.length, 2);
        } finally {
            await h.close();
        }
    });

    it("audits refused mutations durably, with the actor", async () => {
        const h = await startHarness();
        try {
            await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
            await request(h.app).delete("/v1/environments/payments-dev").set(bearer(TOKENS.readerA)).expect(403);
            const audit = await request(h.app).get("/v1/audit").set(bearer(TOKENS.admin)).expect(200);
            const refused = audit.body.items.find((e: { outcome: string }) => e.outcome === "rejected");
            assert.ok(refused, JSON.stringify(audit.body.items));
            assert.equal(refused.action, "environment.delete");
            assert.equal(refused.actor.subject, "token:payments-reader");
        } finally {
            await h.close();
        }
    });
});
