import { strict as assert } from "node:assert";
import { z } from "zod";
import { ConfigChange, configKeyFor, createKeyVaultConfig, isLoadable, KeyVaultConfigError, SecretClientPort, SecretPropertiesLike, toTree } from "../src";

const NOW = new Date("2030-01-01T00:00:00Z");
const DAY = 86_400_000;

interface StoredSecret extends SecretPropertiesLike {
    value: string;
}

/** An in-memory vault: latest version per name, with call counters. */
class FakeSecretClient implements SecretClientPort {
    secrets = new Map<string, StoredSecret>();
    gets: string[] = [];
    failNextList = false;
    private versions = 0;

    set(name: string, value: string, attrs: Partial<SecretPropertiesLike> = {}): void {
        this.secrets.set(name.toLowerCase(), { name, value, enabled: true, version: `v${++this.versions}`, ...attrs });
    }

    delete(name: string): void {
        this.secrets.delete(name.toLowerCase());
    }

    async *listPropertiesOfSecrets(): AsyncIterable<SecretPropertiesLike> {
        if (this.failNextList) {
            this.failNextList = false;
            throw new Error("vault unreachable");
        }
        for (const s of this.secrets.values()) {
            const { value: _value, ...props } = s;
            yield props;
        }
    }

    async getSecret(name: string, options?: { version?: string }) {
        this.gets.push(name);
        const s = this.secrets.get(name.toLowerCase());
        if (!s || (options?.version && options.version !== s.version)) throw new Error(`SecretNotFound: ${name}`);
        const { value, ...properties } = s;
        return { value, properties };
    }
}

/** Manual timers: tests fire the scheduled reload themselves. */
function manualTimers() {
    const t = {
        pending: undefined as undefined | (() => void),
        cleared: 0,
        setTimeout: (fn: () => void) => {
            t.pending = fn;
            return { unref() {} };
        },
        clearTimeout: () => {
            t.pending = undefined;
            t.cleared++;
        },
    };
    return t;
}

const nextEvent = <E>(emitter: NodeJS.EventEmitter, event: string) => new Promise<E>((resolve) => emitter.once(event, resolve));

describe("keyvault-config key mapping", () => {
    const cases: Array<[string, string | undefined]> = [
        ["App--ConnectionStrings--Database", "ConnectionStrings:Database"],
        ["App--Logging", "Logging"],
        ["app--Feature--Flags--Beta", "Feature:Flags:Beta"],
        ["Other--ConnectionStrings--Database", undefined],
        ["AppX--Logging", undefined],
        ["App--", undefined],
        ["App----Empty", undefined],
        ["App", undefined],
    ];
    for (const [name, key] of cases) {
        it(`maps ${name} to ${key ?? "nothing"}`, () => assert.equal(configKeyFor(name, "App"), key));
    }

    it("skips disabled, expired and not-yet-valid secrets and keeps the rest", () => {
        assert.equal(isLoadable({ name: "a", enabled: false }, NOW), false);
        assert.equal(isLoadable({ name: "a", enabled: true, expiresOn: new Date(NOW.getTime() - 1) }, NOW), false);
        assert.equal(isLoadable({ name: "a", enabled: true, expiresOn: NOW }, NOW), false);
        assert.equal(isLoadable({ name: "a", enabled: true, notBefore: new Date(NOW.getTime() + DAY) }, NOW), false);
        assert.equal(isLoadable({ name: "a", enabled: true, expiresOn: new Date(NOW.getTime() + DAY) }, NOW), true);
        assert.equal(isLoadable({ name: "a" }, NOW), true);
    });

    it("folds keys into a tree and refuses a key that is both a value and a section", () => {
        assert.deepEqual(toTree([["A:B", "1"], ["A:C", "2"], ["D", "3"]]), { A: { B: "1", C: "2" }, D: "3" });
        assert.throws(() => toTree([["A", "1"], ["A:B", "2"]]), /A is both a value and a section/);
        assert.throws(() => toTree([["A:B", "2"], ["A", "1"]]), /A is both a value and a section/);
    });
});

describe("createKeyVaultConfig", () => {
    let vault: FakeSecretClient;
    beforeEach(() => {
        vault = new FakeSecretClient();
        vault.set("App--ConnectionStrings--Database", "Server=db;Password=s3cr3t-db");
        vault.set("App--Port", "8080");
        vault.set("Other--Port", "9090");
        vault.set("App--Disabled", "off", { enabled: false });
        vault.set("App--Expired", "old", { expiresOn: new Date(NOW.getTime() - DAY) });
        vault.set("App--Future", "later", { notBefore: new Date(NOW.getTime() + DAY) });
    });

    const create = <S extends z.ZodType = z.ZodType<Record<string, unknown>>>(extra: Partial<Parameters<typeof createKeyVaultConfig<S>>[0]> = {}) =>
        createKeyVaultConfig<S>({ client: vault, prefix: "App", reloadIntervalMs: 0, now: () => NOW, ...extra });

    it("loads only prefixed, enabled, valid, unexpired secrets under their mapped keys", async () => {
        const config = await create();
        assert.deepEqual(config.keys(), ["ConnectionStrings:Database", "Port"]);
        assert.equal(config.get("ConnectionStrings:Database"), "Server=db;Password=s3cr3t-db");
        assert.equal(config.get("connectionstrings:database"), "Server=db;Password=s3cr3t-db", "lookups ignore case, as Key Vault names do");
        assert.equal(config.get("Disabled"), undefined);
        assert.equal(config.get("Expired"), undefined);
        assert.equal(config.get("Future"), undefined);
        assert.deepEqual(vault.gets.sort(), ["App--ConnectionStrings--Database", "App--Port"], "values of skipped secrets are never read");
    });

    it("reloads, emits the changed keys without their values, and refetches only changed versions", async () => {
        const config = await create();
        vault.gets = [];
        vault.set("App--Port", "8081");
        vault.set("App--Feature--Beta", "true");
        vault.delete("App--ConnectionStrings--Database");

        const event = nextEvent<ConfigChange>(config, "change");
        const change = await config.reload();
        assert.deepEqual(change, { added: ["Feature:Beta"], updated: ["Port"], removed: ["ConnectionStrings:Database"] });
        assert.deepEqual(await event, change);
        assert.doesNotMatch(JSON.stringify(change), /8081|true|s3cr3t/, "events carry keys only");
        assert.deepEqual(vault.gets.sort(), ["App--Feature--Beta", "App--Port"]);
        assert.equal(config.get("Port"), "8081");
        assert.equal(config.get("ConnectionStrings:Database"), undefined);
    });

    it("does not emit a change when a reload finds nothing new", async () => {
        const config = await create();
        let events = 0;
        config.on("change", () => events++);
        const change = await config.reload();
        assert.deepEqual(change, { added: [], updated: [], removed: [] });
        assert.equal(events, 0);
    });

    it("drops a secret once it expires or is disabled", async () => {
        let now = NOW;
        vault.set("App--Token", "t", { expiresOn: new Date(NOW.getTime() + DAY) });
        const config = await create({ now: () => now });
        assert.equal(config.get("Token"), "t");
        now = new Date(NOW.getTime() + 2 * DAY);
        vault.set("App--Port", "8080", { enabled: false });
        const change = await config.reload();
        assert.deepEqual(change.removed, ["Port", "Token"]);
    });

    it("reloads on the interval through an unref'd timer, and stop() clears it", async () => {
        const timers = manualTimers();
        const config = await create({ reloadIntervalMs: 60_000, timers });
        assert.ok(timers.pending, "a reload is scheduled after the first load");
        vault.set("App--Port", "9000");
        const event = nextEvent<ConfigChange>(config, "change");
        timers.pending!();
        assert.deepEqual((await event).updated, ["Port"]);
        await new Promise((r) => setImmediate(r));
        assert.ok(timers.pending, "the next reload is scheduled after one completes");

        config.stop();
        assert.equal(timers.pending, undefined);
        assert.equal(timers.cleared, 1);
        assert.equal(config.get("Port"), "9000", "values stay readable after stop()");
    });

    it("uses a real timer that does not keep the process alive", async () => {
        const config = await create({ reloadIntervalMs: 60_000 });
        const timer = (config as unknown as { timer: NodeJS.Timeout }).timer;
        assert.equal(timer.hasRef(), false);
        config.stop();
        assert.equal((config as unknown as { timer: unknown }).timer, undefined);
    });

    it("keeps the previous values when a reload fails and reports the failure as an error event", async () => {
        const timers = manualTimers();
        const config = await create({ reloadIntervalMs: 60_000, timers });
        vault.failNextList = true;
        const failure = nextEvent<Error>(config, "error");
        timers.pending!();
        assert.match((await failure).message, /vault unreachable/);
        assert.equal(config.get("Port"), "8080");
        await new Promise((r) => setImmediate(r));
        assert.ok(timers.pending, "a failed reload still schedules the next one");
        config.stop();
    });

    it("logs a reload failure without values when nobody listens for errors", async () => {
        const timers = manualTimers();
        const warnings: string[] = [];
        const config = await create({ reloadIntervalMs: 60_000, timers, logger: { warn: (m) => warnings.push(m) } });
        vault.failNextList = true;
        timers.pending!();
        await new Promise((r) => setTimeout(r, 5));
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /reload failed, keeping the previous values: vault unreachable/);
        config.stop();
    });

    it("parses the whole tree with a zod schema into a typed object", async () => {
        const schema = z.object({ ConnectionStrings: z.object({ Database: z.string() }), Port: z.coerce.number().int() });
        const config = await create({ schema });
        const value: { ConnectionStrings: { Database: string }; Port: number } = config.value();
        assert.equal(value.Port, 8080);
        assert.equal(value.ConnectionStrings.Database, "Server=db;Password=s3cr3t-db");
    });

    it("fails the first load with an error naming the key, not the value, when the schema rejects it", async () => {
        vault.set("App--Port", "not-a-port-s3cr3t");
        const schema = z.object({ Port: z.coerce.number().int(), Missing: z.object({ Key: z.string() }) });
        await assert.rejects(create({ schema }), (e: Error) => {
            assert.ok(e instanceof KeyVaultConfigError);
            assert.match(e.message, /Port: /);
            assert.match(e.message, /Missing: /);
            assert.doesNotMatch(e.message, /s3cr3t/);
            return true;
        });
    });

    it("keeps the last valid configuration when a reload no longer matches the schema", async () => {
        const schema = z.object({ Port: z.coerce.number().int() }).loose();
        const config = await create({ schema });
        vault.set("App--Port", "eighty");
        await assert.rejects(config.reload(), /Port: /);
        assert.equal(config.value().Port, 8080);
        assert.equal(config.get("Port"), "8080");
    });

    it("parses single keys with getAs and names the key when absent or invalid", async () => {
        const config = await create();
        assert.equal(config.getAs("Port", z.coerce.number()), 8080);
        assert.throws(() => config.getAs("ConnectionStrings:Database", z.coerce.number()), (e: Error) => {
            assert.ok(e instanceof KeyVaultConfigError);
            assert.equal(e.key, "ConnectionStrings:Database");
            assert.doesNotMatch(e.message, /s3cr3t/);
            return true;
        });
        assert.throws(() => config.require("Nope:Key"), /Nope:Key is not set; add the secret App--Nope--Key/);
        assert.throws(() => config.value(), /value\(\) needs a schema/);
    });

    it("refuses bad options with messages naming the option", async () => {
        await assert.rejects(createKeyVaultConfig({ client: vault, prefix: "" }), /prefix "" is invalid/);
        await assert.rejects(createKeyVaultConfig({ client: vault, prefix: "App--X" }), /prefix "App--X" is invalid/);
        await assert.rejects(createKeyVaultConfig({ client: vault, prefix: "App", reloadIntervalMs: 10 }), /reloadIntervalMs 10 is invalid/);
        await assert.rejects(createKeyVaultConfig({ client: vault, prefix: "App", concurrency: 0 }), /concurrency 0 is invalid/);
        await assert.rejects(createKeyVaultConfig({ prefix: "App" }), /pass either client or vaultUrl/);
        await assert.rejects(createKeyVaultConfig({ prefix: "App", vaultUrl: "http://kv.vault.azure.net" }), /vaultUrl "http:\/\/kv.vault.azure.net" is invalid/);
    });

    it("fetches values with bounded concurrency", async () => {
        for (let i = 0; i < 20; i++) vault.set(`App--K${i}`, `v${i}`);
        let inFlight = 0;
        let peak = 0;
        const original = vault.getSecret.bind(vault);
        vault.getSecret = async (name, options) => {
            peak = Math.max(peak, ++inFlight);
            await new Promise((r) => setImmediate(r));
            inFlight--;
            return original(name, options);
        };
        const config = await create({ concurrency: 3 });
        assert.equal(config.keys().length, 22);
        assert.equal(peak, 3);
    });
});
