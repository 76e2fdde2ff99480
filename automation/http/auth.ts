import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Request, RequestHandler } from "express";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import type { Actor, CallerRole } from "../domain/ports";
import { TeamSchema } from "../domain/spec";
import type { OidcSettings } from "../server/settings";
import type { AuthFailureThrottle } from "./authThrottle";
import { HttpProblem } from "./problem";

/**
 * Bearer authentication for /v1. Two kinds of credential:
 * - static tokens, kept only as sha256 hashes and compared in constant time;
 * - OIDC / Entra ID JWTs, verified against the issuer's JWKS with an explicit
 *   algorithm allow-list, issuer, audience and expiry.
 * Both produce an Actor; the token itself never leaves this file.
 */

export const CALLER_ROLES = ["admin", "operator", "reader"] as const satisfies readonly CallerRole[];
const ROLE_RANK: Record<CallerRole, number> = { reader: 1, operator: 2, admin: 3 };
/** Entra app-role values are namespaced by the application; this prefix is stripped before matching. */
export const APP_ROLE_PREFIX = "KeyVaultPlatform.";
/** Entra cannot easily emit a custom `team` claim, but an app role assigned to a team's group can carry it. */
const TEAM_ROLE = /^KeyVaultPlatform\.Team\.(.+)$/;
const isTeam = (v: unknown): v is string => TeamSchema.safeParse(v).success;
const CLOCK_TOLERANCE_S = 60;
/** Entra's subjects are 43 characters; the bound keeps audit entries and logs small. */
const MAX_SUBJECT_LENGTH = 256;
const REALM = "keyvault-platform";

export const StaticTokenSchema = z.object({
    /** Stable identifier shown in audit entries and logs instead of the token. */
    id: z.string().regex(/^[A-Za-z0-9._:@-]{1,64}$/, "must be 1-64 letters, digits or ._:@-"),
    /** Hex sha256 of the token: `printf %s "$TOKEN" | sha256sum`. */
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be the 64-character hex sha256 of the token").transform((h) => h.toLowerCase()),
    role: z.enum(CALLER_ROLES),
    team: TeamSchema.optional(),
}).strict().refine((t) => t.role === "admin" || t.team !== undefined, { path: ["team"], message: "is required for operator and reader tokens" });
export type StaticToken = z.infer<typeof StaticTokenSchema>;

export const StaticTokensFileSchema = z.array(StaticTokenSchema).superRefine((tokens, ctx) => {
    const ids = new Set<string>();
    tokens.forEach((t, i) => {
        if (ids.has(t.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicates id ${t.id}` });
        ids.add(t.id);
    });
});

/** Reads KVP_TOKENS_FILE; throws naming the file and every bad entry. */
export function readTokensFile(file: string): StaticToken[] {
    let raw: unknown;
    try {
        raw = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
        throw new Error(`KVP_TOKENS_FILE: ${file} is not readable JSON (${(e as Error).name})`, { cause: e });
    }
    const parsed = StaticTokensFileSchema.safeParse(raw);
    if (!parsed.success) {
        const lines = parsed.error.issues.map((i) => `  - [${i.path.join(".")}]: ${i.message}`);
        throw new Error(`KVP_TOKENS_FILE: ${file} has invalid entries:\n${lines.join("\n")}`);
    }
    return parsed.data;
}

export interface AuthOptions {
    staticTokens?: StaticToken[];
    /** Hex sha256 of KVP_ADMIN_TOKEN. */
    adminTokenSha256?: string;
    oidc?: OidcSettings;
    /** Key set to verify JWTs with; tests pass a local one. Defaults to the issuer's remote JWKS. */
    jwks?: JWTVerifyGetKey;
    /** Fetch used for OpenID discovery when no JWKS URL is configured. */
    fetchImpl?: typeof fetch;
    /** Clock for the discovery backoff; tests pass their own. */
    now?: () => number;
}

export interface Authenticator {
    /** Resolves the caller, or throws an HttpProblem (401 for bad credentials, 403 for a valid one without rights). */
    authenticate(authorization: string | undefined): Promise<Actor>;
}

const unauthorized = (detail: string, error?: "invalid_request" | "invalid_token") =>
    new HttpProblem(401, "unauthorized", "Unauthorized", detail, {
        "WWW-Authenticate": error ? `Bearer realm="${REALM}", error="${error}", error_description="${detail}"` : `Bearer realm="${REALM}"`,
    });

export const forbidden = (detail: string) => new HttpProblem(403, "forbidden", "Forbidden", detail);

function sha256(value: string): Buffer {
    return createHash("sha256").update(value, "utf8").digest();
}

function looksLikeJwt(token: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** Maps claim values such as `KeyVaultPlatform.Operator` or `operator` to the highest role they grant. */
export function roleFromClaim(value: unknown): CallerRole | undefined {
    const values = Array.isArray(value) ? value : typeof value === "string" ? value.split(" ") : [];
    let best: CallerRole | undefined;
    for (const v of values) {
        if (typeof v !== "string") continue;
        const name = (v.startsWith(APP_ROLE_PREFIX) ? v.slice(APP_ROLE_PREFIX.length) : v).toLowerCase();
        if ((CALLER_ROLES as readonly string[]).includes(name) && (!best || ROLE_RANK[name as CallerRole] > ROLE_RANK[best])) best = name as CallerRole;
    }
    return best;
}

/** The team from the configured claim, else from a `KeyVaultPlatform.Team.<team>` role value. */
export function teamFromClaims(payload: JWTPayload, teamClaim: string, roleClaim: string): string | undefined {
    const claim = payload[teamClaim];
    const direct = Array.isArray(claim) && claim.length === 1 ? claim[0] : claim;
    if (isTeam(direct)) return direct;
    const roles = payload[roleClaim];
    const teams = (Array.isArray(roles) ? roles : []).flatMap((r) => {
        const team = typeof r === "string" ? TEAM_ROLE.exec(r)?.[1] : undefined;
        return isTeam(team) ? [team] : [];
    });
    return teams.length === 1 ? teams[0] : undefined;
}

/** Discovery is failing and its next attempt is not due yet; the caller gets a 503 saying when. */
class DiscoveryBackoff extends Error {
    constructor(readonly retryAfterS: number, options: { cause?: unknown }) {
        super(`OpenID discovery is failing; next attempt in ${retryAfterS} s`, options);
        this.name = "DiscoveryBackoff";
    }
}

/** First wait after a failed discovery, doubled after each further failure up to the cap. */
const DISCOVERY_BACKOFF_MS = { first: 1_000, max: 60_000 };

function discoveredJwks(oidc: OidcSettings, fetchImpl: typeof fetch, now: () => number): JWTVerifyGetKey {
    let resolved: Promise<JWTVerifyGetKey> | undefined;
    let failures = 0;
    let retryAt = 0;
    let lastError: unknown;
    const resolve = async (): Promise<JWTVerifyGetKey> => {
        const url = `${oidc.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
        const res = await fetchImpl(url, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`OpenID discovery at ${url} answered ${res.status}`);
        const doc = await res.json() as { jwks_uri?: unknown };
        if (typeof doc.jwks_uri !== "string") throw new Error(`OpenID discovery at ${url} has no jwks_uri`);
        return createRemoteJWKSet(new URL(doc.jwks_uri));
    };
    return async (header, token) => {
        if (!resolved) {
            // While discovery fails, unauthenticated callers must not be able to make the server call out once per request.
            const wait = retryAt - now();
            if (wait > 0) throw new DiscoveryBackoff(Math.ceil(wait / 1000), { cause: lastError });
            resolved = resolve().then(
                (keys) => { failures = 0; return keys; },
                (e: unknown) => {
                    resolved = undefined;
                    lastError = e;
                    const waitMs = Math.min(DISCOVERY_BACKOFF_MS.max, DISCOVERY_BACKOFF_MS.first * 2 ** failures);
                    retryAt = now() + waitMs;
                    failures += 1;
                    throw new DiscoveryBackoff(Math.ceil(waitMs / 1000), { cause: e });
                },
            );
        }
        return (await resolved)(header, token);
    };
}

export function createAuthenticator(options: AuthOptions): Authenticator {
    const entries = [
        ...(options.adminTokenSha256 ? [{ id: "admin-token", sha256: options.adminTokenSha256, role: "admin" as const, team: undefined }] : []),
        ...(options.staticTokens ?? []),
    ].map((t) => ({ ...t, digest: Buffer.from(t.sha256, "hex") }));
    const oidc = options.oidc;
    const jwks = oidc
        ? options.jwks ?? (oidc.jwksUrl ? createRemoteJWKSet(new URL(oidc.jwksUrl)) : discoveredJwks(oidc, options.fetchImpl ?? fetch, options.now ?? Date.now))
        : undefined;

    function matchStatic(token: string): Actor | undefined {
        const digest = sha256(token);
        let match: (typeof entries)[number] | undefined;
        // Every entry is compared, so timing reveals neither whether nor which entry matched.
        for (const e of entries) {
            if (timingSafeEqual(e.digest, digest) && !match) match = e;
        }
        if (!match) return undefined;
        return match.role === "admin" ? { subject: `token:${match.id}`, role: "admin" } : { subject: `token:${match.id}`, role: match.role, team: match.team };
    }

    async function verifyJwt(token: string): Promise<Actor> {
        if (!oidc || !jwks) throw unauthorized("the token is not recognised", "invalid_token");
        let payload: JWTPayload;
        try {
            ({ payload } = await jwtVerify(token, jwks, {
                issuer: oidc.issuer,
                audience: oidc.audience,
                algorithms: oidc.algorithms,
                clockTolerance: CLOCK_TOLERANCE_S,
                requiredClaims: ["exp", "sub"],
            }));
        } catch (e) {
            if (!(e instanceof joseErrors.JOSEError) || e instanceof joseErrors.JWKSTimeout) {
                // The identity provider's keys could not be fetched: the caller is not at fault.
                const retryAfter = e instanceof DiscoveryBackoff ? e.retryAfterS : 10;
                throw new HttpProblem(503, "unavailable", "Service unavailable", "the identity provider's signing keys cannot be fetched right now", { "Retry-After": String(retryAfter) });
            }
            throw unauthorized(jwtFailure(e), "invalid_token");
        }
        const role = roleFromClaim(payload[oidc.roleClaim]);
        if (!role) throw forbidden(`the token's ${oidc.roleClaim} claim grants no role; expected ${APP_ROLE_PREFIX}Admin, ${APP_ROLE_PREFIX}Operator or ${APP_ROLE_PREFIX}Reader`);
        // jose checks that `sub` is present, not that it names anyone: an empty one would make every such token one caller.
        if (typeof payload.sub !== "string" || payload.sub.trim() === "" || payload.sub.length > MAX_SUBJECT_LENGTH) {
            throw unauthorized(`the token's sub claim must name the caller (1-${MAX_SUBJECT_LENGTH} characters)`, "invalid_token");
        }
        const subject = `oidc:${payload.sub}`;
        if (role === "admin") return { subject, role };
        const team = teamFromClaims(payload, oidc.teamClaim, oidc.roleClaim);
        if (!team) throw forbidden(`the token has no usable ${oidc.teamClaim} claim (or ${APP_ROLE_PREFIX}Team.<team> role); a non-admin caller must belong to exactly one team`);
        return { subject, role, team };
    }

    return {
        async authenticate(authorization) {
            if (!authorization) throw unauthorized("a bearer token is required");
            const m = /^Bearer +([\x21-\x7E]+)\s*$/i.exec(authorization);
            if (!m) throw unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request");
            const token = m[1];
            const actor = matchStatic(token);
            if (actor) return actor;
            if (looksLikeJwt(token)) return verifyJwt(token);
            throw unauthorized("the token is not recognised", "invalid_token");
        },
    };
}

/** A client-safe reason: which check failed, never the token or key material. */
function jwtFailure(e: unknown): string {
    if (e instanceof joseErrors.JWTExpired) return "the token has expired";
    if (e instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${e.claim} claim is not acceptable`;
    if (e instanceof joseErrors.JOSEAlgNotAllowed) return "the token's signing algorithm is not allowed";
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
    if (e instanceof joseErrors.JWKSNoMatchingKey) return "no signing key matches the token";
    return "the token is not a valid JWT";
}

/** How many times a header appears in the request as sent; Node keeps only the first Authorization. */
function headerCount(rawHeaders: readonly string[], name: string): number {
    let n = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) n += 1;
    return n;
}

/**
 * Authenticates every request of the router it is mounted on; the actor lands in res.locals.actor.
 * Each 401 is counted against the client's address, and an address with too many is refused first.
 */
export function authenticate(auth: Authenticator, throttle: AuthFailureThrottle, addressOf: (req: Request) => string): RequestHandler {
    return async (req, res, next) => {
        const address = addressOf(req);
        throttle.check(address);
        if (headerCount(req.rawHeaders, "authorization") > 1) {
            // Proxies and servers disagree on which of two credentials counts; refusing both leaves no doubt.
            throw new HttpProblem(400, "duplicate-authorization", "Duplicate Authorization header", "Send exactly one Authorization header");
        }
        try {
            res.locals.actor = await auth.authenticate(req.get("authorization"));
        } catch (e) {
            if (e instanceof HttpProblem && e.status === 401) throttle.failed(address);
            throw e;
        }
        next();
    };
}

/** Readers may only read; mutations need operator or admin; some routes are admin-only. */
export function requireRole(minimum: CallerRole): RequestHandler {
    return (_req, res, next) => {
        const actor = res.locals.actor as Actor;
        if (ROLE_RANK[actor.role] < ROLE_RANK[minimum]) {
            throw forbidden(`this action needs the ${minimum} role; the caller is ${actor.role}`);
        }
        next();
    };
}
