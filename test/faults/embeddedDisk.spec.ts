import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { EnvironmentService } from "../../automation/domain/service";
import { TestDoubleEngine } from "../../automation/engine/testDouble";
import { createApp, startWebServer, stopWebServer } from "../../automation/http/app";
import { createAuthenticator } from "../../automation/http/auth";
import { createLogger } from "../../automation/http/logger";
import { createMetrics } from "../../automation/http/metrics";
import { skipBecause } from "../skip";
import { sha256Hex } from "../../automation/server/settings";
import { DATABASE_FILE, SqliteStore } from "../../automation/store/sqlite";
import { spec } from "../automation/httpHarness";

/**
 * The embedded store when its disk fills up or its directory turns read-only: requests
 * that would write get a 503 problem saying what is wrong, the failure is logged, and
 * everything accepted before is still there once the condition clears.
 */

const TOKEN = "disk-fault-admin-token-0123456789";
const REPO = path.resolve(__dirname, "..", "..");

interface Running {
    url: string;
    store: SqliteStore;
    logs: string[];
    stop(): Promise<void>;
}

async function serve(dataDir: string, maxPageCount?: number): Promise<Running> {
    const logs: string[] = [];
    const logger = createLogger({ level: "info", destination: { write: (line: string) => { logs.push(line); } } });
    const store = await SqliteStore.open({ dataDir, maxPageCount });
    const service = new EnvironmentService({ store, engine: new TestDoubleEngine(), logger });
    const app = createApp({
        service, logger, metrics: createMetrics({ defaultMetrics: false }), auth: createAuthenticator({ adminTokenSha256: sha256Hex(TOKEN) }),
        settings: { bodyLimitBytes: 64 * 1024, rateLimitPerMin: 1_000_000, engine: "test-double" },
    });
    const server: Server = await startWebServer(app, { host: "127.0.0.1", port: 0 });
    const address = server.address() as { port: number };
    return {
        url: `http://127.0.0.1:${address.port}`, store, logs,
        async stop() {
            await stopWebServer(server, 200);
            await store.close();
        },
    };
}

async function call(r: Running, method: string, route: string, body?: unknown): Promise<{ status: number; body: any; type: string }> {
    const res = await fetch(`${r.url}${route}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json(), type: res.headers.get("content-type") ?? "" };
}

/** PUTs new environments until one is refused; returns the accepted names and the refusal. */
async function fillUntilRefused(r: Running, prefix: string, limit: number): Promise<{ accepted: Map<string, string>; refusal: { name: string; status: number; body: any; type: string } }> {
    const accepted = new Map<string, string>();
    for (let i = 0; i < limit; i++) {
        const name = `${prefix}-${i}`;
        // A long alert list makes each write a few kilobytes, so the disk fills in a few dozen requests.
        const res = await call(r, "PUT", `/v1/environments/${name}`, spec({ alerts: { emails: Array.from({ length: 40 }, (_, j) => `oncall-${i}-${j}@example.com`) } }));
        if (res.status === 202) {
            accepted.set(name, res.body.operation.id as string);
            continue;
        }
        return { accepted, refusal: { name, ...res } };
    }
    throw new Error(`the store accepted ${limit} environments without filling up`);
}

async function assertEverythingKept(store: SqliteStore, accepted: Map<string, string>): Promise<void> {
    for (const [name, opId] of accepted) {
        const env = await store.getEnvironment(name);
        assert.ok(env, `${name} was accepted and is gone`);
        assert.equal(env.lastOperationId, opId);
        assert.equal((await store.getOperation(opId))?.state, "queued", `${opId} is still queued`);
    }
    const audit = await store.listAudit({ limit: 100 });
    assert.ok(audit.items.filter((e) => e.action === "environment.put" && e.outcome === "accepted").length >= Math.min(accepted.size, 100), "the audit log kept every accepted PUT");
}

function assertClearRefusal(refusal: { status: number; body: any; type: string }, pattern: RegExp, logs: string[]): void {
    assert.equal(refusal.status, 503, JSON.stringify(refusal.body));
    assert.match(refusal.type, /^application\/problem\+json/);
    assert.equal(refusal.body.type, "urn:keyvault-platform:problem:unavailable");
    assert.match(refusal.body.detail, pattern);
    assert.ok(logs.some((l) => /"status":503/.test(l) && /"level":50/.test(l)), "the refused request is logged as an error");
}

function canMount(): boolean {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(path.join(tmpdir(), "kvp-mount-probe-"));
    try {
        const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]).status === 0;
        if (ok) spawnSync("umount", [probe]);
        return ok;
    } finally {
        rmSync(probe, { recursive: true, force: true });
    }
}

function mount(args: string[]): void {
    const r = spawnSync("mount", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`mount ${args.join(" ")}: ${r.stderr}`);
}

describe("fault: the embedded store's disk is full or read-only", function () {
    this.timeout(60_000);
    const dirs: string[] = [];
    const mounts: string[] = [];
    const running: Running[] = [];
    const mountable = canMount();

    const tempDir = (label: string) => {
        const d = mkdtempSync(path.join(tmpdir(), `kvp-${label}-`));
        dirs.push(d);
        return d;
    };
    afterEach(async () => {
        for (const r of running.splice(0)) await r.stop().catch(() => undefined);
        for (const m of mounts.splice(0).reverse()) spawnSync("umount", ["-l", m]);
        for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });

    it("answers 503 with the reason when the store reaches its size cap, and keeps every accepted write once it has room", async () => {
        const dataDir = tempDir("full-cap");
        await (await SqliteStore.open({ dataDir })).close();
        const pages = Math.ceil(statSync(path.join(dataDir, DATABASE_FILE)).size / 4096);
        const r = await serve(dataDir, pages + 40);
        running.push(r);

        const { accepted, refusal } = await fillUntilRefused(r, "payments-cap", 2_000);
        assert.ok(accepted.size >= 3, `only ${accepted.size} environments fit before the cap`);
        assertClearRefusal(refusal, /disk is full/, r.logs);
        const readyz = await call(r, "GET", "/readyz");
        assert.equal(readyz.status, 503);
        assert.ok(readyz.body.checks.some((c: { name: string; detail: string }) => c.name === "store" && /disk is full/.test(c.detail)), JSON.stringify(readyz.body));
        const [first] = accepted.keys();
        assert.equal((await call(r, "GET", `/v1/environments/${first}`)).status, 200, "reads still work");

        await r.stop();
        running.pop();
        // The room comes back (a bigger volume): the same data directory, no cap.
        const after = await serve(dataDir);
        running.push(after);
        await assertEverythingKept(after.store, accepted);
        assert.equal(await after.store.getEnvironment(refusal.name), undefined, "the refused PUT left nothing half-written");
        assert.equal((await call(after, "PUT", `/v1/environments/${refusal.name}`, spec())).status, 202);
    });

    it("answers 503 on a really full file system and recovers in the same process once space is freed", async function () {
        if (!mountable) skipBecause(this, "it mounts a small tmpfs to fill or freeze the data directory, which needs root (or CAP_SYS_ADMIN)", "as root: npm run test:faults");
        const dataDir = tempDir("full-tmpfs");
        mount(["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", dataDir]);
        mounts.push(dataDir);
        const r = await serve(dataDir);
        running.push(r);

        const { accepted, refusal } = await fillUntilRefused(r, "payments-fs", 2_000);
        assert.ok(accepted.size >= 3, `only ${accepted.size} environments fit`);
        assertClearRefusal(refusal, /disk is full/, r.logs);

        const full = await call(r, "GET", "/readyz");
        assert.equal(full.status, 503, "not ready while the file system is full");
        mount(["-o", "remount,size=16m", dataDir]);
        // No write has succeeded yet: readiness must notice the space on its own, or a drained replica never comes back.
        const ready = await call(r, "GET", "/readyz");
        assert.equal(ready.status, 200, `ready again as soon as space is freed: ${JSON.stringify(ready.body)}`);
        const retry = await call(r, "PUT", `/v1/environments/${refusal.name}`, spec());
        assert.equal(retry.status, 202, `after space was freed: ${JSON.stringify(retry.body)}`);
        accepted.set(refusal.name, retry.body.operation.id as string);
        await assertEverythingKept(r.store, accepted);
        await r.stop();
        running.pop();
        const reopened = await SqliteStore.open({ dataDir });
        try {
            await assertEverythingKept(reopened, accepted);
        } finally {
            await reopened.close();
        }
    });

    it("refuses to start on a read-only data directory with a message naming the cause, and loses nothing", async function () {
        if (!mountable) skipBecause(this, "it mounts a small tmpfs to fill or freeze the data directory, which needs root (or CAP_SYS_ADMIN)", "as root: npm run test:faults");
        const dataDir = tempDir("readonly");
        mount(["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", dataDir]);
        mounts.push(dataDir);
        const r = await serve(dataDir);
        const accepted = new Map<string, string>();
        for (const name of ["payments-ro-a", "payments-ro-b", "payments-ro-c"]) {
            const res = await call(r, "PUT", `/v1/environments/${name}`, spec());
            assert.equal(res.status, 202);
            accepted.set(name, res.body.operation.id as string);
        }
        await r.stop();

        mount(["-o", "remount,ro", dataDir]);
        const start = spawnSync(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", "automation/server/main.ts"], {
            cwd: REPO, encoding: "utf8", timeout: 30_000,
            env: {
                PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOST: "127.0.0.1", PORT: "0", KVP_DATA_DIR: dataDir,
                KVP_ENGINE: "test-double", KVP_ADMIN_TOKEN: TOKEN, PULUMI_CONFIG_PASSPHRASE: "read-only-test-passphrase",
            },
        });
        assert.notEqual(start.status, 0, `the server started on a read-only directory:\n${start.stdout}`);
        assert.equal(start.status, 2, "a configuration problem the operator must fix");
        assert.match(start.stderr, new RegExp(`KVP_DATA_DIR: ${dataDir} is not writable: it is on a read-only file system \\(EROFS\\)`), start.stderr);

        mount(["-o", "remount,rw", dataDir]);
        const again = await serve(dataDir);
        running.push(again);
        await assertEverythingKept(again.store, accepted);
        assert.equal((await call(again, "PUT", "/v1/environments/payments-ro-d", spec())).status, 202, "writes work again once the directory is writable");
    });
});
