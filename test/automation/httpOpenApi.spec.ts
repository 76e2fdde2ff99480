import { strict as assert } from "node:assert";
import request from "supertest";
import { z } from "zod";
import { ENVIRONMENT_STATUSES } from "../../automation/domain/ports";
import { EnvironmentSpecSchema } from "../../automation/domain/spec";
import { apiDocument } from "../../automation/http/routes";
import { bearer, startHarness, TOKENS, type Harness } from "./httpHarness";

/** Every route the issue asks for, as OpenAPI method + path. */
const REQUIRED = [
    "put /v1/environments/{name}", "get /v1/environments", "get /v1/environments/{name}",
    "post /v1/environments/{name}/preview", "post /v1/environments/{name}/refresh", "delete /v1/environments/{name}",
    "get /v1/operations/{id}", "get /v1/operations/{id}/events", "get /v1/operations/{id}/plan", "post /v1/operations/{id}/cancel", "get /v1/audit",
    "get /v1/whoami", "get /v1/environments/{name}/operations",
    "get /healthz", "get /readyz", "get /metrics", "get /openapi.json", "get /docs",
];

type Doc = {
    openapi: string;
    paths: Record<string, Record<string, {
        security: unknown[];
        parameters: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
        requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
        responses: Record<string, unknown>;
    }>>;
    components: { schemas: Record<string, unknown> };
};

describe("OpenAPI document", () => {
    let h: Harness;
    let doc: Doc;
    before(async () => {
        h = await startHarness();
        const res = await request(h.app).get("/openapi.json").expect(200);
        doc = res.body;
    });
    after(() => h.close());

    it("is OpenAPI 3.1 and lists every route", () => {
        assert.equal(doc.openapi, "3.1.0");
        const listed = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m} ${p}`));
        assert.deepEqual([...listed].sort(), [...REQUIRED].sort());
    });

    it("documents the PUT body with the very schema that validates it", () => {
        const put = doc.paths["/v1/environments/{name}"].put;
        const documented = put.requestBody?.content["application/json"].schema;
        const { $schema: _ignored, ...expected } = z.toJSONSchema(EnvironmentSpecSchema, { io: "input" }) as Record<string, unknown>;
        assert.deepEqual(documented, expected);
        assert.deepEqual((documented as { required: string[] }).required.sort(), ["location", "team", "tier"]);
    });

    it("documents query parameters from the query schemas, with their enums and patterns", () => {
        const params = doc.paths["/v1/environments"].get.parameters;
        assert.deepEqual(params.map((p) => `${p.in}:${p.name}`).sort(), ["query:cursor", "query:limit", "query:status", "query:team"]);
        assert.deepEqual(params.find((p) => p.name === "status")?.schema.enum, [...ENVIRONMENT_STATUSES]);
        const name = doc.paths["/v1/environments/{name}"].get.parameters.find((p) => p.name === "name");
        assert.equal(name?.in, "path");
        assert.ok(name?.required);
        assert.ok(typeof name?.schema.pattern === "string");
        const events = doc.paths["/v1/operations/{id}/events"].get.parameters.map((p) => `${p.in}:${p.name}`);
        assert.ok(events.includes("header:Last-Event-ID") && events.includes("query:after"), events.join());
    });

    it("marks /v1 routes as needing a bearer token and the probes as open", () => {
        assert.deepEqual(doc.paths["/v1/audit"].get.security, [{ bearer: [] }]);
        assert.deepEqual(doc.paths["/healthz"].get.security, []);
        assert.ok(doc.paths["/v1/audit"].get.responses["401"] && doc.paths["/v1/audit"].get.responses["403"]);
    });

    it("serves the same document the spec lint and the contract check read", async () => {
        const served = (await request(h.app).get("/openapi.json").expect(200)).body;
        assert.deepEqual(served, JSON.parse(JSON.stringify(apiDocument())));
    });

    it("types paging and resume parameters as integers, and principal ids as uuids with bounds", () => {
        const param = (path: string, name: string) => doc.paths[path].get.parameters.find((p) => p.name === name)?.schema;
        assert.deepEqual(param("/v1/environments", "limit"), { type: "integer", format: "int64", minimum: 1, maximum: 100, example: 20 });
        assert.equal(param("/v1/operations/{id}/events", "after")?.type, "integer");
        assert.equal(param("/v1/operations/{id}/events", "Last-Event-ID")?.type, "integer");
        const body = doc.paths["/v1/environments/{name}"].put.requestBody?.content["application/json"].schema as any;
        const principalId = body.properties.access.items.properties.principalId;
        assert.equal(principalId.format, "uuid");
        assert.equal(principalId.maxLength, 36);
        assert.equal(body.properties.access.maxItems, 100);
        assert.equal(body.properties.location.maxLength, 40);
        assert.equal(body.properties.network.properties.allowedIpRanges.items.maxLength, 43);
    });

    it("declares every error status with a problem+json body, and the headers each carries", () => {
        const put = doc.paths["/v1/environments/{name}"].put.responses as Record<string, any>;
        for (const status of ["400", "401", "403", "409", "412", "413", "415", "422", "429", "500", "503"]) {
            assert.deepEqual(put[status]?.content, { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } }, status);
            assert.ok(put[status].headers.RateLimit && put[status].headers["RateLimit-Policy"], `${status} carries the rate limit headers`);
        }
        assert.ok(put["429"].headers["Retry-After"] && put["503"].headers["Retry-After"] && put["401"].headers["WWW-Authenticate"]);
        assert.ok(put["202"].headers.Location.required && !put["202"].headers["Idempotent-Replayed"].required);
        assert.equal(put["202"].content["application/json"].schema.properties.environment.$ref, "#/components/schemas/EnvironmentDetail");
        assert.equal(doc.paths["/openapi.json"].get.responses["200"] && (doc.paths["/openapi.json"].get.responses["200"] as any).content["application/json"].schema.type, "object");
        assert.ok((doc.paths["/v1/operations/{id}/events"].get.responses as Record<string, any>)["204"], "the end-of-stream 204 is declared");
    });

    it("resolves every $ref to a component", () => {
        const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
        assert.ok(refs.length > 0);
        for (const ref of refs) {
            const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1];
            assert.ok(name && doc.components.schemas[name], `dangling ${ref}`);
        }
    });

    it("carries an example spec that the server accepts", async () => {
        const example = (doc.paths["/v1/environments/{name}"].put.requestBody?.content["application/json"].schema as { example: unknown }).example;
        assert.ok(example, "the spec schema has an example");
        await request(h.app).put("/v1/environments/payments-example").set(bearer(TOKENS.operatorA)).send(example as object).expect(202);
    });

    it("renders /docs as a self-contained page listing every operation", async () => {
        const res = await request(h.app).get("/docs").expect(200);
        assert.match(res.headers["content-type"], /text\/html/);
        assert.ok(!/<script|src="http|href="http/i.test(res.text), "no script and no remote assets");
        for (const r of REQUIRED) {
            const [method, path] = r.split(" ");
            assert.ok(res.text.includes(`${method.toUpperCase()}</span> <code>${path}</code>`), `docs page misses ${r}`);
        }
    });
});
