import { createHash } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";

/**
 * Per-caller request budgets, in memory, with the policy and the response headers of
 * express-rate-limit's MemoryStore and IETF draft-8 headers, which this replaced: a window of
 * `windowMs` per key starting at its first request, `RateLimit` and `RateLimit-Policy` on every
 * response, `Retry-After` on a refusal. express-rate-limit awaits seven times per request and
 * hashes the key again for the policy header on every response; on the read routes of
 * npm run bench:api that was ~5% of a request's CPU. Here the check is synchronous and the
 * policy header is worked out once per caller. test/automation/httpRateLimit.spec.ts drives
 * both side by side and requires the same statuses and headers.
 */

export interface RateLimitOptions {
    windowMs: number;
    /** Requests per key per window; the next one is refused. */
    limit: number;
    /** Who is counted. Never a secret as is: keys are held in memory for up to two windows. */
    key(req: Request): string;
    /** Answers a refused request; `retryAfterSeconds` is the time left in the caller's window. */
    refuse(req: Request, res: Response, retryAfterSeconds: number): void;
}

interface Client {
    hits: number;
    resetAt: number;
    /** The caller's RateLimit-Policy header, which only depends on the key. */
    policy: string;
}

/** express-rate-limit's default policy name, e.g. "100-in-1min". */
export function policyName(limit: number, windowMs: number): string {
    const seconds = windowMs / 1e3;
    const minutes = seconds / 60;
    const hours = minutes / 60;
    const days = hours / 24;
    const duration = seconds < 60 ? `${seconds}sec` : minutes < 60 ? `${minutes}min` : hours < 24 ? `${hours}hr${hours > 1 ? "s" : ""}` : `${days}day${days > 1 ? "s" : ""}`;
    return `${limit}-in-${duration}`;
}

/** Draft-8's partition key, as express-rate-limit derives it: a hash of the key, never the key. */
function partitionKey(key: string): string {
    return Buffer.from(createHash("sha256").update(key).digest("hex").slice(0, 12)).toString("base64");
}

export function rateLimiter(options: RateLimitOptions): RequestHandler {
    const { windowMs, limit } = options;
    const name = policyName(limit, windowMs);
    const windowSeconds = Math.ceil(windowMs / 1000);
    // Callers seen this window and the one before; one not seen for a whole window is dropped with
    // the older map, so memory follows the number of recent callers without a scan.
    let current = new Map<string, Client>();
    let previous = new Map<string, Client>();
    setInterval(() => {
        previous = current;
        current = new Map();
    }, windowMs).unref();

    function client(key: string, now: number): Client {
        let found = current.get(key);
        if (found === undefined) {
            found = previous.get(key);
            if (found === undefined) found = { hits: 0, resetAt: now + windowMs, policy: `"${name}"; q=${limit}; w=${windowSeconds}; pk=:${partitionKey(key)}:` };
            else previous.delete(key);
            current.set(key, found);
        }
        return found;
    }

    return (req, res, next) => {
        const now = Date.now();
        const c = client(options.key(req), now);
        if (c.resetAt <= now) {
            c.hits = 0;
            c.resetAt = now + windowMs;
        }
        c.hits++;
        const resetSeconds = Math.max(0, Math.ceil((c.resetAt - now) / 1000));
        if (!res.headersSent) {
            res.setHeader("RateLimit", `"${name}"; r=${Math.max(limit - c.hits, 0)}; t=${resetSeconds}`);
            res.setHeader("RateLimit-Policy", c.policy);
        }
        if (c.hits > limit) {
            if (!res.headersSent) res.setHeader("Retry-After", String(resetSeconds));
            options.refuse(req, res, resetSeconds);
            return;
        }
        next();
    };
}
