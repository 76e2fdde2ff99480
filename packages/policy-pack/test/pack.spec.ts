import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CONFIG_SCHEMA, DEFAULT_CONFIG, PolicyConfigError, resolveConfig } from "../config";
import { ALL_POLICIES } from "../policies";
import { MIRRORS } from "../rules";
import { POLICY_PACK_DIR } from "../location";
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { FORBIDDEN_ROLE_IDS } from "@keyvault-platform/conventions";
import { compliantStack } from "./fixtures";
import { policyNamed, runResourcePolicy } from "./harness";
import { withPath } from "./cases";

const POLICY_DIR = join(__dirname, "..");

describe("the policy pack as a whole", () => {
    it("holds at least 20 policies with unique, stable ids", () => {
        const names = ALL_POLICIES.map((p) => p.name);
        assert.ok(names.length >= 20, `only ${names.length} policies`);
        assert.equal(new Set(names).size, names.length);
        for (const n of names) assert.match(n, /^[a-z0-9]+(-[a-z0-9]+)+$/);
    });

    it("gives every policy a description, an enforcement level and a remediation that cites a rule", () => {
        for (const p of ALL_POLICIES) {
            assert.ok(p.description.length > 20, p.name);
            assert.ok(p.enforcementLevel === "mandatory" || p.enforcementLevel === "advisory", p.name);
            assert.ok(Object.values(MIRRORS).includes(p.mirrors as never), p.name);
            assert.ok(p.remediationSteps?.includes(`(mirrors ${p.mirrors})`), p.name);
        }
    });

    it("keeps the issue's baseline mandatory", () => {
        const baseline = [
            "kv-soft-delete-enabled", "kv-purge-protection-prod", "kv-purge-protection-cmk", "kv-rbac-authorization", "kv-network-default-deny",
            "kv-public-access-private-endpoint", "kv-enabled-for-flags", "kv-access-policy-least-privilege", "kv-key-expiry", "kv-key-rotation-policy",
            "kv-cmk-key-min-size", "kv-secret-expiry", "kv-secret-content-type", "cosmos-cmk-enabled", "cosmos-disable-local-auth",
            "cosmos-public-network-access", "no-privileged-role-at-data-scope", "kv-diagnostic-audit-logs", "kv-certificate-lifetime-actions",
        ];
        for (const name of baseline) assert.equal(policyNamed(name).enforcementLevel, "mandatory", name);
    });

    it("cites the rule in each violation message, not only in the metadata", () => {
        const vault = compliantStack().find((r) => r.name === "kvp-vault")!;
        const vs = runResourcePolicy(policyNamed("kv-soft-delete-enabled"), { ...vault, props: withPath(vault.props, "properties.enableSoftDelete", false) });
        assert.equal(vs.length, 1);
        assert.ok(vs[0].message.includes("Azure.KeyVault.SoftDelete") && vs[0].message.includes("1e66c121-a66a-4b1f-9b83-0fd99bf0fc2d"), vs[0].message);
    });

    it("declares a config schema holding exactly the keys each policy reads, with the defaults", () => {
        for (const p of ALL_POLICIES) {
            for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
                assert.deepEqual(schema, CONFIG_SCHEMA[key as keyof typeof CONFIG_SCHEMA], `${p.name}.${key}`);
                assert.deepEqual((schema as { default?: unknown }).default, DEFAULT_CONFIG[key as keyof typeof DEFAULT_CONFIG], `${p.name}.${key}`);
            }
        }
        assert.deepEqual(Object.keys(policyNamed("cosmos-public-network-access").configSchema!.properties).sort(), ["devTierNames", "prodTierNames", "tierTagKey"]);
    });

    it("forbids by default the role ids the role table forbids, plus every role that can assign roles on a vault", () => {
        const granting = ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "f58310d9-a9f6-439a-9e8d-f62e7b41a168", "8b54135c-b56d-4d72-a534-26097cfdc8d8"];
        assert.deepEqual([...DEFAULT_CONFIG.forbiddenRoleIds].sort(), [...new Set([...Object.keys(FORBIDDEN_ROLE_IDS), ...granting])].sort());
    });

    it("documents every policy in the README with its enforcement level", () => {
        const readme = readFileSync(join(POLICY_DIR, "README.md"), "utf8");
        for (const p of ALL_POLICIES) {
            const row = readme.split("\n").find((line) => line.startsWith(`| \`${p.name}\` |`));
            assert.ok(row, `README has no row for ${p.name}`);
            assert.ok(row.includes(`| ${p.enforcementLevel} |`), `README row for ${p.name} does not say ${p.enforcementLevel}`);
        }
    });

    it("ships an example config that names real policies and passes validation", () => {
        const example = JSON.parse(readFileSync(join(POLICY_DIR, "config.example.json"), "utf8")) as Record<string, unknown>;
        for (const [name, cfg] of Object.entries(example)) {
            const policy = policyNamed(name);
            if (typeof cfg === "string") continue;
            for (const key of Object.keys(cfg as object)) assert.ok(policy.configSchema?.properties[key], `${name} declares no setting ${key}`);
            assert.doesNotThrow(() => resolveConfig(name, cfg as Record<string, unknown>));
        }
    });

    it("exports its own absolute directory for the Automation API's policyPacks option", () => {
        assert.ok(isAbsolute(POLICY_PACK_DIR));
        assert.ok(existsSync(join(POLICY_PACK_DIR, "PulumiPolicy.yaml")));
    });

    it("ships a nodejs PulumiPolicy.yaml, and a package.json whose entry point builds the pack and whose version is semver", () => {
        const project = parse(readFileSync(join(POLICY_DIR, "PulumiPolicy.yaml"), "utf8")) as { runtime: string | { name: string } };
        assert.equal(typeof project.runtime === "string" ? project.runtime : project.runtime.name, "nodejs");
        const pkg = JSON.parse(readFileSync(join(POLICY_DIR, "package.json"), "utf8")) as { main: string; version: string };
        assert.ok(readFileSync(join(POLICY_DIR, pkg.main), "utf8").includes("new PolicyPack("));
        assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
    });
});

describe("resolveConfig", () => {
    it("returns the defaults when the engine sends no config", () => {
        assert.deepEqual(resolveConfig("p", undefined), DEFAULT_CONFIG);
        assert.deepEqual(resolveConfig("p", { enforcementLevel: "advisory" }), DEFAULT_CONFIG);
    });

    it("overlays the keys a team sets", () => {
        const cfg = resolveConfig("p", { prodTierNames: ["prd"], minimumRsaKeySize: 3072 });
        assert.deepEqual(cfg.prodTierNames, ["prd"]);
        assert.equal(cfg.minimumRsaKeySize, 3072);
        assert.deepEqual(cfg.devTierNames, DEFAULT_CONFIG.devTierNames);
    });

    const bad: Array<[string, unknown, RegExp]> = [
        ["prodTierNames", "prod", /policy p: config 'prodTierNames' "prod" is invalid; must be a list of non-empty strings/],
        ["allowedEnabledForFlags", ["enabledForEverything"], /allowed: enabledForDeployment, enabledForTemplateDeployment, enabledForDiskEncryption/],
        ["minimumRsaKeySize", 1024, /allowed: 2048, 3072, 4096/],
        ["forbiddenRoleIds", ["Owner"], /role definition GUIDs/],
        ["tierTagKey", "", /non-empty tag name/],
        ["prodTiers", ["prod"], /is not a setting of this pack; known: prodTierNames/],
    ];
    for (const [key, value, message] of bad) {
        it(`refuses ${key}: ${JSON.stringify(value)} naming the policy, key, value and what is allowed`, () => {
            assert.throws(() => resolveConfig("p", { [key]: value }), (e: unknown) => e instanceof PolicyConfigError && message.test(e.message));
        });
    }
});
