import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { isFresh, loadBundle, loadProgram } from "../tools/programBundle";
import { Recording } from "./mocks";
import { runStack } from "./stackRun";

const ROOT = resolve(__dirname, "..");

describe("program bundle (tools/programBundle.ts)", () => {
    describe("isFresh", () => {
        let dir: string;
        let input: string;
        const stampFor = (size: number, mtimeMs: number) => ({ recipe: "r1", entry: "/p/entry.ts", inputs: { "a.ts": [size, mtimeMs] } as Record<string, [number, number]> });

        before(() => {
            dir = mkdtempSync(join(__dirname, "fixtures", ".tmp-fresh-"));
            input = join(dir, "a.ts");
            writeFileSync(input, "export const a = 1;\n");
        });
        after(() => rmSync(dir, { recursive: true, force: true }));

        it("accepts a stamp whose recipe, entry and every input's size and mtime match", () => {
            const s = statSync(input);
            assert.equal(isFresh(stampFor(s.size, s.mtimeMs), "/p/entry.ts", "r1", dir), true);
        });

        const stale: Array<[string, (size: number, mtimeMs: number) => [ReturnType<typeof stampFor> | undefined, string, string]]> = [
            ["no stamp", () => [undefined, "/p/entry.ts", "r1"]],
            ["another build recipe (options or esbuild version)", (z, m) => [stampFor(z, m), "/p/entry.ts", "r2"]],
            ["another entry", (z, m) => [stampFor(z, m), "/p/other.ts", "r1"]],
            ["an input whose size changed", (z, m) => [stampFor(z + 1, m), "/p/entry.ts", "r1"]],
            ["an input whose mtime changed", (z, m) => [stampFor(z, m - 1000), "/p/entry.ts", "r1"]],
            ["an input that no longer exists", (z, m) => [{ ...stampFor(z, m), inputs: { "gone.ts": [z, m] } }, "/p/entry.ts", "r1"]],
        ];
        for (const [what, make] of stale) {
            it(`rejects ${what}`, () => {
                const s = statSync(input);
                const [stamp, entry, recipe] = make(s.size, s.mtimeMs);
                assert.equal(isFresh(stamp, entry, recipe, dir), false);
            });
        }
    });

    describe("loadBundle", () => {
        let dir: string;
        beforeEach(() => {
            // Inside the repository, so bundled packages (yaml here) resolve from its node_modules.
            dir = mkdtempSync(join(__dirname, "fixtures", ".tmp-bundle-"));
            writeFileSync(join(dir, "dep.ts"), "export const greeting = 'one';\n");
            writeFileSync(join(dir, "entry.ts"), "import { stringify } from 'yaml';\nimport { greeting } from './dep';\nexport const out = () => stringify({ greeting });\n");
        });
        afterEach(() => rmSync(dir, { recursive: true, force: true }));

        const load = () => loadBundle<{ out(): string }>({ entry: join(dir, "entry.ts"), outDir: join(dir, ".build") });
        const forget = (path: string) => delete require.cache[path];

        it("builds on first use, into one file with local modules and bundled packages inlined", () => {
            const first = load();
            assert.equal(first.built, true);
            assert.equal(first.module.out(), "greeting: one\n");
            const code = readFileSync(first.bundlePath, "utf8");
            assert.doesNotMatch(code, /require\(["'](yaml|\.\/dep)["']\)/, "yaml and ./dep are inside the bundle");
            const stamp = JSON.parse(readFileSync(first.bundlePath.replace(/\.cjs$/, ".json"), "utf8")) as { inputs: Record<string, unknown> };
            assert.ok(Object.keys(stamp.inputs).some((k) => k.endsWith("dep.ts")), "the local module is a recorded input");
            assert.ok(Object.keys(stamp.inputs).some((k) => k.includes(`node_modules${sep}yaml`) || k.includes("node_modules/yaml")), "the package's files are recorded inputs");
            forget(first.bundlePath);
        });

        it("reuses the bundle while no input changed", () => {
            const first = load();
            forget(first.bundlePath);
            const before = statSync(first.bundlePath).mtimeMs;
            const second = load();
            assert.equal(second.built, false);
            assert.equal(statSync(second.bundlePath).mtimeMs, before, "the bundle file was not rewritten");
            forget(second.bundlePath);
        });

        it("rebuilds when a source changes, so an edit never runs old code", () => {
            const first = load();
            forget(first.bundlePath);
            writeFileSync(join(dir, "dep.ts"), "export const greeting = 'two, edited';\n");
            const second = load();
            assert.equal(second.built, true);
            assert.equal(second.module.out(), "greeting: two, edited\n");
            forget(second.bundlePath);
        });

        it("reports a compile error in the sources with its file and line", () => {
            writeFileSync(join(dir, "dep.ts"), "export const greeting = ;\n");
            assert.throws(load, (e: Error) => /dep\.ts:1:\d+/.test(e.message) && /Unexpected/.test(e.message));
        });
    });

    describe("the program's bundle", () => {
        it("registers exactly what the sources register for prod", async function () {
            this.timeout(60_000);
            // The CMK's first expiry is "now + N days" (ignored after creation), so the two runs differ by the clock.
            const key = (rec: Recording) => rec.resources
                .map((r) => JSON.stringify([r.type, r.name, r.parentUrn, r.inputs, [...r.dependencies].sort()]).replace(/"expires":\d+/g, '"expires":"now+N"'))
                .sort();
            const fromSources = key(await runStack("prod"));
            const fromBundle = key(await runStack("prod", undefined, "bundle"));
            assert.ok(fromSources.length > 50, "the prod program registers its full set");
            assert.deepEqual(fromBundle, fromSources);
        });

        it("keeps every __dirname user at the bundle's depth, so their paths resolve the same from .build/", () => {
            // A bundle has one __dirname; sources one level below the root agree with .build/ on `..`.
            loadProgram();
            const stamp = JSON.parse(readFileSync(join(ROOT, ".build", "program.bundle.json"), "utf8")) as { inputs: Record<string, unknown> };
            const offenders = Object.keys(stamp.inputs)
                .filter((p) => !p.includes("node_modules"))
                .filter((p) => /\b__(dirname|filename)\b/.test(readFileSync(join(ROOT, p), "utf8")))
                .filter((p) => relative(ROOT, dirname(join(ROOT, p))).split(sep).length !== 1);
            assert.deepEqual(offenders, []);
        });
    });
});
