import { strict as assert } from "node:assert";
import express from "express";
import fc from "fast-check";
import request from "supertest";
import { BoundedCache } from "../../automation/domain/boundedCache";
import { deepFreeze, isDeepFrozen } from "../../automation/domain/frozen";
import { redactOutputs, REDACTED } from "../../automation/domain/redact";
import { jsonText, pageJson } from "../../automation/http/json";
import { rowMappers, toJson } from "../../automation/store/rows";
import { bearer, spec, startHarness, TOKENS, type Harness } from "./httpHarness";

const ADMIN_ACTOR = { subject: "token:admin", role: "admin" } as const;

/** The read path remembers work by identity or by content; none of it may ever serve stale or unredacted data. */

describe("BoundedCache", () => {
    it("never holds more than its capacity, whatever the keys", () => {
        fc.assert(fc.property(fc.integer({ min: 2, max: 64 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 500 }), (capacity, keys) => {
            const cache = new BoundedCache<number, string>(capacity);
            for (const k of keys) {
                if (cache.get(k) === undefined) cache.set(k, `v${k}`);
                assert.ok(cache.size <= capacity, `${cache.size} > ${capacity}`);
            }
        }));
    });

    it("keeps every key used among the last capacity/2 distinct ones, with its latest value", () => {
        const cache = new BoundedCache<string, number>(100);
        for (let i = 0; i < 1_000; i++) cache.set(`k${i}`, i);
        for (let i = 950; i < 1_000; i++) assert.equal(cache.get(`k${i}`), i);
        cache.set("k999", -1);
        assert.equal(cache.get("k999"), -1);
        assert.equal(cache.get("k0"), undefined);
    });

    it("keeps a key that is read often, however many others pass through", () => {
        const cache = new BoundedCache<string, number>(10);
        cache.set("hot", 1);
        for (let i = 0; i < 1_000; i++) {
            cache.set(`cold${i}`, i);
            assert.equal(cache.get("hot"), 1, `lost after ${i} other keys`);
        }
    });
});

describe("deepFreeze", () => {
    it("freezes every level, and records the parts as frozen too", () => {
        const value = deepFreeze({ a: { b: [1, { c: "x" }] } });
        assert.ok(isDeepFrozen(value) && isDeepFrozen(value.a) && isDeepFrozen(value.a.b) && isDeepFrozen(value.a.b[1]));
        assert.throws(() => { (value.a.b[1] as { c: string }).c = "y"; }, TypeError);
        assert.throws(() => { (value.a.b as unknown[]).push(2); }, TypeError);
    });

    it("does not take a shallowly frozen object for a deeply frozen one", () => {
        const shallow = Object.freeze({ inner: { mutable: true } });
        assert.equal(isDeepFrozen(shallow), false);
        assert.equal(isDeepFrozen("text"), false);
        assert.equal(isDeepFrozen(null), false);
    });

    it("ends on a cycle", () => {
        const a: Record<string, unknown> = {};
        a.self = a;
        assert.equal(deepFreeze(a), a);
        assert.ok(Object.isFrozen(a));
    });
});

describe("environment rows", () => {
    const mappers = () => rowMappers({ time: (v) => (v === null || v === undefined ? undefined : v instanceof Date ? v.toISOString() : String(v)), flag: Boolean }, { environmentCacheSize: 8 });
    const row = (overrides: Record<string, unknown> = {}) => ({
        name: "env-a", team: "payments", spec: toJson({ tier: "dev", network: { allowedIpRanges: ["203.0.113.0/24"] } }), spec_hash: "h1", status: "ready",
        outputs: toJson({ vaultUri: "https://kv-a.vault.azure.net/", adminPassword: "[secret]" }), created_at: "2030-01-01T00:00:00.000Z",
        updated_at: "2030-01-01T00:00:00.000Z", expires_at: null, last_operation_id: "op-1", recovery_pending: 0, ...overrides,
    });

    it("map an unchanged row to the same deeply frozen environment", () => {
        const { rowToEnvironment } = mappers();
        const first = rowToEnvironment(row());
        assert.equal(rowToEnvironment(row()), first);
        assert.ok(isDeepFrozen(first));
        // Columns the environment is not made of do not matter.
        assert.equal(rowToEnvironment(row({ recovery_pending: 1 })), first);
    });

    it("map a row that changed in any column to a new environment with the new content", () => {
        const { rowToEnvironment } = mappers();
        const changes: Record<string, unknown> = {
            team: "search", spec: toJson({ tier: "prod" }), spec_hash: "h2", status: "failed", outputs: toJson({ vaultUri: "https://kv-b.vault.azure.net/" }),
            created_at: "2030-01-02T00:00:00.000Z", updated_at: "2030-01-02T00:00:00.000Z", expires_at: "2030-02-01T00:00:00.000Z", last_operation_id: "op-2",
        };
        for (const [column, value] of Object.entries(changes)) {
            const before = rowToEnvironment(row());
            const after = rowToEnvironment(row({ [column]: value }));
            assert.notEqual(after, before, column);
            assert.deepEqual(after, mappers().rowToEnvironment(row({ [column]: value })), column);
        }
        assert.equal(rowToEnvironment(row({ outputs: null })).outputs, undefined);
    });

    it("compare timestamps that arrive as Date by instant", () => {
        const { rowToEnvironment } = mappers();
        const at = (iso: string) => row({ created_at: new Date(iso), updated_at: new Date(iso) });
        const first = rowToEnvironment(at("2030-01-01T00:00:00.000Z"));
        assert.equal(rowToEnvironment(at("2030-01-01T00:00:00.000Z")), first);
        assert.equal(rowToEnvironment(at("2030-01-01T00:00:00.001Z")).updatedAt, "2030-01-01T00:00:00.001Z");
    });

    it("remember a bounded number of environments", () => {
        const { rowToEnvironment } = mappers();
        const first = rowToEnvironment(row());
        for (let i = 0; i < 8; i++) rowToEnvironment(row({ name: `env-${i}` }));
        const again = rowToEnvironment(row());
        assert.notEqual(again, first, "env-a should have been dropped after 8 other environments");
        assert.deepEqual(again, first);
    });
});

describe("redactOutputs on frozen outputs", () => {
    it("redacts once per frozen object, and the result is frozen too", () => {
        const outputs = deepFreeze({ vaultUri: "https://kv.vault.azure.net/", nested: { clientSecret: "s3cret" } });
        const first = redactOutputs(outputs)!;
        assert.deepEqual(first, { vaultUri: "https://kv.vault.azure.net/", nested: { clientSecret: REDACTED } });
        assert.equal(redactOutputs(outputs), first);
        assert.ok(isDeepFrozen(first));
    });

    it("redacts new content afresh, and unfrozen outputs every time into a mutable copy", () => {
        const a = redactOutputs(deepFreeze({ password: "one", name: "a" }))!;
        const b = redactOutputs(deepFreeze({ password: "two", name: "b" }))!;
        assert.deepEqual([a, b], [{ password: REDACTED, name: "a" }, { password: REDACTED, name: "b" }]);
        const plain = { apiKey: "k", name: "c" };
        const copy = redactOutputs(plain)!;
        assert.notEqual(redactOutputs(plain), copy);
        assert.equal(isDeepFrozen(copy), false);
        assert.ok(!JSON.stringify([a, b, copy]).match(/one|two|"k"/));
    });
});

describe("page JSON", () => {
    const json = fc.jsonValue().map((v) => v as unknown);
    it("is byte for byte JSON.stringify of the page, for frozen and unfrozen items, with and without a cursor", () => {
        fc.assert(fc.property(fc.array(fc.tuple(json, fc.boolean())), fc.option(fc.string(), { nil: undefined }), (entries, nextCursor) => {
            const items = entries.map(([v, freeze]) => (freeze ? deepFreeze(v) : v));
            const page = nextCursor === undefined ? { items } : { items, nextCursor };
            assert.equal(pageJson(page), JSON.stringify(page));
            assert.equal(pageJson(page), JSON.stringify(page), "second, remembered, rendering");
        }));
    });

    it("remembers the text of a frozen item and never that of a mutable one", () => {
        const frozen = deepFreeze({ name: "a" });
        assert.equal(jsonText(frozen), jsonText(frozen));
        const mutable = { name: "a" };
        assert.equal(jsonText(mutable), '{"name":"a"}');
        mutable.name = "b";
        assert.equal(jsonText(mutable), '{"name":"b"}');
    });
});

describe("the list route over HTTP", () => {
    let h: Harness;
    before(async () => { h = await startHarness(); });
    after(() => h.close());

    it("sends exactly what res.json would send for the service's page, twice in a row", async () => {
        for (const name of ["payments-a", "payments-b", "payments-c"]) {
            await request(h.app).put(`/v1/environments/${name}`).set(bearer(TOKENS.operatorA)).send(spec());
        }
        const reference = express().get("/", async (_req, res) => { res.json(await h.service.listEnvironments(ADMIN_ACTOR, { limit: 2 })); });
        const expected = await request(reference).get("/");
        for (let i = 0; i < 2; i++) {
            const res = await request(h.app).get("/v1/environments?limit=2").set(bearer(TOKENS.admin));
            assert.equal(res.status, 200);
            assert.equal(res.text, expected.text);
            assert.equal(res.headers["content-type"], expected.headers["content-type"]);
            assert.equal(res.headers["content-length"], expected.headers["content-length"]);
        }
    });
});
