/**
 * npm run bench:api — read throughput of the HTTP API with 10,000 stored environments,
 * on the embedded store and on PostgreSQL, next to a bare express 5 handler that
 * answers a JSON body of the same size. Each server runs in its own process; this
 * process only generates load (autocannon, 50 connections, ~10 s per route after a
 * 2 s warm-up). Prints requests/s, p99 latency and the ratio to the bare baseline,
 * and PASS/MISSED against the goals: >= 50% of bare throughput, p99 < 25 ms.
 *
 *   BENCH_DURATION_S (10)  BENCH_CONNECTIONS (50)  BENCH_ENVIRONMENTS (10000)
 *   BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test; a temporary schema is created and dropped)
 *   BENCH_STORES (sqlite,postgres)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { Client, escapeIdentifier } from "pg";
import { encodeCursor } from "../automation/store/rows";
import { BENCH_TOKEN, benchName } from "./apiServer";

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ENVIRONMENTS = Number(process.env.BENCH_ENVIRONMENTS ?? 10_000);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;
const STORES = (process.env.BENCH_STORES ?? "sqlite,postgres").split(",").map((s) => s.trim()) as Array<"sqlite" | "postgres">;
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 25;
const SERVER = path.join(__dirname, "apiServer.ts");

interface Started {
    child: ChildProcess;
    port: number;
    info: Record<string, unknown>;
}

function startServer(args: string[], env: Record<string, string> = {}): Promise<Started> {
    const child = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", SERVER, ...args], {
        env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
        let out = "";
        child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
            out += chunk;
            const line = out.split("\n").find((l) => l.startsWith("{"));
            if (line) {
                const info = JSON.parse(line) as Record<string, unknown>;
                resolve({ child, port: Number(info.port), info });
            }
        });
        child.once("exit", (code) => reject(new Error(`bench server ${args[0]} exited with ${code}`)));
    });
}

async function stopServer(s: Started): Promise<void> {
    const exited = new Promise((r) => s.child.once("exit", r));
    s.child.kill("SIGKILL");
    await exited;
}

interface Figures {
    rps: number;
    p99: number;
    errors: number;
    non2xx: number;
}

async function load(url: string, pathFor: () => string, durationS: number): Promise<Figures> {
    const result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: durationS,
        headers: { authorization: `Bearer ${BENCH_TOKEN}`, accept: "application/json" },
        requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: pathFor() }) }],
    });
    return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.timeouts, non2xx: result.non2xx };
}

async function measure(url: string, pathFor: () => string): Promise<Figures> {
    await load(url, pathFor, 2);
    return load(url, pathFor, DURATION_S);
}

const randomDetail = () => `/v1/environments/${benchName(Math.floor(Math.random() * ENVIRONMENTS))}`;
/** Pages all over the keyspace: a cursor is the last name of the previous page. */
const randomList = () => {
    const i = Math.floor(Math.random() * (ENVIRONMENTS - 60));
    return i === 0 ? "/v1/environments?limit=50" : `/v1/environments?limit=50&cursor=${encodeCursor({ name: benchName(i) })}`;
};

async function fetchJson(url: string): Promise<{ body: unknown; bytes: number }> {
    const res = await fetch(url, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
    return { body: JSON.parse(text), bytes: Buffer.byteLength(text) };
}

interface Row {
    target: string;
    route: string;
    figures: Figures;
    bytes: number;
}

async function main(): Promise<void> {
    console.log("bench:api compares: the list and detail routes on the embedded store and on PostgreSQL against a bare express handler serving the same body (req/s, p99)");
    console.log(`bench:api — ${ENVIRONMENTS} environments, ${CONNECTIONS} connections, ${DURATION_S} s per route after a 2 s warm-up, node ${process.version}`);
    const rows: Row[] = [];
    const bodies: { list?: unknown; detail?: unknown; listBytes?: number; detailBytes?: number } = {};
    for (const store of STORES) {
        const schema = `kvp_bench_${randomBytes(4).toString("hex")}`;
        const server = await startServer([store], store === "postgres" ? { BENCH_DATABASE_URL: DATABASE_URL, BENCH_SCHEMA: schema } : {});
        try {
            console.log(`${store}: seeded ${String(server.info.environments)} environments in ${String(server.info.seedMs)} ms`);
            const base = `http://127.0.0.1:${server.port}`;
            // A cursor format check before the load: every list request must be a real page.
            const sample = await fetchJson(`${base}${randomList()}`);
            const detail = await fetchJson(`${base}${randomDetail()}`);
            if ((sample.body as { items: unknown[] }).items.length !== 50) throw new Error("a list page did not hold 50 environments");
            bodies.list ??= sample.body;
            bodies.detail ??= detail.body;
            bodies.listBytes ??= sample.bytes;
            bodies.detailBytes ??= detail.bytes;
            rows.push({ target: store, route: "GET /v1/environments?limit=50", figures: await measure(base, randomList), bytes: sample.bytes });
            rows.push({ target: store, route: "GET /v1/environments/{name}", figures: await measure(base, randomDetail), bytes: detail.bytes });
        } finally {
            await stopServer(server);
            if (store === "postgres") await dropSchema(schema);
        }
    }

    const dir = mkdtempSync(path.join(tmpdir(), "kvp-bench-bare-"));
    const bodiesFile = path.join(dir, "bodies.json");
    writeFileSync(bodiesFile, JSON.stringify({ list: bodies.list, detail: bodies.detail }));
    const bare = await startServer(["bare", bodiesFile]);
    const baseline: Record<string, Figures> = {};
    try {
        const base = `http://127.0.0.1:${bare.port}`;
        baseline["GET /v1/environments?limit=50"] = await measure(base, () => "/list");
        baseline["GET /v1/environments/{name}"] = await measure(base, () => `/detail/${benchName(Math.floor(Math.random() * ENVIRONMENTS))}`);
    } finally {
        await stopServer(bare);
        rmSync(dir, { recursive: true, force: true });
    }

    console.log("");
    console.log(pad("target", 10) + pad("route", 34) + pad("body", 9) + pad("req/s", 10) + pad("p99 ms", 8) + pad("vs bare", 9) + pad("errors", 8) + "goals (>= 50% of bare, p99 < 25 ms)");
    for (const route of Object.keys(baseline)) {
        const b = baseline[route];
        console.log(pad("bare", 10) + pad(route, 34) + pad(`${route.includes("{name}") ? bodies.detailBytes : bodies.listBytes} B`, 9) + pad(b.rps.toFixed(0), 10) + pad(String(b.p99), 8) + pad("1.00", 9) + pad(String(b.errors + b.non2xx), 8));
    }
    let missed = 0;
    for (const r of rows) {
        const ratio = r.figures.rps / baseline[r.route].rps;
        const ratioOk = ratio >= GOAL_RATIO;
        const p99Ok = r.figures.p99 < GOAL_P99_MS;
        const clean = r.figures.errors === 0 && r.figures.non2xx === 0;
        if (!ratioOk || !p99Ok || !clean) missed++;
        console.log(pad(r.target, 10) + pad(r.route, 34) + pad(`${r.bytes} B`, 9) + pad(r.figures.rps.toFixed(0), 10) + pad(String(r.figures.p99), 8) + pad(ratio.toFixed(2), 9)
            + pad(String(r.figures.errors + r.figures.non2xx), 8)
            + `throughput ${ratioOk ? "PASS" : "MISSED"}, p99 ${p99Ok ? "PASS" : "MISSED"}${clean ? "" : ", ERRORS"}`);
    }
    console.log("");
    console.log(missed === 0 ? "bench:api: every goal met" : `bench:api: ${missed} of ${rows.length} route/store pairs MISSED a goal`);
    process.exitCode = missed === 0 ? 0 : 1;
}

function pad(s: string, n: number): string {
    return s.length >= n ? `${s} ` : s + " ".repeat(n - s.length);
}

async function dropSchema(schema: string): Promise<void> {
    const client = new Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
        await client.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
    } finally {
        await client.end();
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
});
