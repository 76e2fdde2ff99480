import type { ErrorRequestHandler, Request, Response } from "express";
import type { Logger } from "pino";
import { z } from "zod";
import type { FieldProblem } from "../../config/problems";
import {
    ConflictError, ForbiddenError, NotFoundError, PlatformNotConfiguredError, PreconditionFailedError, UnavailableError, ValidationError,
} from "../domain/errors";

/**
 * The one place where an error becomes an HTTP response: RFC 9457
 * application/problem+json. Domain errors carry messages meant for clients;
 * anything else is a bug or an infrastructure failure, so the client gets a
 * generic 500 and the details go to the log only.
 */

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export type { FieldProblem } from "../../config/problems";

/** A problem lists at most this many field errors; `errorsOmitted` counts the rest, so a huge bad request cannot make a huge answer. */
export const MAX_PROBLEM_ERRORS = 20;
/** A path can quote a client's key, and `instance` the client's URL; these lengths name any real field or route. */
const MAX_ERROR_PATH = 256;
const MAX_INSTANCE_PATH = 1024;

export const ProblemSchema = z.object({
    type: z.string().max(128).describe("URI identifying the problem type"),
    title: z.string().max(128),
    status: z.number().int().min(400).max(599).meta({ format: "int32" }),
    detail: z.string().max(4096).optional(),
    instance: z.string().max(MAX_INSTANCE_PATH + 80).optional().describe("The request path, with the request id as a fragment"),
    errors: z.array(z.object({ path: z.string().max(MAX_ERROR_PATH), message: z.string().max(1024) })).max(MAX_PROBLEM_ERRORS).optional()
        .describe(`The invalid fields, at most ${MAX_PROBLEM_ERRORS}`),
    errorsOmitted: z.number().int().min(1).meta({ format: "int32" }).optional()
        .describe(`How many more invalid fields there were beyond the first ${MAX_PROBLEM_ERRORS}`),
}).meta({ id: "Problem" });
export type Problem = z.infer<typeof ProblemSchema>;

/** An error raised by the HTTP layer itself (authentication, rate limit, unknown route). */
export class HttpProblem extends Error {
    constructor(
        public readonly status: number,
        public readonly slug: string,
        public readonly title: string,
        public readonly detail?: string,
        public readonly headers: Record<string, string> = {},
        public readonly errors?: FieldProblem[],
    ) {
        super(detail ?? title);
        this.name = "HttpProblem";
    }
}

/** A request part (body, query, header, path) failed its schema. */
export class RequestValidationError extends HttpProblem {
    constructor(errors: FieldProblem[]) {
        super(400, "validation", "Request validation failed", `${errors.length} field(s) are invalid; see errors`, {}, errors);
        this.name = "RequestValidationError";
    }
}

export function problemType(slug: string): string {
    return `urn:keyvault-platform:problem:${slug}`;
}

interface Mapped {
    problem: Problem;
    headers: Record<string, string>;
    /** Only unexpected failures are logged as errors, with the original exception. */
    unexpected: boolean;
}

const DOMAIN_ERRORS: Array<[new (...args: never[]) => Error, number, string, string]> = [
    [NotFoundError, 404, "not-found", "Not found"],
    [ForbiddenError, 403, "forbidden", "Forbidden"],
    [ConflictError, 409, "conflict", "Conflict"],
    [PreconditionFailedError, 412, "precondition-failed", "Precondition failed"],
    [UnavailableError, 503, "unavailable", "Service unavailable"],
];

/** body-parser reports its failures with a `type`; its messages may quote the body, so they are never used. */
const PARSER_ERRORS: Record<string, [number, string, string, string]> = {
    "entity.parse.failed": [400, "malformed-json", "Malformed JSON", "The request body is not valid JSON"],
    "entity.too.large": [413, "payload-too-large", "Payload too large", "The request body exceeds the size limit"],
    "encoding.unsupported": [415, "unsupported-encoding", "Unsupported content encoding", "Send the body uncompressed or gzip/deflate encoded"],
    "charset.unsupported": [415, "unsupported-charset", "Unsupported charset", "Send the body as UTF-8"],
    "request.aborted": [400, "request-aborted", "Request aborted", "The client aborted the request"],
    "request.size.invalid": [400, "request-size-invalid", "Request size mismatch", "The body length does not match Content-Length"],
    "parameters.too.many": [413, "payload-too-large", "Payload too large", "Too many parameters"],
};

/** The first MAX_PROBLEM_ERRORS field errors (path and message only) and how many were left out. */
function boundedErrors(errors: FieldProblem[] | undefined): Pick<Problem, "errors" | "errorsOmitted"> {
    if (!errors) return {};
    const kept = errors.slice(0, MAX_PROBLEM_ERRORS).map((p) => ({ path: p.path.slice(0, MAX_ERROR_PATH), message: p.message }));
    return { errors: kept, ...(errors.length > kept.length ? { errorsOmitted: errors.length - kept.length } : {}) };
}

/** A decompression failure of a Content-Encoding the server supports: zlib's Z_* or brotli's ERR_* codes, raised by body-parser with status 400. */
function isDecodingError(err: unknown): boolean {
    const e = err as { status?: unknown; code?: unknown } | null;
    return typeof e === "object" && e !== null && e.status === 400 && typeof e.code === "string" && /^(Z_|ERR_)/.test(e.code);
}

export function toProblem(err: unknown, instance: string): Mapped {
    const make = (status: number, slug: string, title: string, detail?: string, errors?: FieldProblem[]): Problem => ({
        type: problemType(slug), title, status, ...(detail ? { detail } : {}), instance, ...boundedErrors(errors),
    });
    if (err instanceof HttpProblem) {
        return { problem: make(err.status, err.slug, err.title, err.detail, err.errors), headers: err.headers, unexpected: false };
    }
    if (err instanceof ValidationError) {
        return { problem: make(400, "validation", "Request validation failed", err.message, err.problems), headers: {}, unexpected: false };
    }
    if (err instanceof PlatformNotConfiguredError) {
        return { problem: make(422, "platform-not-configured", "The platform is not configured for this request", err.message, err.problems), headers: {}, unexpected: false };
    }
    if (err instanceof URIError) {
        // The router could not percent-decode a path parameter; its message quotes the raw path, so it is not used.
        return { problem: make(400, "malformed-path", "Malformed request path", "A path segment holds an invalid percent-encoding"), headers: {}, unexpected: false };
    }
    if (isDecodingError(err)) {
        return { problem: make(400, "malformed-encoding", "Malformed content encoding", "The request body cannot be decoded with its Content-Encoding"), headers: {}, unexpected: false };
    }
    for (const [cls, status, slug, title] of DOMAIN_ERRORS) {
        if (err instanceof cls) {
            const headers: Record<string, string> = status === 503 ? { "Retry-After": "5" } : {};
            return { problem: make(status, slug, title, err.message), headers, unexpected: false };
        }
    }
    const parserType = typeof (err as { type?: unknown })?.type === "string" ? (err as { type: string }).type : undefined;
    if (parserType && PARSER_ERRORS[parserType]) {
        const [status, slug, title, detail] = PARSER_ERRORS[parserType];
        return { problem: make(status, slug, title, detail), headers: {}, unexpected: false };
    }
    return { problem: make(500, "internal", "Internal server error", "The server failed to handle the request; the request id identifies it in the logs"), headers: {}, unexpected: true };
}

export function requestInstance(req: Request, res: Response): string {
    const id = res.getHeader("X-Request-Id");
    return `${req.originalUrl.split("?")[0].slice(0, MAX_INSTANCE_PATH)}${id ? `#${String(id)}` : ""}`;
}

export function sendProblem(res: Response, problem: Problem, headers: Record<string, string> = {}): void {
    res.status(problem.status).set(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** Express's single error middleware. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
    return (err, req, res, next) => {
        if (res.headersSent) {
            // A stream (SSE) already started: all that is left is to end it.
            logger.warn({ err, requestId: res.getHeader("X-Request-Id") }, "error after response started");
            next(err);
            return;
        }
        const mapped = toProblem(err, requestInstance(req, res));
        if (mapped.unexpected) {
            logger.error({ err, requestId: res.getHeader("X-Request-Id"), method: req.method, path: req.path }, "unhandled error");
        }
        sendProblem(res, mapped.problem, mapped.headers);
    };
}
