import { strict as assert } from "node:assert";
import express from "express";
import helmet from "helmet";
import request from "supertest";
import { securityHeaders } from "../../automation/http/app";
import { bearer, startHarness, TOKENS, type Harness } from "./httpHarness";

/** The per-request shortcuts of the read path keep what they replace: helmet's headers, masked access logs. */

const HELMET_OPTIONS = { contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } };

function headersOf(res: request.Response): Record<string, string> {
    // Only what a middleware adds: the transport's own headers differ between two servers.
    const skip = new Set(["date", "connection", "keep-alive", "content-length", "content-type", "etag", "x-powered-by"]);
    return Object.fromEntries(Object.entries(res.headers).filter(([k]) => !skip.has(k)).map(([k, v]) => [k, String(v)]));
}

describe("read path shortcuts", () => {
    it("precomputed security headers are exactly the ones helmet sets on a live response", async () => {
        const live = express().use(helmet(HELMET_OPTIONS)).get("/", (_req, res) => { res.send("ok"); });
        const fixed = express().use(securityHeaders(HELMET_OPTIONS)).get("/", (_req, res) => { res.send("ok"); });
        const expected = headersOf(await request(live).get("/"));
        assert.ok(Object.keys(expected).length >= 10, `helmet set ${Object.keys(expected).length} headers`);
        assert.deepEqual(headersOf(await request(fixed).get("/")), expected);
    });

    describe("access log", () => {
        let h: Harness;
        before(async () => { h = await startHarness(); });
        after(() => h.close());

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
