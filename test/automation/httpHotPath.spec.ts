import { strict as assert } from "node:assert";
import request from "supertest";
import { bearer, startHarness, TOKENS, type Harness } from "./httpHarness";

/** Every request gets helmet's headers and one masked access-log line. */

describe("request frame", () => {
    describe("access log", () => {
        let h: Harness;
        before(async () => { h = await startHarness(); });
        after(() => h.close());

        it("sets helmet's security headers, with the API's strict Content-Security-Policy", async () => {
            const res = await request(h.app).get("/v1/environments").set(bearer(TOKENS.readerA));
            assert.match(String(res.headers["content-security-policy"]), /default-src 'none'/);
            assert.equal(res.headers["x-content-type-options"], "nosniff");
            assert.equal(res.headers["x-frame-options"], "SAMEORIGIN");
        });

        it("writes one flat line per request, with a JWT pasted into the path masked", async () => {
            const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhYmNkZWZnaGlqa2xtbm9wIn0.c2lnbmF0dXJlLWFiY2RlZmdo";
            await request(h.app).get(`/v1/environments/${encodeURIComponent(token)}`).set(bearer(TOKENS.readerA));
            const line = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "request" && String(l.path).startsWith("/v1/environments/"));
            assert.ok(line, `no access log line in ${h.logs.join("")}`);
            assert.deepEqual(Object.keys(line).filter((k) => !["level", "time", "pid", "hostname", "service", "msg"].includes(k)).sort(),
                ["actor", "durationMs", "method", "path", "requestId", "role", "status"]);
            assert.equal(line.actor, "token:payments-reader");
            assert.doesNotMatch(h.logs.join(""), /eyJzdWIiOiJhYmNkZWZnaGlqa2xtbm9wIn0/);
        });
    });
});
