/**
 * npm run bench:api — does the API stay as fast with 100,000 environments as with 1,000?
 *
 * For each store (embedded SQLite, PostgreSQL in a temporary schema per size), one environment
 * store per size is seeded in bulk (bench/apiServer.ts). Four reads are timed on both sizes, in
 * alternating rounds so that a noisy neighbour hurts both alike: the first list page, a deep page
 * reached through the cursor, a team- and status-filtered list, and the detail route. Both sizes
 * are served by one process, one app and store each on its own port: two processes over the same
 * data read up to 1.32x apart, one slower than its twin all along, which is more than the 1.25x
 * goal can tell apart (bench/README, eleventh and twelfth sessions). Goals per read and store: p50
 * and p99 at 100,000 at most 1.25x those at 1,000. RSS is a replica's own, so it is measured on a
 * process per size, as deployed, idle and after the warm-up's load: at 100,000 within 50 MB of
 * 1,000. Floor, in the same run: a bare express handler answering the same bodies; throughput at
 * 100,000 at least 30% of it, and p99 at most 3x its p99.
 *
 * Load: BENCH_CONNECTIONS (8) closed-loop keep-alive clients, BENCH_ROUNDS (12) rounds of
 * BENCH_ROUND_S (0.75) s per read and size, in a b / b a order, after a 1 s warm-up of each;
 * latencies are measured per request. Before any read is timed, every server (the bare one
 * too) first serves BENCH_WARMUP_S (15) s of all its reads in turn: a fresh server's p50 falls
 * from about 12 ms to about 4.5 ms over its first 10-14 s of load as V8 compiles its hot paths,
 * so without it the reads timed first are timed on that slope, and their ratios with it.
 *
 *   BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test)   BENCH_STORES (sqlite,postgres)
 *   BENCH_SIZES (1000,100000; `100000,100000` is an A/A run, which shows how finely the bench can tell two sizes apart)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Client, escapeIdentifier } from "pg";
import { createPostgresStore } from "../automation/store/postgres";
import { encodeCursor } from "../automation/store/rows";
import { BENCH_TOKEN, benchName, seedPostgres, seedSqlite, TEAMS } from "./apiServer";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const ROUND_MS = Number(process.env.BENCH_ROUND_S ?? 0.75) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_S ?? 15) * 1000;
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/test`;
const STORES = (process.env.BENCH_STORES ?? "sqlite,postgres").split(",").map((s) => s.trim()) as Array<"sqlite" | "postgres">;
const [SMALL, LARGE] = (process.env.BENCH_SIZES ?? "1000,100000").split(",").map(Number);
const SERVER = path.join(__dirname, "apiServer.ts");
const GOAL = { growth: 1.25, rssMb: 50, floorThroughput: 0.3, floorP99: 3 };

interface Started {
    child: ChildProcess;
    /** One base URL per app the process serves, in the order its data was given. */
    bases: string[];
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
            if (line) resolve({ child, bases: (JSON.parse(line) as { ports: number[] }).ports.map((port) => `http://127.0.0.1:${Number(port)}`) });
        });
        child.once("exit", (code) => reject(new Error(`bench server ${args[0]} exited with ${code}`)));
    });
}

async function stopServer(s: Started): Promise<void> {
    // A process killed by a signal has no exit code, only a signal code.
    if (s.child.exitCode !== null || s.child.signalCode !== null) return;
    const exited = new Promise((r) => s.child.once("exit", r));
    s.child.kill("SIGKILL");
    await exited;
}

/** Resident set size of a process, in MB, from /proc. */
function rssMb(pid: number): number {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
    return kb / 1024;
}

/** Latencies (ms) of every request in one closed-loop round, and how many were done. */
async function round(base: string, pathFor: () => string, ms: number, into: number[]): Promise<number> {
    const until = performance.now() + ms;
    let done = 0;
    const client = async () => {
        while (performance.now() < until) {
            const started = performance.now();
            const res = await fetch(base + pathFor(), { headers: { authorization: `Bearer ${BENCH_TOKEN}`, accept: "application/json" } });
            await res.arrayBuffer();
            if (res.status !== 200) throw new Error(`${pathFor()}: ${res.status}`);
            into.push(performance.now() - started);
            done++;
        }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, client));
    return done;
}

interface Figures {
    p50: number;
    p99: number;
    rps: number;
}

function figures(latencies: number[], requests: number, ms: number): Figures {
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    return { p50: at(0.5), p99: at(0.99), rps: requests / (ms / 1000) };
}

interface Read {
    name: string;
    /** The request path for a server holding `size` environments. */
    path: (size: number) => string;
    bare: string;
}

const pick = (n: number) => Math.floor(Math.random() * n);
const READS: Read[] = [
    { name: "first list page", path: () => "/v1/environments?limit=50", bare: "list" },
    {
        name: "deep page via cursor",
        // A page in the last tenth of the names, reached with the cursor a client would hold there.
        path: (size) => `/v1/environments?limit=50&cursor=${encodeCursor({ name: benchName(size - 60 - pick(Math.floor(size / 10))) })}`,
        bare: "list",
    },
    { name: "team+status filtered list", path: () => `/v1/environments?limit=50&team=${TEAMS[pick(TEAMS.length)]}&status=ready`, bare: "list" },
    { name: "detail", path: (size) => `/v1/environments/${benchName(pick(size))}`, bare: "detail" },
];

/** Steady state before timing: `WARMUP_MS` of load, cycling through the given targets. */
async function warmUp(targets: Array<{ base: string; path: () => string }>): Promise<void> {
    const slice = Math.max(250, Math.floor(WARMUP_MS / (targets.length * 4)));
    for (let spent = 0, i = 0; spent < WARMUP_MS; spent += slice, i++) await round(targets[i % targets.length].base, targets[i % targets.length].path, slice, []);
}

/** Alternating rounds on two targets, so noise lands on both; returns the figures of each. */
async function compare(a: { base: string; path: () => string }, b: { base: string; path: () => string }): Promise<[Figures, Figures]> {
    await round(a.base, a.path, 1_000, []);
    await round(b.base, b.path, 1_000, []);
    const lat: [number[], number[]] = [[], []];
    const n = [0, 0];
    const targets = [a, b];
    for (let r = 0; r < ROUNDS; r++) {
        // a b, b a, a b, ...: neither side always runs right after a warm-up or a pause.
        for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) n[i] += await round(targets[i].base, targets[i].path, ROUND_MS, lat[i]);
    }
    return [figures(lat[0], n[0], ROUNDS * ROUND_MS), figures(lat[1], n[1], ROUNDS * ROUND_MS)];
}

interface Row {
    figure: string;
    value: string;
    goal: string;
    met: boolean;
}

async function fetchText(url: string): Promise<string> {
    const res = await fetch(url, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
    return text;
}

async function benchStore(store: "sqlite" | "postgres", rows: Row[], detail: string[]): Promise<void> {
    const cleanup: Array<() => Promise<void>> = [];
    const servers: Started[] = [];
    const start = (args: string[], env?: Record<string, string>) => startServer(args, env).then((s) => (servers.push(s), s));
    try {
        /** Per size: the data directory (SQLite) or schema (PostgreSQL) holding it. */
        const data: string[] = [];
        for (const size of [SMALL, LARGE]) {
            const seedStarted = Date.now();
            if (store === "sqlite") {
                const dir = mkdtempSync(path.join(tmpdir(), "kvp-bench-api-"));
                cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
                await seedSqlite(dir, size);
                data.push(dir);
            } else {
                const schema = `kvp_bench_api_${randomBytes(4).toString("hex")}`;
                cleanup.push(() => dropSchema(schema));
                await (await createPostgresStore({ connectionString: DATABASE_URL, schema })).close();
                await seedPostgres(DATABASE_URL, schema, size);
                data.push(schema);
            }
            detail.push(`${store}: ${size} environments seeded in ${Date.now() - seedStarted} ms`);
        }
        /** A server process with one app per given size's data. */
        const serve = (held: string[]) => (store === "sqlite" ? start([store, ...held]) : start([store], { BENCH_DATABASE_URL: DATABASE_URL, BENCH_SCHEMA: held.join(",") }));

        // RSS: a replica per size, as deployed, each loaded with every read for the warm-up's length.
        const rss: Array<[number, number]> = [];
        for (const [i, size] of [SMALL, LARGE].entries()) {
            const single = await serve([data[i]]);
            const idle = rssMb(single.child.pid!);
            await warmUp(READS.map((read) => ({ base: single.bases[0], path: () => read.path(size) })));
            rss.push([idle, rssMb(single.child.pid!)]);
            await stopServer(single);
        }
        detail.push(`${store} RSS, one process per size: ${SMALL}: ${rss[0][0].toFixed(0)} MB idle, ${rss[0][1].toFixed(0)} MB after load; ${LARGE}: ${rss[1][0].toFixed(0)} MB idle, ${rss[1][1].toFixed(0)} MB after load`);
        rows.push({ figure: `${store} RSS after load: ${LARGE} - ${SMALL}`, value: `${(rss[1][1] - rss[0][1]).toFixed(1)} MB`, goal: `<= ${GOAL.rssMb} MB`, met: rss[1][1] - rss[0][1] <= GOAL.rssMb });

        // Latency: both sizes served by one process, each from its own app and store.
        const both = await serve(data);
        const [small, large] = both.bases;
        // Every read must return what it claims before it is timed: full pages, the right filter.
        for (const [base, size] of [[small, SMALL], [large, LARGE]] as const) {
            for (const read of READS.slice(0, 3)) {
                const page = JSON.parse(await fetchText(base + read.path(size))) as { items: Array<{ team: string; status: string }> };
                if (page.items.length !== 50) throw new Error(`${store} ${size}: ${read.name} returned ${page.items.length} items, not 50`);
                if (read.name.startsWith("team") && page.items.some((e) => e.status !== "ready")) throw new Error(`${store}: the status filter let other statuses through`);
            }
        }
        await warmUp(READS.flatMap((read) => [{ base: small, path: () => read.path(SMALL) }, { base: large, path: () => read.path(LARGE) }]));
        for (const read of READS) {
            const [f1, f2] = await compare({ base: small, path: () => read.path(SMALL) }, { base: large, path: () => read.path(LARGE) });
            detail.push(`${store} ${read.name}: ${SMALL}: p50 ${f1.p50.toFixed(2)} ms, p99 ${f1.p99.toFixed(2)} ms, ${f1.rps.toFixed(0)} req/s; `
                + `${LARGE}: p50 ${f2.p50.toFixed(2)} ms, p99 ${f2.p99.toFixed(2)} ms, ${f2.rps.toFixed(0)} req/s`);
            for (const p of ["p50", "p99"] as const) {
                const ratio = f2[p] / f1[p];
                rows.push({ figure: `${store} ${read.name}: ${p} ${LARGE} / ${SMALL}`, value: `${ratio.toFixed(2)}x`, goal: `<= ${GOAL.growth}x`, met: ratio <= GOAL.growth });
            }
            floors.push({ store, read, large: f2, largeBase: large });
        }
        // The floor against the bare handler is measured while this server is still up.
        await floorAgainstBare(store, rows, detail);
    } finally {
        for (const s of servers) await stopServer(s);
        for (const c of cleanup) await c().catch(() => undefined);
        floors.length = 0;
    }
}

const floors: Array<{ store: string; read: Read; large: Figures; largeBase: string }> = [];

/** Each read at 100,000 against a bare express handler answering the same body, in alternating rounds. */
async function floorAgainstBare(store: string, rows: Row[], detail: string[]): Promise<void> {
    const dir = mkdtempSync(path.join(tmpdir(), "kvp-bench-bare-"));
    const bodies: Record<string, unknown> = {};
    for (const f of floors) bodies[f.read.bare] ??= JSON.parse(await fetchText(f.largeBase + f.read.path(LARGE)));
    writeFileSync(path.join(dir, "bodies.json"), JSON.stringify(bodies));
    const bare = await startServer(["bare", path.join(dir, "bodies.json")]);
    try {
        await warmUp(Object.keys(bodies).map((route) => ({ base: bare.bases[0], path: () => `/bare/${route}` })));
        for (const f of floors) {
            const [app, b] = await compare({ base: f.largeBase, path: () => f.read.path(LARGE) }, { base: bare.bases[0], path: () => `/bare/${f.read.bare}` });
            const share = app.rps / b.rps;
            const p99 = app.p99 / b.p99;
            detail.push(`${store} ${f.read.name} at ${LARGE} vs bare: ${app.rps.toFixed(0)} vs ${b.rps.toFixed(0)} req/s, p99 ${app.p99.toFixed(2)} vs ${b.p99.toFixed(2)} ms`);
            rows.push({ figure: `${store} ${f.read.name}: throughput vs bare (floor)`, value: `${(share * 100).toFixed(0)}%`, goal: `>= ${GOAL.floorThroughput * 100}%`, met: share >= GOAL.floorThroughput });
            rows.push({ figure: `${store} ${f.read.name}: p99 vs bare p99 (floor)`, value: `${p99.toFixed(2)}x`, goal: `<= ${GOAL.floorP99}x`, met: p99 <= GOAL.floorP99 });
        }
    } finally {
        await stopServer(bare);
        rmSync(dir, { recursive: true, force: true });
    }
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

async function main(): Promise<void> {
    console.log(`bench:api compares: list and detail reads at ${SMALL} vs ${LARGE} environments, stores ${STORES.join(", ")}; ${CONNECTIONS} clients, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per read, after ${WARMUP_MS / 1000} s of warm-up per server; node ${process.version}`);
    const rows: Row[] = [];
    const detail: string[] = [];
    for (const store of STORES) await benchStore(store, rows, detail);
    for (const line of detail) console.log(line);
    console.log("");
    console.log(`${"figure".padEnd(64)}${"value".padEnd(10)}${"goal".padEnd(10)}result`);
    for (const r of rows) console.log(`${r.figure.padEnd(64)}${r.value.padEnd(10)}${r.goal.padEnd(10)}${r.met ? "met" : "MISSED"}`);
    const missed = rows.filter((r) => !r.met).length;
    console.log("");
    console.log(missed === 0 ? "bench:api: every goal met" : `bench:api: ${missed} of ${rows.length} figures MISSED their goal`);
    process.exitCode = missed === 0 ? 0 : 1;
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
});
