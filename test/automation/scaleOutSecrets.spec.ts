import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { escapeIdentifier } from "pg";
import { TEST_DOUBLE_SECRET } from "../../automation/engine/testDouble";
import { sha256Hex } from "../../automation/server/settings";
import { spec } from "./httpHarness";
import { callApi, isRunning, SCALE_ADMIN_TOKEN, SCALE_PASSPHRASE, spawnServer, waitUntil, type ServerProcess } from "./scaleOutProcesses";
import { adminQuery, dropSchema, TEST_DATABASE_URL, testSchemaName } from "./storePostgresHarness";

/**
 * Every flow, through real API and worker processes on PostgreSQL, with known secret
 * values in play: the admin token, static tokens, the stack passphrase, the password in
 * DATABASE_URL and a secret-looking output of the engine. None may appear in any log
 * line, response, SSE stream, audit entry or stored event.
 */

const OPERATOR = "secret-operator-token-5f1c9a7e2b";
const READER = "secret-reader-token-8d2e4b6a1c";
const DB_PASSWORD = "Db-Passw0rd-kn0wn-9e71";
const SECRETS: Record<string, string> = {
    "admin token": SCALE_ADMIN_TOKEN, "operator token": OPERATOR, "reader token": READER, passphrase: SCALE_PASSPHRASE,
    "database password": DB_PASSWORD, "engine output secret": TEST_DOUBLE_SECRET, "engine output key": "TEST-DOUBLE-NOT-A-REAL-KEY",
};
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

/** The test database with a password added: trust authentication ignores it, so it only has to stay hidden. */
function urlWithPassword(): string {
    const url = new URL(TEST_DATABASE_URL);
    url.password = DB_PASSWORD;
    return url.toString();
}

describe("secrets across API and worker processes on PostgreSQL", function () {
    this.timeout(120_000);
    const schema = testSchemaName();
    const dir = mkdtempSync(path.join(tmpdir(), "kvp-secrets-"));
    const processes: ServerProcess[] = [];
    const seen: string[] = [];
    let api: ServerProcess;
    const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

    const workerEnv = { KVP_TEST_DOUBLE_LATENCY_MS: "700", KVP_LEASE_S: "2", KVP_MAX_ATTEMPTS: "1" };
    const startWorker = async () => {
        const w = await spawnServer({ name: `${schema}-worker`, schema, role: "worker", databaseUrl: urlWithPassword(), env: workerEnv });
        processes.push(w);
        return w;
    };

    async function call(token: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
        const res = await callApi(api.url!, method, route, body, { ...auth(token), ...headers });
        seen.push(`${method} ${route} -> ${res.status} ${JSON.stringify([...res.headers])}\n${res.text}`);
        return res;
    }

    async function stream(token: string, opId: string): Promise<string> {
        const res = await fetch(`${api.url}/v1/operations/${opId}/events`, { headers: auth(token) });
        const text = await res.text();
        seen.push(`SSE ${opId}\n${text}`);
        return text;
    }

    async function finished(opId: string): Promise<{ state: string; error?: { code: string; message: string } }> {
        return waitUntil(`${opId} to finish`, async () => {
            const op = await call(READER, "GET", `/v1/operations/${opId}`);
            return TERMINAL.has(op.body.state) ? op.body : undefined;
        }, 60_000, 100);
    }

    before(async () => {
        const tokensFile = path.join(dir, "tokens.json");
        writeFileSync(tokensFile, JSON.stringify([
            { id: "payments-ci", sha256: sha256Hex(OPERATOR), role: "operator", team: "payments" },
            { id: "payments-dash", sha256: sha256Hex(READER), role: "reader", team: "payments" },
        ]));
        api = await spawnServer({ name: `${schema}-api`, schema, role: "api", databaseUrl: urlWithPassword(), env: { ...workerEnv, KVP_TOKENS_FILE: tokensFile, LOG_LEVEL: "debug" } });
        processes.push(api);
        await startWorker();

        // Declare, replay by Idempotency-Key, follow live, read back.
        const put = await call(OPERATOR, "PUT", "/v1/environments/payments-sec", spec(), { "Idempotency-Key": "sec-key-1" });
        assert.equal(put.status, 202, put.text);
        assert.equal((await call(OPERATOR, "PUT", "/v1/environments/payments-sec", spec(), { "Idempotency-Key": "sec-key-1" })).body.operation.id, put.body.operation.id);
        assert.match(await stream(READER, put.body.operation.id), /event: end\ndata: \{"state":"succeeded"\}/);
        await call(READER, "GET", "/v1/environments/payments-sec");
        await call(SCALE_ADMIN_TOKEN, "GET", "/v1/environments?limit=10");

        // Preview and refresh, each streamed to its end.
        for (const kind of ["preview", "refresh"]) {
            const op = await call(OPERATOR, "POST", `/v1/environments/payments-sec/${kind}`);
            assert.equal(op.status, 202, op.text);
            await stream(READER, op.body.operation.id);
        }

        // Cancel: a queued preview at once, then the running update through the engine's AbortSignal.
        const running = await call(OPERATOR, "PUT", "/v1/environments/payments-sec-cancel", spec());
        const queued = await call(OPERATOR, "POST", "/v1/environments/payments-sec-cancel/preview");
        assert.equal((await call(OPERATOR, "POST", `/v1/operations/${queued.body.operation.id}/cancel`)).status, 200);
        await waitUntil("the update to run", async () => ((await call(READER, "GET", `/v1/operations/${running.body.operation.id}`)).body.state === "running" ? true : undefined), 20_000, 50);
        assert.equal((await call(OPERATOR, "POST", `/v1/operations/${running.body.operation.id}/cancel`)).status, 202);
        assert.equal((await finished(running.body.operation.id)).state, "canceled");
        await stream(READER, running.body.operation.id);

        // A failed operation with an error message: its worker dies mid-run and it has no attempt left.
        const doomed = await call(OPERATOR, "PUT", "/v1/environments/payments-sec-fail", spec());
        await waitUntil("the doomed update to run", async () => ((await call(READER, "GET", `/v1/operations/${doomed.body.operation.id}`)).body.state === "running" ? true : undefined), 20_000, 50);
        const worker = processes.find((p) => p !== api && isRunning(p))!;
        worker.proc.kill("SIGKILL");
        await worker.exited;
        await startWorker();
        const failed = await finished(doomed.body.operation.id);
        assert.equal(failed.state, "failed");
        assert.equal(failed.error?.code, "interrupted");
        await stream(READER, doomed.body.operation.id);

        // Destroy, then the audit log and the operational endpoints.
        const del = await call(OPERATOR, "DELETE", "/v1/environments/payments-sec");
        assert.equal(del.status, 202, del.text);
        await stream(READER, del.body.operation.id);
        for (let cursor: string | undefined, page = 0; page === 0 || cursor; page++) {
            const res = await call(SCALE_ADMIN_TOKEN, "GET", `/v1/audit?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
            cursor = res.body.nextCursor;
        }
        await call(SCALE_ADMIN_TOKEN, "GET", "/metrics");
        await call(SCALE_ADMIN_TOKEN, "GET", "/readyz");

        // Refused requests carrying secrets where they do not belong.
        await call(`${OPERATOR}x`, "GET", "/v1/environments");
        await call(DB_PASSWORD, "GET", "/v1/environments");
        await call(OPERATOR, "PUT", "/v1/environments/payments-sec", { ...spec(), passphrase: SCALE_PASSPHRASE, connectionString: urlWithPassword() });
        await call(READER, "PUT", "/v1/environments/payments-sec", spec());
    });
    after(async () => {
        for (const p of processes) await p.dispose();
        await dropSchema(schema);
        rmSync(dir, { recursive: true, force: true });
    });

    const logs = () => processes.map((p) => p.output()).join("\n");

    it("ran every flow for real (so the checks below are not vacuous)", () => {
        const all = seen.join("\n");
        assert.ok(all.includes("[secret]"), "the engine's secret output was redacted, not absent");
        assert.ok(/event: resource-outputs|event: summary/.test(all), "engine events were streamed");
        assert.ok(logs().includes("token:payments-ci"), "logs name the static token by id");
        assert.ok(logs().includes("127.0.0.1:5432/test"), "logs name the database by host and name");
        assert.ok(logs().split("\n").length > 50, "the processes logged their work");
    });

    for (const [what, value] of Object.entries(SECRETS)) {
        it(`keeps the ${what} out of logs, responses and SSE streams`, () => {
            assert.ok(!logs().includes(value), `a log line holds the ${what}`);
            assert.ok(!seen.join("\n").includes(value), `a response or stream holds the ${what}`);
        });
    }

    it("keeps every secret out of the stored audit log, events and operations", async () => {
        const s = escapeIdentifier(schema);
        const stored = (await Promise.all(["audit", "events", "operations", "environments", "replicas"].map((t) => adminQuery<{ row: string }>(`SELECT t::text AS row FROM ${s}.${t} t`))))
            .flat().map((r) => r.row).join("\n");
        assert.ok(stored.includes("environment.put"), "the audit log was read");
        for (const [what, value] of Object.entries(SECRETS)) assert.ok(!stored.includes(value), `the store holds the ${what}`);
    });
});
