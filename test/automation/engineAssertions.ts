import { strict as assert } from "node:assert";
import { EngineError } from "../../automation/domain/ports";

/** Awaits a promise that must reject with an EngineError, and returns that error for further asserts. */
export async function rejection(p: Promise<unknown>): Promise<EngineError> {
    try {
        await p;
    } catch (e) {
        assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
        return e;
    }
    assert.fail("expected a rejection");
}
