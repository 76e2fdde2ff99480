import { strict as assert } from "node:assert";
import type { EngineEvent as PulumiEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation";
import { EventTranslator } from "../../automation/engine/events";
import { createMasker, maskStackOutputs, secretEnvValues, SECRET_MARKER } from "../../automation/engine/redact";

const PASSPHRASE = "correct-horse-battery-staple";
const PROVIDER_SECRET = "provider-returned-plaintext";
const mask = createMasker([PASSPHRASE]);

let seq = 0;
function ev(fields: Partial<PulumiEvent>): PulumiEvent {
    return { sequence: ++seq, timestamp: 0, ...fields };
}

function meta(op: OpType, diffs?: string[]): StepEventMetadata {
    const urn = "urn:pulumi:dev::keyvault-platform::azure-native:keyvault:Vault::kv";
    const old = { type: "azure-native:keyvault:Vault", urn, id: "id", parent: "", inputs: { secret: PROVIDER_SECRET }, outputs: { secret: PROVIDER_SECRET }, provider: "" };
    // The engine has already replaced values the program marked secret with "[secret]" in new inputs.
    const planned = { ...old, inputs: { sku: "standard", note: `opened with ${PASSPHRASE}`, password: SECRET_MARKER } };
    return { op, urn, type: "azure-native:keyvault:Vault", provider: "", old, new: planned, ...(diffs ? { diffs } : {}) };
}

describe("engine event translation", () => {
    it("forwards resource steps with identity, changed property names and masked planned inputs, never outputs or old state", () => {
        const t = new EventTranslator(mask);
        const pre = t.translate(ev({ resourcePreEvent: { metadata: meta("update", ["tags"]), planning: true } }));
        const out = t.translate(ev({ resOutputsEvent: { metadata: meta("update", ["tags"]) } }));
        assert.deepEqual(pre, { type: "resource-pre", data: {
            urn: meta("same").urn, type: "azure-native:keyvault:Vault", name: "kv", op: "update", diffs: ["tags"], planning: true,
            inputs: { sku: "standard", note: `opened with ${SECRET_MARKER}`, password: SECRET_MARKER },
        } });
        assert.equal(out?.type, "resource-outputs");
        assert.ok(!JSON.stringify([pre, out]).includes(PROVIDER_SECRET));
    });

    it("masks known secrets and colour codes in diagnostics and remembers error diagnostics", () => {
        const t = new EventTranslator(mask);
        const e = t.translate(ev({ diagnosticEvent: { message: `\u001b[31mfailed with ${PASSPHRASE}\u001b[0m`, color: "raw", severity: "error" } }));
        assert.deepEqual(e, { type: "diagnostic", data: { severity: "error", message: `failed with ${SECRET_MARKER}` } });
        assert.deepEqual(t.errorDiagnostics, [`failed with ${SECRET_MARKER}`]);
    });

    it("drops ephemeral diagnostics and raw stdout events", () => {
        const t = new EventTranslator(mask);
        assert.equal(t.translate(ev({ diagnosticEvent: { message: "working", color: "raw", severity: "info", ephemeral: true } })), undefined);
        assert.equal(t.translate(ev({ stdoutEvent: { message: "console text", color: "raw" } })), undefined);
    });

    it("reports policy events and collects only mandatory ones as violations", () => {
        const t = new EventTranslator(mask);
        const base = { color: "raw", policyPackName: "keyvault-platform", policyPackVersion: "0.1.0", policyPackVersionTag: "v0.1.0" };
        const advisory = t.translate(ev({ policyEvent: { ...base, message: "consider tags", policyName: "tags", enforcementLevel: "warning" } }));
        t.translate(ev({ policyEvent: { ...base, message: "purge protection off", policyName: "purge", enforcementLevel: "mandatory", resourceUrn: "urn:x" } }));
        assert.equal((advisory?.data as { enforcementLevel: string }).enforcementLevel, "warning");
        assert.deepEqual(t.violations, [{ policy: "purge", pack: "keyvault-platform", message: "purge protection off", urn: "urn:x" }]);
    });

    it("forwards the change summary", () => {
        const t = new EventTranslator(mask);
        const e = t.translate(ev({ summaryEvent: { maybeCorrupt: false, durationSeconds: 3, resourceChanges: { create: 2, same: 1 }, policyPacks: {} } }));
        assert.deepEqual((e?.data as { resourceChanges: unknown }).resourceChanges, { create: 2, same: 1 });
    });

    it("records drift only while refreshing, and only for resources that changed", () => {
        const refresh = new EventTranslator(mask, true);
        refresh.translate(ev({ resOutputsEvent: { metadata: meta("refresh", ["networkAcls"]) } }));
        refresh.translate(ev({ resOutputsEvent: { metadata: meta("refresh") } }));
        refresh.translate(ev({ resOutputsEvent: { metadata: meta("delete") } }));
        assert.deepEqual(refresh.drifted.map((d) => [d.op, d.diffs]), [["refresh", ["networkAcls"]], ["delete", []]]);

        const update = new EventTranslator(mask);
        update.translate(ev({ resOutputsEvent: { metadata: meta("update", ["tags"]) } }));
        assert.deepEqual(update.drifted, []);
    });
});

describe("engine redaction", () => {
    it("masks the longest secret first and leaves short values alone", () => {
        const m = createMasker(["abcdefgh", "abcdefgh-longer", "abc"]);
        assert.equal(m("x abcdefgh-longer y abcdefgh z abc"), `x ${SECRET_MARKER} y ${SECRET_MARKER} z abc`);
    });

    it("treats only variables named like secrets as secret", () => {
        assert.deepEqual(secretEnvValues({ ARM_CLIENT_SECRET: "s1", ARM_CLIENT_ID: "id", PULUMI_ACCESS_TOKEN: "t1" }).sort(), ["s1", "t1"]);
    });

    it("masks secret outputs whole and nested ones from the CLI's masked view", () => {
        const outputs = {
            uri: { value: "https://kv.vault.azure.net/", secret: false },
            key: { value: "plain-key", secret: true },
            conn: { value: { endpoint: "e", password: "nested-plain" }, secret: false },
        };
        const masked = { uri: "https://kv.vault.azure.net/", key: "[secret]", conn: { endpoint: "e", password: "[secret]" } };
        const out = maskStackOutputs(outputs, masked);
        assert.deepEqual(out, { uri: "https://kv.vault.azure.net/", key: SECRET_MARKER, conn: { endpoint: "e", password: SECRET_MARKER } });
    });

    it("fails closed for an output the masked view does not have", () => {
        assert.deepEqual(maskStackOutputs({ late: { value: "v", secret: false } }, {}), { late: SECRET_MARKER });
    });

    it("still masks whole secret outputs without the masked view", () => {
        assert.deepEqual(maskStackOutputs({ a: { value: 1, secret: false }, b: { value: "s", secret: true } }), { a: 1, b: SECRET_MARKER });
    });
});
