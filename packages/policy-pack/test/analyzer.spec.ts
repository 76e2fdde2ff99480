/**
 * Boots the pack the way `pulumi preview --policy-pack policy` does: node (with
 * any PulumiPolicy.yaml nodeargs) running @pulumi/pulumi/cmd/run-policy-pack with
 * the engine address and the pack directory, cwd policy/. That runner compiles
 * the pack with its vendored, type-checking ts-node, so this proves the pack
 * compiles there, resolves its modules from policy/, finds its package.json
 * version and serves every policy, all without the Pulumi CLI.
 */
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb.js";
import { Struct } from "google-protobuf/google/protobuf/struct_pb.js";
import * as analyzerRpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerProto from "@pulumi/pulumi/proto/analyzer_pb";
import { ALL_POLICIES, POLICY_PACK_NAME } from "../policies";
import { vaultProps } from "./fixtures";
import { withPath } from "./cases";

const POLICY_DIR = join(__dirname, "..");

interface PolicyFile { runtime: string | { name: string; options?: { nodeargs?: string } } }

function startPack(): Promise<{ child: ChildProcess; port: number }> {
    const project = parse(readFileSync(join(POLICY_DIR, "PulumiPolicy.yaml"), "utf8")) as PolicyFile;
    const nodeargs = typeof project.runtime === "string" ? "" : (project.runtime.options?.nodeargs ?? "");
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [POLICY_DIR] });
    // The engine address is unused by the runner (the analyzer prints the port it serves on).
    const args = [...nodeargs.split(" ").filter(Boolean), runner, "127.0.0.1:0", "."];
    // The pack runs as the CLI would start it: no loader options inherited from the test runner.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_OPTIONS"));
    const child = spawn(process.execPath, args, { cwd: POLICY_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
    return new Promise((resolve, reject) => {
        let out = "";
        let err = "";
        child.stdout!.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) resolve({ child, port: Number(m[1]) });
        });
        child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
        child.on("exit", (code) => reject(new Error(`policy pack exited with ${code} before serving:\n${err}`)));
    });
}

const call = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void, req: Req) =>
    new Promise<Res>((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));

describe("the policy pack served by its analyzer", function () {
    this.timeout(60_000);
    let child: ChildProcess;
    let client: InstanceType<typeof analyzerRpc.AnalyzerClient>;

    before(async () => {
        const started = await startPack();
        child = started.child;
        client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        child?.kill();
    });

    function analyzeVault(props: Record<string, unknown>, name = "kvp-vault"): Promise<analyzerProto.AnalyzeResponse> {
        const req = new analyzerProto.AnalyzeRequest();
        req.setType("azure-native:keyvault:Vault");
        req.setName(name);
        req.setUrn(`urn:pulumi:prod::keyvault-platform::azure-native:keyvault:Vault::${name}`);
        req.setProperties(Struct.fromJavaScript(props as never));
        req.setOptions(new analyzerProto.AnalyzerResourceOptions());
        return call(client.analyze.bind(client), req);
    }

    it("announces every policy of the pack, with its enforcement level and remediation", async () => {
        const info = await call<Empty, analyzerProto.AnalyzerInfo>(client.getAnalyzerInfo.bind(client), new Empty());
        assert.equal(info.getName(), POLICY_PACK_NAME);
        assert.equal(info.getVersion(), JSON.parse(readFileSync(join(POLICY_DIR, "package.json"), "utf8")).version);
        const served = info.getPoliciesList();
        assert.deepEqual(served.map((p) => p.getName()).sort(), ALL_POLICIES.map((p) => p.name).sort());
        for (const p of served) {
            const expected = ALL_POLICIES.find((x) => x.name === p.getName())!;
            const level = expected.enforcementLevel === "mandatory" ? analyzerProto.EnforcementLevel.MANDATORY : analyzerProto.EnforcementLevel.ADVISORY;
            assert.equal(p.getEnforcementlevel(), level, p.getName());
            assert.match(p.getRemediationSteps(), /mirrors /, p.getName());
        }
        const purge = served.find((p) => p.getName() === "kv-purge-protection-prod")!;
        assert.deepEqual(Object.keys(purge.getConfigschema()!.getProperties()!.toJavaScript()).sort(), ["prodTierNames", "tierTagKey"]);
    });

    it("passes a compliant prod vault", async () => {
        const res = await analyzeVault(vaultProps("kv-kvp-prod-app"));
        assert.deepEqual(res.getDiagnosticsList().map((d) => d.getPolicyname()), []);
    });

    it("reports a prod vault without purge protection as a mandatory kv-purge-protection-prod violation", async () => {
        const res = await analyzeVault(withPath(vaultProps("kv-kvp-prod-app"), "properties.enablePurgeProtection", false));
        const diags = res.getDiagnosticsList();
        assert.deepEqual(diags.map((d) => d.getPolicyname()), ["kv-purge-protection-prod"]);
        assert.equal(diags[0].getPolicypackname(), POLICY_PACK_NAME);
        assert.equal(diags[0].getEnforcementlevel(), analyzerProto.EnforcementLevel.MANDATORY);
        assert.match(diags[0].getMessage(), /enablePurgeProtection is false.*Remediation: .*Azure\.KeyVault\.PurgeProtect/s);
    });

    it("applies pack config sent by the engine (an allow-listed enabledFor flag)", async () => {
        const flagged = withPath(vaultProps("kv-kvp-prod-app"), "properties.enabledForDiskEncryption", true);
        assert.deepEqual((await analyzeVault(flagged)).getDiagnosticsList().map((d) => d.getPolicyname()), ["kv-enabled-for-flags"]);

        const configure = new analyzerProto.ConfigureAnalyzerRequest();
        const policyConfig = new analyzerProto.PolicyConfig();
        policyConfig.setEnforcementlevel(analyzerProto.EnforcementLevel.MANDATORY);
        policyConfig.setProperties(Struct.fromJavaScript({ allowedEnabledForFlags: ["enabledForDiskEncryption"] }));
        configure.getPolicyconfigMap().set("kv-enabled-for-flags", policyConfig);
        await call(client.configure.bind(client), configure);

        assert.deepEqual((await analyzeVault(flagged)).getDiagnosticsList().map((d) => d.getPolicyname()), []);
    });
});
