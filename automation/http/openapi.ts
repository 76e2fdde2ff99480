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

type ZodDef = { type: string; out?: z.ZodType; in?: z.ZodType };
const defOf = (s: z.ZodType): ZodDef => (s as unknown as { _zod: { def: ZodDef } })._zod.def;

/**
 * A query or header value parsed from its text into an integer (a pipe from a string into an
 * integer schema) is documented as the integer it denotes, with the integer schema's bounds:
 * that is how OpenAPI describes a serialized parameter, and what typed clients generate from.
 */
function documentParsedIntegers(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
    const def = defOf(ctx.zodSchema as z.ZodType);
    if (def.type !== "pipe" || !def.out || defOf(def.out).type !== "number") return;
    const out = z.toJSONSchema(def.out, { io: "output" }) as JsonSchema;
    if (out.type !== "integer") return;
    for (const k of Object.keys(ctx.jsonSchema)) if (k !== "description" && k !== "example") delete ctx.jsonSchema[k];
    Object.assign(ctx.jsonSchema, { type: "integer", format: "int64" }, out.minimum === undefined ? {} : { minimum: out.minimum }, out.maximum === undefined ? {} : { maximum: out.maximum });
}

function toSchema(schema: z.ZodType, io: "input" | "output", components: Record<string, JsonSchema>): JsonSchema {
    // Requests are documented as clients send them (before defaults and transforms); responses as the server sends them.
    return hoist(z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12", override: documentParsedIntegers }) as JsonSchema, components);
}

/** The response headers the server sends, documented once; routes and the error statuses name them. */
export const RESPONSE_HEADERS = {
    Location: { description: "The URL of the queued operation.", required: true, schema: { type: "string", format: "uri-reference", maxLength: 128 } },
    "Idempotent-Replayed": {
        description: "`true` when this is the stored answer to an earlier request with the same Idempotency-Key and body; nothing new was queued.",
        required: false, schema: { type: "string", enum: ["true"] },
    },
    RateLimit: {
        description: "Requests left in the caller's window (IETF RateLimit header fields, draft 8), e.g. `\"600-in-1min\"; r=599; t=60`.",
        required: true, schema: { type: "string", maxLength: 256, pattern: "^\"[^\"]+\"; r=\\d+; t=\\d+$" },
    },
    "RateLimit-Policy": {
        description: "The caller's quota policy, e.g. `\"600-in-1min\"; q=600; w=60`.",
        required: true, schema: { type: "string", maxLength: 256, pattern: "^\"[^\"]+\"; q=\\d+; w=\\d+" },
    },
    "Retry-After": { description: "Seconds to wait before retrying.", required: true, schema: { type: "integer", format: "int32", minimum: 0, maximum: 86400 } },
    "WWW-Authenticate": { description: "The bearer challenge (RFC 6750), with the error when a token was sent.", required: true, schema: { type: "string", maxLength: 512, pattern: "^Bearer " } },
} as const;
export type ResponseHeaderName = keyof typeof RESPONSE_HEADERS;

/** Statuses every route of a kind can answer, whatever its handler does. */
const ERROR_DESCRIPTIONS: Record<number, string> = {
    400: "The request is malformed: a field, parameter, header, path encoding or body encoding is invalid",
    401: "No valid bearer token",
    403: "The token's role or team does not allow this",
    404: "Not found (another team's environments and operations read as not found too)",
    413: "The body exceeds the size limit",
    415: "The body is not application/json (where one is expected), or its encoding or charset is not supported",
    429: "Too many requests from this caller, or too many failed authentications from this address",
    500: "The server failed; the request id in `instance` identifies it in the logs",
    503: "A dependency (the store, or the identity provider's keys) is unavailable for now",
};
const ERROR_HEADERS: Record<number, ResponseHeaderName[]> = { 401: ["WWW-Authenticate"], 429: ["Retry-After"], 503: ["Retry-After"] };

function headerObjects(names: readonly ResponseHeaderName[]): Record<string, unknown> {
    return Object.fromEntries(names.map((n) => [n, RESPONSE_HEADERS[n]]));
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
    const problemRef = toSchema(ProblemSchema, "output", components);
    const paths: Record<string, Record<string, unknown>> = {};

    for (const r of routes) {
        // Every /v1 answer passes the rate limiter first, so it carries the limiter's headers whatever its status.
        const limited: ResponseHeaderName[] = r.role ? ["RateLimit", "RateLimit-Policy"] : [];
        const statuses = new Set([...Object.keys(r.responses).map(Number), 400, 500]);
        // Every /v1 request's body is read (when it has one) before its route runs, so any /v1 route can answer 413 or 415.
        if (r.role) for (const s of [401, 403, 413, 415, 429, 503]) statuses.add(s);
        const responses: Record<string, unknown> = {};
        for (const status of [...statuses].sort((a, b) => a - b)) {
            const doc = r.responses[status];
            const headers = [...limited, ...(doc?.headers ?? []), ...(doc?.schema || status < 400 ? [] : ERROR_HEADERS[status] ?? [])];
            const content = doc?.schema || doc?.contentType
                ? { [doc.contentType ?? "application/json"]: { schema: doc.schema ? toSchema(doc.schema, "output", components) : { type: "string", maxLength: 10_000_000 } } }
                : status >= 400 ? { "application/problem+json": { schema: problemRef } } : undefined;
            responses[String(status)] = {
                description: doc?.description ?? ERROR_DESCRIPTIONS[status],
                ...(headers.length ? { headers: headerObjects(headers) } : {}),
                ...(content ? { content } : {}),
            };
        }
        (paths[r.path] ??= {})[r.method] = {
            operationId: r.operationId,
            summary: r.summary,
            description: r.description ?? r.summary,
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

    const tags = [...new Set(routes.map((r) => r.tag))].map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? name }));
    return {
        openapi: "3.1.0",
        info,
        jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
        // The API serves a platform's own teams; it is not meant for the public internet.
        servers: [{ url: "/", description: "The deployment serving this document: local, staging or production", "x-internal": true }],
        tags,
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

const TAG_DESCRIPTIONS: Record<string, string> = {
    environments: "Declare, inspect and destroy Key Vault environments",
    operations: "Follow, stream and cancel the operations that apply environments",
    audit: "Who did what (admins only)",
    "operations-infra": "Probes, metrics and this document; no token needed",
};
