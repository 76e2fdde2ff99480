import { strict as assert } from "node:assert";
import request from "supertest";
import { z } from "zod";
import { ENVIRONMENT_STATUSES } from "../../automation/domain/ports";
import { EnvironmentSpecSchema } from "../../automation/domain/spec";
import { bearer, startHarness, TOKENS, type Harness } from "./httpHarness";

/** Every route the issue asks for, as OpenAPI method + path. */
const REQUIRED = [
    "put /v1/environments/{name}", "get /v1/environments", "get /v1/environments/{name}",
    "post /v1/environments/{name}/preview", "post /v1/environments/{name}/refresh", "delete /v1/environments/{name}",
    "get /v1/operations/{id}", "get /v1/operations/{id}/events", "get /v1/operations/{id}/plan", "post /v1/operations/{id}/cancel", "get /v1/audit",
    "get /v1/whoami", "get /v1/environments/{name}/operations", "post /v1/environments/{name}/dry-run",
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
        await request(h.app).put("/v1/environments/example-env").set(bearer(TOKENS.operatorA)).send(example as object).expect(202);
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
