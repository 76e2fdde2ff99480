import { strict as assert } from "node:assert";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import request from "supertest";
import { TEST_DOUBLE_SECRET } from "../../automation/engine/testDouble";
import { createLogger } from "../../automation/http/logger";
import { bearer, spec, startHarness, TOKENS, type Harness } from "./httpHarness";

const ISSUER = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
const AUDIENCE = "api://keyvault-platform";

describe("secrets never reach logs or responses", function () {
    this.timeout(20_000);
    let h: Harness;
    const seen: string[] = [];
    const secrets: string[] = [...Object.values(TOKENS), TEST_DOUBLE_SECRET, "hunter2-body-secret-value", "forged-token-value-0123456789"];

    const record = (res: request.Response) => {
        seen.push(JSON.stringify(res.headers), res.text ?? "");
        return res;
    };

    before(async () => {
        const { publicKey, privateKey } = await generateKeyPair("RS256");
        const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" };
        h = await startHarness({
            worker: true,
            engine: { latencyMs: 50 },
            oidc: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"], roleClaim: "roles", teamClaim: "team" },
            jwks: createLocalJWKSet({ keys: [jwk] }),
        });
        const sign = (exp: string | number) => new SignJWT({ roles: ["KeyVaultPlatform.Operator"], team: "payments" })
            .setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("oid-1").setExpirationTime(exp).sign(privateKey);
        const jwt = await sign("10m");
        const expired = await sign(Math.floor(Date.now() / 1000) - 3600);
        secrets.push(jwt, expired);

        const put = record(await request(h.app).put("/v1/environments/payments-dev").set(bearer(jwt)).set("Idempotency-Key", "k-1").send(spec()));
        assert.equal(put.status, 202, put.text);
        const opId = put.body.operation.id;
        for (;;) {
            const op = record(await request(h.app).get(`/v1/operations/${opId}`).set(bearer(TOKENS.readerA)));
            if (op.body.state === "succeeded") break;
            await new Promise((r) => setTimeout(r, 20));
        }
        record(await request(h.app).get("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)));
        record(await request(h.app).get("/v1/environments").set(bearer(TOKENS.admin)));
        record(await request(h.app).get(`/v1/operations/${opId}/events`).set(bearer(TOKENS.readerA)));
        record(await request(h.app).get("/v1/audit").set(bearer(TOKENS.admin)));
        record(await request(h.app).get("/v1/environments").set(bearer(expired)));
        record(await request(h.app).get("/v1/environments").set(bearer("forged-token-value-0123456789")));
        record(await request(h.app).get("/v1/environments").set("Authorization", "forged-token-value-0123456789"));
        record(await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec({ password: "hunter2-body-secret-value" })));
        record(await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).set("Content-Type", "application/json").send("{\"password\": hunter2-body-secret-value"));
        record(await request(h.app).get("/metrics"));
    });
    after(() => h.close());

    it("ran a realistic session (so the checks below are not vacuous)", () => {
        assert.ok(h.logs.length >= 15, `only ${h.logs.length} log lines`);
        assert.ok(h.logs.some((l) => l.includes("token:payments-operator")), "logs name actors by token id");
        assert.ok(h.logs.some((l) => l.includes("oidc:oid-1")), "logs name JWT callers by subject");
        assert.ok(seen.some((s) => s.includes("[secret]")), "the outputs' secret was redacted, not absent");
    });

    it("keeps every token and secret value out of the logs", () => {
        const logs = h.logs.join("\n");
        for (const s of secrets) assert.ok(!logs.includes(s), `a log line contains ${s.slice(0, 12)}...`);
    });

    it("keeps every token and secret value out of responses", () => {
        const all = seen.join("\n");
        for (const s of secrets) assert.ok(!all.includes(s), `a response contains ${s.slice(0, 12)}...`);
    });
});

describe("log redaction", () => {
    it("masks secret-looking fields at any depth, bearer tokens and JWTs inside text", () => {
        const lines: string[] = [];
        const logger = createLogger({ level: "info", destination: { write: (l: string) => { lines.push(l); } } });
        const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl";
        logger.info({ a: { b: { clientSecret: "s1-value", passphrase: "s2-value", headers: { authorization: "Bearer s3-value" } } }, list: [{ password: "s4-value" }], keep: "visible" }, "called with Bearer s5-value");
        logger.error({ err: new Error(`upstream rejected ${jwt}`) }, "failure");
        const out = lines.join("\n");
        for (const s of ["s1-value", "s2-value", "s3-value", "s4-value", "s5-value", jwt]) assert.ok(!out.includes(s), `${s} leaked: ${out}`);
        assert.ok(out.includes("visible"), "ordinary fields are kept");
        assert.ok(out.includes("upstream rejected"), "error messages are kept, minus the secret");
    });
});
