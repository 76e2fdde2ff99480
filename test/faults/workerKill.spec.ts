import { strict as assert } from "node:assert";
import { escapeIdentifier } from "pg";
import { spec } from "../automation/httpHarness";
import { callApi, isRunning, spawnServer, waitUntil, type ServerProcess } from "../automation/scaleOutProcesses";
import { adminQuery, dropSchema, testSchemaName } from "../automation/storePostgresHarness";
import { operationStates, overlaps, runWindows, TERMINAL } from "./queueRecord";

/**
 * kill -9 of worker processes in the middle of running operations, 20 times, on the
 * PostgreSQL store, with an API process taking requests throughout. Every accepted
 * operation must end in a terminal state, none may be lost, and no environment may
 * ever have had two runs at once.
 */

const KILLS = 20;
const WORKERS = 3;
const ENVIRONMENTS = 10;
const WORKER_ENV = {
    KVP_TEST_DOUBLE_LATENCY_MS: "1200", KVP_LEASE_S: "2", KVP_MAX_CONCURRENCY: "9", KVP_WORKER_CONCURRENCY: "3", KVP_MAX_ATTEMPTS: "10",
};

describe("fault: worker processes killed with SIGKILL mid-operation", function () {
    this.timeout(240_000);
    const schema = testSchemaName();
    let api: ServerProcess;
    const workers: ServerProcess[] = [];
    const retired: ServerProcess[] = [];
    const accepted = new Set<string>();
    const random = seeded(Number(process.env.KVP_FAULT_SEED ?? 6));

    before(async () => {
        api = await spawnServer({ name: `${schema}-api`, schema, role: "api", env: WORKER_ENV });
        for (let i = 0; i < WORKERS; i++) workers.push(await spawnServer({ name: `${schema}-w${i}`, schema, role: "worker", env: WORKER_ENV }));
    });
    after(async () => {
        for (const p of [api, ...workers, ...retired]) await p?.dispose();
        await dropSchema(schema);
    });

    async function request(method: string, route: string, body?: unknown): Promise<void> {
        const res = await callApi(api.url!, method, route, body);
        assert.ok(res.status < 500, `${method} ${route}: ${res.status} ${res.text}`);
        if (res.status === 202) accepted.add(res.body.operation.id as string);
    }

    async function submitRound(round: number): Promise<void> {
        for (let e = 0; e < ENVIRONMENTS; e++) {
            const name = `kill-env-${e}`;
            const step = (round + e) % 3;
            if (round === 0 || step === 0) await request("PUT", `/v1/environments/${name}`, spec({ ttlHours: 24 + round }));
            else await request("POST", `/v1/environments/${name}/${step === 1 ? "preview" : "refresh"}`);
        }
    }

    /** Worker processes holding a running operation now, from the leases in the store. */
    async function busyWorkers(): Promise<ServerProcess[]> {
        const owners = await adminQuery<{ lease_owner: string }>(`SELECT DISTINCT lease_owner FROM ${escapeIdentifier(schema)}.operations WHERE state = 'running'`);
        const pids = new Set(owners.map((o) => Number(o.lease_owner.split(":")[1])));
        return workers.filter((w) => isRunning(w) && pids.has(w.proc.pid!));
    }

    it(`keeps every accepted operation through ${KILLS} kills: all terminal, none lost, never two runs at once on an environment`, async () => {
        await submitRound(0);
        let kills = 0;
        let round = 1;
        while (kills < KILLS) {
            const busy = await waitUntil("a worker to be running an operation", async () => {
                const list = await busyWorkers();
                return list.length > 0 ? list : undefined;
            }, 60_000, 25);
            // A random point inside the runs: anywhere from just claimed to nearly finished.
            await sleep(Math.floor(random() * 900));
            const victim = busy[Math.floor(random() * busy.length)];
            if (!isRunning(victim)) continue;
            victim.proc.kill("SIGKILL");
            assert.equal((await victim.exited).signal, "SIGKILL");
            kills++;
            retired.push(victim);
            workers[workers.indexOf(victim)] = await spawnServer({ name: victim.name, schema, role: "worker", env: WORKER_ENV });
            if (kills % 4 === 0) await submitRound(round++);
        }

        const states = await waitUntil("every accepted operation to finish", async () => {
            const s = await operationStates(schema);
            return [...accepted].every((id) => TERMINAL.has(s.get(id)?.state ?? "")) ? s : undefined;
        }, 150_000, 250);

        const lost = [...accepted].filter((id) => !states.has(id));
        assert.deepEqual(lost, [], "accepted operations missing from the store");
        const notTerminal = [...states].filter(([, s]) => !TERMINAL.has(s.state));
        assert.deepEqual(notTerminal, [], "operations the API never reported still open");
        const failed = [...accepted].map((id) => [id, states.get(id)!] as const).filter(([, s]) => s.state !== "succeeded");
        for (const [id, s] of failed) assert.match(s.error ?? "", /"code":"interrupted"/, `${id} ended ${s.state} for another reason: ${s.error}`);
        const retried = [...states.values()].filter((s) => s.attempt > 1).length;
        assert.ok(retried >= 5, `only ${retried} operations needed a second attempt: the kills did not hit running work`);

        const windows = await runWindows(schema);
        assert.deepEqual(overlaps(windows), []);
        assert.ok(windows.filter((w) => w.endedAs === "interrupted").length >= 5, "interrupted runs were recorded and reclaimed");
        assert.ok(accepted.size >= 30, `${accepted.size} operations accepted`);
        assert.ok(isRunning(api), "the API process stayed up");
        process.stdout.write(`      ${accepted.size} operations accepted, ${KILLS} kills, ${retired.length} workers replaced, ${retried} operations retried, ${failed.length} failed after exhausting attempts\n`);
    });
});

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** A small deterministic generator, so a failing run can be replayed with KVP_FAULT_SEED. */
function seeded(seed: number): () => number {
    let s = seed >>> 0 || 1;
    return () => {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        return (s >>> 0) / 0x100000000;
    };
}
