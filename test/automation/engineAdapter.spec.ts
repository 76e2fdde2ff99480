import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { rawStackConfig } from "../../config/load";
import type { StackConfigInput } from "../../config/schema";
import { type EngineEvent, type EngineRunRequest, type OperationKind } from "../../automation/domain/ports";
import { locateCli } from "../../automation/engine/cli";
import { PulumiEngine } from "../../automation/engine/pulumiEngine";
import { rejection } from "./engineAssertions";
import { skipBecause } from "../skip";

/**
 * The adapter against the real `pulumi` CLI and a local file backend. The
 * program needs no provider plugin: one component resource and stack outputs,
 * two of them secret. Without the CLI on PATH the whole suite is skipped, and
 * says so; mocha reports the tests as pending, never as passing.
 */

const TOKEN = "adapter-test-top-level-secret";
const NESTED = "adapter-test-nested-secret";
const STACK = "adapter-dev";

class Marker extends pulumi.ComponentResource {
    constructor(name: string) {
        super("kvptest:index:Marker", name, {}, {});
        this.registerOutputs({});
    }
}

/** While set, the program waits on it after registering its resource, so a test can act mid-run. */
let hold: Promise<void> | undefined;
/** Set when a program reaches `hold`: the CLI holds the stack's lock from before the program starts. */
let programWaiting = false;

const program = async () => {
    new Marker("marker");
    if (hold) {
        programWaiting = true;
        await hold;
    }
    const raw = rawStackConfig();
    return {
        environment: raw.environment,
        configKeys: Object.keys(raw).sort(),
        plain: "hello",
        token: pulumi.secret(TOKEN),
        nested: { label: "n", value: pulumi.secret(NESTED) },
    };
};

function request(kind: OperationKind, config: StackConfigInput = { tier: "dev" }, signal = new AbortController().signal): EngineRunRequest & { events: EngineEvent[] } {
    const events: EngineEvent[] = [];
    return { operationId: `adapter-${kind}`, kind, stackName: STACK, config, signal, onEvent: (e) => events.push(e), events };
}


async function until(check: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

const markerStarted = (events: EngineEvent[]) => events.some((e) => e.type === "resource-pre" && (e.data as { type: string }).type === "kvptest:index:Marker");

describe("Pulumi engine adapter against the real CLI (local file backend)", function () {
    this.timeout(180_000);
    let dir: string;
    let engine: PulumiEngine;

    before(async function () {
        if (!(await locateCli(undefined, process.env.PATH))) {
            skipBecause(this, "the pulumi CLI is not on PATH, and these tests drive the real CLI", "install it (https://www.pulumi.com/docs/install/), then npm run test:unit");
        }
        dir = mkdtempSync(path.join(os.tmpdir(), "kvp-adapter-"));
        engine = new PulumiEngine({ dataDir: dir, passphrase: "adapter-test-passphrase", program });
    });

    after(() => {
        hold = undefined;
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("is ready with the CLI and a writable file backend", async () => {
        const r = await engine.readiness();
        assert.equal(r.ok, true, JSON.stringify(r.checks));
    });

    it("previews a new stack as creates and streams the planned steps", async () => {
        const req = request("preview");
        const result = await engine.run(req);
        assert.ok((result.summary?.create ?? 0) >= 2, `summary: ${JSON.stringify(result.summary)}`);
        assert.ok(markerStarted(req.events));
        assert.equal(result.outputs, undefined);
    });

    it("updates and returns outputs with every secret masked, nested ones included", async () => {
        const req = request("update");
        const result = await engine.run(req);
        assert.equal(result.outputs?.plain, "hello");
        assert.equal(result.outputs?.environment, "dev");
        assert.equal(result.outputs?.token, "[secret]");
        const everything = JSON.stringify([result, req.events]);
        assert.ok(!everything.includes(TOKEN) && !everything.includes(NESTED), "a secret reached the result or the events");
        assert.ok(req.events.some((e) => e.type === "summary"));
    });

    it("rewrites the stack config from the spec on every run, dropping keys the spec lost", async () => {
        const withTags = await engine.run(request("update", { tier: "dev", tags: { team: "payments" } }));
        assert.deepEqual(withTags.outputs?.configKeys, ["environment", "tags"]);
        const without = await engine.run(request("update", { tier: "staging" }));
        assert.deepEqual(without.outputs?.configKeys, ["environment"]);
        assert.equal(without.outputs?.environment, "staging");
    });

    it("refreshes as a drift check and reports what drifted", async () => {
        const req = request("refresh");
        const result = await engine.run(req);
        assert.ok(result.summary);
        const drift = req.events.find((e) => e.type === "drift");
        assert.deepEqual(drift?.data, { drifted: 0, resources: [] });
    });

    it("maps a second update on a locked stack to a retryable concurrent_update", async () => {
        let release!: () => void;
        hold = new Promise((r) => (release = r));
        programWaiting = false;
        const running = engine.run(request("update"));
        try {
            await until(() => programWaiting, 60_000, "the first update to hold the lock");
            const e = await rejection(engine.run(request("update")));
            assert.deepEqual([e.code, e.retryable], ["concurrent_update", true]);
        } finally {
            release();
            hold = undefined;
        }
        await running;
    });

    it("cancels an update through the AbortSignal, and the stack is usable afterwards", async () => {
        const c = new AbortController();
        hold = new Promise((r) => c.signal.addEventListener("abort", () => r(), { once: true }));
        programWaiting = false;
        const running = engine.run(request("update", { tier: "dev" }, c.signal));
        await until(() => programWaiting, 60_000, "the update to start");
        c.abort();
        const e = await rejection(running);
        assert.equal(e.code, "canceled");
        hold = undefined;

        await engine.recoverStack(STACK);
        const after = await engine.run(request("update"));
        assert.equal(after.outputs?.plain, "hello");
    });

    it("recovers a healthy stack as a no-op", async () => {
        await engine.recoverStack(STACK);
        await engine.recoverStack("never-created");
    });

    it("destroys, then removes the stack and its working directory", async () => {
        const result = await engine.run(request("destroy"));
        assert.ok((result.summary?.delete ?? 0) >= 2, `summary: ${JSON.stringify(result.summary)}`);
        await engine.removeStack(STACK);
        assert.equal(existsSync(path.join(dir, "stacks", STACK)), false);
        assert.equal((await rejection(engine.run(request("refresh")))).code, "stack_not_found");
    });
});
