import { strict as assert } from "node:assert";
import { Client, escapeIdentifier } from "pg";
import { ReplicaConflictError, ReplicaRegistry, replicaConflict, type PeerReplica, type ReplicaIdentity } from "../../automation/server/replicas";
import { callApi, spawnServer, waitUntil, SHARED_BACKEND, type ServerProcess } from "./scaleOutProcesses";
import { spec } from "./httpHarness";
import { adminQuery, dropSchema, TEST_DATABASE_URL, testSchemaName } from "./storePostgresHarness";

/**
 * The replica guard: replicas sharing a PostgreSQL database must share a Pulumi
 * backend that is not a local directory, and one way of encrypting stack secrets.
 */

const self = (overrides: Partial<ReplicaIdentity> = {}): ReplicaIdentity => ({
    id: "self:1:aaaa", name: "self", role: "all", backendUrl: "azblob://state", secrets: "passphrase:environment", ...overrides,
});
const peer = (overrides: Partial<PeerReplica> = {}): PeerReplica => ({
    ...self({ id: "peer:2:bbbb", name: "peer" }), host: "node-2", pid: 2, startedAt: "2026-01-01T00:00:00.000Z", ...overrides,
});

describe("replica conflicts", () => {
    it("lets a replica run alone on any backend, file:// included", () => {
        assert.equal(replicaConflict(self({ backendUrl: "file:///srv/state", secrets: "passphrase:file" }), []), undefined);
    });

    it("lets replicas share azblob:// or Pulumi Cloud with one passphrase or one Key Vault key", () => {
        assert.equal(replicaConflict(self(), [peer()]), undefined);
        const cloud = { backendUrl: "https://api.pulumi.com", secrets: "azurekeyvault://kv-ops.vault.azure.net/keys/pulumi" };
        assert.equal(replicaConflict(self(cloud), [peer(cloud), peer({ ...cloud, id: "peer:3:cccc" })]), undefined);
    });

    const refused: Array<[string, ReplicaIdentity, PeerReplica[], RegExp]> = [
        ["a second replica on a file backend", self({ backendUrl: "file:///srv/state" }), [peer()], /KVP_BACKEND_URL is file:\/\/\/srv\/state.*azblob:\/\/<container>.*https:\/\/api\.pulumi\.com/],
        ["joining a replica that runs on a file backend", self(), [peer({ backendUrl: "file:///data/state", name: "old-one" })], /"old-one".*KVP_BACKEND_URL=file:\/\/\/data\/state.*azblob:\/\//],
        ["two different shared backends", self({ backendUrl: "azblob://a" }), [peer({ backendUrl: "azblob://b" })], /KVP_BACKEND_URL is azblob:\/\/a but .* uses azblob:\/\/b/],
        ["a passphrase generated per data directory", self({ secrets: "passphrase:file" }), [peer()], /PULUMI_CONFIG_PASSPHRASE is unset/],
        ["a Key Vault key beside a passphrase", self({ secrets: "azurekeyvault://kv.vault.azure.net/keys/k" }), [peer()], /KVP_SECRETS_PROVIDER .* differs/],
    ];
    for (const [what, me, peers, message] of refused) {
        it(`refuses ${what}`, () => {
            const conflict = replicaConflict(me, peers);
            assert.ok(conflict, "expected a conflict");
            assert.match(conflict, message);
        });
    }
});

describe("replica registry on PostgreSQL", function () {
    this.timeout(30_000);
    let schema: string;
    const joined: ReplicaRegistry[] = [];
    const join = async (identity: ReplicaIdentity, onConflict: (e: ReplicaConflictError) => void = () => undefined, heartbeatMs = 5_000) => {
        const r = await ReplicaRegistry.join({ connectionString: TEST_DATABASE_URL, schema, self: identity, onConflict, heartbeatMs, applicationName: `kvp-test:${schema}` });
        joined.push(r);
        return r;
    };

    beforeEach(async () => {
        schema = testSchemaName();
        await adminQuery(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    });
    afterEach(async () => {
        for (const r of joined.splice(0)) await r.leave();
        await dropSchema(schema);
    });

    it("registers replicas that share a backend, and each sees the others", async () => {
        const a = await join(self({ id: "a:1:x", name: "a" }));
        await join(self({ id: "b:2:y", name: "b", role: "worker" }));
        const peersOfA = await a.peers();
        assert.deepEqual(peersOfA.map((p) => [p.name, p.role, p.backendUrl]), [["b", "worker", "azblob://state"]]);
    });

    it("refuses a second replica while the first runs on a file backend, naming KVP_BACKEND_URL and the shared backends", async () => {
        await join(self({ id: "a:1:x", name: "a", backendUrl: "file:///srv/state" }));
        await assert.rejects(join(self({ id: "b:2:y", name: "b" })), (e: unknown) =>
            e instanceof ReplicaConflictError && /KVP_BACKEND_URL=file:\/\/\/srv\/state/.test(e.message) && /azblob:\/\/<container>/.test(e.message) && /api\.pulumi\.com/.test(e.message));
        await assert.rejects(join(self({ id: "c:3:z", name: "c", backendUrl: "file:///srv/state" })), ReplicaConflictError);
        const rows = await adminQuery<{ name: string }>(`SELECT name FROM ${escapeIdentifier(schema)}.replicas ORDER BY name`);
        assert.deepEqual(rows.map((r) => r.name), ["a"], "refused replicas leave no row");
        const sessions = await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [`kvp-test:${schema}`]);
        assert.equal(sessions.length, 1, "refused replicas leave no connection open, only the first replica's");
    });

    it("lets a replica start at once after the previous one died, without waiting for its heartbeat to age", async () => {
        const first = await join(self({ id: "a:1:x", name: "a", backendUrl: "file:///srv/state" }));
        // A crash: the connection drops without the row being removed.
        const client = (first as unknown as { client: Client }).client;
        const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
        await adminQuery("SELECT pg_terminate_backend($1)", [pid]);
        await waitUntil("the dead session to leave pg_stat_activity", async () => ((await adminQuery("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).length === 0 ? true : undefined), 5_000, 20);
        const rows = await adminQuery(`SELECT 1 FROM ${escapeIdentifier(schema)}.replicas`);
        assert.equal(rows.length, 1, "the dead replica's row is still there");
        await join(self({ id: "b:2:y", name: "b", backendUrl: "file:///srv/state" }));
    });

    it("tells the younger of two conflicting replicas to stop when a conflict appears after both joined", async () => {
        const conflicts: string[] = [];
        await join(self({ id: "a:1:x", name: "a", backendUrl: "file:///srv/state" }), (e) => conflicts.push(`a: ${e.message}`), 100);
        // A replica that registered while the first was unreachable: an older row that a heartbeat finds.
        const session = new Client({ connectionString: TEST_DATABASE_URL });
        await session.connect();
        try {
            await session.query(
                `INSERT INTO ${escapeIdentifier(schema)}.replicas (id, name, role, backend_url, secrets, host, pid, db_pid, started_at, heartbeat_at)
                 VALUES ('z:9:q', 'elder', 'all', 'azblob://state', 'passphrase:environment', 'node-9', 9, pg_backend_pid(), now() - interval '1 hour', now())`,
            );
            await waitUntil("the younger replica to be told", async () => (conflicts.length > 0 ? true : undefined), 5_000, 20);
            assert.match(conflicts[0], /^a: KVP_BACKEND_URL is file:\/\/\/srv\/state.*"elder"/);
        } finally {
            await session.end();
        }
    });
});

describe("server replicas as processes", function () {
    this.timeout(90_000);
    let schema: string;
    const processes: ServerProcess[] = [];
    const start = async (...args: Parameters<typeof spawnServer>) => {
        const p = await spawnServer(...args);
        processes.push(p);
        return p;
    };
    beforeEach(() => { schema = testSchemaName(); });
    afterEach(async () => {
        for (const p of processes.splice(0)) await p.dispose();
        await dropSchema(schema);
    });

    it("refuses a second server on a file:// backend with exit code 2 and a message naming KVP_BACKEND_URL", async () => {
        const fileBackend = { KVP_BACKEND_URL: "", PULUMI_CONFIG_PASSPHRASE: "" };
        await start({ name: "first", schema, env: fileBackend });
        const second = await start({ name: "second", schema, env: fileBackend, expectExit: true });
        assert.equal((await second.exited).code, 2, second.output());
        assert.match(second.output(), /Refusing to start: KVP_BACKEND_URL is file:\/\/.*"first".*azblob:\/\/<container>.*https:\/\/api\.pulumi\.com/);
    });

    it("splits the API and the worker into processes: the worker runs what the API queued, and the API streams its events live", async () => {
        const api = await start({ name: "api", schema, role: "api" });
        await start({ name: "worker", schema, role: "worker", env: { KVP_TEST_DOUBLE_LATENCY_MS: "1500" } });
        assert.equal(processes[1].url, undefined, "a worker process opens no port");

        const put = await callApi(api.url!, "PUT", "/v1/environments/payments-split", spec());
        assert.equal(put.status, 202, put.text);
        const opId: string = put.body.operation.id;
        const started = Date.now();
        const res = await fetch(`${api.url}/v1/operations/${opId}/events`, { headers: { Authorization: `Bearer ${"scale-out-admin-token-0123456789"}` } });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        let runningSeenAt: number | undefined;
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            text += value;
            if (runningSeenAt === undefined && /"state":"running"/.test(text)) runningSeenAt = Date.now();
        }
        const finishedAt = Date.now();
        assert.match(text, /event: end\ndata: \{"state":"succeeded"\}/, text);
        assert.ok(runningSeenAt !== undefined, text);
        // Live, not replayed at the end: the worker's "running" reached the API's stream well before the run's 1.5 s were over.
        assert.ok(finishedAt - runningSeenAt >= 1_000, `running arrived ${finishedAt - runningSeenAt} ms before the end (started ${runningSeenAt - started} ms in)`);
        assert.ok(/event: resource-/.test(text) || /event: diagnostic/.test(text) || /event: summary/.test(text), "engine progress events were streamed");
        const op = await callApi(api.url!, "GET", `/v1/operations/${opId}`);
        assert.equal(op.body.state, "succeeded");
        assert.match(processes[1].output(), new RegExp(`"operationId":"${opId}"`), "the worker process ran it");
    });

    it("starts API and worker replicas together on a shared backend", async () => {
        const replicas = await Promise.all([
            start({ name: "api-1", schema, role: "api" }), start({ name: "api-2", schema, role: "api" }),
            start({ name: "worker-1", schema, role: "worker" }), start({ name: "worker-2", schema, role: "worker" }),
        ]);
        const rows = await adminQuery<{ name: string; backend_url: string }>(`SELECT name, backend_url FROM ${escapeIdentifier(schema)}.replicas ORDER BY name`);
        assert.deepEqual(rows.map((r) => r.name), ["api-1", "api-2", "worker-1", "worker-2"]);
        assert.ok(rows.every((r) => r.backend_url === SHARED_BACKEND));
        assert.ok(replicas.every((r) => r.proc.exitCode === null));
    });
});
