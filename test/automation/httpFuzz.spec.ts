import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import request from "supertest";
import { EnvironmentNameSchema } from "../../automation/domain/spec";
import { bearer, listen, spec, startHarness, TOKENS, type Harness } from "./httpHarness";

/**
 * Generated bad input, 1,700 requests in all: the server must answer every one
 * with a 4xx problem (never a 5xx) and must queue nothing. Each class of malformed
 * input found from outside has its generator here: bodies, names, query strings,
 * headers, corrupt Content-Encodings, bad percent-encodings in path parameters,
 * floods of unknown query keys, duplicated Authorization headers and wrong methods.
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
        server = await listen(h.app);
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

    it("refuses 150 generated corrupt gzip, deflate and br bodies with a 4xx problem", async () => {
        const { port } = server.address() as AddressInfo;
        const valid = Buffer.from(JSON.stringify(spec()));
        const compressors = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
        const corrupt = fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
            // A real stream cut short or with a byte flipped: the decoder starts well and fails late.
            fc.record({ encoding: fc.constantFrom<keyof typeof compressors>("gzip", "deflate", "br"), cut: fc.integer({ min: 1, max: 40 }) })
                .map(({ encoding, cut }) => { const c = compressors[encoding](valid); return c.subarray(0, Math.max(1, c.length - cut)); }),
        );
        await fc.assert(fc.asyncProperty(fc.constantFrom("gzip", "deflate", "br"), corrupt, async (encoding, bytes) => {
            const res = await fetch(`http://127.0.0.1:${port}/v1/environments/payments-dev`, {
                method: "PUT", body: bytes, headers: { ...bearer(TOKENS.operatorA), "Content-Type": "application/json", "Content-Encoding": encoding },
            });
            const text = await res.text();
            assert.ok(res.status >= 400 && res.status < 500, `${encoding} ${bytes.toString("hex").slice(0, 80)}: got ${res.status} ${text.slice(0, 300)}`);
            assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
        }), { numRuns: 150 });
        await assertNothingQueued();
    });

    it("refuses 150 generated bad percent-encodings in path parameters on every route with 400", async () => {
        const badEscape = fc.oneof(
            fc.constant("%"),
            fc.string({ unit: fc.constantFrom(..."GHIJKLMNOPQRSTUVWXYZghxyz!-_.~"), minLength: 1, maxLength: 2 }).map((t) => `%${t}`),
            fc.constantFrom("%E0%A4%A", "%C3", "%ED%A0%80", "%F4%90%80%80", "%FF"),
        );
        const target = fc.record({ head: fc.stringMatching(/^[a-z]{0,6}$/), escape: badEscape, tail: fc.stringMatching(/^(?:[g-z][a-z0-9]{0,5})?$/) }).map(({ head, escape, tail }) => `${head}${escape}${tail}`);
        const routes = ["get env", "put env", "delete env", "post env/preview", "post env/refresh", "get op", "get op/events", "get op/plan", "post op/cancel"];
        await fc.assert(fc.asyncProperty(target, fc.constantFrom(...routes), async (segment, r) => {
            const [method, what] = r.split(" ");
            const [kind, action] = what.split("/");
            const url = `/v1/${kind === "env" ? "environments" : "operations"}/${segment}${action ? `/${action}` : ""}`;
            const agent = request(server);
            const req = method === "get" ? agent.get(url) : method === "put" ? agent.put(url).send(spec()) : method === "delete" ? agent.delete(url) : agent.post(url);
            const res = await req.set(bearer(TOKENS.admin));
            assertClientError(res, `${method} ${url}`);
            assert.equal(res.status, 400, `${method} ${url}: ${res.text.slice(0, 200)}`);
        }), { numRuns: 150 });
        await assertNothingQueued();
    });

    it("bounds the errors of 50 generated requests with hundreds of bad query keys", async () => {
        await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.stringMatching(/^[a-z]{3,12}$/), { minLength: 21, maxLength: 400 }), async (keys) => {
            const query = Object.fromEntries(keys.filter((k) => !["limit", "cursor", "team", "status"].includes(k)).map((k) => [k, "x"]));
            const res = await request(server).get("/v1/environments").query(query).set(bearer(TOKENS.admin));
            assertClientError(res, `${keys.length} keys`);
            const listed = res.body.errors.length as number;
            assert.ok(listed <= 20, `${listed} errors listed`);
            assert.equal(listed + (res.body.errorsOmitted ?? 0), Object.keys(query).length);
        }), { numRuns: 50 });
    });

    it("refuses 50 generated requests carrying two Authorization headers with 400", async () => {
        const { port } = server.address() as AddressInfo;
        const token = fc.oneof(fc.constant(TOKENS.admin), fc.constant(TOKENS.operatorA), fc.stringMatching(/^[A-Za-z0-9._-]{16,40}$/));
        await fc.assert(fc.asyncProperty(token, token, fc.constantFrom("Authorization", "authorization", "AUTHORIZATION"), async (a, b, spelling) => {
            const status = await new Promise<number>((resolve, reject) => {
                const socket = connect(port, "127.0.0.1", () => socket.end(`GET /v1/environments HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${a}\r\n${spelling}: Bearer ${b}\r\n\r\n`));
                let head = "";
                socket.setEncoding("utf8");
                socket.on("data", (c: string) => { head += c; });
                socket.on("end", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])));
                socket.on("error", reject);
            });
            assert.equal(status, 400, `${a} + ${b}`);
        }), { numRuns: 50 });
    });

    it("answers 100 generated wrong methods on known paths with 405 and Allow", async () => {
        const paths = ["/v1/environments", "/v1/environments/payments-dev", `/v1/operations/${opId}`, `/v1/operations/${opId}/cancel`, "/healthz", "/openapi.json"];
        await fc.assert(fc.asyncProperty(fc.constantFrom("patch", "post", "put", "delete"), fc.constantFrom(...paths), async (method, path) => {
            const res = await request(server)[method](path).set(bearer(TOKENS.admin));
            if (res.status === 405) {
                assert.ok(res.headers.allow && !res.headers.allow.includes(method.toUpperCase()), `${method} ${path}: Allow ${res.headers.allow}`);
            } else {
                assert.ok(res.status < 500, `${method} ${path}: got ${res.status}`);
            }
        }), { numRuns: 100 });
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
