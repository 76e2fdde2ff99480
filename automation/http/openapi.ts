import { z } from "zod";
import { ProblemSchema } from "./problem";
import type { Route } from "./route";

/**
 * OpenAPI 3.1 from the route table. Every schema comes from the zod schema the
 * route validates with (z.toJSONSchema); named schemas (`.meta({ id })`) are
 * hoisted into components so the document stays readable.
 */

type JsonSchema = Record<string, unknown>;

export interface OpenApiInfo {
    title: string;
    version: string;
    description: string;
}

/** Rewrites zod's local `$defs` references to components and collects the definitions. */
function hoist(schema: JsonSchema, components: Record<string, JsonSchema>): JsonSchema {
    const defs = (schema.$defs ?? {}) as Record<string, JsonSchema>;
    const rewrite = (node: unknown): unknown => {
        if (Array.isArray(node)) return node.map(rewrite);
        if (node === null || typeof node !== "object") return node;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(node)) {
            if (k === "$schema" || k === "$defs") continue;
            out[k] = k === "$ref" && typeof v === "string" ? v.replace(/^#\/\$defs\//, "#/components/schemas/") : rewrite(v);
        }
        return out;
    };
    for (const [name, def] of Object.entries(defs)) components[name] = rewrite(def) as JsonSchema;
    return rewrite(schema) as JsonSchema;
}

function toSchema(schema: z.ZodType, io: "input" | "output", components: Record<string, JsonSchema>): JsonSchema {
    // Requests are documented as clients send them (before defaults and transforms); responses as the server sends them.
    return hoist(z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema, components);
}

/** Header names as their specifications spell them; schemas key headers in lowercase, as Node delivers them. */
const HEADER_SPELLING: Record<string, string> = { "last-event-id": "Last-Event-ID", "idempotency-key": "Idempotency-Key" };

function parameters(schema: z.ZodType | undefined, location: "path" | "query" | "header", components: Record<string, JsonSchema>): unknown[] {
    if (!schema) return [];
    const json = toSchema(schema, "input", components);
    const props = (json.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((json.required ?? []) as string[]);
    return Object.entries(props).map(([name, s]) => {
        const { description, ...rest } = s;
        return {
            name: location === "header" ? HEADER_SPELLING[name] ?? name : name,
            in: location,
            required: location === "path" || required.has(name),
            ...(description ? { description } : {}),
            schema: rest,
        };
    });
}

export function buildOpenApiDocument(routes: readonly Route[], info: OpenApiInfo): Record<string, unknown> {
    const components: Record<string, JsonSchema> = {};
    const problem = toSchema(ProblemSchema, "output", components);
    components.Problem = problem;
    const problemRef = { $ref: "#/components/schemas/Problem" };
    const paths: Record<string, Record<string, unknown>> = {};

    for (const r of routes) {
        const responses: Record<string, unknown> = {};
        for (const [status, doc] of Object.entries(r.responses)) {
            responses[status] = {
                description: doc.description,
                ...(doc.headers ? { headers: Object.fromEntries(Object.entries(doc.headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }])) } : {}),
                ...(doc.schema || doc.contentType
                    ? { content: { [doc.contentType ?? "application/json"]: { schema: doc.schema ? toSchema(doc.schema, "output", components) : { type: "string" } } } }
                    : {}),
            };
        }
        const errorStatuses = [400, ...(r.role ? [401, 403, 429] : []), 500];
        if (r.body) errorStatuses.push(413);
        for (const status of errorStatuses) {
            responses[String(status)] ??= { description: "Problem details (RFC 9457)", content: { "application/problem+json": { schema: problemRef } } };
        }
        (paths[r.path] ??= {})[r.method] = {
            operationId: r.operationId,
            summary: r.summary,
            ...(r.description ? { description: r.description } : {}),
            tags: [r.tag],
            security: r.role ? [{ bearer: [] }] : [],
            ...(r.role ? { "x-required-role": r.role } : {}),
            parameters: [
                ...parameters(r.params, "path", components),
                ...parameters(r.query, "query", components),
                ...parameters(r.headers, "header", components),
            ],
            ...(r.body ? { requestBody: { required: !r.body.optional, content: { "application/json": { schema: toSchema(r.body.schema, "input", components) } } } } : {}),
            responses,
        };
    }

    return {
        openapi: "3.1.0",
        info,
        jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
        servers: [{ url: "/" }],
        paths,
        components: {
            schemas: components,
            securitySchemes: {
                bearer: {
                    type: "http",
                    scheme: "bearer",
                    description: "A static token (KVP_ADMIN_TOKEN or KVP_TOKENS_FILE) or an OIDC / Entra ID access token.",
                },
            },
        },
    };
}
