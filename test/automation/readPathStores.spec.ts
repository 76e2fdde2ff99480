import { strict as assert } from "node:assert";
import { REDACTED } from "../../automation/domain/redact";
import { EnvironmentService } from "../../automation/domain/service";
import type { Store } from "../../automation/domain/store";
import { TestDoubleEngine } from "../../automation/engine/testDouble";
import { openSqliteStore } from "../../automation/store/sqlite";
import { ADMIN, tempDir } from "./domainFixtures";
import { adminQuery, dropSchema, openTestStore, testSchemaName } from "./storePostgresHarness";

/**
 * The read path, end to end on each store: every committed write shows in the very next read,
 * and secrets stay masked however often the same environment is served.
 */

interface Opened {
    store: Store;
    dispose(): Promise<void>;
}

const stores: Array<[string, () => Promise<Opened>]> = [
    ["embedded SQLite", async () => {
        const dir = tempDir("readpath");
        const store = await openSqliteStore({ dataDir: dir.path });
        return { store, dispose: async () => { await store.close(); dir.remove(); } };
    }],
    ["PostgreSQL", async () => {
        const schema = testSchemaName();
        const store = await openTestStore(schema);
        return { store, dispose: async () => { await store.close(); await dropSchema(schema); } };
    }],
];

const spec = (team: string) => ({ tier: "dev", location: "westeurope", team, network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] } });

for (const [label, open] of stores) {
    describe(`read path on ${label}`, () => {
        let opened: Opened;
        let service: EnvironmentService;
        // One instant for every write on purpose: nothing may hinge on updated_at moving.
        const now = () => "2030-01-01T00:00:00.000Z";

        beforeEach(async () => {
            opened = await open();
            service = new EnvironmentService({ store: opened.store, engine: new TestDoubleEngine() });
            await opened.store.transaction(async (tx) => {
                for (const name of ["env-a", "env-b", "env-c"]) {
                    await tx.upsertEnvironment({ name, team: "payments", spec: spec("payments"), specHash: `h-${name}`, status: "pending", expiresAt: null, now: now() });
                    const { operation } = await tx.enqueueOperation({ id: `op-${name}-1`, environment: name, team: "payments", kind: "update", requestedBy: "t", maxAttempts: 3, now: now() });
                    // Stored outputs are redacted already; a secret here proves the read path masks again regardless.
                    await tx.updateEnvironment(name, { status: "ready", lastOperationId: operation.id, outputs: { vaultUri: `https://kv-${name}.vault.azure.net/`, adminPassword: "hunter2" }, now: now() });
                }
            });
        });
        afterEach(() => opened.dispose());

        async function readBoth(name: string) {
            const page = await service.listEnvironments(ADMIN, { limit: 10 });
            return { listed: page.items.find((e) => e.name === name)!, detail: await service.getEnvironment(ADMIN, name), page };
        }

        it("masks secrets on every read of the same environment", async () => {
            for (let i = 0; i < 3; i++) {
                const { listed, detail, page } = await readBoth("env-b");
                assert.equal(listed.outputs?.adminPassword, REDACTED);
                assert.equal(detail.outputs?.adminPassword, REDACTED);
                assert.doesNotMatch(JSON.stringify(page) + JSON.stringify(detail), /hunter2/);
            }
        });

        it("shows every committed change in the next read, in the list and in the detail", async () => {
            await readBoth("env-b");
            await opened.store.updateEnvironment("env-b", { outputs: { vaultUri: "https://moved.vault.azure.net/" }, now: now() });
            let { listed, detail } = await readBoth("env-b");
            assert.deepEqual([listed.outputs, detail.outputs], [{ vaultUri: "https://moved.vault.azure.net/" }, { vaultUri: "https://moved.vault.azure.net/" }]);

            await opened.store.updateEnvironment("env-b", { status: "failed", now: now() });
            ({ listed, detail } = await readBoth("env-b"));
            assert.deepEqual([listed.status, detail.status], ["failed", "failed"]);

            await opened.store.upsertEnvironment({ name: "env-b", team: "payments", spec: { ...spec("payments"), tier: "prod" }, specHash: "h2", status: "failed", expiresAt: null, now: now() });
            ({ listed, detail } = await readBoth("env-b"));
            assert.deepEqual([(listed.spec as { tier: string }).tier, (detail.spec as { tier: string }).tier], ["prod", "prod"]);

            const { operation } = await opened.store.enqueueOperation({ id: "op-env-b-2", environment: "env-b", team: "payments", kind: "refresh", requestedBy: "t", maxAttempts: 3, now: now() });
            await opened.store.updateEnvironment("env-b", { lastOperationId: operation.id, now: now() });
            ({ detail } = await readBoth("env-b"));
            assert.equal(detail.lastOperation?.id, "op-env-b-2");
            assert.equal(detail.lastOperation?.kind, "refresh");

            await opened.store.removeEnvironment("env-b");
            assert.deepEqual((await service.listEnvironments(ADMIN, { limit: 10 })).items.map((e) => e.name), ["env-a", "env-c"]);
            await assert.rejects(service.getEnvironment(ADMIN, "env-b"), { code: "not_found" });
        });

        it("answers the detail read exactly as an environment read followed by its last operation's", async () => {
            const twoReads = new EnvironmentService({ store: withoutDetailRead(opened.store), engine: new TestDoubleEngine() });
            for (const name of ["env-a", "env-c"]) assert.deepEqual(await service.getEnvironment(ADMIN, name), await twoReads.getEnvironment(ADMIN, name));
            await opened.store.updateEnvironment("env-a", { lastOperationId: "op-that-is-gone", now: now() });
            const detail = await service.getEnvironment(ADMIN, "env-a");
            assert.equal(detail.lastOperation, undefined);
            assert.deepEqual(detail, await twoReads.getEnvironment(ADMIN, "env-a"));
        });
    });
}

/** The same store without its one-round-trip detail read, so the service takes its generic path. */
function withoutDetailRead(store: Store): Store {
    return new Proxy(store, {
        get: (target, key) => {
            if (key === "getEnvironmentDetail") return undefined;
            const value = Reflect.get(target, key) as unknown;
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
    });
}

describe("list pages on PostgreSQL shared by two processes", () => {
    let schema: string;
    let reader: Awaited<ReturnType<typeof openTestStore>>;
    let writer: Awaited<ReturnType<typeof openTestStore>>;
    const at = "2030-01-01T00:00:00.000Z";
    beforeEach(async () => {
        schema = testSchemaName();
        reader = await openTestStore(schema);
        writer = await openTestStore(schema);
        for (const name of ["env-a", "env-b"]) {
            await writer.upsertEnvironment({ name, team: "payments", spec: spec("payments"), specHash: "h", status: "pending", expiresAt: null, now: at });
        }
    });
    afterEach(async () => {
        await reader.close();
        await writer.close();
        await dropSchema(schema);
    });
    it("show what another process committed in the next read", async () => {
        assert.deepEqual((await reader.listEnvironments({ limit: 10 })).items.map((e) => e.status), ["pending", "pending"]);
        await writer.updateEnvironment("env-a", { status: "ready", outputs: { vaultUri: "https://new.vault.azure.net/" }, now: at });
        let page = await reader.listEnvironments({ limit: 10 });
        assert.deepEqual(page.items.map((e) => [e.name, e.status, e.outputs?.vaultUri]), [["env-a", "ready", "https://new.vault.azure.net/"], ["env-b", "pending", undefined]]);
        // Even a write made by hand, outside the store.
        await adminQuery(`UPDATE ${schema}.environments SET spec = '{"tier":"prod"}' WHERE name = 'env-b'`);
        page = await reader.listEnvironments({ limit: 1 });
        assert.deepEqual([page.items.map((e) => e.name), page.nextCursor !== undefined], [["env-a"], true]);
        page = await reader.listEnvironments({ limit: 1, cursor: page.nextCursor });
        assert.deepEqual([page.items[0].spec, page.nextCursor], [{ tier: "prod" }, undefined]);
        await writer.removeEnvironment("env-a");
        assert.deepEqual((await reader.listEnvironments({ limit: 10 })).items.map((e) => e.name), ["env-b"]);
    });
});

describe("the detail read on PostgreSQL", () => {
    it("is one round trip", async () => {
        const schema = testSchemaName();
        const store = await openTestStore(schema);
        try {
            await store.upsertEnvironment({ name: "env-a", team: "payments", spec: spec("payments"), specHash: "h", status: "pending", expiresAt: null, now: "2030-01-01T00:00:00.000Z" });
            const pool = (store as unknown as { pool: { query: (...a: unknown[]) => unknown } }).pool;
            const original = pool.query.bind(pool);
            let queries = 0;
            pool.query = (...a: unknown[]) => { queries++; return original(...a); };
            await new EnvironmentService({ store, engine: new TestDoubleEngine() }).getEnvironment(ADMIN, "env-a");
            assert.equal(queries, 1);
        } finally {
            await store.close();
            await dropSchema(schema);
        }
    });
});
