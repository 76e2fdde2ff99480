import Test from "supertest/lib/test";
import { checked, contractDrift } from "./contract";

/**
 * A mocha root hook (loaded with --require, see .mocharc.json): every answer a test receives
 * through supertest is checked against the server's OpenAPI document before the test sees it,
 * and an answer that drifts from the contract fails the test that made the request. The run
 * ends with how many answers, and how many route/status pairs, were checked.
 */

type Assert = (this: Test, resError: Error | null, res: Response | undefined, fn: (err: Error | null, res?: Response) => void) => void;
interface Response { status: number; headers: Record<string, string>; body: unknown; text?: string; req: { method: string; path: string } }

const proto = Test.prototype as unknown as { assert: Assert };
const original = proto.assert;
proto.assert = function (resError, res, fn) {
    // The server stamps every answer with X-Request-Id before anything else; answers without it come
    // from the small stand-alone apps some tests build around one helper, which have no contract.
    const drift = res?.req && res.headers["x-request-id"] ? contractDrift({ method: res.req.method, path: res.req.path, status: res.status, headers: res.headers, body: res.body }) : undefined;
    if (drift) return fn.call(this, new Error(`The answer breaks the OpenAPI contract: ${drift}`), res);
    return original.call(this, resError, res, fn);
};

export const mochaHooks = {
    afterAll() {
        if (checked.answers === 0) return;
        console.log(`\n  OpenAPI contract: ${checked.answers} answers validated against /openapi.json, ${checked.pairs.size} route/status pairs (${checked.undocumented} to undocumented routes, checked as problems)`);
    },
};
