import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { EventHub, STATE_EVENT, type StateEventData } from "../../automation/domain/eventHub";
import { resolveOperationSettings } from "../../automation/domain/operationSettings";
import type { OperationKind } from "../../automation/domain/ports";
import { silentLogger } from "../../automation/domain/runtime";
import type { PostgresStore } from "../../automation/store/postgres";
import { recoverInterrupted } from "../../automation/worker/recovery";
import { claimOne, eventually, sequentialIds } from "./domainFixtures";
import { adminQuery, dropSchema, openTestStore, testSchemaName } from "./storePostgresHarness";

/**
 * Several worker processes on one PostgreSQL schema: the guarantees the embedded store
 * gets from being alone must hold here between real processes, each with its own pool.
 */

const CHILD = join(__dirname, "storePostgresChild.ts");

interface Child {
    child: ChildProcess;
    exited: Promise<{ code: number | null; stderr: string }>;
    stdout(): string;
}

function startChild(env: Record<string, string>): Child {
    const child = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", CHILD], {
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += String(d)));
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on("exit", (code) => resolve({ code, stderr })));
    return { child, exited, stdout: () => stdout };
}

describe("PostgreSQL store shared by several processes", function () {
    this.timeout(60_000);
    let schema: string;
    let store: PostgresStore;

    beforeEach(async () => {
        schema = testSchemaName();
        store = await openTestStore(schema);
    });
    afterEach(async () => {
        await store.close();
        await dropSchema(schema);
    });

    async function enqueue(environment: string, id: string, kind: OperationKind) {
        const now = new Date().toISOString();
        if (!(await store.getEnvironment(environment))) {
            await store.upsertEnvironment({ name: environment, team: "payments", spec: {}, specHash: "h", status: "pending", expiresAt: null, now });
        }
        return (await store.enqueueOperation({ id, environment, team: "payments", kind, requestedBy: "alice", maxAttempts: 3, now })).operation;
    }

    it("never runs two operations of one environment at once, keeps each environment's order, and never exceeds the global cap", async () => {
        const environments = ["env-aa", "env-bb", "env-cc", "env-dd", "env-ee"];
        const kinds: OperationKind[] = ["preview", "refresh"];
        const ids: string[] = [];
        for (let i = 0; i < 80; i++) ids.push((await enqueue(environments[i % environments.length], `op-${String(i).padStart(3, "0")}`, kinds[i % 2])).id);
        await adminQuery(`CREATE TABLE ${schema}.run_log (op_id text PRIMARY KEY, environment text NOT NULL, worker text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz)`);

        const cap = 3;
        const children = Array.from({ length: 4 }, (_, i) => startChild({
            KVP_CHILD_SCHEMA: schema, KVP_CHILD_ID: `worker-${i}`, KVP_CHILD_MODE: "work", KVP_CHILD_MAX_RUNNING: String(cap), KVP_CHILD_LOOPS: "3",
        }));
        // All start together, so the claims really race.
        await eventually(() => children.every((c) => c.stdout().includes("ready")), "every worker process to be ready", 30_000);
        for (const { child } of children) child.stdin!.end("go\n");
        for (const { exited } of children) {
            const { code, stderr } = await exited;
            assert.equal(code, 0, stderr);
        }

        const ops = await store.listOperationsByState("succeeded", 1000);
        assert.deepEqual(ops.map((o) => o.id).sort(), [...ids].sort(), "every operation ran to the end");
        assert.ok(ops.every((o) => o.attempt === 1), "no operation was claimed twice");

        const log = await adminQuery<{ op_id: string; environment: string; worker: string; started_at: Date; finished_at: Date }>(
            `SELECT r.* FROM ${schema}.run_log r JOIN ${schema}.operations o ON o.id = r.op_id ORDER BY o.seq`,
        );
        assert.equal(log.length, ids.length);
        assert.ok(log.every((r) => r.finished_at !== null));
        const overlaps = await adminQuery(
            `SELECT a.op_id AS a, b.op_id AS b, a.environment FROM ${schema}.run_log a JOIN ${schema}.run_log b
             ON a.environment = b.environment AND a.op_id < b.op_id AND a.started_at < b.finished_at AND b.started_at < a.finished_at`,
        );
        assert.deepEqual(overlaps, [], "two operations of one environment overlapped");

        for (const environment of environments) {
            const runs = log.filter((r) => r.environment === environment);
            const byStart = [...runs].sort((x, y) => x.started_at.getTime() - y.started_at.getTime());
            assert.deepEqual(byStart.map((r) => r.op_id), runs.map((r) => r.op_id), `${environment} ran out of order`);
        }

        // Concurrency at each start instant: how many logged runs contain it.
        const peak = Math.max(...log.map((r) => log.filter((o) => o.started_at <= r.started_at && r.started_at < o.finished_at).length));
        assert.ok(peak <= cap, `${peak} operations ran at once; the cap is ${cap}`);
        assert.ok(peak >= 2, "the workers never ran in parallel, so the test proved nothing");
        assert.ok(new Set(log.map((r) => r.worker)).size >= 2, "more than one process did work");
    });

    it("takes back the operation of a killed worker process once its lease lapses, and requeues it", async () => {
        const op = await enqueue("pay-dev", "op-1", "update");
        const leaseMs = 400;
        const { child, exited, stdout } = startChild({ KVP_CHILD_SCHEMA: schema, KVP_CHILD_ID: "doomed", KVP_CHILD_MODE: "hang", KVP_CHILD_LEASE_MS: String(leaseMs) });
        await eventually(() => stdout().includes("claimed"), "the child's claim", 20_000);
        assert.match(stdout(), /claimed op-1/);
        const claimedAt = Date.now();
        child.kill("SIGKILL");
        await exited;

        const hub = new EventHub();
        const settings = resolveOperationSettings({ leaseMs: 1_000, heartbeatMs: 300, backoffBaseMs: 50, backoffMaxMs: 50 });
        const recover = () => recoverInterrupted({ store, hub, ids: sequentialIds("recovery"), logger: silentLogger, settings, random: () => 1, now: new Date() }, false);
        if (Date.now() - claimedAt < leaseMs - 100) {
            assert.deepEqual((await recover()).reclaimed, [], "the dead worker's lease had not lapsed yet");
        }
        await new Promise((r) => setTimeout(r, Math.max(0, claimedAt + leaseMs + 20 - Date.now())));
        const report = await recover();
        assert.deepEqual(report.reclaimed, [op.id]);
        assert.deepEqual(report.retried, [op.id]);

        const requeued = await store.getOperation(op.id);
        assert.equal(requeued?.state, "queued");
        assert.equal(requeued?.leaseOwner, undefined);
        assert.equal(await store.isRecoveryPending("pay-dev"), true, "the stack is cleaned up before the next run");
        const states = (await store.listEvents(op.id, 0, 100)).filter((e) => e.type === STATE_EVENT).map((e) => (e.data as StateEventData).state);
        assert.deepEqual(states, ["interrupted", "queued"]);

        const again = await eventually(() => claimOne(store, { workerId: "survivor", leaseMs: 10_000, maxRunning: 3, now: new Date().toISOString() }), "the retry to become claimable");
        assert.equal(again.id, op.id);
        assert.equal(again.attempt, 2);
        assert.equal(again.leaseOwner, "survivor");
    });
});
