import { strict as assert } from "node:assert";
import { mayRetry, recoveryDecision, statusAfter, statusAfterQueuedCancel, statusWhileRunning } from "../../automation/domain/lifecycle";
import { backoffMs, DEFAULT_OPERATION_SETTINGS, resolveOperationSettings } from "../../automation/domain/operationSettings";
import { EnvironmentStatus, OPERATION_STATES, OperationState, TERMINAL_STATES } from "../../automation/domain/ports";
import { assertTransition, canTransition, IllegalTransitionError } from "../../automation/domain/stateMachine";

const ALLOWED: Array<[OperationState, OperationState]> = [
    ["queued", "running"],
    ["queued", "canceled"],
    ["running", "succeeded"],
    ["running", "failed"],
    ["running", "canceled"],
    ["running", "interrupted"],
    ["running", "queued"],
    ["interrupted", "queued"],
    ["interrupted", "failed"],
    ["interrupted", "canceled"],
];

describe("operation state machine", () => {
    for (const from of OPERATION_STATES) {
        for (const to of OPERATION_STATES) {
            const allowed = ALLOWED.some(([f, t]) => f === from && t === to);
            it(`${allowed ? "allows" : "refuses"} ${from} → ${to}`, () => {
                assert.equal(canTransition(from, to), allowed);
                if (allowed) assert.doesNotThrow(() => assertTransition(from, to));
                else assert.throws(() => assertTransition(from, to), (e: unknown) => e instanceof IllegalTransitionError && e.message.includes(`from ${from} to ${to}`));
            });
        }
    }

    it("lets nothing leave a terminal state", () => {
        for (const terminal of TERMINAL_STATES) {
            assert.ok(OPERATION_STATES.every((to) => !canTransition(terminal, to)), `${terminal} should be terminal`);
        }
    });
});

describe("environment status rules", () => {
    const table: Array<[Parameters<typeof statusAfter>[0], OperationState, string | undefined]> = [
        ["update", "succeeded", "ready"],
        ["update", "failed", "failed"],
        ["update", "canceled", "failed"],
        ["destroy", "succeeded", "destroyed"],
        ["destroy", "failed", "failed"],
        ["preview", "succeeded", undefined],
        ["preview", "failed", undefined],
        ["refresh", "succeeded", undefined],
        ["update", "interrupted", undefined],
    ];
    for (const [kind, state, expected] of table) {
        it(`a ${kind} ending ${state} leaves the environment ${expected ?? "unchanged"}`, () => {
            assert.equal(statusAfter(kind, state), expected);
        });
    }

    const canceledQueued: Array<[Parameters<typeof statusAfterQueuedCancel>[0], EnvironmentStatus, number, string | undefined]> = [
        ["update", "pending", 0, "destroyed"],
        ["update", "pending", 1, undefined],
        ["update", "ready", 0, undefined],
        ["update", "failed", 0, undefined],
        ["preview", "pending", 0, undefined],
        ["destroy", "ready", 0, undefined],
    ];
    for (const [kind, status, otherUpdates, expected] of canceledQueued) {
        it(`canceling a queued ${kind} of a ${status} environment with ${otherUpdates} other update(s) leaves it ${expected ?? "unchanged"}`, () => {
            assert.equal(statusAfterQueuedCancel(kind, status, otherUpdates), expected);
        });
    }

    it("marks only updates and destroys while they run", () => {
        assert.equal(statusWhileRunning("update"), "provisioning");
        assert.equal(statusWhileRunning("destroy"), "destroying");
        assert.equal(statusWhileRunning("preview"), undefined);
        assert.equal(statusWhileRunning("refresh"), undefined);
    });
});

describe("crash recovery policy", () => {
    it("retries an interrupted update, preview or refresh while attempts remain", () => {
        for (const kind of ["update", "preview", "refresh"] as const) {
            assert.deepEqual(recoveryDecision({ kind, attempt: 1, maxAttempts: 3 }), { action: "retry" });
        }
    });

    it("fails an interrupted operation on its last attempt", () => {
        const d = recoveryDecision({ kind: "update", attempt: 3, maxAttempts: 3 });
        assert.equal(d.action, "fail");
    });

    it("never repeats an interrupted destroy on its own", () => {
        const d = recoveryDecision({ kind: "destroy", attempt: 1, maxAttempts: 3 });
        assert.equal(d.action, "fail");
        assert.match(d.action === "fail" ? d.message : "", /DELETE again/);
    });

    it("allows a retry only below both the operation's and the setting's attempt limit", () => {
        assert.equal(mayRetry({ attempt: 1, maxAttempts: 3 }, { maxAttempts: 3 }), true);
        assert.equal(mayRetry({ attempt: 3, maxAttempts: 3 }, { maxAttempts: 3 }), false);
        assert.equal(mayRetry({ attempt: 2, maxAttempts: 5 }, { maxAttempts: 2 }), false);
    });
});

describe("operation settings", () => {
    it("doubles the backoff ceiling each attempt, with full jitter, up to the maximum", () => {
        const s = { backoffBaseMs: 100, backoffMaxMs: 1_000 };
        assert.equal(backoffMs(1, s, () => 1), 100);
        assert.equal(backoffMs(2, s, () => 1), 200);
        assert.equal(backoffMs(3, s, () => 0.5), 200);
        assert.equal(backoffMs(10, s, () => 1), 1_000);
        assert.equal(backoffMs(4, s, () => 0), 0);
    });

    it("fills defaults and refuses a heartbeat too close to the lease", () => {
        assert.deepEqual(resolveOperationSettings(), DEFAULT_OPERATION_SETTINGS);
        assert.equal(resolveOperationSettings({ maxConcurrent: 2 }).maxConcurrent, 2);
        assert.throws(() => resolveOperationSettings({ leaseMs: 1_000, heartbeatMs: 900 }), /heartbeatMs/);
        assert.throws(() => resolveOperationSettings({ maxConcurrent: 0 }), /maxConcurrent/);
        assert.throws(() => resolveOperationSettings({ maxAttempts: 1.5 }), /whole numbers/);
        assert.throws(() => resolveOperationSettings({ backoffBaseMs: 10, backoffMaxMs: 5 }), /backoffBaseMs/);
    });
});
