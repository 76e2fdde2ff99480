import { strict as assert } from "node:assert";
import { ConflictError, UnavailableError } from "../../automation/domain/errors";
import type { StoreNotification } from "../../automation/store/postgresTx";
import { EventHub } from "../../automation/domain/eventHub";
import type { OperationEvent } from "../../automation/domain/ports";
import { CLAIM_WALK, createPostgresStore, type PostgresStore } from "../../automation/store/postgres";
import { bridgeStoreNotifications } from "../../automation/store/postgresNotify";
import { toPostgresStoreError } from "../../automation/store/postgresErrors";
import { iso, timestamptzParser } from "../../automation/store/postgresRows";
import { POSTGRES_MIGRATIONS } from "../../automation/store/postgresMigrations";
import { claimOne, eventually, ManualClock } from "./domainFixtures";
import { describeStoreContract } from "./storeContract";
import { adminQuery, applicationNameOf, dropSchema, openTestStore, terminateBackends, testSchemaName } from "./storePostgresHarness";

describeStoreContract("PostgreSQL", async () => {
    const schema = testSchemaName();
    let store = await openTestStore(schema);
    return {
        store,
        async reopen() {
            await store.close();
            store = await openTestStore(schema);
            return store;
        },
        async dispose() {
            await store.close();
            await dropSchema(schema);
        },
    };
});

describe("PostgreSQL store", () => {
    let schema: string;
    let store: PostgresStore | undefined;
    const clock = new ManualClock();
    const now = () => clock.iso();

    beforeEach(() => (schema = testSchemaName()));
    afterEach(async () => {
        await store?.close();
        store = undefined;
        await dropSchema(schema);
    });

    async function seed(s: PostgresStore, environment: string, id: string) {
        await s.upsertEnvironment({ name: environment, team: "payments", spec: {}, specHash: "h", status: "pending", expiresAt: null, now: now() });
        return (await s.enqueueOperation({ id, environment, team: "payments", kind: "update", requestedBy: "a", maxAttempts: 3, now: now() })).operation;
    }

    it("migrates once when several replicas start together, under one advisory lock", async () => {
        const stores = await Promise.all(Array.from({ length: 4 }, () => openTestStore(schema)));
        try {
            const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
            assert.deepEqual(versions.map((v) => v.version), POSTGRES_MIGRATIONS.map((m) => m.version));
            for (const s of stores) assert.match((await s.readiness()).detail, new RegExp(`schema ${schema} at version ${POSTGRES_MIGRATIONS.length}`));
        } finally {
            await Promise.all(stores.map((s) => s.close()));
        }
    });

    it("opens the connections it keeps as it opens, and only those until more are needed", async () => {
        const connections = async () => Number((await adminQuery<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", [applicationNameOf(schema)],
        ))[0].n);
        store = await openTestStore(schema, { maxConnections: 5, minConnections: 3 });
        assert.equal(await connections(), 3, "three open before any use");
        const s = store;
        await Promise.all(Array.from({ length: 5 }, () => s.transaction(async (tx) => tx.getEnvironment("none"))));
        assert.equal(await connections(), 5, "more on demand, up to the pool's size");
        const lazy = await openTestStore(schema, { maxConnections: 5 });
        try {
            assert.equal(await connections(), 6, "a store that keeps none holds only the one it opened with, idle");
        } finally {
            await lazy.close();
        }
    });

    it("refuses a database written by a newer server", async () => {
        await (await openTestStore(schema)).close();
        await adminQuery(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES (99, 'future')`);
        await assert.rejects(openTestStore(schema), /newer than this server understands/);
    });

    it("refuses a schema name it would have to quote", async () => {
        await assert.rejects(openTestStore("Bad-Schema; DROP"), (e: unknown) => e instanceof UnavailableError && /schema/.test(e.message));
    });

    it("makes a second running operation on one environment impossible to commit, whatever the caller does", async () => {
        store = await openTestStore(schema);
        await seed(store, "pay-dev", "op-1");
        await store.enqueueOperation({ id: "op-2", environment: "pay-dev", team: "payments", kind: "preview", requestedBy: "a", maxAttempts: 3, now: now() });
        assert.ok(await claimOne(store, { workerId: "w1", leaseMs: 1_000, maxRunning: 5, now: now() }));
        await assert.rejects(adminQuery(`UPDATE ${schema}.operations SET state = 'running' WHERE id = 'op-2'`), /operations_one_running_per_environment/);
    });

    /** `operations` queued over `environments` (round robin), loaded at once with autovacuum off: the statistics still describe an empty table. */
    async function bulkQueue(environments: number, operations: number, at: string): Promise<void> {
        await adminQuery(`ALTER TABLE ${schema}.operations SET (autovacuum_enabled = false)`);
        await adminQuery(`INSERT INTO ${schema}.environments (name, team, spec, spec_hash, status, created_at, updated_at)
            SELECT 'env-' || g, 'payments', '{}', 'h', 'ready', $1, $1 FROM generate_series(0, $2 - 1) g`, [at, environments]);
        await adminQuery(`INSERT INTO ${schema}.operations (id, environment, team, kind, state, requested_by, max_attempts, created_at)
            SELECT 'op-' || lpad(g::text, 5, '0'), 'env-' || (g % $2), 'payments', 'preview', 'queued', 'a', 1, $1 FROM generate_series(0, $3 - 1) g`, [at, environments, operations]);
    }

    /** The claim walk's plan, as the claim declares it. */
    async function walkPlan(at: string): Promise<string> {
        return (await adminQuery<{ "QUERY PLAN": string }>(
            `EXPLAIN DECLARE claim_walk NO SCROLL CURSOR FOR ${CLAIM_WALK.replaceAll("operations", `${schema}.operations`).replace("$1", `'${at}'::timestamptz`)}`,
        )).map((r) => r["QUERY PLAN"]).join("\n");
    }

    it("walks a bulk-loaded queue in order with index probes before any ANALYZE, and claims each environment's oldest", async () => {
        store = await openTestStore(schema);
        const at = now();
        await bulkQueue(300, 3_000, at);
        const [stats] = await adminQuery<{ analyzed: boolean }>(
            "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'operations'", [schema]);
        assert.equal(stats.analyzed, false);
        const plan = await walkPlan(at);
        // An ordered walk that stops at the first claimable row: no sort of the whole queue, no bitmap scan per check.
        assert.doesNotMatch(plan, /Sort|Bitmap|Seq Scan/, plan);
        assert.match(plan, /Index Scan using operations_by_state on operations o/, plan);
        const claims = [];
        for (let i = 0; i < 4; i++) claims.push(await claimOne(store, { workerId: "w1", leaseMs: 60_000, maxRunning: 10, now: at }));
        assert.deepEqual(claims.map((c) => c?.id), ["op-00000", "op-00001", "op-00002", "op-00003"]);
        await store.finishOperation({ id: "op-00001", workerId: "w1", state: "succeeded", now: at });
        // env-1's next operation (op-00301) waited behind op-00001; now it is the oldest claimable one after op-00004.
        assert.equal((await claimOne(store, { workerId: "w1", leaseMs: 60_000, maxRunning: 10, now: at }))?.id, "op-00004");
    });

    it("checks each candidate of a few hundred bulk-queued operations by probes of its own environment, before any ANALYZE", async () => {
        store = await openTestStore(schema);
        const at = now();
        // The size of a busy moment (npm run bench:ops queues 96-384): planned as anti-joins with these
        // statistics, each candidate was checked against every queued operation, or a scan of the table.
        await bulkQueue(400, 400, at);
        const plan = await walkPlan(at);
        assert.doesNotMatch(plan, /Sort|Bitmap|Seq Scan/, plan);
        for (const alias of ["h", "b"]) {
            assert.match(plan, new RegExp(`Index Only Scan using operations_by_environment on operations ${alias} .*\\n\\s+Index Cond: \\(+environment = o\\.environment\\)`), plan);
        }
        assert.equal((await claimOne(store, { workerId: "w1", leaseMs: 60_000, maxRunning: 10, now: at }))?.id, "op-00000");
    });

    it("returns instants exactly as written, whatever their milliseconds, without parsing them into dates", async () => {
        store = await openTestStore(schema);
        for (const [i, at] of ["2030-01-02T03:04:05.000Z", "2030-01-02T03:04:05.100Z", "2030-01-02T03:04:05.120Z", "2030-01-02T03:04:05.123Z", "0999-12-31T23:59:59.999Z"].entries()) {
            const env = await store.upsertEnvironment({ name: `env-${i}`, team: "payments", spec: {}, specHash: "h", status: "ready", expiresAt: at, now: at });
            const page = await store.listEnvironments({ limit: 100 });
            const listed = page.items.find((x) => x.name === env.name);
            const read = await store.getEnvironment(env.name);
            for (const e of [env, read, listed]) assert.deepEqual([e?.createdAt, e?.updatedAt, e?.expiresAt], [at, at, at], at);
        }
        const parse = timestamptzParser(() => new Date("2030-01-02T02:04:05.100Z"));
        assert.equal(parse("2030-01-02 03:04:05.1+00"), "2030-01-02T03:04:05.100Z");
        assert.equal(parse("2030-01-02 03:04:05+00"), "2030-01-02T03:04:05.000Z");
        // Not UTC text: the driver's parser, and the row mapper prints its Date.
        assert.equal(iso(parse("2030-01-02 03:04:05.1+01")), "2030-01-02T02:04:05.100Z");
    });

    it("numbers concurrent appends to one operation without gaps or duplicates", async () => {
        store = await openTestStore(schema, { maxConnections: 8 });
        const s = store;
        const stored = await Promise.all(Array.from({ length: 40 }, (_, i) => s.appendEvent("op-x", { type: "log", data: { i }, at: now() })));
        assert.deepEqual(stored.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1));
        assert.deepEqual((await s.listEvents("op-x", 0, 100)).map((e) => e.seq), Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it("serializes transactions on one environment across separate stores (as across processes)", async () => {
        const stores = await Promise.all([openTestStore(schema), openTestStore(schema), openTestStore(schema)]);
        try {
            await stores[0].upsertEnvironment({ name: "pay-dev", team: "payments", spec: {}, specHash: "h", status: "pending", expiresAt: null, now: now() });
            await Promise.all(Array.from({ length: 15 }, (_, i) => stores[i % 3].transaction(async (tx) => {
                const current = await tx.getEnvironment("pay-dev");
                await new Promise((r) => setTimeout(r, 2));
                const count = Number((current?.outputs as { count?: number } | undefined)?.count ?? 0);
                await tx.updateEnvironment("pay-dev", { outputs: { count: count + 1 }, now: now() });
            })));
            assert.deepEqual((await stores[1].getEnvironment("pay-dev"))?.outputs, { count: 15 });
        } finally {
            await Promise.all(stores.map((s) => s.close()));
        }
    });

    it("runs a transaction again when its environment lock, sent with the next statement, ends in a deadlock", async () => {
        const stores = await Promise.all([openTestStore(schema), openTestStore(schema)]);
        try {
            for (const name of ["env-a", "env-b"]) await stores[0].upsertEnvironment({ name, team: "t", spec: {}, specHash: "h", status: "pending", expiresAt: null, now: now() });
            let holding = 0;
            const attempts = [0, 0];
            const crossing = (i: number, first: string, second: string) => stores[i].transaction(async (tx) => {
                attempts[i]++;
                await tx.getEnvironment(first);
                if (attempts[i] === 1) {
                    holding++;
                    await eventually(() => holding === 2, "both transactions holding their first lock");
                }
                // Each now waits for the other's lock: PostgreSQL aborts one with a deadlock, reported as
                // such (not as the "transaction aborted" of the read after it), so it is run again.
                await tx.updateEnvironment(second, { status: "ready", now: now() });
            });
            await Promise.all([crossing(0, "env-a", "env-b"), crossing(1, "env-b", "env-a")]);
            assert.equal(attempts[0] + attempts[1], 3, "one of the two ran again");
        } finally {
            await Promise.all(stores.map((s) => s.close()));
        }
    });

    it("reads an operation again after its environment's lock when the read went out before the lock", async () => {
        const stores = await Promise.all([openTestStore(schema), openTestStore(schema)]);
        try {
            const op = await seed(stores[0], "pay-dev", "op-1");
            await claimOne(stores[0], { workerId: "w1", leaseMs: 10_000, maxRunning: 5, now: now() });
            let release!: () => void;
            const released = new Promise<void>((resolve) => (release = resolve));
            let changed = false;
            // Another process holds the environment and ends the run as interrupted, not yet committed.
            const other = stores[1].transaction(async (tx) => {
                await tx.finishOperation({ id: op.id, workerId: "w1", state: "interrupted", now: now() });
                changed = true;
                await released;
            });
            await eventually(() => changed, "the other transaction's change");
            // The operation's read is sent before the environment's lock: it sees the run still held by w1.
            const late = stores[0].transaction((tx) => Promise.all([
                tx.finishOperation({ id: op.id, workerId: "w1", state: "succeeded", now: now() }),
                tx.getEnvironment("pay-dev"),
            ]));
            late.catch(() => undefined);
            const waiting = async () => (await adminQuery<{ n: string }>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [applicationNameOf(schema)],
            ))[0].n === "1";
            let sawWaiting = false;
            for (let i = 0; i < 100 && !(sawWaiting = await waiting()); i++) await new Promise((r) => setTimeout(r, 20));
            release();
            assert.ok(sawWaiting, "the late transaction waited for the lock, its read of the operation already done");
            await other;
            await assert.rejects(late, ConflictError, "the read after the lock sees the run is no longer held");
            assert.equal((await stores[0].getOperation(op.id))?.state, "interrupted");
        } finally {
            await Promise.all(stores.map((s) => s.close()));
        }
    });

    it("replays one response to concurrent requests with the same idempotency key", async () => {
        const stores = await Promise.all([openTestStore(schema), openTestStore(schema)]);
        try {
            const outcomes = await Promise.all(stores.map((s, i) => s.transaction(async (tx) => {
                const previous = await tx.getIdempotency("alice", "k1");
                if (previous) return previous.response;
                await new Promise((r) => setTimeout(r, 20));
                await tx.putIdempotency({ scope: "alice", key: "k1", requestHash: "r", response: { winner: i }, createdAt: now() });
                return { winner: i };
            })));
            assert.deepEqual(outcomes[0], outcomes[1]);
        } finally {
            await Promise.all(stores.map((s) => s.close()));
        }
    });

    it("reports a duplicate idempotency key as ConflictError", async () => {
        store = await openTestStore(schema);
        await store.putIdempotency({ scope: "alice", key: "k", requestHash: "r", response: {}, createdAt: now() });
        await assert.rejects(store.putIdempotency({ scope: "alice", key: "k", requestHash: "r2", response: {}, createdAt: now() }), ConflictError);
    });

    it("keeps SQL NULL and JSON null apart, and JSON documents as written", async () => {
        store = await openTestStore(schema);
        const spec = { tier: "dev", alerts: { emails: [] }, a: "\u0000x" };
        await store.upsertEnvironment({ name: "pay-dev", team: "payments", spec, specHash: "h", status: "pending", expiresAt: null, now: now() });
        assert.equal(JSON.stringify((await store.getEnvironment("pay-dev"))?.spec), JSON.stringify(spec));
        assert.equal((await store.appendEvent("op-1", { type: "t", data: null, at: now() })).data, null);
        const entry = await store.appendAudit({ id: "a1", at: now(), actor: { subject: "s", role: "admin" }, action: "x", target: "t", outcome: "accepted", details: null });
        assert.equal(entry.details, null);
        const [withoutDetails] = (await store.listAudit({ limit: 1 })).items;
        assert.equal(withoutDetails.details, null);
        const bare = await store.appendAudit({ id: "a2", at: now(), actor: { subject: "s", role: "admin" }, action: "x", target: "t", outcome: "accepted" });
        assert.equal("details" in bare, false);
    });

    it("tells other processes about stored events, enqueues and cancels, and not itself", async () => {
        store = await openTestStore(schema);
        const other = await openTestStore(schema);
        const heardByOther: StoreNotification[] = [];
        const heardBySelf: StoreNotification[] = [];
        const stopOther = await other.listen((n) => heardByOther.push(n));
        const stopSelf = await store.listen((n) => heardBySelf.push(n));
        try {
            const op = await seed(store, "pay-dev", "op-1");
            await claimOne(store, { workerId: "w1", leaseMs: 10_000, maxRunning: 5, now: now() });
            await store.appendEvent(op.id, { type: "t", data: {}, at: now() });
            await store.requestCancel(op.id, now());
            await eventually(() => heardByOther.length >= 3, "three notifications");
            const carried = heardByOther.map((n) => (n.kind === "event" ? n.events : undefined));
            assert.deepEqual(carried[1]?.map((e) => [e.operationId, e.seq, e.type]), [["op-1", 1, "t"]], "a small burst travels with its notification");
            const withoutEvents = (n: StoreNotification) => {
                if (n.kind !== "event") return n;
                const { events: _events, ...rest } = n;
                return rest;
            };
            assert.deepEqual(heardByOther.map(withoutEvents), [{ kind: "enqueued" }, { kind: "event", operationId: "op-1", seq: 1, from: 1 }, { kind: "cancel", operationId: "op-1" }]);
            await other.appendEvent("op-9", { type: "t", data: {}, at: now() });
            await eventually(() => heardBySelf.length === 1, "the other store's event");
            assert.deepEqual(heardBySelf.map(withoutEvents), [{ kind: "event", operationId: "op-9", seq: 1, from: 1 }]);
            await other.appendEvents("op-9", [{ type: "a", data: {}, at: now() }, { type: "b", data: {}, at: now() }, { type: "c", data: {}, at: now() }]);
            await eventually(() => heardBySelf.length === 2, "the other store's batch");
            assert.deepEqual(withoutEvents(heardBySelf[1]), { kind: "event", operationId: "op-9", seq: 4, from: 2 }, "one notification per batch, naming its first and last");
        } finally {
            await stopOther();
            await stopSelf();
            await other.close();
        }
    });

    it("sends one notification per burst that carries the burst exactly as stored, or only its numbers when too large", async () => {
        store = await openTestStore(schema);
        const other = await openTestStore(schema);
        const quiet = await openTestStore(schema, { notify: false });
        const heard: StoreNotification[] = [];
        const stop = await other.listen((n) => heard.push(n));
        try {
            const at = "2031-02-03T04:05:06.007Z";
            const big = "x".repeat(8_000);
            const stored = await store.appendEventBursts([
                { operationId: "op-1", events: [{ type: "a", data: { n: 1, nested: { s: "é\"'" } }, at }, { type: "b", data: null, at }] },
                { operationId: "op-2", events: [] },
                { operationId: "op-1", events: [{ type: "c", data: [1, "two"], at }] },
                { operationId: "op-2", events: [{ type: "big", data: { big }, at }] },
            ]);
            assert.deepEqual(stored.map((b) => b.map((e) => `${e.operationId}:${e.seq}`)), [["op-1:1", "op-1:2"], [], ["op-1:3"], ["op-2:1"]]);
            await eventually(() => heard.length >= 3, "three notifications");
            assert.deepEqual(heard[0], { kind: "event", operationId: "op-1", seq: 2, from: 1, events: stored[0] }, "the first burst, as the store returned it");
            assert.deepEqual(heard[1], { kind: "event", operationId: "op-1", seq: 3, from: 3, events: stored[2] }, "the same operation's second burst, on its own");
            assert.deepEqual(heard[2], { kind: "event", operationId: "op-2", seq: 1, from: 1 }, "a burst over 7,500 bytes goes without its events");
            assert.deepEqual(await store.listEvents("op-1", 0, 10), [...stored[0], ...stored[2]], "what a notification carries is what a read returns");
            // A store with notifications off stores the same way and tells no one.
            assert.deepEqual((await quiet.appendEvents("op-3", [{ type: "q", data: {}, at }])).map((e) => e.seq), [1]);
            await store.appendEvent("op-4", { type: "after", data: {}, at });
            await eventually(() => heard.length >= 4, "the next notification");
            assert.deepEqual(heard.slice(3).map((n) => n.kind === "event" && n.operationId), ["op-4"], "nothing was heard of the quiet store's event");
        } finally {
            await stop();
            await other.close();
            await quiet.close();
        }
    });

    it("bridges another replica's events, enqueues and cancels into this process's hub", async () => {
        store = await openTestStore(schema);
        const replica = await openTestStore(schema);
        const hub = new EventHub();
        const seen: OperationEvent[] = [];
        let wakes = 0;
        const cancels: string[] = [];
        hub.onEnqueued(() => wakes++);
        hub.onCancelRequested((id) => cancels.push(id));
        const unsubscribe = hub.subscribe("op-1", (e) => seen.push(e));
        const stop = await bridgeStoreNotifications(store, hub);
        try {
            await seed(replica, "pay-dev", "op-1");
            await claimOne(replica, { workerId: "w-b", leaseMs: 10_000, maxRunning: 5, now: now() });
            for (let i = 0; i < 5; i++) await replica.appendEvent("op-1", { type: "log", data: { i }, at: now() });
            await replica.appendEvent("op-unwatched", { type: "log", data: {}, at: now() });
            await replica.requestCancel("op-1", now());
            await eventually(() => seen.length === 5 && cancels.length === 1, "the bridged events and cancel");
            assert.deepEqual(seen.map((e) => [e.seq, (e.data as { i: number }).i]), [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4]]);
            assert.deepEqual(cancels, ["op-1"]);
            assert.ok(wakes >= 1, "the enqueue woke this process's worker");
        } finally {
            unsubscribe();
            await stop();
            await replica.close();
        }
    });

    it("relays every event of another replica's batch to a watcher, not only the last", async () => {
        store = await openTestStore(schema);
        const replica = await openTestStore(schema);
        const hub = new EventHub();
        const seen: number[] = [];
        const unsubscribe = hub.subscribe("op-1", (e) => seen.push(e.seq));
        const stop = await bridgeStoreNotifications(store, hub);
        try {
            let reads = 0;
            const listEvents = store.listEvents.bind(store);
            store.listEvents = (...args) => {
                reads++;
                return listEvents(...args);
            };
            await replica.appendEvents("op-1", [1, 2, 3].map((i) => ({ type: "log", data: { i }, at: now() })));
            await eventually(() => seen.length >= 3, "the batch");
            await replica.appendEvents("op-1", [4, 5].map((i) => ({ type: "log", data: { i }, at: now() })));
            await eventually(() => seen.length >= 5, "the second batch");
            assert.equal(reads, 0, "small bursts come with their notification");
            // Too large for a notification: read back from the store.
            await replica.appendEvents("op-1", [6, 7].map((i) => ({ type: "log", data: { i, text: "x".repeat(5_000) }, at: now() })));
            await eventually(() => seen.length >= 7, "the large batch");
            assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
            assert.ok(reads >= 1);
        } finally {
            unsubscribe();
            await stop();
            await replica.close();
        }
    });

    describe("when PostgreSQL goes away", () => {
        it("reports an unreachable server as UnavailableError and unready, without the connection string", async () => {
            const url = "postgres://kvp:s3cret-password@127.0.0.1:1/test";
            await assert.rejects(createPostgresStore({ connectionString: url, connectTimeoutMs: 500 }), (e: unknown) =>
                e instanceof UnavailableError && /cannot be reached/.test(e.message) && !e.message.includes("s3cret"));
        });

        it("recovers by itself after every backend of the store is terminated", async () => {
            store = await openTestStore(schema);
            await seed(store, "pay-dev", "op-1");
            assert.equal((await store.readiness()).ok, true);
            const s = store;
            await Promise.all(Array.from({ length: 5 }, () => s.getEnvironment("pay-dev")));
            assert.ok((await terminateBackends(schema)) >= 1, "the store had connections to terminate");
            // Idle connections died under the pool; the next calls must get fresh ones without any manual step.
            await eventually(async () => (await s.readiness()).ok, "readiness after the restart");
            assert.equal((await s.getEnvironment("pay-dev"))?.name, "pay-dev");
            const claimed = await claimOne(s, { workerId: "w1", leaseMs: 1_000, maxRunning: 5, now: now() });
            assert.equal(claimed?.id, "op-1");
        });

        it("fails a transaction whose connection dies as UnavailableError, rolls it back, and serves the next one", async () => {
            store = await openTestStore(schema);
            const s = store;
            await seed(s, "pay-dev", "op-1");
            await assert.rejects(s.transaction(async (tx) => {
                await tx.updateEnvironment("pay-dev", { status: "ready", now: now() });
                await terminateBackends(schema);
                await tx.appendAudit({ id: "a1", at: now(), actor: { subject: "s", role: "admin" }, action: "x", target: "t", outcome: "accepted" });
            }), (e: unknown) => e instanceof UnavailableError && /PostgreSQL closed the connection|cannot be reached/.test(e.message));
            assert.equal((await s.getEnvironment("pay-dev"))?.status, "pending", "the half-done transaction left nothing behind");
            await s.updateEnvironment("pay-dev", { status: "ready", now: now() });
            assert.equal((await s.getEnvironment("pay-dev"))?.status, "ready");
        });

        it("keeps listening after its connection is terminated", async () => {
            store = await openTestStore(schema);
            const other = await openTestStore(schema, { applicationName: "kvp-test-other" });
            const heard: StoreNotification[] = [];
            const stop = await store.listen((n) => heard.push(n));
            try {
                await terminateBackends(schema);
                await eventually(async () => {
                    await other.appendEvent("op-1", { type: "t", data: {}, at: now() });
                    return heard.length > 0;
                }, "a notification after the listener reconnected", 10_000);
            } finally {
                await stop();
                await other.close();
            }
        });
    });

    it("maps PostgreSQL failures to UnavailableError and leaves other errors alone", () => {
        const pg = (code: string, message = "x") => Object.assign(new Error(message), { code });
        const table: Array<[unknown, RegExp | undefined]> = [
            [pg("57P01", "terminating connection due to administrator command"), /closed the connection/],
            [pg("ECONNREFUSED"), /cannot be reached/],
            [new Error("Connection terminated unexpectedly"), /cannot be reached/],
            [pg("53100"), /out of resources/],
            [pg("25006"), /read-only/],
            [pg("3D000"), /does not exist/],
            [pg("28P01"), /credentials/],
            [pg("40P01"), /deadlocks/],
            [pg("57014"), /cancelled the statement/],
            [pg("42601"), undefined],
            [new TypeError("bug"), undefined],
        ];
        for (const [error, message] of table) {
            const mapped = toPostgresStoreError(error);
            if (message) {
                assert.ok(mapped instanceof UnavailableError, `${String(error)} should be unavailable`);
                assert.match(mapped.message, message);
            } else {
                assert.equal(mapped, error);
            }
        }
        assert.ok(toPostgresStoreError(pg("23505")) instanceof ConflictError);
    });

    it("refuses to be used after close", async () => {
        const s = await openTestStore(schema);
        await s.close();
        await assert.rejects(s.getEnvironment("x"), /closed/);
        await assert.rejects(claimOne(s, { workerId: "w", leaseMs: 1, maxRunning: 1, now: now() }), /closed/);
    });
});
