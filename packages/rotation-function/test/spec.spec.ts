import { strict as assert } from "node:assert";
import { parsePostgresAddress, parseSqlServerId } from "../src/address";
import { parseRotationConfig, RotationConfigError } from "../src/rotationConfig";
import { parseSettings, SettingsError } from "../src/settings";
import { hasRotationTags, SpecError, specFromTags } from "../src/spec";

const SUB = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const SQL_ID = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-prod`;
const PG_TAGS = { RotationTarget: "postgres", ProviderAddress: "pg.example.com:5432/orders", CredentialId: "app_a", CredentialPair: "app_a,app_b", ValidityPeriodDays: "60" };
const SQL_TAGS = { RotationTarget: "sql", ProviderAddress: SQL_ID, CredentialId: "sqladmin", ValidityPeriodDays: "90" };

function problemsOf(tags: Record<string, string | undefined>) {
    const clean = Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== undefined)) as Record<string, string>;
    try {
        specFromTags("db-password", clean);
    } catch (e) {
        assert.ok(e instanceof SpecError, `expected SpecError, got ${e}`);
        return e;
    }
    assert.fail(`tags ${JSON.stringify(tags)} were accepted`);
}

describe("rotation tags", () => {
    it("turn a postgres secret's tags into a dual-credential spec", () => {
        const spec = specFromTags("db-password", PG_TAGS);
        assert.deepEqual(spec, {
            secretName: "db-password", target: "postgres", providerAddress: PG_TAGS.ProviderAddress, credentialId: "app_a",
            credentialPair: ["app_a", "app_b"], validityPeriodDays: 60, source: "tags",
        });
    });

    it("turn an Azure SQL secret's tags into a single-credential spec", () => {
        const spec = specFromTags("sql-admin", SQL_TAGS);
        assert.equal(spec.target, "sql");
        assert.equal(spec.credentialPair, undefined);
        assert.equal(spec.validityPeriodDays, 90);
    });

    describe("are refused with the tag, the value and what is allowed", () => {
        const cases: Array<[string, Record<string, string | undefined>, string, RegExp]> = [
            ["an unknown target", { ...PG_TAGS, RotationTarget: "mysql" }, "RotationTarget", /"postgres", "sql"/],
            ["a missing target", { ...PG_TAGS, RotationTarget: undefined }, "RotationTarget", /"postgres", "sql"/],
            ["a validity that is not a number", { ...PG_TAGS, ValidityPeriodDays: "ninety" }, "ValidityPeriodDays", /whole number of days from 1 to 3650/],
            ["a validity of zero", { ...PG_TAGS, ValidityPeriodDays: "0" }, "ValidityPeriodDays", /from 1 to 3650/],
            ["a validity above ten years", { ...PG_TAGS, ValidityPeriodDays: "4000" }, "ValidityPeriodDays", /from 1 to 3650/],
            ["a missing validity", { ...PG_TAGS, ValidityPeriodDays: undefined }, "ValidityPeriodDays", /required/],
            ["a postgres address without database", { ...PG_TAGS, ProviderAddress: "pg.example.com:5432" }, "ProviderAddress", /<host>\[:<port>\]\/<database>/],
            ["a postgres address with a bad port", { ...PG_TAGS, ProviderAddress: "pg.example.com:70000/db" }, "ProviderAddress", /<host>\[:<port>\]\/<database>/],
            ["a missing pair", { ...PG_TAGS, CredentialPair: undefined }, "CredentialPair", /required for postgres/],
            ["a pair of one role", { ...PG_TAGS, CredentialPair: "app_a" }, "CredentialPair", /two different roles/],
            ["a pair of the same role twice", { ...PG_TAGS, CredentialPair: "app_a,app_a" }, "CredentialPair", /two different roles/],
            ["a pair with a quoted-identifier role", { ...PG_TAGS, CredentialPair: "app_a,\"App B\"" }, "CredentialPair", /lower-case PostgreSQL role name/],
            ["a credential outside the pair", { ...PG_TAGS, CredentialId: "app_c" }, "CredentialId", /one of the CredentialPair roles \(app_a, app_b\)/],
            ["a SQL address that is not a SQL server", { ...SQL_TAGS, ProviderAddress: SQL_ID.replace("Microsoft.Sql/servers", "Microsoft.Web/sites") }, "ProviderAddress", /Azure SQL server ARM id/],
            ["a SQL login with a space", { ...SQL_TAGS, CredentialId: "sql admin" }, "CredentialId", /admin login/],
            ["a pair on a SQL secret", { ...SQL_TAGS, CredentialPair: "a,b" }, "CredentialPair", /single admin login/],
        ];
        for (const [what, tags, field, re] of cases) {
            it(what, () => {
                const e = problemsOf(tags);
                const p = e.problems.find((x) => x.field === field);
                assert.ok(p, `no problem for ${field} in ${e.message}`);
                assert.match(p.problem, re);
                assert.equal(p.value, tags[field]);
                assert.match(e.message, new RegExp(`db-password.*${field}`));
            });
        }
    });

    it("count as present when any one rotation tag is set, so a partial set is reported", () => {
        assert.equal(hasRotationTags({ ValidityPeriodDays: "30" }), true);
        assert.equal(hasRotationTags({ owner: "team-a" }), false);
        assert.equal(hasRotationTags(undefined), false);
    });
});

describe("provider addresses", () => {
    it("parse an Azure SQL server id into subscription, group and server", () => {
        assert.deepEqual(parseSqlServerId(SQL_ID), { subscriptionId: SUB, resourceGroup: "rg-data", serverName: "sql-prod" });
    });

    it("parse a PostgreSQL address with and without a port", () => {
        assert.deepEqual(parsePostgresAddress("PG.example.com/orders"), { host: "pg.example.com", port: 5432, database: "orders" });
        assert.deepEqual(parsePostgresAddress("127.0.0.1:6432/test"), { host: "127.0.0.1", port: 6432, database: "test" });
    });

    it("refuse addresses that would need escaping in a connection URI", () => {
        for (const bad of ["host:5432/my db", "user@host/db", "host/db?sslmode=disable", "host:0/db", "-host/db"]) {
            assert.equal(parsePostgresAddress(bad), undefined, bad);
        }
    });
});

describe("the rotation-config secret", () => {
    const entry = { server: "sql-prod", resource_group: "rg-data", secret_name: "sql-admin-password" };

    it("maps each rotation-config entry onto an Azure SQL spec", () => {
        const [spec] = parseRotationConfig(JSON.stringify({ databases: [entry] }), SUB);
        assert.deepEqual(spec, { secretName: "sql-admin-password", target: "sql", providerAddress: SQL_ID, validityPeriodDays: 90, source: "rotation-config" });
    });

    it("uses an entry's own subscription and admin login over the defaults", () => {
        const other = "11111111-2222-3333-4444-555555555555";
        const [spec] = parseRotationConfig(JSON.stringify({ databases: [{ ...entry, subscription_id: other, admin_login: "dbadmin", validity_period_days: 30 }] }), SUB);
        assert.match(spec.providerAddress, new RegExp(`^/subscriptions/${other}/`));
        assert.equal(spec.credentialId, "dbadmin");
        assert.equal(spec.validityPeriodDays, 30);
    });

    describe("is refused with the path and the reason", () => {
        const cases: Array<[string, string, string, RegExp]> = [
            ["text that is not JSON", "{databases:", "(root)", /not valid JSON/],
            ["no databases list", JSON.stringify({ dbs: [] }), "databases", /required/],
            ["an entry without resource group", JSON.stringify({ databases: [entry, { server: "s2", secret_name: "x" }] }), "databases[1].resource_group", /required/],
            ["an upper-case server name", JSON.stringify({ databases: [{ ...entry, server: "SQL_Prod" }] }), "databases[0].server", /Azure SQL server name/],
            ["a secret name with a dot", JSON.stringify({ databases: [{ ...entry, secret_name: "a.b" }] }), "databases[0].secret_name", /Key Vault secret name/],
            ["a fractional validity", JSON.stringify({ databases: [{ ...entry, validity_period_days: 1.5 }] }), "databases[0].validity_period_days", /whole number/],
            ["two entries for one secret", JSON.stringify({ databases: [entry, { ...entry, server: "sql-dr" }] }), "databases[1].secret_name", /repeats databases\[0\]\.secret_name/],
        ];
        for (const [what, text, path, re] of cases) {
            it(what, () => {
                try {
                    parseRotationConfig(text, SUB);
                } catch (e) {
                    assert.ok(e instanceof RotationConfigError);
                    const p = e.problems.find((x) => x.path === path);
                    assert.ok(p, `no problem at ${path}: ${e.message}`);
                    assert.match(p.problem, re);
                    return;
                }
                assert.fail("accepted");
            });
        }

        it("an entry without subscription when SUBSCRIPTION_ID is unset", () => {
            assert.throws(() => parseRotationConfig(JSON.stringify({ databases: [entry] }), undefined),
                (e: unknown) => e instanceof RotationConfigError && e.problems[0].path === "databases[0].subscription_id" && /SUBSCRIPTION_ID/.test(e.problems[0].problem));
        });
    });
});

describe("the function's app settings", () => {
    it("apply defaults for everything but the vault URL", () => {
        const s = parseSettings({ KEY_VAULT_URL: "https://kv-prod.vault.azure.net/", PATH: "/usr/bin" });
        assert.equal(s.ROTATION_WINDOW_DAYS, 30);
        assert.equal(s.ROTATION_CONFIG_SECRET, "rotation-config");
    });

    it("name the setting that is missing or malformed", () => {
        assert.throws(() => parseSettings({}), (e: unknown) => e instanceof SettingsError && /KEY_VAULT_URL/.test(e.message));
        assert.throws(() => parseSettings({ KEY_VAULT_URL: "http://kv.vault.azure.net" }), /KEY_VAULT_URL must be the vault's https URL/);
        assert.throws(() => parseSettings({ KEY_VAULT_URL: "https://kv.vault.azure.net", SUBSCRIPTION_ID: "prod" }), /SUBSCRIPTION_ID must be a subscription GUID/);
        assert.throws(() => parseSettings({ KEY_VAULT_URL: "https://kv.vault.azure.net", ROTATION_WINDOW_DAYS: "0" }), /ROTATION_WINDOW_DAYS/);
    });
});
