import type { Response } from "express";
import { z } from "zod";
import type { EnvironmentService } from "../domain/service";
import { EnvironmentSpecSchema, parseDesiredEnvironment } from "../domain/spec";
import { EMPTY_PROFILE, type PlatformProfile } from "../domain/platformProfile";
import type { Operation } from "../domain/ports";
import type { Metrics } from "./metrics";
import { renderDocsPage } from "./docsPage";
import { buildOpenApiDocument } from "./openapi";
import { portalApiRoutes } from "./portalRoutes";
import { route, type Route } from "./route";
import {
    AcceptedSchema, AuditPageSchema, DEFAULT_PAGE_SIZE, EnvironmentDetailSchema, EnvironmentPageSchema, EnvironmentParamsSchema,
    EventsHeadersSchema, EventsQuerySchema, IdempotencyHeadersSchema, ListEnvironmentsQuerySchema, OperationParamsSchema,
    OpenApiDocumentSchema, OperationSchema, PageQuerySchema, PlanPageSchema, PlanQuerySchema, ReadyzSchema,
} from "./schemas";
import { DEFAULT_SSE_OPTIONS, hasEnded, streamOperationEvents } from "./sse";
import { StateChecks } from "./stateChecks";

/**
 * The API, one declaration per route: parse (done by `route`), call the service,
 * respond. No business rule lives here.
 */

export interface RouteDeps {
    service: EnvironmentService;
    metrics: Metrics;
    /** "test-double" is shown loudly on /readyz. */
    engineKind: string;
    /** Merged with each PUT spec into the stack config. */
    profile: PlatformProfile;
    onStreamError(err: unknown): void;
    /** Test hook: shorter SSE heartbeats. */
    sse?: Partial<typeof DEFAULT_SSE_OPTIONS>;
}

/** Engines that provision nothing say so on /readyz, so nobody mistakes a demo for a deployment. */
const ENGINE_WARNINGS: Record<string, string> = {
    "test-double": "WARNING: the TEST DOUBLE engine is active (KVP_ENGINE=test-double); operations provision NOTHING",
    offline: "NOTE: the OFFLINE engine is active (KVP_ENGINE=offline); operations run the real program and policy pack under mocks and provision NOTHING",
};

const OperationBody = z.object({ operation: OperationSchema });
const operationLocation = (op: Operation) => `/v1/operations/${encodeURIComponent(op.id)}`;
/** 202 Accepted for a queued operation: where to follow it, and the operation. */
const accepted202 = (res: Response, op: Operation) => res.location(operationLocation(op)).status(202).json({ operation: op });
const accepted = { 202: { description: "Queued; follow the operation at the Location header", schema: OperationBody, headers: ["Location"] } } as const;

export const API_INFO = {
    title: "keyvault-platform self-service API",
    version: "1.0.0",
    description: "Declare Key Vault environments; the server applies them asynchronously with the same components `pulumi up` uses. Every /v1 route needs a bearer token.",
};

export function buildRoutes(deps: RouteDeps): Route[] {
    const { service } = deps;
    const sse = { ...DEFAULT_SSE_OPTIONS, ...deps.sse };
    // Visibility is checked as each stream opens; an operation's team never changes after.
    const stateChecks = new StateChecks((id) => service.operationState(id), sse.stateCheckMs);
    const routes: Route[] = [
        route({
            method: "put", path: "/v1/environments/{name}", operationId: "putEnvironment", tag: "environments",
            summary: "Declare the desired spec of an environment",
            description: "202 with the queued update and a Location header; 200 when the spec is already applied and nothing is pending. The name must start with the spec's team and a hyphen (`payments-dev` for team `payments`), so another team's names are refused the same way whether they exist or not. An Idempotency-Key replays the first response, marked `Idempotent-Replayed: true`.",
            role: "operator", gate: "service",
            params: EnvironmentParamsSchema, headers: IdempotencyHeadersSchema,
            body: { schema: EnvironmentSpecSchema, parse: (raw, params) => parseDesiredEnvironment(params.name, raw, deps.profile) },
            responses: {
                200: { description: "Already applied; nothing queued", schema: AcceptedSchema, headers: ["Idempotent-Replayed"] },
                202: { description: "Update queued", schema: AcceptedSchema, headers: ["Location", "Idempotent-Replayed"] },
                409: { description: "The environment is being destroyed" },
                412: { description: "Idempotency-Key reused with another body" },
                422: { description: "The platform profile lacks what this tier needs; `errors` name the profile keys" },
            },
            async handle({ res, actor, headers, body, requestId }) {
                const result = await service.putEnvironment(actor, body, headers["idempotency-key"], { requestId });
                if (result.operation && result.status === 202) res.location(operationLocation(result.operation));
                if (result.replayed) res.set("Idempotent-Replayed", "true");
                res.status(result.status).json({ environment: result.environment, ...(result.operation ? { operation: result.operation } : {}) });
            },
        }),
        route({
            method: "get", path: "/v1/environments", operationId: "listEnvironments", tag: "environments",
            summary: "List environments (paginated, filterable by team and status)", role: "reader",
            query: ListEnvironmentsQuerySchema,
            responses: { 200: { description: "A page of environments", schema: EnvironmentPageSchema } },
            async handle({ res, actor, query }) {
                res.json(await service.listEnvironments(actor, { ...query, limit: query.limit ?? DEFAULT_PAGE_SIZE }));
            },
        }),
        route({
            method: "get", path: "/v1/environments/{name}", operationId: "getEnvironment", tag: "environments",
            summary: "The spec, status, redacted outputs and last operation of an environment", role: "reader",
            params: EnvironmentParamsSchema,
            responses: { 200: { description: "The environment", schema: EnvironmentDetailSchema }, 404: { description: "Not found (or another team's)" } },
            async handle({ res, actor, params }) {
                res.json(await service.getEnvironment(actor, params.name));
            },
        }),
        route({
            method: "post", path: "/v1/environments/{name}/preview", operationId: "previewEnvironment", tag: "environments",
            summary: "Queue a preview of the stored spec, or of a proposed spec sent as the body, before applying it",
            description: "Without a body, plans the stored spec. With a spec as the body (validated exactly as a PUT's), plans that spec instead and leaves the stored one alone; the environment need not exist yet. The planned resources are at /v1/operations/{id}/plan once the preview has run.",
            role: "operator", gate: "service",
            params: EnvironmentParamsSchema,
            body: { schema: EnvironmentSpecSchema, parse: (raw, params) => parseDesiredEnvironment(params.name, raw, deps.profile), optional: true },
            responses: { ...accepted, 404: { description: "Not found, and no spec proposed" }, 409: { description: "Destroyed or being destroyed" } },
            async handle({ res, actor, params, body, requestId }) {
                accepted202(res, await service.requestOperation(actor, params.name, "preview", { requestId }, body));
            },
        }),
        route({
            method: "post", path: "/v1/environments/{name}/refresh", operationId: "refreshEnvironment", tag: "environments",
            summary: "Queue a refresh: a drift check against the cloud",
            role: "operator", gate: "service",
            params: EnvironmentParamsSchema,
            responses: { ...accepted, 404: { description: "Not found" }, 409: { description: "Destroyed or being destroyed" } },
            async handle({ res, actor, params, requestId }) {
                accepted202(res, await service.requestOperation(actor, params.name, "refresh", { requestId }));
            },
        }),
        route({
            method: "delete", path: "/v1/environments/{name}", operationId: "deleteEnvironment", tag: "environments",
            summary: "Destroy the environment, then remove its stack", role: "operator", gate: "service",
            params: EnvironmentParamsSchema,
            responses: { ...accepted, 404: { description: "Not found" }, 409: { description: "Already destroyed" } },
            async handle({ res, actor, params, requestId }) {
                accepted202(res, await service.deleteEnvironment(actor, params.name, { requestId }));
            },
        }),
        route({
            method: "get", path: "/v1/operations/{id}", operationId: "getOperation", tag: "operations",
            summary: "An operation's state, attempts, summary and error", role: "reader",
            params: OperationParamsSchema,
            responses: { 200: { description: "The operation", schema: OperationSchema }, 404: { description: "Not found" } },
            async handle({ res, actor, params }) {
                res.json(await service.getOperation(actor, params.id));
            },
        }),
        route({
            method: "get", path: "/v1/operations/{id}/events", operationId: "streamOperationEvents", tag: "operations",
            summary: "Server-Sent Events: stored events after Last-Event-ID (or ?after=), then live ones, then `end`",
            description: "Each event has `id:` (its seq) and `event:` (its type); comment heartbeats every 15 s. The stream ends with `event: end` once the operation is succeeded, failed or canceled. A reconnect (Last-Event-ID) after the end of an ended operation's stream answers 204, which tells EventSource clients to stop reconnecting.",
            role: "reader",
            params: OperationParamsSchema, query: EventsQuerySchema, headers: EventsHeadersSchema,
            responses: {
                200: { description: "An event stream", contentType: "text/event-stream" },
                204: { description: "The operation has ended and the client has every event: stop reconnecting" },
                404: { description: "Not found" },
            },
            async handle({ res, actor, params, query, headers }) {
                const op = await service.getOperation(actor, params.id);
                const after = headers["last-event-id"] ?? query.after ?? 0;
                if (headers["last-event-id"] !== undefined && await hasEnded(op.state, () => service.listEvents(actor, op.id, after, 1))) {
                    res.status(204).end();
                    return;
                }
                await streamOperationEvents(res, {
                    replay: (afterSeq) => service.listEvents(actor, op.id, afterSeq),
                    subscribe: (listener) => service.subscribe(op.id, listener),
                    state: async () => (await service.getOperation(actor, op.id)).state,
                    watchState: (onState, onError) => stateChecks.watch(op.id, onState, onError),
                }, after, { heartbeatMs: sse.heartbeatMs, onError: deps.onStreamError });
            },
        }),
        route({
            method: "get", path: "/v1/operations/{id}/plan", operationId: "getOperationPlan", tag: "operations",
            summary: "The resources an operation plans (preview) or changes (update, destroy): operation, type, name and masked inputs",
            description: "Paged in the order the engine reported the steps. Complete once the operation has ended; while it runs, the steps so far.",
            role: "reader",
            params: OperationParamsSchema, query: PlanQuerySchema,
            responses: { 200: { description: "A page of plan steps", schema: PlanPageSchema }, 404: { description: "Not found" } },
            async handle({ res, actor, params, query }) {
                const page = await service.listPlan(actor, params.id, { limit: query.limit ?? DEFAULT_PAGE_SIZE, after: query.cursor });
                res.json({ operationId: params.id, items: page.items, ...(page.next !== undefined ? { nextCursor: String(page.next) } : {}) });
            },
        }),
        route({
            method: "post", path: "/v1/operations/{id}/cancel", operationId: "cancelOperation", tag: "operations",
            summary: "Cancel: a queued operation at once; a running one gracefully through the engine's AbortSignal",
            role: "operator", gate: "service",
            params: OperationParamsSchema,
            responses: {
                200: { description: "Canceled", schema: OperationSchema },
                202: { description: "Cancel requested; the running operation is stopping", schema: OperationSchema },
                404: { description: "Not found" }, 409: { description: "Already finished" },
            },
            async handle({ res, actor, params, requestId }) {
                const op = await service.cancelOperation(actor, params.id, { requestId });
                res.status(op.state === "canceled" ? 200 : 202).json(op);
            },
        }),
        route({
            method: "get", path: "/v1/audit", operationId: "listAudit", tag: "audit",
            summary: "The audit log, newest first (admin)", role: "admin",
            query: PageQuerySchema,
            responses: { 200: { description: "A page of audit entries", schema: AuditPageSchema } },
            async handle({ res, actor, query }) {
                res.json(await service.listAudit(actor, { limit: query.limit ?? DEFAULT_PAGE_SIZE, cursor: query.cursor }));
            },
        }),
        ...portalApiRoutes(service),
        route({
            method: "get", path: "/healthz", operationId: "healthz", tag: "operations-infra",
            summary: "Liveness: the process answers",
            responses: { 200: { description: "Alive", schema: z.object({ ok: z.literal(true) }) } },
            handle({ res }) {
                res.json({ ok: true });
            },
        }),
        route({
            method: "get", path: "/readyz", operationId: "readyz", tag: "operations-infra",
            summary: "Readiness: the engine (Pulumi CLI) and the store; 503 names what is missing",
            responses: {
                200: { description: "Ready", schema: ReadyzSchema },
                503: { description: "Not ready; `checks` say what fails and how to fix it", schema: ReadyzSchema },
            },
            async handle({ res }) {
                const readiness = await service.readiness();
                const checks = deps.engineKind in ENGINE_WARNINGS
                    ? [{ name: "engine-kind", ok: true, detail: ENGINE_WARNINGS[deps.engineKind] }, ...readiness.checks]
                    : readiness.checks;
                res.status(readiness.ok ? 200 : 503).json({ ok: readiness.ok, engine: deps.engineKind, checks });
            },
        }),
        route({
            method: "get", path: "/metrics", operationId: "metrics", tag: "operations-infra",
            summary: "Prometheus metrics: operations by kind and state, queue depth, durations, HTTP latency",
            responses: { 200: { description: "Prometheus text format", contentType: "text/plain" } },
            async handle({ res }) {
                res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
            },
        }),
    ];

    let document: Record<string, unknown> | undefined;
    let page: string | undefined;
    const openapi = () => (document ??= buildOpenApiDocument(routes, API_INFO));
    routes.push(
        route({
            method: "get", path: "/openapi.json", operationId: "openapi", tag: "operations-infra",
            summary: "This API as OpenAPI 3.1, generated from the schemas that validate requests",
            responses: { 200: { description: "The OpenAPI document", schema: OpenApiDocumentSchema } },
            handle({ res }) {
                res.json(openapi());
            },
        }),
        route({
            method: "get", path: "/docs", operationId: "docs", tag: "operations-infra",
            summary: "A human-readable rendering of /openapi.json",
            responses: { 200: { description: "HTML", contentType: "text/html" } },
            handle({ res }) {
                page ??= renderDocsPage(openapi() as Parameters<typeof renderDocsPage>[0]);
                res.type("html").send(page);
            },
        }),
    );
    return routes;
}

/**
 * The OpenAPI document without a running server, for the spec lint (npm run lint:openapi) and
 * client generators. Only the route declarations are read; no handler runs, so no service is needed.
 */
export function apiDocument(): Record<string, unknown> {
    const unused = undefined as never;
    const routes = buildRoutes({ service: unused, metrics: unused, engineKind: "pulumi", profile: EMPTY_PROFILE, onStreamError: () => undefined });
    return buildOpenApiDocument(routes, API_INFO);
}
