import { strict as assert } from "node:assert";
import express, { type RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import request from "supertest";
import { policyName, rateLimiter } from "../../automation/http/rateLimit";

/**
 * The API's rate limiter replaced express-rate-limit (MemoryStore, draft-8 headers) on the hot
 * path; it must keep its policy and headers exactly. Both run side by side here on the same
 * sequence of callers and instants.
 */

const WINDOW_MS = 60_000;
const LIMIT = 3;
const key = (req: express.Request) => req.get("authorization") ?? "anonymous";
const refuse = (res: express.Response) => { res.status(429).set("Retry-After", String(WINDOW_MS / 1000)).json({ refused: true }); };

function appWith(limiter: RequestHandler): express.Express {
    return express().use(limiter).get("/", (_req, res) => { res.json({ ok: true }); });
}

describe("the API's rate limiter", () => {
    const realNow = Date.now;
    let now = Date.parse("2030-01-01T00:00:00.000Z");
    beforeEach(() => { Date.now = () => now; });
    afterEach(() => { Date.now = realNow; });

    it("answers a sequence of callers with express-rate-limit's statuses and headers, across window resets", async () => {
        const library = appWith(rateLimit({
            windowMs: WINDOW_MS, limit: LIMIT, standardHeaders: "draft-8", legacyHeaders: false, keyGenerator: key,
            handler: (_req, res) => refuse(res),
        }));
        const ours = appWith(rateLimiter({ windowMs: WINDOW_MS, limit: LIMIT, key, refuse: (_req, res) => refuse(res) }));
        const steps: Array<[string | undefined, number]> = [
            ["Bearer a", 0], ["Bearer a", 1_000], ["Bearer b", 1_500], ["Bearer a", 2_000], ["Bearer a", 2_500], [undefined, 3_000],
            ["Bearer b", 30_000], ["Bearer a", 59_999], ["Bearer a", 60_000], ["Bearer a", 61_000], ["Bearer b", 95_000], ["Bearer b", 200_000],
        ];
        const start = now;
        let refused = 0;
        for (const [authorization, at] of steps) {
            now = start + at;
            const answers = await Promise.all([library, ours].map((app) => {
                const r = request(app).get("/");
                return authorization ? r.set("Authorization", authorization) : r;
            }));
            const [expected, actual] = answers.map((a) => ({
                status: a.status, body: a.body as unknown,
                ratelimit: a.headers["ratelimit"], policy: a.headers["ratelimit-policy"], retryAfter: a.headers["retry-after"],
            }));
            assert.deepEqual(actual, expected, `${authorization ?? "anonymous"} at +${at} ms`);
            if (expected.status === 429) refused++;
        }
        assert.ok(refused >= 2, "the sequence must reach the limit");
    });

    it("names its policy as express-rate-limit does", () => {
        assert.deepEqual([policyName(100, 60_000), policyName(5, 30_000), policyName(10, 7_200_000), policyName(1, 86_400_000)],
            ["100-in-1min", "5-in-30sec", "10-in-2hrs", "1-in-1day"]);
    });
});
