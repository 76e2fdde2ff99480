import type { Request, RequestHandler, Response } from "express";
import { z } from "zod";
import { ValidationError } from "../domain/errors";
import type { Actor, CallerRole } from "../domain/ports";
import { requireRole } from "./auth";
import type { ResponseHeaderName } from "./openapi";
import { schemaProblems } from "../../config/problems";
import { HttpProblem, RequestValidationError, type FieldProblem } from "./problem";

/**
 * One declaration per route: its schemas, the role it needs and its handler. The
 * router and the OpenAPI document are both built from these declarations, so a
 * route cannot be served without being documented, or documented with a schema
 * other than the one that validates it.
 */

export type HttpMethod = "get" | "put" | "post" | "delete";

export interface ResponseDoc {
    description: string;
    /** JSON body schema; omitted for empty bodies. */
    schema?: z.ZodType;
    /** Defaults to application/json. */
    contentType?: string;
    /** Headers this answer carries beyond the ones every answer of its kind does (openapi.ts RESPONSE_HEADERS). */
    headers?: readonly ResponseHeaderName[];
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<P, Q, H, B> {
    req: Request;
    res: Response;
    /** Set on authenticated routes. */
    actor: Actor;
    params: P;
    query: Q;
    headers: H;
    body: B;
    requestId: string;
}

/** What a route declares for its documentation: the same in the declaration and in the router's table. */
interface RouteDoc {
    method: HttpMethod;
    /** OpenAPI-style path, e.g. /v1/environments/{name}. */
    path: string;
    operationId: string;
    summary: string;
    description?: string;
    tag: string;
    /** Minimum role; undefined means the route needs no token. */
    role?: CallerRole;
    responses: Record<number, ResponseDoc>;
}

export interface RouteSpec<P extends z.ZodType | undefined, Q extends z.ZodType | undefined, H extends z.ZodType | undefined, B> extends RouteDoc {
    /**
     * Who enforces `role`: "http" (default) refuses before anything else runs; "service"
     * leaves it to the domain, which audits a refused mutation durably.
     */
    gate?: "http" | "service";
    params?: P;
    query?: Q;
    headers?: H;
    body?: {
        /** The schema documented (and used for structural validation unless `parse` is given). */
        schema: z.ZodType;
        /** Full validation, e.g. the domain's parse that also proves the derived stack config. */
        parse?: (raw: unknown, params: Out<P>) => B;
        /** The body may be left out; the handler then gets undefined. */
        optional?: boolean;
    };
    handle(ctx: RouteContext<Out<P>, Out<Q>, Out<H>, B>): Promise<void> | void;
}

/** A route with its types erased, for tables. */
export interface Route extends RouteDoc {
    params?: z.ZodType;
    query?: z.ZodType;
    headers?: z.ZodType;
    body?: { schema: z.ZodType; optional?: boolean };
    /** The role gate (if any), then validation and the handler. */
    handlers: RequestHandler[];
}

/** Express's path syntax for an OpenAPI path. */
export function expressPath(path: string): string {
    return path.replace(/\{([A-Za-z0-9_]+)\}/g, ":$1");
}

function parsePart<S extends z.ZodType>(schema: S, value: unknown, where: string, problems: FieldProblem[]): z.output<S> | undefined {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    problems.push(...schemaProblems(result.error, value, { schema, prefix: where }));
    return undefined;
}

/** Whether a request carries a body at all (RFC 9112 6.3: a Transfer-Encoding, or a Content-Length above 0). */
function hasBody(req: Request): boolean {
    return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** Only the headers a route declares are validated (and passed on); the rest of the request's headers are ignored. */
function declaredHeaders(schema: z.ZodType, req: Request): Record<string, string | string[] | undefined> {
    const keys = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
    return Object.fromEntries(keys.map((k) => [k, req.headers[k]]));
}

/**
 * Names the matched route for the metrics before anything can fail: once an error leaves a
 * router, Express no longer says which route or mount path matched.
 */
function labelRoute(path: string): RequestHandler {
    return (_req, res, next) => {
        res.locals.route = path;
        next();
    };
}

export function route<P extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, H extends z.ZodType | undefined = undefined, B = undefined>(
    spec: RouteSpec<P, Q, H, B>,
): Route {
    const handler: RequestHandler = async (req, res) => {
        const problems: FieldProblem[] = [];
        const params = spec.params ? parsePart(spec.params, { ...req.params }, "path", problems) : undefined;
        const query = spec.query ? parsePart(spec.query, { ...(req.query as object) }, "query", problems) : undefined;
        const headers = spec.headers ? parsePart(spec.headers, declaredHeaders(spec.headers, req), "header", problems) : undefined;
        if (problems.length) throw new RequestValidationError(problems);
        let body: B = undefined as B;
        if (spec.body && !(spec.body.optional && !hasBody(req))) {
            if (!req.is("application/json")) {
                throw new HttpProblem(415, "unsupported-media-type", "Unsupported media type", "Send the body as application/json", {}, [{ path: "header.content-type", message: "must be application/json" }]);
            }
            if (spec.body.parse) {
                body = spec.body.parse(req.body, params as Out<P>);
            } else {
                const parsed = spec.body.schema.safeParse(req.body);
                if (!parsed.success) throw new ValidationError(schemaProblems(parsed.error, req.body, { schema: spec.body.schema }), "The request body is invalid.");
                body = parsed.data as B;
            }
        }
        await spec.handle({
            req, res,
            actor: res.locals.actor as Actor,
            params: params as Out<P>, query: query as Out<Q>, headers: headers as Out<H>, body,
            requestId: String(res.getHeader("X-Request-Id") ?? ""),
        });
    };
    return {
        method: spec.method, path: spec.path, operationId: spec.operationId, summary: spec.summary, description: spec.description,
        tag: spec.tag, role: spec.role, params: spec.params, query: spec.query, headers: spec.headers,
        body: spec.body ? { schema: spec.body.schema, optional: spec.body.optional } : undefined,
        responses: spec.responses,
        handlers: [labelRoute(spec.path), ...(spec.role && spec.gate !== "service" ? [requireRole(spec.role)] : []), handler],
    };
}
