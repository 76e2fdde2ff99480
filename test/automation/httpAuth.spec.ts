import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from "jose";
import { createAuthenticator, readTokensFile, roleFromClaim, teamFromClaims, type Authenticator } from "../../automation/http/auth";
import { HttpProblem } from "../../automation/http/problem";
import { sha256Hex, type OidcSettings } from "../../automation/server/settings";

const ISSUER = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
const AUDIENCE = "api://keyvault-platform";
const OIDC: OidcSettings = { issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"], roleClaim: "roles", teamClaim: "team" };
const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const OPERATOR_TOKEN = "operator-token-0123456789abcdef";

async function refusal(auth: Authenticator, header: string | undefined): Promise<HttpProblem> {
    try {
        await auth.authenticate(header);
    } catch (e) {
        assert.ok(e instanceof HttpProblem, `expected an HttpProblem, got ${String(e)}`);
        return e;
    }
    assert.fail("expected the credential to be refused");
}

describe("HTTP auth: static tokens", () => {
    const auth = createAuthenticator({
        adminTokenSha256: sha256Hex(ADMIN_TOKEN),
        staticTokens: [{ id: "payments-ci", sha256: sha256Hex(OPERATOR_TOKEN), role: "operator", team: "payments" }],
    });

    it("maps KVP_ADMIN_TOKEN to an admin with no team", async () => {
        assert.deepEqual(await auth.authenticate(`Bearer ${ADMIN_TOKEN}`), { subject: "token:admin-token", role: "admin" });
    });

    it("maps a hashed token to its role and team, naming it by id only", async () => {
        const actor = await auth.authenticate(`bearer ${OPERATOR_TOKEN}`);
        assert.deepEqual(actor, { subject: "token:payments-ci", role: "operator", team: "payments" });
    });

    it("answers a missing header with a bare Bearer challenge", async () => {
        const p = await refusal(auth, undefined);
        assert.equal(p.status, 401);
        assert.equal(p.headers["WWW-Authenticate"], "Bearer realm=\"keyvault-platform\"");
    });

    it("answers an unknown token with invalid_token", async () => {
        const p = await refusal(auth, "Bearer not-a-known-token-at-all");
        assert.equal(p.status, 401);
        assert.match(p.headers["WWW-Authenticate"], /error="invalid_token"/);
    });

    it("answers another scheme with invalid_request", async () => {
        const p = await refusal(auth, `Basic ${Buffer.from("a:b").toString("base64")}`);
        assert.equal(p.status, 401);
        assert.match(p.headers["WWW-Authenticate"], /error="invalid_request"/);
    });

    it("refuses a JWT when OIDC is not configured", async () => {
        const p = await refusal(auth, "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
        assert.equal(p.status, 401);
    });
});

describe("HTTP auth: tokens file", () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), "kvp-tokens-")); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("reads hashed entries", () => {
        const file = path.join(dir, "tokens.json");
        writeFileSync(file, JSON.stringify([{ id: "r1", sha256: sha256Hex("x".repeat(20)).toUpperCase(), role: "reader", team: "payments" }]));
        assert.deepEqual(readTokensFile(file), [{ id: "r1", sha256: sha256Hex("x".repeat(20)), role: "reader", team: "payments" }]);
    });

    const bad: Array<[string, unknown, RegExp]> = [
        ["a clear-text token instead of a hash", [{ id: "a", sha256: "my-token", role: "reader", team: "t1" }], /\[0\.sha256\].*64-character hex/],
        ["an operator without a team", [{ id: "a", sha256: "a".repeat(64), role: "operator" }], /\[0\.team\].*required for operator/],
        ["an unknown role", [{ id: "a", sha256: "a".repeat(64), role: "owner", team: "t1" }], /\[0\.role\]/],
        ["a duplicated id", [{ id: "a", sha256: "a".repeat(64), role: "admin" }, { id: "a", sha256: "b".repeat(64), role: "admin" }], /\[1\.id\].*duplicates/],
        ["an unknown field", [{ id: "a", sha256: "a".repeat(64), role: "admin", token: "clear" }], /\[0\]/],
    ];
    for (const [what, content, message] of bad) {
        it(`refuses ${what}`, () => {
            const file = path.join(dir, "tokens.json");
            writeFileSync(file, JSON.stringify(content));
            assert.throws(() => readTokensFile(file), (e: Error) => message.test(e.message) && e.message.includes("KVP_TOKENS_FILE"));
        });
    }
});

describe("HTTP auth: OIDC / Entra ID JWTs", () => {
    let privateKey: CryptoKey;
    let otherKey: CryptoKey;
    let auth: Authenticator;

    before(async () => {
        const pair = await generateKeyPair("RS256", { extractable: true });
        privateKey = pair.privateKey;
        otherKey = (await generateKeyPair("RS256")).privateKey;
        const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
        auth = createAuthenticator({ oidc: OIDC, jwks: createLocalJWKSet({ keys: [jwk] }) });
    });

    const sign = (claims: JWTPayload, opts: { key?: CryptoKey; iss?: string; aud?: string; exp?: string | number; sub?: string } = {}) =>
        new SignJWT(claims)
            .setProtectedHeader({ alg: "RS256", kid: "k1" })
            .setIssuer(opts.iss ?? ISSUER)
            .setAudience(opts.aud ?? AUDIENCE)
            .setSubject(opts.sub ?? "user-oid-1")
            .setIssuedAt()
            .setExpirationTime(opts.exp ?? "10m")
            .sign(opts.key ?? privateKey);

    it("accepts a valid token and maps Entra app roles and the team claim", async () => {
        const token = await sign({ roles: ["KeyVaultPlatform.Operator"], team: "payments" });
        assert.deepEqual(await auth.authenticate(`Bearer ${token}`), { subject: "oidc:user-oid-1", role: "operator", team: "payments" });
    });

    it("takes the team from a KeyVaultPlatform.Team.<team> app role when there is no team claim", async () => {
        const token = await sign({ roles: ["KeyVaultPlatform.Reader", "KeyVaultPlatform.Team.payments"] });
        assert.deepEqual(await auth.authenticate(`Bearer ${token}`), { subject: "oidc:user-oid-1", role: "reader", team: "payments" });
    });

    it("gives an admin no team", async () => {
        const token = await sign({ roles: ["KeyVaultPlatform.Admin", "KeyVaultPlatform.Reader"] });
        assert.deepEqual(await auth.authenticate(`Bearer ${token}`), { subject: "oidc:user-oid-1", role: "admin" });
    });

    const refused: Array<[string, () => Promise<string>, number, RegExp]> = [
        ["an expired token", () => sign({ roles: ["KeyVaultPlatform.Admin"] }, { exp: Math.floor(Date.now() / 1000) - 600 }), 401, /expired/],
        ["a token for another audience", () => sign({ roles: ["KeyVaultPlatform.Admin"] }, { aud: "api://someone-else" }), 401, /aud/],
        ["a token from another issuer", () => sign({ roles: ["KeyVaultPlatform.Admin"] }, { iss: "https://evil.example.com" }), 401, /iss/],
        ["an unsigned token (alg none)", async () => new UnsecuredJWT({ roles: ["KeyVaultPlatform.Admin"] }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("x").setExpirationTime("10m").encode(), 401, /algorithm|not a valid JWT/],
        ["a token signed with another key", () => sign({ roles: ["KeyVaultPlatform.Admin"] }, { key: otherKey }), 401, /signature/],
        ["an HMAC token", async () => new SignJWT({ roles: ["KeyVaultPlatform.Admin"] }).setProtectedHeader({ alg: "HS256", kid: "k1" }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("x").setExpirationTime("10m").sign(new TextEncoder().encode("a-shared-secret-of-32-bytes-long!")), 401, /algorithm/],
        ["a token without a team claim", () => sign({ roles: ["KeyVaultPlatform.Operator"] }), 403, /team/],
        ["a token with two team roles", () => sign({ roles: ["KeyVaultPlatform.Operator", "KeyVaultPlatform.Team.a1", "KeyVaultPlatform.Team.b1"] }), 403, /team/],
        ["a token with no platform role", () => sign({ roles: ["SomeOtherApp.Admin"], team: "payments" }), 403, /grants no role/],
        ["a token with an empty sub", () => sign({ roles: ["KeyVaultPlatform.Admin"] }, { sub: "" }), 401, /sub claim must name the caller/],
        ["a token whose sub is blank", () => sign({ roles: ["KeyVaultPlatform.Admin"] }, { sub: "   " }), 401, /sub claim must name the caller/],
    ];
    for (const [what, make, status, detail] of refused) {
        it(`refuses ${what} with ${status}`, async () => {
            const token = await make();
            const p = await refusal(auth, `Bearer ${token}`);
            assert.equal(p.status, status);
            assert.match(p.detail ?? "", detail);
            assert.ok(!(p.detail ?? "").includes(token), "the token is never echoed");
            if (status === 401) assert.match(p.headers["WWW-Authenticate"], /error="invalid_token"/);
        });
    }
});

describe("HTTP auth: OpenID discovery failures", () => {
    it("backs off from a failing discovery, 1 s doubling to 60 s, and answers 503 with Retry-After meanwhile", async () => {
        let now = 1_000_000;
        let calls = 0;
        const fetchImpl = (async () => { calls += 1; return new Response("down", { status: 502 }); }) as typeof fetch;
        const auth = createAuthenticator({ oidc: OIDC, fetchImpl, now: () => now });
        const jwtShaped = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        const attempts: number[] = [];
        const first = await refusal(auth, jwtShaped);
        assert.equal(first.headers["Retry-After"], "1", "the failed attempt itself says when the next one is due");
        // Ten calls at each moment; discovery may run once per moment at most, and only when its wait is over.
        for (const step of [0, 500, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 30_000, 30_000]) {
            now += step;
            for (let i = 0; i < 10; i++) {
                const p = await refusal(auth, jwtShaped);
                assert.equal(p.status, 503);
                assert.match(p.headers["Retry-After"], /^[1-9]\d*$/);
            }
            attempts.push(calls);
        }
        // Waits after each failure: 1, 2, 4, 8, 16, 32, 60 (capped), 60 s.
        assert.deepEqual(attempts, [1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 8, 9]);
    });
});

describe("HTTP auth: claim mapping", () => {
    const table: Array<[unknown, string | undefined]> = [
        [["KeyVaultPlatform.Reader"], "reader"],
        [["KeyVaultPlatform.Reader", "KeyVaultPlatform.Operator"], "operator"],
        ["operator admin", "admin"],
        [["keyvaultplatform.admin"], undefined],
        [["Owner"], undefined],
        [42, undefined],
    ];
    for (const [claim, role] of table) {
        it(`maps ${JSON.stringify(claim)} to ${role ?? "no role"}`, () => assert.equal(roleFromClaim(claim), role));
    }

    it("ignores a team claim that is not a valid team name", () => {
        assert.equal(teamFromClaims({ team: "Payments Team" }, "team", "roles"), undefined);
        assert.equal(teamFromClaims({ team: ["payments"] }, "team", "roles"), "payments");
    });
});
