import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative, sep } from "node:path";

/**
 * Each deliverable is an npm workspace that must install and run from its own package.json.
 * So every module a package's code imports must be one that package declares: runtime code from
 * `dependencies`, tests and build scripts from `devDependencies` as well. A package that borrowed
 * a dependency from the root (or from a sibling) would work here, through the shared
 * node_modules, and break wherever it is installed alone.
 */

const ROOT = join(__dirname, "..");

interface Manifest {
    name: string;
    workspaces?: string[];
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
}

const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
const rootManifest = manifest(ROOT);
const workspaceDirs = (rootManifest.workspaces ?? []).map((w) => join(ROOT, w));

function sourceFiles(dir: string, skip: (path: string) => boolean): string[] {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile() && /\.(ts|js|cjs|mjs)$/.test(d.name))
        .map((d) => join(d.parentPath, d.name))
        .filter((p) => !skip(relative(dir, p)));
}

/** The packages a file imports: bare specifiers only, reduced to the package name. */
function importedPackages(file: string): string[] {
    const text = readFileSync(file, "utf8");
    const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gm),
        ...text.matchAll(/^\s*import\s+"([^"]+)"/gm),
        ...text.matchAll(/(?<![.\w])(?:import|require)\(\s*"([^"]+)"\s*\)/g),
    ].map((m) => m[1]);
    return specifiers
        .filter((s) => !s.startsWith(".") && !s.startsWith("node:") && !builtinModules.includes(s.split("/")[0]))
        .map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]));
}

/** Where devDependencies may be used: tests, benches, build scripts, tools and linter configs; never code that ships. */
const isDevOnly = (path: string) => /^(test|bench|build|tools)(\/|$)|^[^/]+\.config\.[cm]?js$/.test(path.split(sep).join("/"));

function undeclared(dir: string, skip: (path: string) => boolean): string[] {
    const m = manifest(dir);
    const runtime = new Set([m.name, ...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {})]);
    const dev = new Set([...runtime, ...Object.keys(m.devDependencies ?? {})]);
    const found: string[] = [];
    for (const file of sourceFiles(dir, skip)) {
        const path = relative(dir, file);
        const allowed = isDevOnly(path) ? dev : runtime;
        for (const pkg of importedPackages(file)) if (!allowed.has(pkg)) found.push(`${path} imports ${pkg}`);
    }
    return [...new Set(found)].sort();
}

const generated = (path: string) => /(^|\/)(node_modules|dist|\.data|test-output|\.tmp-[^/]*)(\/|$)/.test(path.split(sep).join("/"));

describe("workspaces: each deliverable declares what it imports", () => {
    it("lists the four deliverables as workspaces", () => {
        assert.deepEqual(workspaceDirs.map((d) => manifest(d).name).sort(), [
            "@keyvault-platform/conventions", "@keyvault-platform/keyvault-config", "@keyvault-platform/policy-pack", "@keyvault-platform/rotation-function",
        ]);
    });

    for (const dir of workspaceDirs) {
        it(`${relative(ROOT, dir)}: every import is in its own package.json (dependencies for shipped code)`, () => {
            assert.deepEqual(undeclared(dir, generated), []);
        });
    }

    it("the root (program, server, tools) imports only what the root package.json lists", () => {
        const inWorkspace = (path: string) => workspaceDirs.some((d) => (path + sep).startsWith(relative(ROOT, d) + sep));
        assert.deepEqual(undeclared(ROOT, (p) => generated(p) || inWorkspace(p)), []);
    });

    it("finds an import that a package does not declare (the check can fail)", () => {
        const file = join(ROOT, "packages", "conventions", "roles.ts");
        assert.ok(importedPackages(file).includes("uuid"));
        assert.ok(!isDevOnly("roles.ts") && isDevOnly(join("test", "x.spec.ts")));
        const m = manifest(join(ROOT, "packages", "conventions"));
        assert.ok(!Object.keys(m.devDependencies ?? {}).includes("uuid"), "uuid ships with the roles, so it must be a runtime dependency");
    });
});
