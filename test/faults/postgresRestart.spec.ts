import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { spec } from "../automation/httpHarness";
import { callApi, isRunning, spawnServer, waitUntil, type ServerProcess } from "../automation/scaleOutProcesses";
import { adminQuery, dropSchema, testSchemaName } from "../automation/storePostgresHarness";
import { operationStates, overlaps, runWindows, TERMINAL } from "./queueRecord";
import { skipBecause } from "../skip";

/**
 * PostgreSQL going away under load: first every backend of the service is terminated
 * (what a failover or restart looks like from the clients' side), then, where this
 * process may do it, the cluster itself is restarted. Requests meanwhile get 503 at
 * worst, never 500; afterwards the service serves and finishes every accepted operation
 * with no manual step. The suite always leaves PostgreSQL running.
 */

const ENV = { KVP_TEST_DOUBLE_LATENCY_MS: "400", KVP_LEASE_S: "3", KVP_MAX_CONCURRENCY: "6", KVP_WORKER_CONCURRENCY: "3", KVP_MAX_ATTEMPTS: "10" };

/**
 * How to restart the cluster on this machine, or why it cannot be done here. It needs root
 * and a Debian-style install with one cluster (pg_ctlcluster). It runs by default wherever
 * it can, since a restart is the fault this suite exists for; KVP_FAULTS_PG_RESTART=0 opts
 * out on a machine whose PostgreSQL other people are using.
 */
function restartCommand(): { command: string[] } | { why: string } {
    if (process.env.KVP_FAULTS_PG_RESTART === "0") return { why: "KVP_FAULTS_PG_RESTART=0 opts out of restarting the PostgreSQL cluster" };
    if (process.getuid?.() !== 0) return { why: `restarting the cluster needs root (this is uid ${process.getuid?.()}); run npm run test:faults as root` };
    if (spawnSync("pg_ctlcluster", ["--help"], { stdio: "ignore" }).error) return { why: "pg_ctlcluster is not on PATH (a Debian-style PostgreSQL install is needed)" };
    let versions: string[];
    try {
        versions = readdirSync("/etc/postgresql");
    } catch {
        return { why: "/etc/postgresql does not exist, so the cluster to restart is unknown" };
    }
    if (versions.length !== 1) return { why: `/etc/postgresql holds ${versions.length} versions (${versions.join(", ")}); which cluster serves 127.0.0.1:5432 is ambiguous` };
    return { command: ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"] };
}

function pgReady(): boolean {
    return spawnSync("pg_isready", ["-h", "127.0.0.1", "-p", "5432", "-q"]).status === 0;
}

describe("fault: PostgreSQL restarts under load", function () {
    this.timeout(180_000);
    const schema = testSchemaName();
    const processes: ServerProcess[] = [];
    const accepted = new Set<string>();
    const statuses = new Map<number, number>();
    let api: ServerProcess;
    let load: Promise<void> | undefined;
    let loading = false;

    before(async () => {
        api = await spawnServer({ name: `${schema}-api`, schema, role: "api", env: ENV });
        processes.push(api);
        for (let i = 0; i < 2; i++) processes.push(await spawnServer({ name: `${schema}-w${i}`, schema, role: "worker", env: ENV }));
    });
    afterEach(function () {
        // The replicas' own logs are the evidence when recovery goes wrong: print their errors.
        if (this.currentTest?.state !== "failed") return;
        for (const p of processes) {
            const errors = p.output().split("\n").filter((l) => /"level":(50|60)|Error|error/.test(l)).slice(-20);
            process.stdout.write(`\n--- ${p.name}: last error lines ---\n${errors.join("\n")}\n`);
        }
    });
    after(async () => {
        loading = false;
        await load;
        if (!pgReady()) {
            const versions = readdirSync("/etc/postgresql");
            execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", versions[0], "main", "start"]);
        }
        await waitUntil("PostgreSQL to accept connections", async () => (pgReady() ? true : undefined), 30_000, 200);
        for (const p of processes) await p.dispose();
        await dropSchema(schema);
    });

    /** A steady stream of PUTs, previews and refreshes over 8 environments, about 25 a second. */
    function startLoad(): void {
        loading = true;
        load = (async () => {
            for (let i = 0; loading; i++) {
                const name = `payments-restart-${i % 8}`;
                const [method, route, body] = i < 8 || i % 5 === 0
                    ? ["PUT", `/v1/environments/${name}`, spec({ ttlHours: 1 + (i % 50) })]
                    : ["POST", `/v1/environments/${name}/${i % 2 ? "preview" : "refresh"}`, undefined];
                try {
                    const res = await callApi(api.url!, method, route, body);
                    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
                    if (res.status === 202) accepted.add(res.body.operation.id as string);
                    if (res.status >= 500) assert.equal(res.headers.get("content-type")?.startsWith("application/problem+json"), true);
                } catch {
                    statuses.set(0, (statuses.get(0) ?? 0) + 1);
                }
                await new Promise((r) => setTimeout(r, 40));
            }
        })();
    }

    async function stopLoadAndSettle(): Promise<void> {
        loading = false;
        await load;
        await waitUntil("every accepted operation to finish", async () => {
            const s = await operationStates(schema);
            return [...accepted].every((id) => TERMINAL.has(s.get(id)?.state ?? "")) ? true : undefined;
        }, 120_000, 250);
        const s = await operationStates(schema);
        assert.deepEqual([...accepted].filter((id) => s.get(id)?.state !== "succeeded").map((id) => [id, s.get(id)]), [], "every accepted operation succeeded");
        assert.deepEqual(overlaps(await runWindows(schema)), []);
        assert.equal(statuses.get(500) ?? 0, 0, `no 500s: ${JSON.stringify([...statuses])}`);
        assert.ok(processes.every(isRunning), "no process died");
    }

    /**
     * Each check PUTs a spec the environment has not had, so it must be accepted as a change (202).
     * It was `Date.now() % 700 + 1`: two checks a multiple of 700 ms apart, to the millisecond, PUT
     * the same spec, were answered 200 (unchanged) and failed the check. Seen once, 2026-12-04.
     */
    let servesChecks = 0;
    async function serves(): Promise<void> {
        await waitUntil("the API to be ready again", async () => ((await callApi(api.url!, "GET", "/readyz")).status === 200 ? true : undefined), 30_000, 200);
        const put = await callApi(api.url!, "PUT", "/v1/environments/payments-restart", spec({ ttlHours: 100 + ++servesChecks }));
        assert.equal(put.status, 202, put.text);
        accepted.add(put.body.operation.id as string);
    }

    it("recovers by itself after every backend is terminated mid-load", async () => {
        startLoad();
        await waitUntil("operations to be running", async () => ((await adminQuery(`SELECT 1 FROM ${schema}.operations WHERE state = 'running'`)).length > 0 ? true : undefined), 20_000, 50);
        for (let i = 0; i < 3; i++) {
            const killed = await adminQuery<{ ok: boolean }>(
                "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE $1",
                [`keyvault-platform:${schema}-%`],
            );
            assert.ok(killed.length >= 3, `terminated ${killed.length} backends`);
            await new Promise((r) => setTimeout(r, 1_500));
        }
        await serves();
        await stopLoadAndSettle();
        assert.ok(accepted.size >= 20, `${accepted.size} operations accepted`);
    });

    it("recovers by itself after the PostgreSQL cluster restarts mid-load", async function () {
        const restart = restartCommand();
        if ("why" in restart) {
            skipBecause(this, restart.why, "as root, where pg_ctlcluster manages the one cluster on 127.0.0.1:5432: npm run test:faults");
        }
        const { command } = restart as { command: string[] };
        accepted.clear();
        statuses.clear();
        startLoad();
        await waitUntil("operations to be running", async () => ((await adminQuery(`SELECT 1 FROM ${schema}.operations WHERE state = 'running'`)).length > 0 ? true : undefined), 20_000, 50);
        execFileSync(command[0], command.slice(1), { stdio: "ignore" });
        await waitUntil("PostgreSQL to accept connections", async () => (pgReady() ? true : undefined), 60_000, 200);
        await new Promise((r) => setTimeout(r, 2_000));
        await serves();
        await stopLoadAndSettle();
        assert.ok(accepted.size >= 10, `${accepted.size} operations accepted around the restart`);
    });
});
