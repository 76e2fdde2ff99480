import { strict as assert } from "node:assert";
import { HttpRequest, InvocationContext, type EventGridEvent } from "@azure/functions";
import { eventGridHandler, httpHandler, RetryableRotationError, timerHandler } from "../src/handlers";
import type { Logger } from "../src/log";
import { RotationService, TargetFactory } from "../src/service";
import type { RotationSpec } from "../src/spec";
import { pendingSecretName } from "../src/vault";
import { FakeTarget } from "./helpers/fakeTarget";
import { VaultDouble } from "./helpers/vaultDouble";

const SUB = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const NOW = new Date("2026-03-01T00:00:00Z");
const DAY = 86_400_000;
const PG_TAGS = { RotationTarget: "postgres", ProviderAddress: "pg.example.com/orders", CredentialId: "app_a", CredentialPair: "app_a,app_b", ValidityPeriodDays: "60" };

class Harness {
    readonly vault = new VaultDouble();
    readonly providers = new Map<string, FakeTarget>();
    readonly specs: RotationSpec[] = [];
    readonly lines: string[] = [];
    failTargets = false;

    readonly targets: TargetFactory = async (spec) => {
        if (this.failTargets) throw new Error("connection refused");
        this.specs.push(spec);
        let t = this.providers.get(spec.secretName);
        if (!t) this.providers.set(spec.secretName, t = new FakeTarget(spec.credentialPair ?? [spec.credentialId ?? "sqladmin"], spec.target === "postgres"));
        return t;
    };

    service(logger?: Logger, failpoint?: () => void) {
        const log = (event: string, fields = {}) => void this.lines.push(JSON.stringify({ event, ...fields }));
        return new RotationService({
            vault: this.vault, logger: logger ?? { info: log, warn: log, error: log }, targets: this.targets, failpoint,
            configSecretName: "rotation-config", subscriptionId: SUB, windowDays: 30, now: () => NOW,
        });
    }

    async tagged(name: string, expiresInDays: number | undefined, tags: Record<string, string> = PG_TAGS) {
        return this.vault.setSecret(name, "app_a:Initial-Pass-1", { tags, expiresOn: expiresInDays === undefined ? undefined : new Date(NOW.getTime() + expiresInDays * DAY) });
    }
}

function nearExpiry(name: string, version: string | undefined): EventGridEvent {
    return {
        id: "e1", topic: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", subject: name,
        eventType: "Microsoft.KeyVault.SecretNearExpiry", eventTime: NOW.toISOString(), dataVersion: "1", metadataVersion: "1",
        data: { Id: `https://kv.vault.azure.net/secrets/${name}/${version}`, VaultName: "kv", ObjectType: "Secret", ObjectName: name, Version: version, NBF: null, EXP: 1767225600 },
    };
}

describe("rotation service", () => {
    let h: Harness;
    beforeEach(() => (h = new Harness()));

    describe("on SecretNearExpiry", () => {
        it("rotates the secret the event names when the event is for its current version", async () => {
            const s = await h.tagged("orders-db", 20);
            const result = await h.service().onNearExpiry(nearExpiry("orders-db", s.properties.version));
            assert.equal(result.outcome, "rotated", result.reason);
            assert.equal(h.vault.latest("orders-db")?.tags?.CredentialId, "app_b");
        });

        it("skips an event for a version that was already replaced (a duplicate delivery)", async () => {
            const s = await h.tagged("orders-db", 20);
            await h.service().rotateNow("orders-db");
            const result = await h.service().onNearExpiry(nearExpiry("orders-db", s.properties.version));
            assert.equal(result.outcome, "skipped");
            assert.match(result.reason, /no longer current/);
        });

        it("recovers a half-finished rotation even when the event names an older version", async () => {
            const s = await h.tagged("orders-db", 20);
            await h.service(undefined, () => {
                throw new Error("crash");
            }).rotateNow("orders-db");
            const result = await h.service().onNearExpiry(nearExpiry("orders-db", s.properties.version));
            assert.equal(result.outcome, "resumed", result.reason);
        });

        it("ignores other event types and the pending companion secrets", async () => {
            const other = await h.service().onNearExpiry({ ...nearExpiry("orders-db", "v"), eventType: "Microsoft.KeyVault.SecretNewVersionCreated" });
            assert.equal(other.outcome, "skipped");
            const companion = await h.service().onNearExpiry(nearExpiry(pendingSecretName("orders-db"), "v"));
            assert.equal(companion.outcome, "skipped");
            assert.match(companion.reason, /pending companion/);
        });
    });

    describe("on demand", () => {
        it("reports invalid tags naming each tag, value and rule, and does not retry them", async () => {
            await h.tagged("orders-db", 20, { ...PG_TAGS, ValidityPeriodDays: "soon", CredentialPair: "app_a" });
            const result = await h.service().rotateNow("orders-db");
            assert.equal(result.outcome, "failed");
            assert.equal(result.retryable, false);
            assert.match(result.reason, /ValidityPeriodDays="soon" must be a whole number of days/);
            assert.ok(h.lines.some((l) => l.includes("rotation.invalid-tags")));
        });

        it("skips a secret without rotation tags and one that does not exist", async () => {
            await h.vault.setSecret("plain", "v", { tags: { owner: "x" } });
            assert.match((await h.service().rotateNow("plain")).reason, /no rotation tags/);
            assert.match((await h.service().rotateNow("ghost")).reason, /does not exist/);
        });

        it("reports an unreachable target as a retryable failure without touching the vault", async () => {
            await h.tagged("orders-db", 20);
            h.failTargets = true;
            const result = await h.service().rotateNow("orders-db");
            assert.deepEqual([result.outcome, result.retryable], ["failed", true]);
            assert.equal(h.vault.versions(pendingSecretName("orders-db")).length, 0);
        });

        it("serializes concurrent requests for one secret in this process", async () => {
            await h.tagged("orders-db", 20);
            const service = h.service();
            const results = await Promise.all([service.rotateNow("orders-db"), service.rotateNow("orders-db")]);
            assert.deepEqual(results.map((r) => r.outcome), ["rotated", "rotated"]);
            assert.deepEqual(results.map((r) => r.credentialId), ["app_b", "app_a"]);
        });
    });

    describe("the rotation-config secret", () => {
        const config = { databases: [{ server: "sql-prod", resource_group: "rg", secret_name: "sql-admin", admin_login: "sqladmin" }] };

        it("drives rotation of the secrets it lists, as Azure SQL targets", async () => {
            await h.vault.setSecret("rotation-config", JSON.stringify(config));
            await h.vault.setSecret("sql-admin", "sqladmin:Old-Pass-1");
            const result = await h.service().rotateNow("sql-admin");
            assert.equal(result.outcome, "rotated", result.reason);
            assert.equal(h.specs[0].source, "rotation-config");
            assert.equal(h.specs[0].providerAddress, `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/sql-prod`);
            assert.equal(h.vault.latest("sql-admin")?.tags?.RotationTarget, "sql", "the promoted version describes itself");
        });

        it("reports an invalid config with the path and reason, and tagged secrets still rotate", async () => {
            await h.vault.setSecret("rotation-config", JSON.stringify({ databases: [{ server: "sql-prod", secret_name: "sql-admin" }] }));
            await h.tagged("orders-db", 1);
            const results = await h.service().scan();
            const bad = results.find((r) => r.secret === "rotation-config");
            assert.equal(bad?.outcome, "failed");
            assert.match(bad?.reason ?? "", /databases\[0\]\.resource_group is required/);
            assert.equal(results.find((r) => r.secret === "orders-db")?.outcome, "rotated");
        });
    });

    describe("the safety-net scan", () => {
        it("rotates what is due, recovers what is pending, and leaves the rest", async () => {
            await h.tagged("due-soon", 10);
            await h.tagged("never-rotated", undefined);
            await h.tagged("not-due", 200);
            await h.tagged("half-done", 200);
            await h.vault.setSecret("untagged", "x", { expiresOn: new Date(NOW.getTime() + DAY) });
            await h.service(undefined, () => {
                throw new Error("crash");
            }).rotateNow("half-done");

            const results = await h.service().scan();
            const byName = Object.fromEntries(results.map((r) => [r.secret, r.outcome]));
            assert.deepEqual(byName, { "due-soon": "rotated", "half-done": "resumed", "never-rotated": "rotated" });
        });
    });
});

describe("trigger handlers", () => {
    let h: Harness;
    const context = () => new InvocationContext({ invocationId: "inv-1", functionName: "rotateSecret", logHandler: () => undefined });
    beforeEach(() => (h = new Harness()));

    it("answer an HTTP request with the per-secret result and never the value", async () => {
        await h.tagged("orders-db", 20);
        const handler = httpHandler((logger) => h.service(logger));
        const res = await handler(new HttpRequest({ method: "POST", url: "http://localhost/api/rotate", body: { string: JSON.stringify({ secretName: "orders-db" }) } }), context());
        assert.equal(res.status, 200);
        const body = res.jsonBody as Record<string, unknown>;
        assert.deepEqual(Object.keys(body).sort(), ["credentialId", "outcome", "reason", "secret", "target", "version"]);
        const value = h.vault.latest("orders-db")!.value;
        assert.ok(!JSON.stringify(body).includes(value.split(":")[1]));
    });

    it("refuse an HTTP body without a valid secret name, naming the field", async () => {
        const handler = httpHandler((logger) => h.service(logger));
        for (const body of ["{}", "not json", JSON.stringify({ secretName: "a/b" }), JSON.stringify({ secretName: "x", extra: 1 })]) {
            const res = await handler(new HttpRequest({ method: "POST", url: "http://localhost/api/rotate", body: { string: body } }), context());
            assert.equal(res.status, 400, body);
            assert.match(String((res.jsonBody as { detail: string }).detail), /secretName|JSON|extra|Unrecognized/);
        }
    });

    it("map a non-retryable failure to 422 and a retryable one to 503", async () => {
        await h.tagged("bad-tags", 20, { ...PG_TAGS, RotationTarget: "oracle" });
        await h.tagged("unreachable", 20);
        const handler = httpHandler((logger) => h.service(logger));
        const call = (secretName: string) => handler(new HttpRequest({ method: "POST", url: "http://localhost/api/rotate", body: { string: JSON.stringify({ secretName }) } }), context());
        assert.equal((await call("bad-tags")).status, 422);
        h.failTargets = true;
        assert.equal((await call("unreachable")).status, 503);
    });

    it("throw from the Event Grid handler on a retryable failure so Event Grid redelivers", async () => {
        const s = await h.tagged("orders-db", 20);
        h.failTargets = true;
        await assert.rejects(eventGridHandler((logger) => h.service(logger))(nearExpiry("orders-db", s.properties.version), context()), RetryableRotationError);
    });

    it("fail the timer invocation when any secret failed, after trying them all", async () => {
        await h.tagged("a-bad", 1, { ...PG_TAGS, CredentialId: "app_z" });
        await h.tagged("b-good", 1);
        const timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };
        await assert.rejects(timerHandler((logger) => h.service(logger))(timer, context()), /rotation failed for a-bad/);
        assert.equal(h.vault.latest("b-good")?.tags?.CredentialId, "app_b");
    });

    it("log structured JSON lines through the invocation context", async () => {
        await h.tagged("orders-db", 20);
        const lines: string[] = [];
        const ctx = new InvocationContext({ invocationId: "inv-9", functionName: "rotateSecret", logHandler: (_level, ...args) => void lines.push(String(args[0])) });
        await httpHandler((logger) => h.service(logger))(new HttpRequest({ method: "POST", url: "http://localhost/api/rotate", body: { string: JSON.stringify({ secretName: "orders-db" }) } }), ctx);
        const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        const result = parsed.find((p) => p.event === "rotation.result");
        assert.equal(result?.invocationId, "inv-9");
        assert.equal(result?.outcome, "rotated");
    });
});
