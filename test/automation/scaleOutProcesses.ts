import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { TEST_DATABASE_URL } from "./storePostgresHarness";

/**
 * Real server processes (`node --import tsx automation/server/main.ts`) for the scale-out
 * tests and the fault suite: API and worker replicas on one PostgreSQL schema, each
 * with its own data directory and only the environment it is given.
 */

const REPO = path.resolve(__dirname, "..", "..");
export const SCALE_ADMIN_TOKEN = "scale-out-admin-token-0123456789";
/** Shared by every replica of a test, as production replicas would share one. */
export const SCALE_PASSPHRASE = "scale-out-shared-passphrase-0123";
/** The test double ignores the backend; a shared kind is what lets replicas start together. */
export const SHARED_BACKEND = "azblob://kvp-scale-out-tests";

export interface ServerProcess {
    proc: ChildProcess;
    name: string;
    /** Set for processes that serve HTTP. */
    url?: string;
    dataDir: string;
    output(): string;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    /** SIGKILL if still running, then removes the data directory. */
    dispose(): Promise<void>;
}

export interface SpawnOptions {
    /** Replica name, also its PostgreSQL application_name suffix. */
    name: string;
    schema: string;
    role?: "all" | "api" | "worker";
    env?: Record<string, string>;
    /** Resolve once the process exits instead of once it is up (for refused starts). */
    expectExit?: boolean;
    databaseUrl?: string;
}

export function isRunning(p: ServerProcess): boolean {
    return p.proc.exitCode === null && p.proc.signalCode === null;
}

export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
    const dataDir = mkdtempSync(path.join(tmpdir(), `kvp-${options.name}-`));
    const role = options.role ?? "all";
    const proc = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", "automation/server/main.ts"], {
        cwd: REPO,
        env: {
            PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "",
            HOST: "127.0.0.1", PORT: "0", KVP_DATA_DIR: dataDir, KVP_ENGINE: "test-double", KVP_ADMIN_TOKEN: SCALE_ADMIN_TOKEN, LOG_LEVEL: "info",
            DATABASE_URL: options.databaseUrl ?? TEST_DATABASE_URL, KVP_DATABASE_SCHEMA: options.schema, KVP_DATABASE_POOL_SIZE: "4",
            KVP_REPLICA_NAME: options.name, KVP_ROLE: role, KVP_BACKEND_URL: SHARED_BACKEND, PULUMI_CONFIG_PASSPHRASE: SCALE_PASSPHRASE,
            ...options.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout?.setEncoding("utf8").on("data", (c: string) => { out += c; });
    proc.stderr?.setEncoding("utf8").on("data", (c: string) => { out += c; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    const server: ServerProcess = {
        proc, name: options.name, dataDir, output: () => out, exited,
        async dispose() {
            if (isRunning(server)) {
                proc.kill("SIGKILL");
                await exited;
            }
            rmSync(dataDir, { recursive: true, force: true });
        },
    };
    if (options.expectExit) {
        await exited;
        return server;
    }
    server.url = await new Promise<string | undefined>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${options.name} did not start within 30 s:\n${out}`)), 30_000);
        const check = () => {
            const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
            if (m || out.includes("worker running (KVP_ROLE=worker")) {
                clearTimeout(timer);
                proc.stdout?.off("data", check);
                resolve(m?.[1]);
            }
        };
        proc.stdout?.on("data", check);
        void exited.then(() => { clearTimeout(timer); reject(new Error(`${options.name} exited during start:\n${out}`)); });
    });
    return server;
}

export interface ApiResponse {
    status: number;
    body: any;
    text: string;
    headers: Headers;
}

export async function callApi(base: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const res = await fetch(`${base}${route}`, {
        method,
        headers: { Authorization: `Bearer ${SCALE_ADMIN_TOKEN}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
        parsed = text ? JSON.parse(text) : undefined;
    } catch {
        parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}
