import { strict as assert } from "node:assert";
import * as automationErrors from "@pulumi/pulumi/automation/errors";
import { parseStackConfig, StackConfigError } from "../../config/schema";
import { EngineError } from "../../automation/domain/ports";
import { CLI_MISSING_MESSAGE, toEngineError, type FailureContext, type PolicyViolation } from "../../automation/engine/errors";

/** Raw CLI text that must never reach a client: every mapped message is checked for it. */
const RAW = "RAW-CLI-TEXT-subscriptions/00000000-0000-0000-0000-000000000000";

/** The SDK's own classifier, so these errors are built exactly as the Automation API builds them from CLI output. */
const createCommandError = (automationErrors as unknown as {
    createCommandError(r: { stdout: string; stderr: string; code: number; toString(): string }): Error;
}).createCommandError;

function cliFailure(stderr: string): Error {
    const full = `${stderr}\n${RAW}`;
    return createCommandError({ stdout: "", stderr: full, code: 255, toString: () => `code: 255\n stdout: \n stderr: ${full}\n` });
}

function aborted(reason?: unknown): AbortSignal {
    const c = new AbortController();
    c.abort(reason);
    return c.signal;
}

const violation: PolicyViolation = { policy: "vault-purge-protection", pack: "keyvault-platform", message: "purge protection must be on in prod", urn: "urn:pulumi:prod::keyvault-platform::azure-native:keyvault:Vault::kv" };

function configRunError(): Error {
    try {
        parseStackConfig({ tier: "qa", purgeProtecton: true });
    } catch (e) {
        assert.ok(e instanceof StackConfigError);
        // What the program's loadStackConfig throws, as the CLI reports it.
        return cliFailure(`error: Program failed with an unhandled exception:\nRunError: ${e.message}`);
    }
    throw new Error("the fixture config was expected to be invalid");
}

interface Row {
    name: string;
    err: unknown;
    ctx?: FailureContext;
    code: EngineError["code"];
    retryable: boolean;
}

const rows: Row[] = [
    { name: "a Pulumi Cloud 409 conflict is a retryable concurrent update", err: cliFailure("error: [409] Conflict: Another update is currently in progress."), code: "concurrent_update", retryable: true },
    { name: "a DIY-backend lock is a retryable concurrent update", err: cliFailure("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file"), code: "concurrent_update", retryable: true },
    { name: "a missing stack is stack_not_found", err: cliFailure("error: no stack named 'dev' found"), code: "stack_not_found", retryable: false },
    { name: "ARM HTTP 429 is retryable throttling", err: cliFailure('error: azure-native:keyvault:Vault resource "kv" failed: Status=429 Code="TooManyRequests"'), code: "throttled", retryable: true },
    { name: "a throttled subscription is retryable throttling", err: cliFailure("error: Code=\"SubscriptionRequestsThrottled\" Message=\"Number of write requests exceeded\""), code: "throttled", retryable: true },
    { name: "mandatory policy events make a policy violation", err: cliFailure("error: update failed"), ctx: { violations: [violation] }, code: "policy_violation", retryable: false },
    { name: "the CLI's policy failure text alone makes a policy violation", err: cliFailure("Policy Violations:\n    [mandatory]  keyvault-platform v0.1.0  vault-purge-protection (kv)"), code: "policy_violation", retryable: false },
    { name: "the program's invalid-config RunError is config_invalid", err: configRunError(), code: "config_invalid", retryable: false },
    { name: "a CLI that cannot be spawned is cli_missing", err: cliFailure("Command failed with ENOENT: pulumi up --yes\nspawn pulumi ENOENT"), code: "cli_missing", retryable: false },
    { name: "a wrong passphrase is a plain failure", err: cliFailure("error: constructing secrets manager of type \"passphrase\": incorrect passphrase"), code: "failed", retryable: false },
    { name: "an unknown CLI error is a plain failure", err: cliFailure("error: something unexpected"), code: "failed", retryable: false },
    { name: "a non-Error throw is a plain failure", err: 42, code: "failed", retryable: false },
    { name: "an abort explains the failure even when the CLI reports a conflict", err: cliFailure("error: [409] Conflict: Another update is currently in progress."), ctx: { signal: aborted() }, code: "canceled", retryable: false },
    { name: "an abort for a time limit is a timeout", err: cliFailure("error: update canceled"), ctx: { signal: aborted(new DOMException("time limit", "TimeoutError")) }, code: "timeout", retryable: false },
    { name: "an AbortError without a signal is a cancel", err: Object.assign(new Error("aborted"), { name: "AbortError" }), code: "canceled", retryable: false },
];

describe("engine error mapping", () => {
    for (const row of rows) {
        it(`maps: ${row.name}`, () => {
            const mapped = toEngineError(row.err, row.ctx);
            assert.ok(mapped instanceof EngineError);
            assert.equal(mapped.code, row.code);
            assert.equal(mapped.retryable, row.retryable);
            assert.ok(!mapped.message.includes(RAW), `message leaks raw CLI text: ${mapped.message}`);
            assert.ok(!JSON.stringify(mapped.details ?? null).includes(RAW), "details leak raw CLI text");
        });
    }

    it("returns an EngineError unchanged", () => {
        const original = new EngineError("throttled", "slow down", true);
        assert.equal(toEngineError(original), original);
    });

    it("returns the EngineError an abort carried as its reason", () => {
        const reason = new EngineError("timeout", "idle for too long", false);
        assert.equal(toEngineError(cliFailure("error: canceled"), { signal: aborted(reason) }), reason);
    });

    it("puts every mandatory violation in the details", () => {
        const second = { ...violation, policy: "vault-public-network", urn: undefined };
        const mapped = toEngineError(cliFailure("error: preview failed"), { violations: [violation, second] });
        assert.deepEqual(mapped.details, [violation, second]);
        assert.match(mapped.message, /vault-purge-protection, vault-public-network/);
    });

    it("names each bad config key from the program's RunError", () => {
        const mapped = toEngineError(configRunError());
        const keys = (mapped.details as Array<{ key: string }>).map((d) => d.key).sort();
        assert.deepEqual(keys, ["keyvault-platform:purgeProtecton", "keyvault-platform:tier"]);
    });

    it("tells how to install the CLI when it cannot be spawned", () => {
        const mapped = toEngineError(cliFailure("spawn /usr/local/bin/pulumi ENOENT"));
        assert.equal(mapped.message, CLI_MISSING_MESSAGE);
        assert.match(mapped.message, /get\.pulumi\.com/);
    });

    it("offers the last error diagnostic (already masked) on a plain failure, not the CLI text", () => {
        const mapped = toEngineError(cliFailure("error: update failed"), { diagnostics: ["first", "x".repeat(400)] });
        const detail = (mapped.details as { diagnostic: string }).diagnostic;
        assert.ok(detail.startsWith("xxx"));
        assert.ok(detail.length <= 303, "long diagnostics are cut short");
    });
});
