import { z } from "zod";
import { EnvironmentNameSchema, EnvironmentSpecSchema, TeamSchema } from "../domain/spec";
import {
    ENVIRONMENT_STATUSES, OPERATION_KINDS, OPERATION_STATES,
    type AuditEntry, type Environment, type Operation, type OperationEvent, type Readiness,
} from "../domain/ports";

/**
 * The HTTP edge's schemas: path parameters, query strings and headers that
 * requests are parsed with, and the response shapes the OpenAPI document
 * describes. Request bodies use the domain's own EnvironmentSpecSchema, so the
 * document and the validation cannot drift.
 */

const MAX_PAGE = 100;

const pageLimit = z.string().regex(/^\d{1,3}$/, `must be a whole number from 1 to ${MAX_PAGE}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be a whole number from 1 to ${MAX_PAGE}`).max(MAX_PAGE, `must be a whole number from 1 to ${MAX_PAGE}`))
    .optional()
    .meta({ description: `Page size, 1-${MAX_PAGE}; defaults to 20.`, example: 20 });

const cursor = z.string().min(1).max(512).regex(/^[\x21-\x7E]+$/, "must be the nextCursor of a previous page")
    .optional()
    .meta({ description: "The `nextCursor` of the previous page." });

export const DEFAULT_PAGE_SIZE = 20;

export const EnvironmentParamsSchema = z.object({ name: EnvironmentNameSchema }).strict();

export const OperationIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an operation id as returned by the API").max(64, "must be an operation id as returned by the API")
    .meta({ description: "Operation id, as returned in the `operation.id` field and the Location header." });
export const OperationParamsSchema = z.object({ id: OperationIdSchema }).strict();

export const ListEnvironmentsQuerySchema = z.object({
    limit: pageLimit,
    cursor,
    team: TeamSchema.optional(),
    status: z.enum(ENVIRONMENT_STATUSES).optional().meta({ description: "Only environments in this status." }),
}).strict();

export const PageQuerySchema = z.object({ limit: pageLimit, cursor }).strict();

const seq = z.string().regex(/^\d{1,15}$/, "must be a non-negative whole number (an event id)").transform(Number)
    .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

export const EventsQuerySchema = z.object({
    after: seq.optional().meta({ description: "Replay events after this seq; the Last-Event-ID header wins when both are sent.", example: 0 }),
}).strict();

export const EventsHeadersSchema = z.object({
    "last-event-id": seq.optional().meta({ description: "Sent by EventSource clients on reconnect: resume after this seq." }),
});

export const IdempotencyHeadersSchema = z.object({
    "idempotency-key": z.string().regex(/^[\x21-\x7E]{1,255}$/, "must be 1-255 printable ASCII characters without spaces").max(255, "must be 1-255 printable ASCII characters without spaces").optional()
        .meta({ description: "Retrying a PUT with the same key and body returns the first response instead of queuing again." }),
});

// ---- Responses ---------------------------------------------------------

/**
 * Bounds on what the server sends. They are generous, so only a bug exceeds one, and the
 * contract check the tests run on every answer catches that bug.
 */
const text = (maxLength: number) => z.string().max(maxLength);
const ID = 64;
const TEAM = 32;
/** A subject is a token id or `oidc:` and a sub of at most 256 characters. */
const SUBJECT = 300;

const timestamp = z.string().max(40).meta({ description: "RFC 3339 timestamp", example: "2025-01-01T00:00:00.000Z", format: "date-time" });

export const OperationErrorSchema = z.object({
    code: text(64),
    message: text(8192),
    details: z.unknown().optional(),
});

export const OperationSchema = z.object({
    id: text(ID),
    environment: text(ID),
    team: text(TEAM),
    kind: z.enum(OPERATION_KINDS),
    state: z.enum(OPERATION_STATES),
    specHash: text(ID).optional(),
    proposedSpec: EnvironmentSpecSchema.optional().meta({ description: "Set on a preview of a spec sent with the request rather than the stored one: the spec it plans" }),
    requestedBy: text(SUBJECT),
    attempt: z.number().int().min(0).meta({ format: "int32" }),
    maxAttempts: z.number().int().min(1).meta({ format: "int32" }),
    createdAt: timestamp,
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    notBefore: timestamp.optional(),
    cancelRequested: z.boolean(),
    leaseOwner: text(256).optional(),
    leaseExpiresAt: timestamp.optional(),
    summary: z.record(text(32), z.number()).optional().meta({ description: "Change counts by op, e.g. { create: 12, same: 3 }" }),
    error: OperationErrorSchema.optional(),
}).meta({ id: "Operation" }) satisfies z.ZodType<Operation>;

export const EnvironmentSchema = z.object({
    name: text(ID),
    team: text(TEAM),
    spec: EnvironmentSpecSchema,
    specHash: text(ID),
    status: z.enum(ENVIRONMENT_STATUSES),
    outputs: z.record(text(256), z.unknown()).optional().meta({ description: "Stack outputs; every secret is replaced by \"[secret]\"." }),
    createdAt: timestamp,
    updatedAt: timestamp,
    expiresAt: timestamp.optional(),
    lastOperationId: text(ID).optional(),
}).meta({ id: "Environment" }) satisfies z.ZodType<Environment>;

/** An environment with its latest operation: what a GET, and the environment in a PUT's answer, hold. */
export const EnvironmentDetailSchema = EnvironmentSchema.extend({
    lastOperation: OperationSchema.optional(),
}).meta({ id: "EnvironmentDetail" });

export const AcceptedSchema = z.object({
    environment: EnvironmentDetailSchema,
    operation: OperationSchema.optional(),
});

export const EnvironmentPageSchema = z.object({ items: z.array(EnvironmentSchema).max(MAX_PAGE), nextCursor: text(512).optional() });

export const OperationEventSchema = z.object({
    operationId: text(ID),
    seq: z.number().int().min(1).meta({ format: "int64" }),
    at: timestamp,
    type: text(128),
    data: z.unknown(),
}) satisfies z.ZodType<OperationEvent>;

export const AuditEntrySchema = z.object({
    id: text(ID),
    at: timestamp,
    actor: z.object({ subject: text(SUBJECT), role: z.enum(["admin", "operator", "reader"]), team: text(TEAM).optional() }),
    action: text(64),
    target: text(256),
    outcome: z.enum(["accepted", "rejected", "succeeded", "failed"]),
    details: z.unknown().optional(),
    requestId: text(ID).optional(),
}) satisfies z.ZodType<AuditEntry>;

export const PlanStepSchema = z.object({
    seq: z.number().int().min(1).meta({ description: "The step's event seq; the plan is paged by it.", format: "int64" }),
    op: text(32).meta({ description: "create, update, replace, delete, same or refresh, as the engine names it.", example: "create" }),
    type: text(256).meta({ example: "azure-native:keyvault:Vault" }),
    name: text(1024).meta({ description: "The resource's logical name.", example: "env-kv-vault" }),
    urn: text(4096),
    inputs: z.record(text(256), z.unknown()).meta({ description: "The inputs the program gave the resource; secrets read \"[secret]\"." }),
}).meta({ id: "PlanStep" });

export const PlanPageSchema = z.object({
    operationId: text(ID),
    items: z.array(PlanStepSchema).max(MAX_PAGE),
    nextCursor: text(512).optional(),
});

export const PlanQuerySchema = z.object({
    limit: pageLimit,
    cursor: z.string().regex(/^[1-9][0-9]{0,9}$/, "must be the nextCursor of a previous page").max(10).transform(Number).optional()
        .meta({ description: "The `nextCursor` of the previous page." }),
}).strict();

export const AuditPageSchema = z.object({ items: z.array(AuditEntrySchema).max(MAX_PAGE), nextCursor: text(512).optional() });

export const ReadinessSchema = z.object({
    ok: z.boolean(),
    checks: z.array(z.object({ name: text(64), ok: z.boolean(), detail: text(2048) })).max(20),
}) satisfies z.ZodType<Readiness>;

/** /readyz: the readiness, and which engine kind runs operations. */
export const ReadyzSchema = ReadinessSchema.extend({ engine: text(32) });

/** /openapi.json's body: the document's top level; its parts are described by the OpenAPI 3.1 specification itself. */
export const OpenApiDocumentSchema = z.looseObject({
    openapi: text(16).regex(/^3\.1\.\d+$/),
    info: z.looseObject({ title: text(256), version: text(64) }),
    paths: z.record(text(256), z.unknown()),
    components: z.record(text(64), z.unknown()),
});
