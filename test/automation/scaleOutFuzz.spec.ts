import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import fc from "fast-check";
import request from "supertest";
import { EnvironmentService } from "../../automation/domain/service";
import { EnvironmentNameSchema } from "../../automation/domain/spec";
import { TestDoubleEngine } from "../../automation/engine/testDouble";
import { createApp } from "../../automation/http/app";
import { createAuthenticator } from "../../automation/http/auth";
import { createLogger } from "../../automation/http/logger";
import { createMetrics } from "../../automation/http/metrics";
import { OperationIdSchema } from "../../automation/http/schemas";
import { sha256Hex } from "../../automation/server/settings";
import type { PostgresStore } from "../../automation/store/postgres";
import { spec } from "./httpHarness";
import { dropSchema, openTestStore, testSchemaName } from "./storePostgresHarness";

/**
 * Generated bad input on EVERY route, on the PostgreSQL store: 1,300 requests with bad
 * names, ids, bodies, queries, headers, methods and credentials. None may get a 5xx,
 * every refusal is a problem+json, and nothing may be queued.
 */

const ADMIN = "fuzz-admin-token-0123456789abcdef";
const OPERATOR = "fuzz-operator-token-0123456789abcd";
const READER = "fuzz-reader-token-0123456789abcdef";

const printable = fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 60 }).map((codes) => String.fromCharCode(...codes));
const anyText = fc.oneof(printable, fc.string({ maxLength: 40 }), fc.constantFrom("", " ", "%", "%00", "..%2f", "\u0000", "null", "undefined", "__proto__", "constructor", "-1", "1e309", "'; DROP TABLE operations; --"));
const badName = fc.oneof(anyText, fc.stringMatching(/^[A-Z][a-z]{2,10}$/), fc.stringMatching(/^[a-z]{25,30}$/), fc.stringMatching(/^[0-9-][a-z0-9-]{2,10}$/))
    .filter((n) => !EnvironmentNameSchema.safeParse(n).success && !["", ".", ".."].includes(n));
const badId = anyText.filter((id) => !OperationIdSchema.safeParse(id).success && !["", ".", ".."].includes(id));
/** A well-formed name of an environment that does not exist: refused with 404, never queued. */
const missingName = fc.stringMatching(/^zz[a-z0-9]{4,12}$/);
const junkBody = fc.oneof(fc.jsonValue({ maxDepth: 3 }), printable.map((s) => ({ raw: s })));
const credential = fc.oneof(
    fc.constant(`Bearer ${ADMIN}`), fc.constant(`Bearer ${OPERATOR}`), fc.constant(`Bearer ${READER}`),
    fc.constant(`Bearer ${ADMIN}x`), fc.constant("Basic YWRtaW46YWRtaW4="), fc.constant("Bearer"), printable.map((s) => `Bearer ${s}`),
);

interface Case {
    method: "get" | "put" | "post" | "delete" | "patch";
    path: string;
    body?: unknown;
    raw?: string;
    query?: Record<string, string | string[]>;
    headers?: Record<string, string>;
    /** False for requests that may legitimately succeed (e.g. a junk query key on a read). */
    mustFail: boolean;
}

const enc = encodeURIComponent;

function cases(existing: { env: string; op: string }): fc.Arbitrary<Case> {
    const queryValue = fc.oneof(anyText, fc.array(anyText, { minLength: 2, maxLength: 3 }));
    const badQuery = (keys: string[]) => fc.dictionary(fc.oneof(fc.constantFrom(...keys), printable.filter((k) => k.length > 0)), queryValue, { minKeys: 1, maxKeys: 4 });
    return fc.oneof(
        // PUT: bad names, bad bodies, bad content types and idempotency keys.
        badName.map((n): Case => ({ method: "put", path: `/v1/environments/${enc(n)}`, body: spec(), mustFail: true })),
        junkBody.map((b): Case => ({ method: "put", path: `/v1/environments/${existing.env}`, body: b, mustFail: true })),
        printable.map((raw): Case => ({ method: "put", path: `/v1/environments/${existing.env}`, raw: `{${raw}`, mustFail: true })),
        fc.record({ ct: fc.constantFrom("text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json; charset=latin1"), key: fc.option(printable) })
            .map(({ ct, key }): Case => ({ method: "put", path: `/v1/environments/${existing.env}`, raw: JSON.stringify({ tier: "dev" }), headers: { "content-type": ct, ...(key ? { "idempotency-key": key } : {}) }, mustFail: true })),
        // Reads of an environment and of the list.
        badName.map((n): Case => ({ method: "get", path: `/v1/environments/${enc(n)}`, mustFail: true })),
        badQuery(["limit", "cursor", "team", "status"]).map((q): Case => ({ method: "get", path: "/v1/environments", query: q, mustFail: false })),
        // Mutations by name: bad names, and good names of environments that do not exist, with junk bodies.
        fc.record({ n: fc.oneof(badName, missingName), kind: fc.constantFrom("preview", "refresh"), body: fc.option(junkBody) })
            .map(({ n, kind, body }): Case => ({ method: "post", path: `/v1/environments/${enc(n)}/${kind}`, body: body ?? undefined, mustFail: true })),
        fc.oneof(badName, missingName).map((n): Case => ({ method: "delete", path: `/v1/environments/${enc(n)}`, mustFail: true })),
        // Operations: bad ids everywhere, and the finished operation's stream with bad positions.
        badId.map((id): Case => ({ method: "get", path: `/v1/operations/${enc(id)}`, mustFail: true })),
        badId.map((id): Case => ({ method: "get", path: `/v1/operations/${enc(id)}/events`, mustFail: true })),
        badId.map((id): Case => ({ method: "post", path: `/v1/operations/${enc(id)}/cancel`, mustFail: true })),
        fc.record({ q: badQuery(["after"]), lastEventId: fc.option(anyText.filter((v) => !v.includes("\r") && !v.includes("\n") && !v.includes("\u0000") && v.trim() === v)) })
            .map(({ q, lastEventId }): Case => ({ method: "get", path: `/v1/operations/${existing.op}/events`, query: q, headers: lastEventId ? { "last-event-id": lastEventId } : {}, mustFail: false })),
        // Canceling the canceled operation again is allowed and changes nothing (checked below).
        fc.option(junkBody).map((body): Case => ({ method: "post", path: `/v1/operations/${existing.op}/cancel`, body: body ?? undefined, mustFail: false })),
        // Audit, and the unauthenticated routes with junk queries.
        badQuery(["limit", "cursor"]).map((q): Case => ({ method: "get", path: "/v1/audit", query: q, mustFail: false })),
        fc.record({ path: fc.constantFrom("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"), q: badQuery(["x"]) }).map(({ path, q }): Case => ({ method: "get", path, query: q, mustFail: false })),
        // Methods and paths no route has.
        fc.record({ method: fc.constantFrom("patch" as const, "put" as const, "delete" as const), path: fc.constantFrom("/v1/environments", "/v1/audit", `/v1/operations/${existing.op}`, "/healthz", "/v1", "/v2/environments") })
            .map(({ method, path }): Case => ({ method, path, body: {}, mustFail: true })),
    );
}

describe("fuzz on every route, PostgreSQL store: no 5xx, nothing queued", function () {
    this.timeout(180_000);
    const schema = testSchemaName();
    let store: PostgresStore;
    let server: Server;
    const existing = { env: "payments-fuzz", op: "" };
    const logs: string[] = [];

    before(async () => {
        store = await openTestStore(schema);
        const logger = createLogger({ level: "info", destination: { write: (l: string) => { logs.push(l); } } });
        const service = new EnvironmentService({ store, engine: new TestDoubleEngine(), logger });
        const app = createApp({
            service, logger, metrics: createMetrics({ defaultMetrics: false }),
            auth: createAuthenticator({
                adminTokenSha256: sha256Hex(ADMIN),
                staticTokens: [
                    { id: "fuzz-operator", sha256: sha256Hex(OPERATOR), role: "operator", team: "payments" },
                    { id: "fuzz-reader", sha256: sha256Hex(READER), role: "reader", team: "payments" },
                ],
            }),
            settings: { bodyLimitBytes: 16 * 1024, rateLimitPerMin: 1_000_000, engine: "test-double" },
            sse: { heartbeatMs: 200, stateCheckMs: 50 },
        });
        server = app.listen(0, "127.0.0.1");
        const put = await request(server).put(`/v1/environments/${existing.env}`).set("Authorization", `Bearer ${ADMIN}`).send(spec()).expect(202);
        existing.op = put.body.operation.id;
        // Finished, so its event stream ends and a cancel is a 409, not a change.
        await request(server).post(`/v1/operations/${existing.op}/cancel`).set("Authorization", `Bearer ${ADMIN}`).expect(200);
    });
    after(async () => {
        await new Promise((r) => server.close(r));
        await store.close();
        await dropSchema(schema);
    });

    it("answers 1,300 generated malformed requests across every route with a 4xx problem or a harmless read", async () => {
        const before = JSON.stringify(await store.countOperations());
        // Canceling the canceled operation again is audited, harmlessly; anything else accepted would be a change.
        const acceptedChanges = async () => {
            let n = 0;
            let cursor: string | undefined;
            do {
                const page = await store.listAudit({ limit: 100, cursor });
                n += page.items.filter((e) => e.outcome === "accepted" && e.action !== "operation.cancel").length;
                cursor = page.nextCursor;
            } while (cursor);
            return n;
        };
        const auditBefore = await acceptedChanges();
        let refused = 0;
        await fc.assert(fc.asyncProperty(cases(existing), credential, async (c, authorization) => {
            let req = request(server)[c.method](c.path).set("Authorization", authorization);
            if (c.query) req = req.query(c.query);
            for (const [k, v] of Object.entries(c.headers ?? {})) req = req.set(k, v);
            if (c.raw !== undefined) req = req.set("Content-Type", c.headers?.["content-type"] ?? "application/json").send(c.raw);
            else if (c.body !== undefined) req = req.set("Content-Type", "application/json").send(JSON.stringify(c.body));
            const res = await req.buffer(true);
            const what = `${c.method.toUpperCase()} ${c.path} ${JSON.stringify(c.query ?? {})} as ${authorization.slice(0, 20)}: ${res.status} ${String(res.text).slice(0, 200)}`;
            assert.ok(res.status < 500, what);
            if (c.mustFail) assert.ok(res.status >= 400, what);
            if (res.status >= 400) {
                refused++;
                assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json/, what);
            }
        }), { numRuns: 1_300 });
        assert.ok(refused >= 1_000, `only ${refused} of the requests were malformed enough to be refused`);
        assert.equal(JSON.stringify(await store.countOperations()), before, "an operation was queued or changed");
        assert.equal(await acceptedChanges(), auditBefore, "nothing was accepted");
        assert.ok(!logs.some((l) => /"level":50/.test(l) && /unhandled error/.test(l)), "no unhandled error was logged");
    });
});
