import { strict as assert } from "node:assert";
import { FAILPOINTS, Failpoint, rotateSecret } from "../src/protocol";
import type { Logger } from "../src/log";
import type { RotationSpec } from "../src/spec";
import { SqlAdminTarget, SqlServersPort } from "../src/targets/sql";
import { pendingSecretName } from "../src/vault";
import { FakeTarget } from "./helpers/fakeTarget";
import { VaultDouble } from "./helpers/vaultDouble";

const NAME = "orders-db";
const DUAL: RotationSpec = {
    secretName: NAME, target: "postgres", providerAddress: "pg.example.com/orders", credentialId: "app_a",
    credentialPair: ["app_a", "app_b"], validityPeriodDays: 45, source: "tags",
};
const SUB = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const SQL_ID = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/sql-prod`;

/** Every log line, so tests can prove no value was ever logged. */
class RecordingLogger implements Logger {
    readonly lines: string[] = [];
    info = (event: string, fields = {}) => void this.lines.push(JSON.stringify({ event, ...fields }));
    warn = this.info;
    error = this.info;
}

function seed(vault: VaultDouble, target: FakeTarget, spec: RotationSpec, extraTags: Record<string, string> = {}) {
    const credentialId = spec.credentialId ?? target.logins[0];
    target.passwords.set(credentialId, "Initial-Pass-1");
    return vault.setSecret(NAME, target.encode({ credentialId, password: "Initial-Pass-1" }), {
        tags: { RotationTarget: spec.target, CredentialId: credentialId, ValidityPeriodDays: String(spec.validityPeriodDays), ...extraTags },
    });
}

function current(vault: VaultDouble, target: FakeTarget) {
    const latest = vault.latest(NAME)!;
    return { props: latest, credential: target.decode(latest.value) };
}

/** The invariant after any completed run: the current value logs in and no pending marker is enabled. */
function assertSettled(vault: VaultDouble, target: FakeTarget) {
    const { props, credential } = current(vault, target);
    assert.equal(props.enabled, true);
    assert.ok(target.logsIn(credential), "the vault's current version must log in");
    assert.deepEqual(vault.versions(pendingSecretName(NAME)).filter((v) => v.enabled), [], "no pending version may stay enabled");
}

const throwAt = (point: Failpoint) => (p: Failpoint) => {
    if (p === point) throw new Error(`injected failure at ${p}`);
};

describe("rotation protocol (vault double, in-memory provider)", () => {
    let vault: VaultDouble;
    let target: FakeTarget;
    let logger: RecordingLogger;
    const now = new Date("2026-01-10T00:00:00Z");

    beforeEach(async () => {
        vault = new VaultDouble();
        target = new FakeTarget(["app_a", "app_b"]);
        logger = new RecordingLogger();
        await seed(vault, target, DUAL, { owner: "team-orders" });
    });

    afterEach(() => {
        for (const password of [...target.passwords.values(), ...vault.versions(NAME).map((v) => target.decode(v.value).password)]) {
            for (const line of logger.lines) assert.ok(!line.includes(password), `a log line contains a password: ${line.slice(0, 80)}`);
        }
    });

    it("rotates the alternate credential, promotes it with the new expiry and keeps the old one working", async () => {
        const before = current(vault, target).credential;
        const result = await rotateSecret(DUAL, target, { vault, logger, now: () => now });
        assert.equal(result.outcome, "rotated", result.reason);
        const after = current(vault, target);
        assert.equal(after.credential.credentialId, "app_b");
        assert.equal(result.credentialId, "app_b");
        assert.equal(result.version, after.props.version);
        assert.equal(after.props.tags?.CredentialId, "app_b");
        assert.equal(after.props.tags?.RotationState, "current");
        assert.equal(after.props.tags?.owner, "team-orders", "user tags survive promotion");
        assert.equal(after.props.expiresOn?.getTime(), now.getTime() + 45 * 86_400_000);
        assert.ok(target.logsIn(before), "consumers holding the previous value keep working");
        assertSettled(vault, target);
    });

    it("flips back to the first credential on the next rotation", async () => {
        await rotateSecret(DUAL, target, { vault, logger });
        const second = await rotateSecret({ ...DUAL, credentialId: "app_b" }, target, { vault, logger });
        assert.equal(second.outcome, "rotated");
        assert.equal(current(vault, target).credential.credentialId, "app_a");
        assert.notEqual(current(vault, target).credential.password, "Initial-Pass-1");
        assertSettled(vault, target);
    });

    for (const point of FAILPOINTS) {
        it(`resumes a rotation that failed ${point}, and the current value logs in throughout`, async () => {
            const failed = await rotateSecret(DUAL, target, { vault, logger, failpoint: throwAt(point) });
            assert.equal(failed.outcome, "failed");
            assert.equal(failed.retryable, true);
            assert.match(failed.reason, new RegExp(`injected failure at ${point}`));
            assert.ok(target.logsIn(current(vault, target).credential), "after the failure the current value still logs in");
            assert.equal(vault.versions(pendingSecretName(NAME)).filter((v) => v.enabled).length, 1, "the pending marker is kept");

            const next = await rotateSecret(DUAL, target, { vault, logger });
            assert.equal(next.outcome, "resumed", next.reason);
            assert.equal(current(vault, target).credential.credentialId, "app_b");
            assertSettled(vault, target);
        });
    }

    it("rolls back a pending value when the current version changed after staging", async () => {
        await rotateSecret(DUAL, target, { vault, logger, failpoint: throwAt("after-provider") });
        target.passwords.set("app_a", "Manual-Pass-2");
        await vault.setSecret(NAME, "app_a:Manual-Pass-2", { tags: { CredentialId: "app_a" } });
        const next = await rotateSecret(DUAL, target, { vault, logger });
        assert.equal(next.outcome, "rolled-back", next.reason);
        assert.match(next.reason, /current version changed/);
        assert.equal(current(vault, target).credential.password, "Manual-Pass-2");
        assertSettled(vault, target);
        assert.equal(vault.latest(pendingSecretName(NAME))?.tags?.RotationState, "rolled-back");
    });

    it("rolls back when the staged password can no longer be applied", async () => {
        await rotateSecret(DUAL, target, { vault, logger, failpoint: throwAt("after-stage") });
        target.failSetPassword = new Error("role app_b does not exist");
        const next = await rotateSecret(DUAL, target, { vault, logger });
        assert.equal(next.outcome, "rolled-back");
        assert.match(next.reason, /re-applying the staged password failed: role app_b does not exist/);
        assertSettled(vault, target);
    });

    it("keeps the pending value when neither it nor the current value can be made to log in", async () => {
        await rotateSecret(DUAL, target, { vault, logger, failpoint: throwAt("after-stage") });
        target.passwords.delete("app_a");
        target.failSetPassword = new Error("server unreachable");
        const next = await rotateSecret(DUAL, target, { vault, logger });
        assert.equal(next.outcome, "failed");
        assert.equal(vault.versions(pendingSecretName(NAME)).filter((v) => v.enabled).length, 1, "nothing is discarded");
    });

    it("steps aside when another run staged a rotation at the same time", async () => {
        const racing = Object.create(vault) as VaultDouble;
        let injected = false;
        racing.setSecret = async (name, value, options) => {
            const mine = await vault.setSecret(name, value, options);
            if (name === pendingSecretName(NAME) && !injected) {
                injected = true;
                await vault.setSecret(name, "app_b:Rival-Pass-9", { tags: { ...options?.tags, RotationId: "rival" } });
            }
            return mine;
        };
        const result = await rotateSecret(DUAL, target, { vault: racing, logger });
        assert.equal(result.outcome, "skipped");
        assert.match(result.reason, /another rotation of this secret is in progress/);
        assert.deepEqual(target.calls, [], "the provider was not touched");
        const enabled = vault.versions(pendingSecretName(NAME)).filter((v) => v.enabled);
        assert.deepEqual(enabled.map((v) => v.tags?.RotationId), ["rival"]);
    });

    it("refuses a secret whose pending companion name would exceed Key Vault's 127 characters", async () => {
        const result = await rotateSecret({ ...DUAL, secretName: "x".repeat(115) }, target, { vault, logger });
        assert.equal(result.outcome, "failed");
        assert.equal(result.retryable, false);
        assert.match(result.reason, /exceed 127 characters/);
    });

    describe("with a single credential that cannot prove a login (Azure SQL through ARM)", () => {
        let single: FakeTarget;
        const spec: RotationSpec = { ...DUAL, target: "sql", credentialId: "sqladmin", credentialPair: undefined };

        beforeEach(async () => {
            vault = new VaultDouble();
            single = new FakeTarget(["sqladmin"], false);
            target = single;
            await seed(vault, single, spec);
        });

        it("holds the only working password in the vault during the unavoidable window, then resumes", async () => {
            await rotateSecret(spec, single, { vault, logger, failpoint: throwAt("after-provider") });
            assert.ok(!single.logsIn(current(vault, single).credential), "single credential: the old value is dead once the provider changed");
            const pending = vault.latest(pendingSecretName(NAME))!;
            assert.ok(pending.enabled && single.logsIn(single.decode(pending.value)), "the working value is the enabled pending one, in the vault");
            const next = await rotateSecret(spec, single, { vault, logger });
            assert.equal(next.outcome, "resumed");
            assertSettled(vault, single);
        });

        it("re-applies the staged password on resume instead of trusting a check that proves nothing", async () => {
            await rotateSecret(spec, single, { vault, logger, failpoint: throwAt("after-stage") });
            single.calls = [];
            await rotateSecret(spec, single, { vault, logger });
            assert.deepEqual(single.calls, ["set sqladmin", "verify sqladmin"]);
            assertSettled(vault, single);
        });

        it("re-applies the current password when rolling back", async () => {
            await rotateSecret(spec, single, { vault, logger, failpoint: throwAt("after-verify") });
            await vault.setSecret(NAME, "sqladmin:Manual-Pass-3", { tags: { CredentialId: "sqladmin" } });
            const next = await rotateSecret(spec, single, { vault, logger });
            assert.equal(next.outcome, "rolled-back");
            assert.equal(single.passwords.get("sqladmin"), "Manual-Pass-3");
            assertSettled(vault, single);
        });
    });
});

describe("Azure SQL admin target", () => {
    function fakeServers(initial: { administratorLogin?: string; state?: string } = { administratorLogin: "sqladmin", state: "Ready" }) {
        const calls: Array<{ rg: string; server: string; password: string }> = [];
        const servers: SqlServersPort = {
            get: async () => ({ ...initial, fullyQualifiedDomainName: "sql-prod.database.windows.net" }),
            beginUpdateAndWait: async (rg, server, parameters) => {
                calls.push({ rg, server, password: parameters.administratorLoginPassword });
                return { state: "Ready" };
            },
        };
        return { servers, calls };
    }

    it("takes the login from the server and refuses a CredentialId that is not it", async () => {
        const { servers } = fakeServers();
        const t = await SqlAdminTarget.create(SQL_ID, undefined, servers);
        assert.equal(t.nextCredential(), "sqladmin");
        await assert.rejects(SqlAdminTarget.create(SQL_ID, "other", servers), /CredentialId "other" is not the admin login of server sql-prod \("sqladmin"\)/);
        await assert.rejects(SqlAdminTarget.create(SQL_ID, undefined, fakeServers({ state: "Ready" }).servers), /no administratorLogin/);
    });

    it("sets the password through servers.beginUpdateAndWait, never logging it, and rotates end to end", async () => {
        const { servers, calls } = fakeServers();
        const target = await SqlAdminTarget.create(SQL_ID, "sqladmin", servers);
        const vault = new VaultDouble();
        const logger = new RecordingLogger();
        await vault.setSecret("sql-admin", "Old-Pass-1", { tags: { CredentialId: "sqladmin" } });
        const spec: RotationSpec = { secretName: "sql-admin", target: "sql", providerAddress: SQL_ID, credentialId: "sqladmin", validityPeriodDays: 30, source: "tags" };
        const result = await rotateSecret(spec, target, { vault, logger });
        assert.equal(result.outcome, "rotated", result.reason);
        assert.equal(calls.length, 1);
        assert.deepEqual({ rg: calls[0].rg, server: calls[0].server }, { rg: "rg", server: "sql-prod" });
        assert.equal(vault.latest("sql-admin")?.value, calls[0].password, "the vault holds what ARM was given");
        assert.doesNotMatch(calls[0].password, /sql|adm|min/i, "the password avoids the login name");
        assert.ok(logger.lines.every((l) => !l.includes(calls[0].password)));
        assert.equal(target.verifiesLogin, false);
    });

    it("reports a server that is not Ready as a failed verification", async () => {
        const { servers } = fakeServers({ administratorLogin: "sqladmin", state: "Disabled" });
        const target = await SqlAdminTarget.create(SQL_ID, undefined, servers);
        assert.deepEqual(await target.verify({ credentialId: "sqladmin", password: "x" }), { ok: false, reason: "server sql-prod is in state Disabled, not Ready" });
    });

    it("uses a real login verifier when one is supplied", async () => {
        const { servers } = fakeServers();
        const seen: string[] = [];
        const target = await SqlAdminTarget.create(SQL_ID, undefined, servers, async ({ fqdn, login }) => {
            seen.push(`${login}@${fqdn}`);
            return { ok: true };
        });
        assert.equal(target.verifiesLogin, true);
        await target.verify({ credentialId: "sqladmin", password: "x" });
        assert.deepEqual(seen, ["sqladmin@sql-prod.database.windows.net"]);
    });
});
