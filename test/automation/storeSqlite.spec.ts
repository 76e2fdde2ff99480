import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { UnavailableError } from "../../automation/domain/errors";
import { DATABASE_FILE, openSqliteStore, SqliteStore } from "../../automation/store/sqlite";
import { toStoreError } from "../../automation/store/sqliteErrors";
import { ManualClock, tempDir } from "./domainFixtures";
import { describeStoreContract } from "./storeContract";

describeStoreContract("embedded SQLite", async () => {
    const dir = tempDir("store");
    let store = await openSqliteStore({ dataDir: dir.path });
    return {
        store,
        async reopen() {
            await store.close();
            store = await openSqliteStore({ dataDir: dir.path });
            return store;
        },
        async dispose() {
            await store.close();
            dir.remove();
        },
    };
});

describe("embedded SQLite store", () => {
    let dir: ReturnType<typeof tempDir>;
    beforeEach(() => (dir = tempDir("sqlite")));
    afterEach(() => dir.remove());

    it("creates <dataDir>/kvp.db in WAL mode with a recorded schema version", async () => {
        const store = await openSqliteStore({ dataDir: join(dir.path, "nested", "data") });
        await store.close();
        const file = join(dir.path, "nested", "data", DATABASE_FILE);
        assert.ok(existsSync(file));
        const db = new DatabaseSync(file);
        try {
            assert.equal((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
            assert.deepEqual((db.prepare("SELECT version FROM schema_migrations").all() as Array<{ version: number }>).map((r) => r.version), [1, 2, 3]);
            // A team- and status-filtered list page walks the composite index, not every name after the cursor.
            const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM environments WHERE team = ? AND status = ? AND name > ? ORDER BY name LIMIT ?")
                .all("payments", "ready", "", 51) as Array<{ detail: string }>;
            assert.match(plan.map((p) => p.detail).join("; "), /USING INDEX environments_by_team_status \(team=\? AND status=\? AND name>\?\)/);
        } finally {
            db.close();
        }
        const reopened = await openSqliteStore({ dataDir: join(dir.path, "nested", "data") });
        assert.match((await reopened.readiness()).detail, /schema version 3/);
        await reopened.close();
    });

    it("refuses a second server on the same data directory instead of sharing the queue", async () => {
        const first = await openSqliteStore({ dataDir: dir.path });
        try {
            await assert.rejects(openSqliteStore({ dataDir: dir.path, busyTimeoutMs: 50 }), (e: unknown) => e instanceof UnavailableError && /another process|in use/.test(e.message));
        } finally {
            await first.close();
        }
        await (await openSqliteStore({ dataDir: dir.path })).close();
    });

    it("refuses a database written by a newer server", async () => {
        await (await openSqliteStore({ dataDir: dir.path })).close();
        const db = new DatabaseSync(join(dir.path, DATABASE_FILE));
        db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')").run();
        db.close();
        await assert.rejects(openSqliteStore({ dataDir: dir.path }), /newer than this server understands/);
    });

    it("reports a full disk as UnavailableError and unready, and loses nothing it acknowledged", async () => {
        const store = await openSqliteStore({ dataDir: dir.path, maxPageCount: 40 });
        const clock = new ManualClock();
        const acknowledged: number[] = [];
        let failure: unknown;
        for (let i = 0; i < 5_000 && !failure; i++) {
            try {
                await store.appendEvent("op-1", { type: "log", data: { i, pad: "x".repeat(2_000) }, at: clock.iso() });
                acknowledged.push(i);
            } catch (e) {
                failure = e;
            }
        }
        assert.ok(failure instanceof UnavailableError, `expected UnavailableError, got ${String(failure)}`);
        assert.match(failure.message, /disk is full/);
        const readiness = await store.readiness();
        assert.equal(readiness.ok, false);
        assert.match(readiness.detail, /disk is full/);
        assert.equal((await store.listEvents("op-1", 0, 10_000)).length, acknowledged.length);
        await store.close();
    });

    it("keeps every committed write when the process is killed", async function () {
        this.timeout(30_000);
        const script = `
            const { openSqliteStore } = require(${JSON.stringify(join(__dirname, "../../automation/store/sqlite.ts"))});
            (async () => {
                const store = await openSqliteStore({ dataDir: process.argv[1] });
                const now = new Date().toISOString();
                await store.upsertEnvironment({ name: "pay-dev", team: "payments", spec: {}, specHash: "h", status: "pending", expiresAt: null, now });
                for (let i = 0; i < 50; i++) {
                    await store.enqueueOperation({ id: "op-" + i, environment: "env-" + i, team: "payments", kind: "update", requestedBy: "a", maxAttempts: 3, now });
                }
                process.stdout.write("committed\\n");
                setInterval(() => {}, 1000);
            })();
        `;
        const child = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", "-e", script, dir.path], { stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += String(d)));
        await new Promise<void>((resolve, reject) => {
            child.stdout.on("data", (d) => String(d).includes("committed") && resolve());
            child.on("exit", (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
        });
        child.removeAllListeners("exit");
        const exited = new Promise((r) => child.on("exit", r));
        child.kill("SIGKILL");
        await exited;

        const store: SqliteStore = await openSqliteStore({ dataDir: dir.path });
        try {
            assert.equal((await store.getEnvironment("pay-dev"))?.team, "payments");
            const counts = await store.countOperations();
            assert.equal(counts.reduce((n, c) => n + c.count, 0), 50);
        } finally {
            await store.close();
        }
    });

    it("maps storage failures to UnavailableError and leaves other errors alone", () => {
        const sqlite = (errcode: number) => Object.assign(new Error("x"), { code: "ERR_SQLITE_ERROR", errcode, errstr: "x" });
        const table: Array<[unknown, RegExp | undefined]> = [
            [sqlite(13), /disk is full/],
            [sqlite(8), /read-only/],
            [sqlite(778), /I\/O error/],
            [sqlite(5), /locked by another process/],
            [sqlite(11), /corrupt/],
            [Object.assign(new Error("x"), { code: "EROFS" }), /read-only file system/],
            [Object.assign(new Error("x"), { code: "ENOSPC" }), /disk is full/],
            [sqlite(19), undefined],
            [new TypeError("bug"), undefined],
        ];
        for (const [error, message] of table) {
            const mapped = toStoreError(error);
            if (message) {
                assert.ok(mapped instanceof UnavailableError, `${JSON.stringify(error)} should be unavailable`);
                assert.match(mapped.message, message);
            } else {
                assert.equal(mapped, error);
            }
        }
    });

    it("refuses to be used after close", async () => {
        const store = await openSqliteStore({ dataDir: dir.path });
        await store.close();
        await assert.rejects(store.getEnvironment("x"), /closed/);
    });
});
