import { strict as assert } from "node:assert";
import { contractDrift, type Answer } from "./contract";

/** The contract check itself must catch drift, or every test that relies on it passes for nothing. */

const LIMITED = { ratelimit: "\"600-in-1min\"; r=599; t=60", "ratelimit-policy": "\"600-in-1min\"; q=600; w=60; pk=:abc:" };
const OPERATION = {
    id: "op-1", environment: "payments-dev", team: "payments", kind: "update", state: "queued", requestedBy: "token:x",
    attempt: 0, maxAttempts: 3, createdAt: "2030-01-01T00:00:00.000Z", cancelRequested: false,
};
const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

function answer(overrides: Partial<Answer>): Answer {
    return { method: "GET", path: "/v1/operations/op-1", status: 200, headers: { ...LIMITED, ...JSON_TYPE }, body: OPERATION, ...overrides };
}

describe("OpenAPI contract check", () => {
    it("passes an answer that keeps to the document", () => {
        assert.equal(contractDrift(answer({})), undefined);
    });

    it("reports an undeclared status", () => {
        assert.match(contractDrift(answer({ status: 418 })) ?? "", /status 418 is not declared/);
    });

    it("reports a property the schema does not allow, and a missing required one", () => {
        assert.match(contractDrift(answer({ body: { ...OPERATION, extra: 1 } })) ?? "", /additional/);
        const { state: _state, ...noState } = OPERATION;
        assert.match(contractDrift(answer({ body: noState })) ?? "", /state/);
    });

    it("reports a missing required header and a header value its schema refuses", () => {
        assert.match(contractDrift(answer({ headers: { ...JSON_TYPE } })) ?? "", /required header RateLimit is missing/);
        const problem = { type: "urn:x", title: "t", status: 429 };
        const throttled = { status: 429, body: problem, headers: { ...LIMITED, "content-type": "application/problem+json" } };
        assert.match(contractDrift(answer(throttled)) ?? "", /Retry-After is missing/);
        assert.match(contractDrift(answer({ ...throttled, headers: { ...throttled.headers, "retry-after": "soon" } })) ?? "", /Retry-After/);
        assert.equal(contractDrift(answer({ ...throttled, headers: { ...throttled.headers, "retry-after": "60" } })), undefined);
    });

    it("reports a media type the status does not declare, and a body where none is declared", () => {
        assert.match(contractDrift(answer({ headers: { ...LIMITED, "content-type": "text/plain" }, body: "x" })) ?? "", /sent text\/plain/);
        assert.equal(contractDrift(answer({ path: "/v1/operations/op-1/events", status: 204, headers: { ...LIMITED } })), undefined);
        assert.match(contractDrift(answer({ path: "/v1/operations/op-1/events", status: 204, headers: { ...LIMITED, ...JSON_TYPE }, body: {} })) ?? "", /declared without a body/);
    });

    it("checks answers to routes the document does not list as problems", () => {
        const problem = { type: "urn:x", title: "Not found", status: 404 };
        assert.equal(contractDrift({ method: "GET", path: "/nowhere", status: 404, headers: { "content-type": "application/problem+json" }, body: problem }), undefined);
        assert.match(contractDrift({ method: "GET", path: "/nowhere", status: 404, headers: { "content-type": "text/html" }, body: "<p>" }) ?? "", /text\/html/);
        assert.match(contractDrift({ method: "GET", path: "/nowhere", status: 404, headers: { "content-type": "application/problem+json" }, body: { title: 1 } }) ?? "", /body does not match/);
    });
});
