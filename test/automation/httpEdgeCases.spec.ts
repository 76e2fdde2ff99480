import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { EventSource } from "eventsource";
import request from "supertest";
import { bearer, listen, spec, startHarness, stopListening, TEAM_B, TOKENS, type Harness } from "./httpHarness";

/**
 * The edges a client meets from outside: what each answers, and that none of them is a 500
 * or tells one team anything about another's environments.
 */

/** Sends one raw HTTP/1.1 request, for what supertest cannot send (a header twice); resolves with the status line's code. */
function rawStatus(server: Server, lines: string[]): Promise<number> {
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => socket.end(`${lines.join("\r\n")}\r\n\r\n`));
        let head = "";
        socket.setEncoding("utf8");
        socket.on("data", (c: string) => { head += c; });
        socket.on("end", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])));
        socket.on("error", reject);
    });
}

function assertProblem(res: request.Response, status: number, type?: string): void {
    assert.equal(res.status, status, res.text);
    assert.match(res.headers["content-type"], /^application\/problem\+json/);
    if (type) assert.equal(res.body.type, `urn:keyvault-platform:problem:${type}`);
}

/** The answer without what differs per request (the request id in `instance`). */
function comparable(res: request.Response): unknown {
    const { instance: _instance, ...rest } = res.body as Record<string, unknown>;
    return { status: res.status, body: rest };
}

describe("HTTP edges: malformed requests answer 400, never 500", () => {
    let h: Harness;
    let server: Server;
    before(async () => {
        h = await startHarness();
        server = await listen(h.app);
    });
    after(async () => {
        await stopListening(server);
        await h.close();
    });

    /** fetch, not supertest: superagent re-encodes a Buffer body sent as JSON, and these bytes must arrive as they are. */
    async function putEncoded(name: string, encoding: string, bytes: Buffer): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
        const { port } = server.address() as AddressInfo;
        const res = await fetch(`http://127.0.0.1:${port}/v1/environments/${name}`, {
            method: "PUT", body: bytes, headers: { ...bearer(TOKENS.operatorA), "Content-Type": "application/json", "Content-Encoding": encoding },
        });
        return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.json() as Record<string, unknown> };
    }

    const json = Buffer.from(JSON.stringify(spec()));
    for (const [encoding, bytes] of [
        ["gzip", Buffer.from("this is not gzip")], ["deflate", Buffer.from("this is not deflate")], ["br", Buffer.from("this is not brotli")],
        ["gzip", gzipSync(json).subarray(0, 20)], ["deflate", deflateSync(json).subarray(0, 12)], ["br", gzipSync(json)],
    ] as const) {
        it(`a corrupt ${encoding} body (${bytes.length} bytes) is a 400 malformed-encoding problem`, async () => {
            const res = await putEncoded("payments-dev", encoding, bytes);
            assert.equal(res.status, 400, JSON.stringify(res.body));
            assert.match(res.type, /^application\/problem\+json/);
            assert.equal(res.body.type, "urn:keyvault-platform:problem:malformed-encoding");
            assert.equal(await h.store.getEnvironment("payments-dev"), undefined);
        });
    }

    it("a well-formed gzip, deflate or br body is accepted", async () => {
        for (const [encoding, compressed] of [["gzip", gzipSync(json)], ["deflate", deflateSync(json)], ["br", brotliCompressSync(json)]] as const) {
            const res = await putEncoded(`payments-${encoding}`, encoding, compressed);
            assert.equal(res.status, 202, `${encoding}: ${JSON.stringify(res.body)}`);
        }
    });

    for (const path of ["/v1/environments/pay%zz", "/v1/environments/%E0%A4%A", "/v1/operations/%/plan", "/v1/environments/a%ZZb/preview"]) {
        it(`a bad percent-encoding in ${path} is a 400 malformed-path problem`, async () => {
            const agent = request(h.app);
            const res = await (path.endsWith("/preview") ? agent.post(path) : agent.get(path)).set(bearer(TOKENS.admin));
            assertProblem(res, 400, "malformed-path");
            assert.ok(!res.text.includes("Failed to decode"), "the decoder's own message is not echoed");
        });
    }

    it("bounds the errors list at 20 entries and counts the rest", async () => {
        const query = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`unknown${i}`, "x"]));
        const res = await request(h.app).get("/v1/environments").query(query).set(bearer(TOKENS.admin));
        assertProblem(res, 400, "validation");
        assert.equal(res.body.errors.length, 20);
        assert.equal(res.body.errorsOmitted, 30);
    });

    it("suggests the field a misspelled one most likely meant", async () => {
        const { tier, ...rest } = spec();
        const res = await request(h.app).put("/v1/environments/payments-typo").set(bearer(TOKENS.operatorA)).send({ ...rest, teir: tier });
        assertProblem(res, 400, "validation");
        assert.deepEqual(res.body.errors.find((e: { path: string }) => e.path === "teir"), { path: "teir", message: "is not a known field; did you mean \"tier\"?" });
        const nested = await request(h.app).put("/v1/environments/payments-typo").set(bearer(TOKENS.operatorA)).send(spec({ network: { alowedIpRanges: [] } }));
        assert.match(nested.body.errors[0].message, /did you mean "allowedIpRanges"/);
    });

    it("answers a wrong method on a known path with 405 and Allow", async () => {
        const res = await request(h.app).patch("/v1/environments/payments-dev").set(bearer(TOKENS.admin)).send({});
        assertProblem(res, 405, "method-not-allowed");
        assert.equal(res.headers.allow, "GET, HEAD, PUT, DELETE");
        const probe = await request(h.app).post("/healthz");
        assertProblem(probe, 405);
        assert.equal(probe.headers.allow, "GET, HEAD");
        assertProblem(await request(h.app).get("/v1/nowhere").set(bearer(TOKENS.admin)), 404, "not-found");
    });

    it("refuses two Authorization headers with 400, whichever comes first", async () => {
        const server = await listen(h.app);
        try {
            const base = ["GET /v1/environments HTTP/1.1", "Host: localhost", "Connection: close"];
            assert.equal(await rawStatus(server, [...base, `Authorization: Bearer ${TOKENS.admin}`]), 200);
            assert.equal(await rawStatus(server, [...base, `Authorization: Bearer ${TOKENS.admin}`, "Authorization: Bearer wrong-token-0123456789"]), 400);
            assert.equal(await rawStatus(server, [...base, "authorization: Bearer wrong-token-0123456789", `Authorization: Bearer ${TOKENS.admin}`]), 400);
        } finally {
            await stopListening(server);
        }
    });
});

describe("HTTP edges: another team's names reveal nothing", () => {
    let h: Harness;
    before(async () => {
        h = await startHarness();
        await request(h.app).put("/v1/environments/billing-taken").set(bearer(TOKENS.operatorB)).send(spec({ team: TEAM_B })).expect(202);
    });
    after(() => h.close());

    it("answers a PUT on a taken and on a free name of another team identically", async () => {
        for (const body of [spec(), spec({ team: TEAM_B })]) {
            const taken = await request(h.app).put("/v1/environments/billing-taken").set(bearer(TOKENS.operatorA)).send(body);
            const free = await request(h.app).put("/v1/environments/billing-free").set(bearer(TOKENS.operatorA)).send(body);
            assert.ok(taken.status === 400 || taken.status === 403, taken.text);
            assert.deepEqual(comparable(taken), comparable(free));
        }
        assert.equal(await h.store.getEnvironment("billing-free"), undefined);
        assert.equal((await h.store.getEnvironment("billing-taken"))?.team, TEAM_B);
    });

    it("answers reads and actions on a taken and on a free name of another team identically, apart from the name", async () => {
        for (const [method, suffix] of [["get", ""], ["delete", ""], ["post", "/preview"], ["post", "/refresh"]] as const) {
            const taken = await request(h.app)[method](`/v1/environments/billing-taken${suffix}`).set(bearer(TOKENS.operatorA));
            const free = await request(h.app)[method](`/v1/environments/billing-free${suffix}`).set(bearer(TOKENS.operatorA));
            assert.equal(taken.status, 404, `${method} ${suffix}`);
            assert.deepEqual(JSON.stringify(comparable(taken)).replace("billing-taken", "billing-free"), JSON.stringify(comparable(free)));
        }
    });
});

describe("HTTP edges: failed authentication is throttled per address", () => {
    let h: Harness;
    before(async () => { h = await startHarness({ authFailuresPerMin: 5 }); });
    after(() => h.close());

    it("refuses an address with 429 after 5 failures, whatever token each carried, valid ones included", async () => {
        for (let i = 0; i < 5; i++) {
            const res = await request(h.app).get("/v1/environments").set(bearer(`wrong-token-number-${i}-0123456789`));
            assertProblem(res, 401);
        }
        const next = await request(h.app).get("/v1/environments").set(bearer("yet-another-wrong-token-0123456789"));
        assertProblem(next, 429, "auth-throttled");
        assert.match(next.headers["retry-after"], /^[1-9]\d*$/);
        assertProblem(await request(h.app).get("/v1/environments").set(bearer(TOKENS.admin)), 429, "auth-throttled");
        assert.equal((await request(h.app).get("/healthz")).status, 200, "probes are not behind authentication");
    });

    it("never counts successful authentications", async () => {
        const fresh = await startHarness({ authFailuresPerMin: 2 });
        try {
            for (let i = 0; i < 20; i++) assert.equal((await request(fresh.app).get("/v1/environments").set(bearer(TOKENS.readerA))).status, 200);
        } finally {
            await fresh.close();
        }
    });
});

describe("HTTP edges: operations", () => {
    let h: Harness;
    before(async () => { h = await startHarness(); });
    after(() => h.close());

    it("marks a replayed idempotent answer, and only that one", async () => {
        const first = await request(h.app).put("/v1/environments/payments-idem").set(bearer(TOKENS.operatorA)).set("Idempotency-Key", "k-1").send(spec());
        assert.equal(first.status, 202);
        assert.equal(first.headers["idempotent-replayed"], undefined);
        const again = await request(h.app).put("/v1/environments/payments-idem").set(bearer(TOKENS.operatorA)).set("Idempotency-Key", "k-1").send(spec());
        assert.equal(again.status, 202);
        assert.equal(again.headers["idempotent-replayed"], "true");
        assert.equal(again.headers.location, first.headers.location);
        assert.deepEqual(again.body, first.body);
    });

    it("leaves a create canceled while queued as destroyed, which a PUT creates again", async () => {
        const put = await request(h.app).put("/v1/environments/payments-gone").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        assert.equal(put.body.environment.status, "pending");
        const cancel = await request(h.app).post(`/v1/operations/${put.body.operation.id}/cancel`).set(bearer(TOKENS.operatorA));
        assert.equal(cancel.status, 200);
        assert.equal(cancel.body.state, "canceled");
        const env = await request(h.app).get("/v1/environments/payments-gone").set(bearer(TOKENS.readerA)).expect(200);
        assert.equal(env.body.status, "destroyed");
        assert.equal(env.body.lastOperation.state, "canceled");
        const again = await request(h.app).put("/v1/environments/payments-gone").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        assert.equal(again.body.environment.status, "pending");
    });

    it("labels a route the same in the metrics whatever its answer", async () => {
        await request(h.app).put("/v1/environments/payments-metrics").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        await request(h.app).put("/v1/environments/payments-metrics").set(bearer(TOKENS.operatorA)).send({ tier: "nope" }).expect(400);
        await request(h.app).get("/v1/environments/payments-missing").set(bearer(TOKENS.readerA)).expect(404);
        await request(h.app).get("/v1/environments/payments-metrics").set(bearer(TOKENS.readerA)).expect(200);
        const text = (await request(h.app).get("/metrics")).text;
        const routes = new Set([...text.matchAll(/kvp_http_request_duration_seconds_count\{method="(?:PUT|GET)",route="([^"]+)",status="(\d+)"\}/g)]
            .filter((m) => m[1].includes("environments/")).map((m) => `${m[1]} ${m[2]}`));
        for (const expected of ["/v1/environments/{name} 202", "/v1/environments/{name} 400", "/v1/environments/{name} 404", "/v1/environments/{name} 200"]) {
            assert.ok(routes.has(expected), `${expected} not in ${[...routes].join(", ")}`);
        }
        assert.ok([...routes].every((r) => r.startsWith("/v1/")), [...routes].join(", "));
    });
});

describe("HTTP edges: a standard EventSource stops once the operation's stream has ended", function () {
    this.timeout(20_000);
    let h: Harness;
    let server: Server;
    before(async () => {
        h = await startHarness({ worker: true, engine: { latencyMs: 50, progressEvents: 2 } });
        server = await listen(h.app);
    });
    after(async () => {
        await stopListening(server);
        await h.close();
    });

    it("gets every event and `end`, then 204 on its one reconnect, and closes", async () => {
        const put = await request(server).put("/v1/environments/payments-sse").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        const { port } = server.address() as AddressInfo;
        const statuses: number[] = [];
        const received: string[] = [];
        const source = new EventSource(`http://127.0.0.1:${port}/v1/operations/${put.body.operation.id}/events`, {
            fetch: async (url, init) => {
                const res = await fetch(url, { ...init, headers: { ...init?.headers, ...bearer(TOKENS.readerA) } });
                statuses.push(res.status);
                return res;
            },
        });
        try {
            const closed = new Promise<{ code?: number }>((resolve) => {
                source.addEventListener("error", (e) => { if (source.readyState === source.CLOSED) resolve(e as { code?: number }); });
            });
            source.addEventListener("end", (e) => received.push(`end ${(e as MessageEvent).data}`));
            source.addEventListener("operation.state", (e) => received.push(`state ${JSON.parse((e as MessageEvent).data).state}`));
            const error = await closed;
            assert.equal(error.code, 204);
            assert.deepEqual(statuses, [200, 204], "one stream, then one reconnect that is told to stop");
            assert.deepEqual(received, ["state queued", "state running", "state succeeded", "end {\"state\":\"succeeded\"}"]);
        } finally {
            source.close();
        }
    });

    it("still replays to a reconnect that missed events of an ended operation", async () => {
        const put = await request(server).put("/v1/environments/payments-sse2").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
        const id = put.body.operation.id;
        for (let i = 0; i < 200 && (await h.store.getOperation(id))?.state !== "succeeded"; i++) await new Promise((r) => setTimeout(r, 20));
        const res = await request(server).get(`/v1/operations/${id}/events`).set(bearer(TOKENS.readerA)).set("Last-Event-ID", "1")
            .buffer(true).parse((r, done) => { let b = ""; r.setEncoding("utf8"); r.on("data", (c: string) => { b += c; }); r.on("end", () => done(null, b)); });
        assert.equal(res.status, 200);
        assert.match(res.body as string, /event: end/);
        const last = await request(server).get(`/v1/operations/${id}/events`).set(bearer(TOKENS.readerA)).set("Last-Event-ID", "999");
        assert.equal(last.status, 204);
    });
});
