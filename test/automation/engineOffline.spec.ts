import { strict as assert } from "node:assert";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type EngineEvent, type EngineRunRequest, type OperationKind } from "../../automation/domain/ports";
import type { StackConfigInput } from "../../config/schema";
import { OfflineEngine } from "../../automation/engine/offline/engine";
import { desired, tempDir } from "./domainFixtures";
import { rejection } from "./engineAssertions";

/**
 * The offline engine on its own: each run forks a child that evaluates program.ts under
 * mocks, so these tests see what a server operation sees, without the store or worker.
 */

const DEV = desired("payments-dev", { tier: "dev", location: "westeurope", team: "payments" }).config;

interface Step { op: string; type: string; name: string; urn: string; inputs?: Record<string, unknown> }

async function run(engine: OfflineEngine, kind: OperationKind, config: StackConfigInput, signal = new AbortController().signal) {
    const events: EngineEvent[] = [];
    const req: EngineRunRequest = { operationId: `op-${kind}`, kind, stackName: "payments-dev", config, signal, onEvent: (e) => events.push(e) };
    const result = await engine.run(req);
    const steps = events.filter((e) => e.type === "resource-pre").map((e) => e.data as unknown as Step);
    const ops = (op: string) => steps.filter((s) => s.op === op);
    return { result, events, steps, ops };
}

describe("offline engine: the real program under mocks, in a child process per run", function () {
    this.timeout(60_000);
    const dir = tempDir("offline-engine");
    const engine = new OfflineEngine({ dataDir: dir.path });
    after(() => dir.remove());

    it("says in readiness that it provisions nothing", async () => {
        const r = await engine.readiness();
        assert.equal(r.ok, true);
        assert.match(r.checks[0].detail, /provisions NOTHING/);
    });

    it("previews a new stack as all creates, with the outputs the program computes, and keeps no state", async () => {
        const { result, steps, ops, events } = await run(engine, "preview", DEV);
        assert.ok(steps.length >= 10, `${steps.length} steps`);
        assert.equal(ops("create").length, steps.length, "nothing exists yet");
        assert.ok(steps.some((s) => s.type === "azure-native:keyvault:Vault"));
        for (const s of steps) assert.ok(s.inputs && typeof s.inputs === "object", `${s.name} has its inputs`);
        assert.equal(result.summary?.create, steps.length);
        const outputs = events.find((e) => e.type === "outputs")?.data as { outputs: Record<string, unknown> };
        assert.match(String(outputs.outputs.vaultUri), /^https:\/\/kv-/);
        assert.equal(existsSync(join(dir.path, "offline", "payments-dev.json")), false, "a preview changes no state");
    });

    it("applies, then previews the same config as no change, and an added feature as its creates", async () => {
        const applied = await run(engine, "update", DEV);
        assert.ok(applied.ops("create").length > 0);
        assert.match(String(applied.result.outputs?.vaultUri), /^https:\/\/kv-/);

        const again = await run(engine, "preview", DEV);
        assert.deepEqual(Object.keys(again.result.summary ?? {}), ["same"]);

        const withCosmos = await run(engine, "preview", { ...DEV, cosmos: { enabled: true } });
        assert.ok(withCosmos.ops("create").some((s) => s.type === "azure-native:cosmosdb:DatabaseAccount"), "Cosmos is planned");
        assert.equal(withCosmos.ops("delete").length, 0);
    });

    it("plans deletes for what the config no longer asks for", async () => {
        await run(engine, "update", { ...DEV, cosmos: { enabled: true } });
        const back = await run(engine, "preview", DEV);
        assert.ok(back.ops("delete").some((s) => s.type === "azure-native:cosmosdb:DatabaseAccount"), JSON.stringify(back.result.summary));
        assert.equal(back.ops("create").length, 0);
    });

    it("fails as config_invalid, naming the key, when the program refuses the config", async () => {
        // The server validates before it runs; a config that skipped that (an old spec, a hand edit) still meets the program's own check.
        const err = await rejection(run(engine, "update", { ...DEV, tier: "prod" }));
        assert.equal(err.code, "config_invalid");
        assert.match(err.message, /privateEndpoint/);
    });

    it("fails as policy_violation with each mandatory violation when the pack refuses what the program registered", async () => {
        const events: EngineEvent[] = [];
        const err = await rejection(engine.run({
            operationId: "op-policy", kind: "preview", stackName: "search-dev", config: { ...DEV, location: "eastus2" },
            signal: new AbortController().signal, onEvent: (e) => events.push(e),
        }));
        assert.equal(err.code, "policy_violation");
        assert.match(err.message, /allowed-locations/);
        const details = err.details as Array<{ policy: string }>;
        assert.ok(details.length > 0 && details.every((d) => typeof d.policy === "string"));
        assert.ok(events.some((e) => e.type === "policy"), "violations are events too, as pulumi preview prints them");
    });

    it("stops the child and answers canceled when the operation is canceled", async () => {
        const ac = new AbortController();
        const started = Date.now();
        setTimeout(() => ac.abort(), 150);
        const err = await rejection(run(engine, "preview", DEV, ac.signal));
        assert.equal(err.code, "canceled");
        assert.ok(Date.now() - started < 5_000, "the run stops at once, without waiting for the program");
    });

    it("destroys from the last update's state, then removes the stack", async () => {
        const destroyed = await run(engine, "destroy", DEV);
        assert.ok(destroyed.steps.length > 0);
        assert.equal(destroyed.ops("delete").length, destroyed.steps.length);
        await engine.removeStack("payments-dev");
        assert.deepEqual(readdirSync(join(dir.path, "offline")).filter((f) => f.startsWith("payments-dev")), []);
    });

    it("refuses a stack name that could leave its state directory", async () => {
        const err = await rejection(engine.run({ operationId: "op-x", kind: "refresh", stackName: "../escape", config: DEV, signal: new AbortController().signal, onEvent: () => {} }));
        assert.match(err.message, /not a valid stack name/);
    });
});
