import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { defaultJwksUrl, loadSettings, resolvePassphrase, SettingsError, sha256Hex } from "../../automation/server/settings";

function problemsFor(env: Record<string, string>): Array<{ variable: string; message: string }> {
    try {
        loadSettings(env, "/srv/app");
    } catch (e) {
        assert.ok(e instanceof SettingsError, `expected SettingsError, got ${String(e)}`);
        return e.problems;
    }
    assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

describe("server settings", () => {
    it("starts on embedded defaults with nothing set", () => {
        const s = loadSettings({}, "/srv/app");
        assert.equal(s.host, "127.0.0.1");
        assert.equal(s.port, 8080);
        assert.equal(s.dataDir, "/srv/app/.data");
        assert.equal(s.backendUrl, "file:///srv/app/.data/state");
        assert.equal(s.secretsProvider, "passphrase");
        assert.equal(s.engine, "pulumi", "the test double must never be the default");
        assert.equal(s.maxConcurrency, 2);
        assert.equal(s.bodyLimitBytes, 64 * 1024);
        assert.equal(s.authFailuresPerMin, 30);
        assert.equal(loadSettings({ KVP_AUTH_FAILURES_PER_MIN: "5" }, "/srv/app").authFailuresPerMin, 5);
        assert.equal(s.logLevel, "info");
        assert.equal(s.oidc, undefined);
    });

    it("derives the state backend from KVP_DATA_DIR and treats empty variables as unset", () => {
        const s = loadSettings({ KVP_DATA_DIR: "var/kvp", PORT: "" }, "/srv/app");
        assert.equal(s.backendUrl, "file:///srv/app/var/kvp/state");
        assert.equal(s.port, 8080);
    });

    it("keeps only the hash of KVP_ADMIN_TOKEN", () => {
        const token = "a-very-long-admin-token-value";
        const s = loadSettings({ KVP_ADMIN_TOKEN: token }, "/srv/app");
        assert.equal(s.adminTokenSha256, sha256Hex(token));
        assert.ok(!JSON.stringify(s).includes(token));
    });

    it("derives the Entra ID JWKS endpoint from a v2.0 issuer", () => {
        assert.equal(defaultJwksUrl("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/discovery/v2.0/keys");
        assert.equal(defaultJwksUrl("https://idp.example.com"), undefined, "other issuers go through discovery");
        const s = loadSettings({ KVP_OIDC_ISSUER: "https://idp.example.com", KVP_OIDC_AUDIENCE: "api://kvp", KVP_OIDC_ALGORITHMS: "RS256, ES256" });
        assert.deepEqual(s.oidc?.algorithms, ["RS256", "ES256"]);
        assert.equal(s.oidc?.roleClaim, "roles");
    });

    it("gives the portal a public client and the API's .default scope unless told otherwise", () => {
        const s = loadSettings({ KVP_OIDC_ISSUER: "https://idp.example.com", KVP_OIDC_AUDIENCE: "api://kvp", KVP_OIDC_CLIENT_ID: "0000-portal" });
        assert.equal(s.oidc?.clientId, "0000-portal");
        assert.equal(s.oidc?.scopes, "openid api://kvp/.default");
        const t = loadSettings({ KVP_OIDC_ISSUER: "https://idp.example.com", KVP_OIDC_AUDIENCE: "api://kvp", KVP_OIDC_SCOPES: "openid api://kvp/Environments.ReadWrite" });
        assert.equal(t.oidc?.clientId, undefined, "without a client id the portal offers the token form only");
        assert.equal(t.oidc?.scopes, "openid api://kvp/Environments.ReadWrite");
    });

    const rejected: Array<[string, Record<string, string>, string, RegExp]> = [
        ["a non-numeric port", { PORT: "http" }, "PORT", /whole number from 0 to 65535.*"http"/],
        ["a port above 65535", { PORT: "70000" }, "PORT", /0 to 65535/],
        ["an unknown engine", { KVP_ENGINE: "fake" }, "KVP_ENGINE", /pulumi, offline, test-double/],
        ["an unknown log level", { LOG_LEVEL: "loud" }, "LOG_LEVEL", /fatal, error, warn, info, debug, trace, silent/],
        ["a zero concurrency", { KVP_MAX_CONCURRENCY: "0" }, "KVP_MAX_CONCURRENCY", /from 1 to 64/],
        ["no failed authentications allowed", { KVP_AUTH_FAILURES_PER_MIN: "0" }, "KVP_AUTH_FAILURES_PER_MIN", /from 1 to 1000000/],
        ["too many attempts", { KVP_MAX_ATTEMPTS: "50" }, "KVP_MAX_ATTEMPTS", /from 1 to 10/],
        ["an idle timeout above the overall timeout", { KVP_OP_IDLE_TIMEOUT_S: "4000", KVP_OP_TIMEOUT_S: "3000" }, "KVP_OP_IDLE_TIMEOUT_S", /must not exceed KVP_OP_TIMEOUT_S/],
        ["an unsupported backend", { KVP_BACKEND_URL: "s3://bucket" }, "KVP_BACKEND_URL", /file:\/\/.*azblob:\/\/.*api\.pulumi\.com/],
        ["a secrets provider that is not a Key Vault key", { KVP_SECRETS_PROVIDER: "awskms://alias/x" }, "KVP_SECRETS_PROVIDER", /passphrase or azurekeyvault:\/\//],
        ["a short admin token", { KVP_ADMIN_TOKEN: "short" }, "KVP_ADMIN_TOKEN", /at least 16 characters/],
        ["a body limit in gigabytes", { KVP_BODY_LIMIT: "1gb" }, "KVP_BODY_LIMIT", /1kb to 10mb/],
        ["alg none", { KVP_OIDC_ISSUER: "https://idp.example.com", KVP_OIDC_AUDIENCE: "a", KVP_OIDC_ALGORITHMS: "none" }, "KVP_OIDC_ALGORITHMS", /not none/],
        ["HMAC algorithms", { KVP_OIDC_ISSUER: "https://idp.example.com", KVP_OIDC_AUDIENCE: "a", KVP_OIDC_ALGORITHMS: "HS256" }, "KVP_OIDC_ALGORITHMS", /not HS256/],
        ["an http issuer that is not loopback", { KVP_OIDC_ISSUER: "http://idp.example.com", KVP_OIDC_AUDIENCE: "a" }, "KVP_OIDC_ISSUER", /https URL/],
        ["an issuer without an audience", { KVP_OIDC_ISSUER: "https://idp.example.com" }, "KVP_OIDC_AUDIENCE", /required when KVP_OIDC_ISSUER/],
        ["an audience without an issuer", { KVP_OIDC_AUDIENCE: "api://kvp" }, "KVP_OIDC_AUDIENCE", /only applies when KVP_OIDC_ISSUER/],
        ["a portal client id without an issuer", { KVP_OIDC_CLIENT_ID: "0000-portal" }, "KVP_OIDC_CLIENT_ID", /only applies when KVP_OIDC_ISSUER/],
        ["a portal client id with a space", { KVP_OIDC_ISSUER: "https://idp.example.com", KVP_OIDC_AUDIENCE: "a", KVP_OIDC_CLIENT_ID: "a b" }, "KVP_OIDC_CLIENT_ID", /application \(client\) id/],
        ["a tokens file that does not exist", { KVP_TOKENS_FILE: "/nonexistent/tokens.json" }, "KVP_TOKENS_FILE", /does not exist/],
        ["a policy pack that does not exist", { KVP_POLICY_PACK: "/nonexistent/policy" }, "KVP_POLICY_PACK", /does not exist/],
        ["a test-double latency without the test double", { KVP_TEST_DOUBLE_LATENCY_MS: "100" }, "KVP_TEST_DOUBLE_LATENCY_MS", /only applies when KVP_ENGINE=test-double/],
        ["a short passphrase", { PULUMI_CONFIG_PASSPHRASE: "abc" }, "PULUMI_CONFIG_PASSPHRASE", /at least 12/],
    ];
    for (const [what, env, variable, message] of rejected) {
        it(`rejects ${what}, naming ${variable}`, () => {
            const problem = problemsFor(env).find((p) => p.variable === variable);
            assert.ok(problem, `no problem reported for ${variable}`);
            assert.match(problem.message, message);
        });
    }

    it("selects the PostgreSQL store from DATABASE_URL and shows only its host, port and database", () => {
        const s = loadSettings({ DATABASE_URL: "postgres://kvp:Sup3r-Secret@db.example.com/kvp?sslmode=verify-full", KVP_DATABASE_SCHEMA: "kvp_prod" }, "/srv/app");
        assert.equal(s.database?.url, "postgres://kvp:Sup3r-Secret@db.example.com/kvp?sslmode=verify-full");
        assert.equal(s.database?.display, "db.example.com:5432/kvp");
        assert.equal(s.database?.schema, "kvp_prod");
        assert.equal(s.database?.poolSize, 10);
        assert.equal(s.role, "all");
        assert.equal(loadSettings({}, "/srv/app").database, undefined, "no DATABASE_URL keeps the embedded store");
    });

    it("runs API and worker processes apart only on a shared database, backend and passphrase", () => {
        const s = loadSettings({
            KVP_ROLE: "worker", DATABASE_URL: "postgresql://kvp@db.example.com:6432/kvp", KVP_BACKEND_URL: "azblob://kvp-state",
            PULUMI_CONFIG_PASSPHRASE: "a-shared-passphrase", KVP_REPLICA_NAME: "worker-1", KVP_LEASE_S: "10",
        }, "/srv/app");
        assert.equal(s.role, "worker");
        assert.equal(s.replicaName, "worker-1");
        assert.equal(s.leaseMs, 10_000);
        assert.equal(s.database?.display, "db.example.com:6432/kvp");
        assert.match(loadSettings({}, "/srv/app").replicaName, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, "the host name, made safe");
    });

    const refusedScaleOut: Array<[string, Record<string, string>, string, RegExp]> = [
        ["a DATABASE_URL that is not PostgreSQL", { DATABASE_URL: "mysql://u:pw@db/kvp" }, "DATABASE_URL", /postgres:\/\/ or postgresql:\/\//],
        ["a DATABASE_URL without a database", { DATABASE_URL: "postgres://u:pw@db.example.com:5432/" }, "DATABASE_URL", /one database/],
        ["a DATABASE_URL that is not a URL", { DATABASE_URL: "host=db user=kvp password=pw" }, "DATABASE_URL", /must be a URL like postgres:\/\//],
        ["a schema without DATABASE_URL", { KVP_DATABASE_SCHEMA: "kvp" }, "KVP_DATABASE_SCHEMA", /only applies when DATABASE_URL/],
        ["a schema name with capitals", { DATABASE_URL: "postgres://db/kvp", KVP_DATABASE_SCHEMA: "Kvp" }, "KVP_DATABASE_SCHEMA", /lowercase/],
        ["an unknown role", { KVP_ROLE: "scheduler" }, "KVP_ROLE", /all, api, worker/],
        ["a worker without DATABASE_URL", { KVP_ROLE: "worker", KVP_BACKEND_URL: "azblob://s", PULUMI_CONFIG_PASSPHRASE: "a-shared-passphrase" }, "KVP_ROLE", /needs DATABASE_URL/],
        ["an API process on the default file backend", { KVP_ROLE: "api", DATABASE_URL: "postgres://db/kvp", PULUMI_CONFIG_PASSPHRASE: "a-shared-passphrase" }, "KVP_BACKEND_URL", /file:\/\/ backend cannot be shared.*azblob:\/\/.*api\.pulumi\.com/],
        ["a worker on an explicit file backend", { KVP_ROLE: "worker", DATABASE_URL: "postgres://db/kvp", KVP_BACKEND_URL: "file:///srv/state", PULUMI_CONFIG_PASSPHRASE: "a-shared-passphrase" }, "KVP_BACKEND_URL", /KVP_ROLE=worker/],
        ["a worker with a generated passphrase", { KVP_ROLE: "worker", DATABASE_URL: "postgres://db/kvp", KVP_BACKEND_URL: "azblob://s" }, "PULUMI_CONFIG_PASSPHRASE", /same passphrase/],
        ["a lease of one second", { KVP_LEASE_S: "1" }, "KVP_LEASE_S", /from 2 to 600/],
        ["a replica name with a slash", { KVP_REPLICA_NAME: "a/b" }, "KVP_REPLICA_NAME", /letters, digits/],
    ];
    for (const [what, env, variable, message] of refusedScaleOut) {
        it(`rejects ${what}, naming ${variable}`, () => {
            const problem = problemsFor(env).find((p) => p.variable === variable);
            assert.ok(problem, `no problem reported for ${variable}: ${JSON.stringify(problemsFor(env))}`);
            assert.match(problem.message, message);
        });
    }

    it("never repeats DATABASE_URL or its password in an error", () => {
        const problems = problemsFor({ DATABASE_URL: "mysql://kvp:Sup3r-Secret@db.example.com/kvp" });
        const text = JSON.stringify(problems);
        assert.ok(problems.some((p) => p.variable === "DATABASE_URL"));
        assert.ok(!text.includes("Sup3r-Secret") && !text.includes("db.example.com/kvp"), text);
    });

    it("never repeats a secret variable's value in its error", () => {
        const e = (() => { try { loadSettings({ KVP_ADMIN_TOKEN: "tiny-secret", PULUMI_CONFIG_PASSPHRASE: "pass" }); } catch (err) { return err as Error; } })();
        assert.ok(e instanceof SettingsError);
        assert.ok(!e.message.includes("tiny-secret") && !e.message.includes("\"pass\""), e.message);
        assert.deepEqual(e.problems.map((p) => p.variable).sort(), ["KVP_ADMIN_TOKEN", "PULUMI_CONFIG_PASSPHRASE"]);
    });
});

describe("stack passphrase", () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), "kvp-pass-")); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("prefers PULUMI_CONFIG_PASSPHRASE and writes no file", () => {
        const r = resolvePassphrase({ dataDir: dir, passphrase: "from-the-environment" });
        assert.deepEqual(r, { passphrase: "from-the-environment", source: "environment" });
        assert.throws(() => statSync(path.join(dir, "passphrase")));
    });

    it("generates a random passphrase once into an owner-only file and reuses it", () => {
        const first = resolvePassphrase({ dataDir: dir });
        assert.equal(first.source, "generated");
        assert.ok(first.passphrase.length >= 40);
        assert.equal(statSync(path.join(dir, "passphrase")).mode & 0o777, 0o600);
        const second = resolvePassphrase({ dataDir: dir });
        assert.deepEqual(second, { passphrase: first.passphrase, source: "file" });
        const other = mkdtempSync(path.join(tmpdir(), "kvp-pass-"));
        try {
            assert.notEqual(resolvePassphrase({ dataDir: other }).passphrase, first.passphrase);
        } finally {
            rmSync(other, { recursive: true, force: true });
        }
    });

    it("refuses a passphrase file that others can read", () => {
        const file = path.join(dir, "passphrase");
        writeFileSync(file, "left-readable-by-accident\n");
        chmodSync(file, 0o644);
        assert.throws(() => resolvePassphrase({ dataDir: dir }), (e: unknown) => e instanceof SettingsError && /chmod 600/.test(e.message) && !e.message.includes("left-readable"));
        assert.equal(readFileSync(file, "utf8"), "left-readable-by-accident\n", "the file is left as it was");
    });
});
