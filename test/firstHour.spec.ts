import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { createLogger, prettyDestination } from "../automation/http/logger";
import { SettingsEnvSchema } from "../automation/server/settings";

/**
 * What a newcomer meets in the first hour: the preflight that explains a missing install,
 * the quickstart (token shown, offline engine, answers at once), a busy port named by its
 * setting, readable logs on a terminal, and `npm run check:config` on the shipped stacks.
 * Each runs the real entry point in a child process, as a person would.
 */

const REPO = path.resolve(__dirname, "..");
const TSX = ["--import", "tsx", "--disable-warning=ExperimentalWarning"];

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    // Only what the process needs: nothing from the parent's KVP_* leaks in.
    return { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "info", ...extra };
}

interface Child { proc: ChildProcess; output: () => string; exited: Promise<number | null> }

function run(script: string, env: Record<string, string>): Child {
    const proc = spawn(process.execPath, [...TSX, script], { cwd: REPO, env: baseEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout?.setEncoding("utf8").on("data", (c: string) => { out += c; });
    proc.stderr?.setEncoding("utf8").on("data", (c: string) => { out += c; });
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    return { proc, output: () => out, exited };
}

async function waitFor<T>(what: string, child: Child, fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = fn();
        if (v !== undefined) return v;
        if (child.proc.exitCode !== null) assert.fail(`exited (${child.proc.exitCode}) before ${what}:\n${child.output()}`);
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}:\n${child.output()}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

async function stop(child: Child | undefined): Promise<void> {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill("SIGTERM");
        await child.exited;
    }
}

const listeningUrl = (out: string) => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];

describe("the first hour", function () {
    this.timeout(90_000);
    let dir: string;
    let child: Child | undefined;
    beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), "kvp-first-hour-")); });
    afterEach(async () => {
        await stop(child);
        child = undefined;
        rmSync(dir, { recursive: true, force: true });
    });

    it("preflight: without node_modules, says in one line to run npm ci", () => {
        mkdirSync(path.join(dir, "tools"));
        copyFileSync(path.join(REPO, "tools", "preflight.cjs"), path.join(dir, "tools", "preflight.cjs"));
        const r = spawnSync(process.execPath, [path.join(dir, "tools", "preflight.cjs")], { encoding: "utf8" });
        assert.equal(r.status, 1);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, /run `npm ci`/);
    });

    it("preflight: passes on this checkout", () => {
        const r = spawnSync(process.execPath, [path.join(REPO, "tools", "preflight.cjs")], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, "");
    });

    it("quickstart: shows its token, keeps it for a second terminal, and serves on the offline engine", async () => {
        const dataDir = path.join(dir, "data");
        child = run("automation/server/quickstart.ts", { PORT: "0", KVP_DATA_DIR: dataDir });
        const url = await waitFor("the listening line", child, () => listeningUrl(child!.output()));
        const tokenFile = path.join(dataDir, "admin-token");
        const token = readFileSync(tokenFile, "utf8").trim();
        assert.ok(token.length >= 16, "a token the server accepts");
        assert.equal(statSync(tokenFile).mode & 0o777, 0o600, "the token file is the owner's only");
        assert.ok(child.output().includes(`Demo admin token, for this machine only (kept in `), child.output());
        assert.ok(child.output().includes(token), "the token is shown once, for the walkthrough");
        assert.match(child.output(), /provisions NOTHING in Azure/);

        assert.equal((await fetch(`${url}/healthz`)).status, 200);
        assert.equal((await fetch(`${url}/v1/environments`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
        assert.equal((await fetch(`${url}/v1/environments`, { headers: { Authorization: "Bearer not-the-demo-token-0123" } })).status, 401);
        const ready = await (await fetch(`${url}/readyz`)).json() as { checks?: unknown };
        assert.match(JSON.stringify(ready), /offline/);

        // A restart reuses the token, so the second terminal's TOKEN stays valid.
        await stop(child);
        child = run("automation/server/quickstart.ts", { PORT: "0", KVP_DATA_DIR: dataDir });
        await waitFor("the listening line again", child, () => listeningUrl(child!.output()));
        assert.equal(readFileSync(tokenFile, "utf8").trim(), token);
    });

    it("a busy port: exits 2 with one line that names PORT, and no stack trace", async () => {
        const blocker = createServer();
        await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
        const port = (blocker.address() as { port: number }).port;
        try {
            child = run("automation/server/main.ts", { PORT: String(port), KVP_DATA_DIR: path.join(dir, "data"), KVP_ENGINE: "test-double", KVP_ADMIN_TOKEN: "busy-port-admin-token-0123456789" });
            assert.equal(await child.exited, 2, child.output());
            const problem = child.output().split("\n").filter((l) => l.startsWith("keyvault-platform:"));
            assert.equal(problem.length, 1, child.output());
            assert.match(problem[0], new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*set PORT`));
            assert.doesNotMatch(child.output(), /\n\s+at /, "no stack trace");
        } finally {
            blocker.close();
        }
    });

    it("logs: readable lines for a terminal, secrets still masked", () => {
        let text = "";
        const out = new Writable({ write(chunk, _enc, cb) { text += String(chunk); cb(); } });
        const logger = createLogger({ level: "info", destination: prettyDestination(out) });
        logger.info({ engine: "offline", passphrase: "correct-horse-battery-staple" }, "listening");
        assert.match(text, /INFO.*listening/);
        assert.throws(() => JSON.parse(text.trim()), "not a JSON line");
        assert.ok(!text.includes("correct-horse-battery-staple"), text);
        assert.match(text, /passphrase: "\[redacted\]"/);
    });
});

describe("npm run check:config", function () {
    this.timeout(60_000);
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), "kvp-check-config-")); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const check = (arg: string) => spawnSync(process.execPath, [...TSX, "tools/checkConfig.ts", arg], { cwd: REPO, encoding: "utf8", env: baseEnv({}) });

    for (const stack of ["dev", "staging", "prod"]) {
        it(`passes on the shipped ${stack} stack, and points at its placeholders`, () => {
            const r = check(stack);
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stdout, new RegExp(`^Pulumi\\.${stack}\\.yaml: valid \\(tier ${stack},`));
            assert.match(r.stdout, /line\(s\) are marked PLACEHOLDER/);
        });
    }

    it("fails on a misspelled key, naming it and the key it meant", () => {
        const file = path.join(dir, "Pulumi.typo.yaml");
        writeFileSync(file, readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8").replace("keyvault-platform:purgeProtection:", "keyvault-platform:purgeProtecton:"));
        const r = check(file);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /keyvault-platform:purgeProtecton: .*did you mean "purgeProtection"/);
    });

    it("fails on a bad value with the program's own message", () => {
        const file = path.join(dir, "Pulumi.bad.yaml");
        writeFileSync(file, readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8").replace("softDeleteRetentionDays: 7", "softDeleteRetentionDays: 120"));
        const r = check(file);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /Invalid stack configuration:\n {2}- keyvault-platform:softDeleteRetentionDays: .*90.*\(got 120\)/);
    });

    it("refuses an unknown stack and lists the ones there are", () => {
        const r = check("nope");
        assert.equal(r.status, 2);
        assert.match(r.stderr, /Pulumi\.nope\.yaml does not exist/);
        assert.match(r.stderr, /stacks here: dev, prod, staging/);
    });
});

describe("the documentation a newcomer reads", () => {
    it("keeps README.md within 12,000 bytes", () => {
        const bytes = statSync(path.join(REPO, "README.md")).size;
        assert.ok(bytes <= 12_000, `README.md is ${bytes} bytes`);
    });

    it("documents every server setting in docs/settings.md", () => {
        const doc = readFileSync(path.join(REPO, "docs", "settings.md"), "utf8");
        const missing = Object.keys(SettingsEnvSchema.shape).filter((v) => !doc.includes(`| \`${v}\` |`));
        assert.deepEqual(missing, [], "each variable has a row of its own");
    });

    it("links no document to a file outside the repository", () => {
        const files = spawnSync("git", ["ls-files", "*.md"], { cwd: REPO, encoding: "utf8" }).stdout.split("\n").filter(Boolean);
        assert.ok(files.length > 10, `only ${files.length} markdown files found`);
        const outside: string[] = [];
        for (const file of files) {
            for (const [, target] of readFileSync(path.join(REPO, file), "utf8").matchAll(/\]\(([^)#\s]+)/g)) {
                if (/^[a-z]+:/i.test(target)) continue;
                const resolved = path.resolve(REPO, path.dirname(file), target);
                if (!resolved.startsWith(REPO + path.sep)) outside.push(`${file}: ${target}`);
            }
        }
        assert.deepEqual(outside, []);
    });
});
