import { strict as assert } from "node:assert";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type EngineRunRequest } from "../../automation/domain/ports";
import { PulumiEngine } from "../../automation/engine/pulumiEngine";
import { rejection } from "./engineAssertions";

const PASSPHRASE = "engine-test-passphrase";

function request(overrides: Partial<EngineRunRequest> = {}): EngineRunRequest {
    return { operationId: "op-1", kind: "update", stackName: "dev-one", config: { tier: "dev" }, signal: new AbortController().signal, onEvent: () => undefined, ...overrides };
}


/** A stand-in `pulumi` executable under `<root>/bin/`, running the given shell body. */
function fakeCli(root: string, body: string): string {
    const bin = path.join(root, "bin", "pulumi");
    mkdirSync(path.dirname(bin), { recursive: true });
    writeFileSync(bin, `#!/bin/sh\n${body}\n`);
    chmodSync(bin, 0o755);
    return bin;
}

describe("Pulumi engine without a usable CLI", function () {
    let dir: string;
    let emptyPath: string;

    beforeEach(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "kvp-engine-"));
        emptyPath = path.join(dir, "empty-path");
        mkdirSync(emptyPath);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const engineWith = (extra: Partial<ConstructorParameters<typeof PulumiEngine>[0]> = {}) =>
        new PulumiEngine({ dataDir: path.join(dir, "data"), passphrase: PASSPHRASE, envVars: { PATH: emptyPath }, ...extra });

    it("is not ready, and says the CLI is missing and how to install it", async () => {
        const r = await engineWith().readiness();
        assert.equal(r.ok, false);
        const cli = r.checks.find((c) => c.name === "pulumi-cli");
        assert.equal(cli?.ok, false);
        assert.match(cli!.detail, /Pulumi CLI not found on PATH/);
        assert.match(cli!.detail, /curl -fsSL https:\/\/get\.pulumi\.com \| sh/);
        assert.match(cli!.detail, /restart the server/);
    });

    it("still reports its directories as usable, so the CLI is the only failing check", async () => {
        const r = await engineWith().readiness();
        assert.deepEqual(r.checks.filter((c) => !c.ok).map((c) => c.name), ["pulumi-cli"]);
    });

    it("fails every run fast with cli_missing", async () => {
        const engine = engineWith();
        for (const kind of ["update", "preview", "refresh", "destroy"] as const) {
            const started = Date.now();
            const e = await rejection(engine.run(request({ kind })));
            assert.deepEqual([e.code, e.retryable], ["cli_missing", false]);
            assert.ok(Date.now() - started < 1_000, `${kind} took ${Date.now() - started} ms`);
        }
    });

    it("fails recovery and removal with cli_missing too", async () => {
        const engine = engineWith();
        assert.equal((await rejection(engine.recoverStack("dev-one"))).code, "cli_missing");
        assert.equal((await rejection(engine.removeStack("dev-one"))).code, "cli_missing");
    });

    it("names a configured CLI path that does not exist", async () => {
        const r = await engineWith({ pulumiCommand: path.join(dir, "nowhere", "pulumi") }).readiness();
        assert.equal(r.ok, false);
        assert.match(r.checks[0].detail, /nowhere/);
    });

    it("gives up on a CLI that never answers within the probe timeout", async () => {
        // Absolute path: the PATH given to the engine holds nothing but the fake CLI.
        fakeCli(dir, `exec "${process.execPath}" -e "setTimeout(() => {}, 30000)"`);
        const engine = engineWith({ envVars: { PATH: path.join(dir, "bin") }, probeTimeoutMs: 300 });
        const started = Date.now();
        const r = await engine.readiness();
        assert.equal(r.ok, false);
        assert.match(r.checks[0].detail, /not usable/);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 250 && elapsed < 5_000, `probe took ${elapsed} ms`);
        assert.equal((await rejection(engine.run(request()))).code, "cli_missing");
    });

    it("finds a CLI on the configured PATH and reports its version", async () => {
        const bin = fakeCli(dir, 'echo "v3.300.0"');
        const r = await engineWith({ envVars: { PATH: path.join(dir, "bin") } }).readiness();
        assert.equal(r.ok, true, JSON.stringify(r.checks));
        assert.equal(r.checks[0].detail, `v3.300.0 at ${bin}`);
    });

    it("accepts an install root as the configured CLI", async () => {
        fakeCli(dir, 'echo "v3.300.0"');
        const r = await engineWith({ pulumiCommand: dir }).readiness();
        assert.equal(r.checks[0].ok, true);
    });

    it("refuses a stack name that is not a safe directory name", async () => {
        fakeCli(dir, 'echo "v3.300.0"');
        const engine = engineWith({ envVars: { PATH: path.join(dir, "bin") } });
        const e = await rejection(engine.run(request({ stackName: "../escape" })));
        assert.equal(e.code, "failed");
        assert.match(e.message, /not a valid stack name/);
    });

    it("reports canceled without running anything when the signal already fired", async () => {
        fakeCli(dir, 'echo "v3.300.0"');
        const c = new AbortController();
        c.abort();
        const e = await rejection(engineWith({ envVars: { PATH: path.join(dir, "bin") } }).run(request({ signal: c.signal })));
        assert.equal(e.code, "canceled");
    });

    it("requires a passphrase for the passphrase provider and a Key Vault key URL otherwise", () => {
        assert.throws(() => new PulumiEngine({ dataDir: dir }), /passphrase/);
        assert.throws(() => new PulumiEngine({ dataDir: dir, secretsProvider: "awskms://alias/x" }), /azurekeyvault/);
        assert.doesNotThrow(() => new PulumiEngine({ dataDir: dir, secretsProvider: "azurekeyvault://kv-ops.vault.azure.net/keys/pulumi" }));
    });
});
