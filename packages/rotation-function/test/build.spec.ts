import { strict as assert } from "node:assert";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Script } from "node:vm";
import { buildFunctionPackage, FunctionBuildError } from "../build/build";
import { registeredFunctions } from "../build/registered";
import { BUNDLE_FILE, hashFunctionSources } from "../build/stamp";

const FIXTURE = join(__dirname, "fixtures", "minimal-app");

describe("buildFunctionPackage", () => {
    let project: string;

    beforeEach(() => {
        // Inside the repository, so the bundle resolves @azure/functions from its node_modules.
        project = mkdtempSync(join(__dirname, "fixtures", ".tmp-fn-"));
        cpSync(FIXTURE, project, { recursive: true });
    });
    afterEach(() => rmSync(project, { recursive: true, force: true }));

    it("bundles the entry into a CommonJS file that package.json main points to, with host.json beside it", () => {
        const pkg = buildFunctionPackage({ projectDir: project });
        assert.equal(pkg.built, true);
        const manifest = JSON.parse(readFileSync(join(pkg.dir, "package.json"), "utf8"));
        assert.equal(manifest.main, BUNDLE_FILE);
        assert.equal(manifest.type, undefined, "no type:module, so the worker loads the bundle as CommonJS");
        assert.deepEqual(JSON.parse(readFileSync(join(pkg.dir, "host.json"), "utf8")), JSON.parse(readFileSync(join(FIXTURE, "host.json"), "utf8")));
        const bundle = readFileSync(join(pkg.dir, BUNDLE_FILE), "utf8");
        assert.doesNotThrow(() => new Script(bundle), "the bundle must be plain JavaScript the worker can load");
        assert.match(bundle, /near expiry: /, "local modules are inlined");
        assert.match(bundle, /require\("@azure\/functions-core"\)/, "the worker-provided core module stays external");
        assert.doesNotMatch(bundle, /require\("@azure\/functions"\)/, "the @azure/functions library itself is bundled");
    });

    it("produces a bundle that registers the entry's functions with the worker's core API", () => {
        const pkg = buildFunctionPackage({ projectDir: project });
        assert.deepEqual(registeredFunctions(join(pkg.dir, BUNDLE_FILE)), [{ name: "fixtureNearExpiry", trigger: "eventGridTrigger" }]);
    });

    it("skips the build when nothing changed and rebuilds when a source file changes", () => {
        const first = buildFunctionPackage({ projectDir: project });
        const bundlePath = join(first.dir, BUNDLE_FILE);
        const mtime = statSync(bundlePath).mtimeMs;

        const second = buildFunctionPackage({ projectDir: project });
        assert.equal(second.built, false);
        assert.equal(second.hash, first.hash);
        assert.equal(statSync(bundlePath).mtimeMs, mtime, "an unchanged project must not be re-bundled");

        writeFileSync(join(project, "src", "greeting.ts"), "export const greeting = (s: string): string => `rotating ${s}`;\n");
        const third = buildFunctionPackage({ projectDir: project });
        assert.equal(third.built, true);
        assert.notEqual(third.hash, first.hash);
        assert.match(readFileSync(bundlePath, "utf8"), /rotating /);
    });

    it("changes the hash when host.json changes, and rebuilds when an output file was deleted", () => {
        const before = hashFunctionSources(project);
        writeFileSync(join(project, "host.json"), JSON.stringify({ version: "2.0" }));
        assert.notEqual(hashFunctionSources(project), before);

        const pkg = buildFunctionPackage({ projectDir: project });
        unlinkSync(join(pkg.dir, "host.json"));
        assert.equal(buildFunctionPackage({ projectDir: project }).built, true);
        assert.ok(existsSync(join(pkg.dir, "host.json")));
    });

    it("gives the same hash for the same sources in another directory", () => {
        const elsewhere = mkdtempSync(join(__dirname, "fixtures", ".tmp-fn-"));
        try {
            cpSync(FIXTURE, elsewhere, { recursive: true });
            assert.equal(hashFunctionSources(elsewhere), hashFunctionSources(project));
        } finally {
            rmSync(elsewhere, { recursive: true, force: true });
        }
    });

    it("fails naming the entry when it is missing", () => {
        rmSync(join(project, "src", "index.ts"));
        assert.throws(() => buildFunctionPackage({ projectDir: project }), (e: Error) => {
            assert.ok(e instanceof FunctionBuildError);
            assert.match(e.message, /buildFunctionPackage: entry .*src\/index\.ts does not exist/);
            return true;
        });
    });

    it("fails when host.json is missing", () => {
        rmSync(join(project, "host.json"));
        assert.throws(() => buildFunctionPackage({ projectDir: project }), /buildFunctionPackage: .*host\.json does not exist/);
    });

    it("reports esbuild errors with the file that failed to compile", () => {
        writeFileSync(join(project, "src", "greeting.ts"), "export const greeting = (s: string) => {{;\n");
        assert.throws(() => buildFunctionPackage({ projectDir: project }), (e: Error) => {
            assert.ok(e instanceof FunctionBuildError);
            assert.match(e.message, /esbuild failed .*greeting\.ts/);
            return true;
        });
    });

    it("writes into a separate output directory when asked", () => {
        const out = mkdtempSync(join(tmpdir(), "fn-out-"));
        try {
            const pkg = buildFunctionPackage({ projectDir: project, outDir: out });
            assert.equal(pkg.dir, out);
            assert.ok(existsSync(join(out, BUNDLE_FILE)));
            assert.ok(!existsSync(join(project, "dist")));
        } finally {
            rmSync(out, { recursive: true, force: true });
        }
    });
});
