import { HttpProblem } from "./problem";

/**
 * Failed authentications counted per client address, whatever token each one carried: the
 * request limiter keys on the credential, so a caller trying a new wrong token on every
 * request would never meet it. Once an address has failed `limitPerMin` times in its current
 * minute, its requests are refused (429) until the minute is over, valid tokens included, so
 * guessing gets no answer to learn from. Only failures are counted: a busy client with a good
 * token is never slowed down here.
 */

interface Window {
    endsAt: number;
    failures: number;
}

const WINDOW_MS = 60_000;
/** Addresses remembered at once; an attacker rotating through more only loses its own old counts. */
const CAPACITY = 100_000;

export class AuthFailureThrottle {
    /** In the order each window opened, so the oldest are the first to go when the map is full. */
    private readonly windows = new Map<string, Window>();

    constructor(private readonly limitPerMin: number, private readonly now: () => number = Date.now) {}

    /** Throws a 429 problem when `address` has used up its failures for this minute. */
    check(address: string): void {
        const w = this.windows.get(address);
        const now = this.now();
        if (w && w.endsAt > now && w.failures >= this.limitPerMin) {
            const retryAfter = String(Math.max(1, Math.ceil((w.endsAt - now) / 1000)));
            throw new HttpProblem(429, "auth-throttled", "Too many failed authentications",
                `At most ${this.limitPerMin} failed authentications per minute from one address; retry later with a valid token`, { "Retry-After": retryAfter });
        }
    }

    /** Counts one failed authentication from `address`. */
    failed(address: string): void {
        const now = this.now();
        const w = this.windows.get(address);
        if (w && w.endsAt > now) {
            w.failures += 1;
            return;
        }
        this.windows.delete(address);
        if (this.windows.size >= CAPACITY) this.forgetOldest(now);
        this.windows.set(address, { endsAt: now + WINDOW_MS, failures: 1 });
    }

    /** Drops the windows that have ended; when none has, the oldest one, so memory stays bounded. */
    private forgetOldest(now: number): void {
        for (const [address, w] of this.windows) {
            if (w.endsAt > now) break;
            this.windows.delete(address);
        }
        if (this.windows.size >= CAPACITY) this.windows.delete(this.windows.keys().next().value!);
    }
}
