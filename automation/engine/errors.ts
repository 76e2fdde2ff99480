import { EngineError } from "../domain/ports";

/**
 * The one place where Automation API failures become typed domain errors.
 *
 * A CommandError's message is the CLI's whole stdout and stderr; it may name
 * subscription ids, file paths or provider payloads, so it is only ever
 * pattern-matched here and logged at debug level by the caller. Messages built
 * below are fixed text plus values we control (config problems, policy names).
 */

export const CLI_INSTALL_HINT = "install it: curl -fsSL https://get.pulumi.com | sh (or see https://www.pulumi.com/docs/install/), then restart the server";
export const CLI_MISSING_MESSAGE = `Pulumi CLI not found on PATH; ${CLI_INSTALL_HINT}`;

/** A mandatory policy violation, as reported by a policy event. */
export interface PolicyViolation {
    policy: string;
    pack: string;
    message: string;
    urn?: string;
}

/** What the run observed besides the thrown error. */
export interface FailureContext {
    /** The request's signal; when it fired, the failure is the cancel, whatever the CLI said. */
    signal?: AbortSignal;
    /** Mandatory policy violations seen in the event stream. */
    violations?: PolicyViolation[];
    /** Error diagnostics seen in the event stream (already masked), newest last. */
    diagnostics?: string[];
}

const THROTTLED = /\b429\b|TooManyRequests|Too Many Requests|SubscriptionRequestsThrottled|\bthrottl/i;
const POLICY_TEXT = /\[mandatory\]|mandatory policy violation|policy violations? (were )?(found|detected)/i;
const CONFIG_TEXT = /Invalid stack configuration/;
const CONFIG_PROBLEM_LINE = /^\s*-\s+(keyvault-platform:\S+?):\s+(.+)$/;
const CLI_NOT_FOUND = /Command failed with ENOENT|spawn \S*pulumi\S* ENOENT|Failed to get Pulumi CLI/i;
const BAD_PASSPHRASE = /incorrect passphrase|passphrase must be set|PULUMI_CONFIG_PASSPHRASE/i;
const SECRETS_PROVIDER = /secrets manager|azurekeyvault|failed to (decrypt|encrypt)/i;
const MAX_DIAGNOSTIC_CHARS = 300;

/** Error class names survive bundling and instanceof across duplicate SDK copies; names are what we match. */
function errorName(err: unknown): string {
    return err instanceof Error ? err.name : "";
}

function errorText(err: unknown): string {
    if (err instanceof Error) return err.message;
    return typeof err === "string" ? err : "";
}

export function canceledError(signal?: AbortSignal): EngineError {
    const reason: unknown = signal?.reason;
    if (reason instanceof EngineError) return reason;
    if (errorName(reason) === "TimeoutError") {
        return new EngineError("timeout", "The operation ran past its time limit and was stopped.", false);
    }
    return new EngineError("canceled", "The operation was canceled.", false);
}

/** Pulls `keyvault-platform:<key>: <message>` lines out of the program's RunError, which names only config keys and values the caller supplied. */
export function configProblems(text: string): Array<{ key: string; message: string }> {
    return text.split(/\r?\n/).flatMap((line) => {
        const m = CONFIG_PROBLEM_LINE.exec(line);
        return m ? [{ key: m[1], message: m[2].trim() }] : [];
    });
}

function lastDiagnostic(ctx: FailureContext): string | undefined {
    const d = ctx.diagnostics?.[ctx.diagnostics.length - 1];
    if (!d) return undefined;
    return d.length > MAX_DIAGNOSTIC_CHARS ? `${d.slice(0, MAX_DIAGNOSTIC_CHARS)}...` : d;
}

/**
 * Maps anything thrown by an engine run to an EngineError. Order matters: a
 * cancel explains every later symptom, and a policy failure is reported as such
 * even though the CLI also exits non-zero.
 */
export function toEngineError(err: unknown, ctx: FailureContext = {}): EngineError {
    if (err instanceof EngineError) return err;
    if (ctx.signal?.aborted || errorName(err) === "AbortError") return canceledError(ctx.signal);

    const name = errorName(err);
    const text = errorText(err);
    const violations = ctx.violations ?? [];

    if (violations.length > 0) {
        return new EngineError("policy_violation", `${violations.length} mandatory policy violation(s): ${violations.map((v) => v.policy).join(", ")}.`, false, violations);
    }
    if (name === "ConcurrentUpdateError") {
        return new EngineError("concurrent_update", "Another update holds the stack's lock; it will be retried.", true);
    }
    if (name === "StackNotFoundError") {
        return new EngineError("stack_not_found", "The stack does not exist in the state backend.", false);
    }
    if (CONFIG_TEXT.test(text)) {
        const problems = configProblems(text);
        return new EngineError("config_invalid", "Invalid stack configuration.", false, problems.length ? problems : undefined);
    }
    if (POLICY_TEXT.test(text)) {
        return new EngineError("policy_violation", "A mandatory policy rejected the change.", false);
    }
    if (THROTTLED.test(text)) {
        return new EngineError("throttled", "Azure Resource Manager throttled the requests (HTTP 429); it will be retried.", true);
    }
    if (CLI_NOT_FOUND.test(text)) {
        return new EngineError("cli_missing", CLI_MISSING_MESSAGE, false);
    }
    if (BAD_PASSPHRASE.test(text)) {
        return new EngineError("failed", "The stack's secrets could not be decrypted: the server's passphrase does not match the one the stack was created with.", false);
    }
    if (SECRETS_PROVIDER.test(text)) {
        return new EngineError("failed", "The stack's secrets provider could not be used; check the server's secrets provider settings and its Key Vault access.", false);
    }
    const diagnostic = lastDiagnostic(ctx);
    return new EngineError("failed", "The Pulumi operation failed; see the operation's events for the engine's diagnostics.", false, diagnostic ? { diagnostic } : undefined);
}
