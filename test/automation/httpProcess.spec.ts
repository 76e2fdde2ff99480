import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SqliteStore } from "../../automation/store/sqlite";
import { spec } from "./httpHarness";

/**
 * The real entry point in a child process (`node --import tsx automation/server/main.ts`)
 * on the embedded store and the test-double engine: a graceful SIGTERM keeps
 * every queued operation, and a SIGKILL mid-operation loses nothing.
 */

const REPO = path.resolve(__dirname, "..", "..");
const ADMIN = "process-test-admin-token-0123456789";

interface Child {
    proc: ChildProcess;
    url: string;
    output: () => string;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<Child> {
    const proc = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", "automation/server/main.ts"], {
        cwd: REPO,
        // Only what the server needs: nothing from the parent's KVP_* leaks in.
        env: {
            PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "",
            HOST: "127.0.0.1", PORT: "0", KVP_DATA_DIR: dataDir, KVP_ENGINE: "test-double", KVP_ADMIN_TOKEN: ADMIN, LOG_LEVEL: "info",
            ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout?.setEncoding("utf8").on("data", (c: string) => { out += c; });
    proc.stderr?.setEncoding("utf8").on("data", (c: string) => { out += c; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
        const check = () => {
            const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        };
        proc.stdout?.on("data", check);
        void exited.then(() => { clearTimeout(timer); reject(new Error(`server exited during start:\n${out}`)); });
    });
    return { proc, url, output: () => out, exited };
}

async function api(child: Child, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${child.url}${route}`, {
        method,
        headers: { Authorization: `Bearer ${ADMIN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

describe("server process: shutdown and crash recovery", function () {
    this.timeout(90_000);
    let dataDir: string;
    let child: Child | undefined;
    beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), "kvp-proc-")); });
    afterEach(async () => {
        if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
            child.proc.kill("SIGKILL");
            await child.exited;
        }
        child = undefined;
        rmSync(dataDir, { recursive: true, force: true });
    });

    it("stops within 10 s on SIGTERM and keeps every queued operation", async () => {
        child = await startServer(dataDir, { KVP_TEST_DOUBLE_LATENCY_MS: "60000", KVP_MAX_CONCURRENCY: "1" });
        const ops: string[] = [];
        for (const name of ["payments-alpha", "payments-bravo", "payments-charlie"]) {
            const res = await api(child, "PUT", `/v1/environments/${name}`, spec());
            assert.equal(res.status, 202, JSON.stringify(res.body));
            ops.push(res.body.operation.id);
        }
        await waitFor("one operation to run", async () => ((await api(child!, "GET", `/v1/operations/${ops[0]}`)).body.state === "running" ? true : undefined));

        const started = Date.now();
        child.proc.kill("SIGTERM");
        const { code } = await child.exited;
        const tookMs = Date.now() - started;
        assert.ok(tookMs < 10_000, `took ${tookMs} ms`);
        assert.equal(code, 0, child.output());

        const store = await SqliteStore.open({ dataDir });
        try {
            const states = await Promise.all(ops.map(async (id) => (await store.getOperation(id))?.state));
            // The running one was cut short and resumes at the next start; the others never left the queue.
            assert.deepEqual(states, ["interrupted", "queued", "queued"]);
        } finally {
            await store.close();
        }
        const passphrase = readFileSync(path.join(dataDir, "passphrase"), "utf8").trim();
        assert.ok(!child.output().includes(ADMIN), "the admin token is never logged");
        assert.ok(!child.output().includes(passphrase), "the passphrase is never logged");
    });

    it("finishes an operation after a SIGKILL mid-run: interrupted, retried, succeeded", async () => {
        child = await startServer(dataDir, { KVP_TEST_DOUBLE_LATENCY_MS: "3000" });
        const put = await api(child, "PUT", "/v1/environments/payments-crash", spec());
        assert.equal(put.status, 202);
        const opId: string = put.body.operation.id;
        await waitFor("the operation to run", async () => ((await api(child!, "GET", `/v1/operations/${opId}`)).body.state === "running" ? true : undefined));
        child.proc.kill("SIGKILL");
        assert.equal((await child.exited).signal, "SIGKILL");

        child = await startServer(dataDir, { KVP_TEST_DOUBLE_LATENCY_MS: "100" });
        const op = await waitFor("the operation to finish", async () => {
            const res = await api(child!, "GET", `/v1/operations/${opId}`);
            return ["succeeded", "failed", "canceled"].includes(res.body.state) ? res.body : undefined;
        });
        assert.equal(op.state, "succeeded", JSON.stringify(op));
        assert.equal(op.attempt, 2, "the second attempt ran");

        const env = await api(child, "GET", "/v1/environments/payments-crash");
        assert.equal(env.body.status, "ready");
        const events = await fetch(`${child.url}/v1/operations/${opId}/events`, { headers: { Authorization: `Bearer ${ADMIN}` } }).then((r) => r.text());
        const states = [...events.matchAll(/event: operation\.state\ndata: (\{.*\})/g)].map((m) => JSON.parse(m[1]).state);
        assert.deepEqual(states, ["queued", "running", "interrupted", "queued", "running", "succeeded"], events);
        const audit = await api(child, "GET", "/v1/audit?limit=50");
        assert.ok(audit.body.items.some((e: { action: string }) => e.action === "operation.recover"), "recovery is audited");
    });
});
