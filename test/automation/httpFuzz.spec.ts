import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import fc from "fast-check";
import request from "supertest";
import { EnvironmentNameSchema } from "../../automation/domain/spec";
import { bearer, spec, startHarness, TOKENS, type Harness } from "./httpHarness";

/**
 * Generated bad input, 1,200 requests in all: the server must answer every one
 * with a 4xx problem (never a 5xx) and must queue nothing.
 */

const printable = fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 80 }).map((codes) => String.fromCharCode(...codes));
const wrongType = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }));
const notAnObject = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.string({ maxLength: 20 }));

/** A valid spec with exactly one thing broken, so every case is bad for a known reason. */
const brokenSpec = fc.oneof(
    fc.record({ field: fc.constantFrom("tier", "location", "team"), value: wrongType }).map(({ field, value }) => spec({ [field]: value })),
    fc.record({ field: fc.constantFrom("tier", "location", "team") }).map(({ field }) => { const s = spec(); delete s[field]; return s; }),
    fc.record({ field: fc.constantFrom("network", "access", "cosmos", "alerts"), value: notAnObject.filter((v) => v !== undefined) }).map(({ field, value }) => spec({ [field]: field === "access" && Array.isArray(value) && value.length === 0 ? 1 : value })),
    fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 721 }), fc.double({ noInteger: true, noNaN: true }), fc.string()).map((ttl) => spec({ ttlHours: ttl })),
    fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !["tier", "location", "team", "network", "access", "cosmos", "alerts", "ttlHours", "__proto__"].includes(k)).map((k) => ({ ...spec(), [k]: 1 })),
    fc.array(printable, { minLength: 1, maxLength: 3 }).map((ips) => spec({ network: { allowedIpRanges: ips.map((ip) => `${ip}!`) } })),
    fc.record({ principalId: printable, principalType: printable, role: printable }).map((grant) => spec({ access: [grant] })),
    fc.array(printable, { minLength: 1, maxLength: 3 }).map((emails) => spec({ alerts: { emails: emails.map((e) => e.replace(/@/g, "")) } })),
    notAnObject,
);

const badName = fc.oneof(printable, fc.string({ maxLength: 40 }), fc.stringMatching(/^[A-Z][a-z]{2,10}$/), fc.stringMatching(/^[a-z]{25,30}$/))
    // An empty name or a dot segment addresses another URL (the list route), not a bad name.
    .filter((n) => !EnvironmentNameSchema.safeParse(n).success && !["", ".", ".."].includes(n));

describe("HTTP fuzz: generated bad input never gets a 5xx and never queues", function () {
    this.timeout(120_000);
    let h: Harness;
    let server: Server;
    let opId: string;

    before(async () => {
        h = await startHarness();
        server = h.app.listen(0, "127.0.0.1");
        // An existing environment and a finished operation give the generators real targets.
        const put = await request(server).put("/v1/environments/payments-dev").set(bearer(TOKENS.admin)).send(spec()).expect(202);
        opId = put.body.operation.id;
        await request(server).post(`/v1/operations/${opId}/cancel`).set(bearer(TOKENS.admin)).expect(200);
    });
    after(async () => {
        await new Promise((r) => server.close(r));
        await h.close();
    });

    async function assertNothingQueued(): Promise<void> {
        const counts = await h.store.countOperations();
        const active = counts.filter((c) => c.state !== "canceled").reduce((n, c) => n + c.count, 0);
        assert.equal(active, 0, `operations were queued: ${JSON.stringify(counts)}`);
    }

    function assertClientError(res: request.Response, what: string): void {
        assert.ok(res.status >= 400 && res.status < 500, `${what}: got ${res.status} ${res.text.slice(0, 300)}`);
        assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json/, what);
    }

    it("refuses 400 broken PUT bodies", async () => {
        await fc.assert(fc.asyncProperty(brokenSpec, fc.constantFrom("payments-dev", "payments-new"), async (body, name) => {
            const res = await request(server).put(`/v1/environments/${name}`).set(bearer(TOKENS.operatorA)).set("Content-Type", "application/json").send(JSON.stringify(body));
            assertClientError(res, JSON.stringify(body));
        }), { numRuns: 400 });
        await assertNothingQueued();
    });

    it("refuses 100 raw bodies that are not JSON", async () => {
        await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }), async (raw) => {
            const res = await request(server).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).set("Content-Type", "application/json").send(raw);
            assertClientError(res, raw);
            assert.ok(raw.length < 8 || !res.text.includes(raw), "the body is never echoed");
        }), { numRuns: 100 });
        await assertNothingQueued();
    });

    it("refuses 200 bad environment names on every environment route", async () => {
        await fc.assert(fc.asyncProperty(badName, fc.constantFrom("put", "get", "preview", "refresh", "delete"), async (name, action) => {
            const url = `/v1/environments/${encodeURIComponent(name)}`;
            const agent = request(server);
            const req = action === "put" ? agent.put(url).send(spec())
                : action === "get" ? agent.get(url)
                    : action === "delete" ? agent.delete(url)
                        : agent.post(`${url}/${action}`);
            assertClientError(await req.set(bearer(TOKENS.admin)), `${action} ${JSON.stringify(name)}`);
        }), { numRuns: 200 });
        await assertNothingQueued();
    });

    it("refuses or safely answers 200 generated query strings", async () => {
        const key = fc.oneof(fc.constantFrom("limit", "cursor", "team", "status", "after"), fc.string({ maxLength: 8 }));
        await fc.assert(fc.asyncProperty(fc.dictionary(key, fc.oneof(printable, fc.array(printable, { maxLength: 2 })), { maxKeys: 4 }), fc.constantFrom("/v1/environments", "/v1/audit", `/v1/operations/${opId}/events`), async (query, path) => {
            const res = await request(server).get(path).query(query).set(bearer(TOKENS.admin));
            assert.ok(res.status < 500, `${path}?${JSON.stringify(query)}: got ${res.status} ${res.text.slice(0, 300)}`);
            if (res.status >= 400) assertClientError(res, JSON.stringify(query));
        }), { numRuns: 200 });
        await assertNothingQueued();
    });

    it("refuses or safely answers 300 generated headers", async () => {
        const headerValue = printable.map((v) => v.trim()).filter((v) => v.length > 0);
        await fc.assert(fc.asyncProperty(
            fc.record({ authorization: fc.option(headerValue), idempotencyKey: fc.option(headerValue), lastEventId: fc.option(headerValue), contentType: fc.option(headerValue), requestId: fc.option(headerValue) }),
            fc.constantFrom("put", "events"),
            async (headers, target) => {
                const agent = request(server);
                // The body misses `team`, so even a well-formed request is refused rather than queued.
                const req = target === "put"
                    ? agent.put("/v1/environments/payments-dev").set("Content-Type", headers.contentType ?? "application/json").send(JSON.stringify({ tier: "dev", location: "westeurope" }))
                    : agent.get(`/v1/operations/${opId}/events`);
                req.set("Authorization", headers.authorization === null ? `Bearer ${TOKENS.operatorA}` : headers.authorization);
                if (headers.idempotencyKey !== null) req.set("Idempotency-Key", headers.idempotencyKey);
                if (headers.lastEventId !== null) req.set("Last-Event-ID", headers.lastEventId);
                if (headers.requestId !== null) req.set("X-Request-Id", headers.requestId);
                const res = await req;
                assert.ok(res.status < 500, `${target} ${JSON.stringify(headers)}: got ${res.status} ${res.text.slice(0, 300)}`);
                if (target === "put") assertClientError(res, JSON.stringify(headers));
            }), { numRuns: 300 });
        await assertNothingQueued();
    });
});
