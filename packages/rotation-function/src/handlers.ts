import type { EventGridEvent, HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import { contextLogger, Logger } from "./log";
import type { RotationResult } from "./result";
import { OnDemandRequest, RotationService } from "./service";

/**
 * The trigger handlers: translate the binding's input, call the service, shape
 * the output. A service is built per invocation so each one logs through its own
 * InvocationContext (the dependencies behind it are shared).
 */
export type ServiceFor = (logger: Logger) => RotationService;

/** Thrown so Event Grid redelivers (with its retry policy, then dead-letters). */
export class RetryableRotationError extends Error {
    constructor(readonly result: RotationResult) {
        super(`rotation of ${result.secret} failed and will be retried: ${result.reason}`);
        this.name = "RetryableRotationError";
    }
}

function loggerFor(context: InvocationContext): Logger {
    return contextLogger(context, { invocationId: context.invocationId, function: context.functionName });
}

export function eventGridHandler(serviceFor: ServiceFor) {
    return async (event: EventGridEvent, context: InvocationContext): Promise<void> => {
        const result = await serviceFor(loggerFor(context)).onNearExpiry(event);
        if (result.outcome === "failed" && result.retryable) throw new RetryableRotationError(result);
    };
}

export function timerHandler(serviceFor: ServiceFor) {
    return async (_timer: Timer, context: InvocationContext): Promise<void> => {
        const results = await serviceFor(loggerFor(context)).scan();
        const failed = results.filter((r) => r.outcome === "failed");
        // Failing the invocation makes the failure visible in the Functions monitor;
        // the next tick (or an Event Grid retry) recovers whatever is pending.
        if (failed.length > 0) throw new Error(`rotation failed for ${failed.map((r) => r.secret).join(", ")}`);
    };
}

export function httpHandler(serviceFor: ServiceFor) {
    return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
        let body: unknown;
        try {
            body = await request.json();
        } catch {
            return problem(400, "The request body must be JSON: { \"secretName\": \"<name>\" }.");
        }
        const parsed = OnDemandRequest.safeParse(body);
        if (!parsed.success) {
            return problem(400, parsed.error.issues.map((i) => `${i.path.join(".") || "body"} ${i.message}`).join("; "));
        }
        const result = await serviceFor(loggerFor(context)).rotateNow(parsed.data.secretName);
        const status = result.outcome !== "failed" ? 200 : result.retryable ? 503 : 422;
        return { status, jsonBody: result };
    };
}

function problem(status: number, detail: string): HttpResponseInit {
    return {
        status,
        headers: { "content-type": "application/problem+json" },
        jsonBody: { type: "about:blank", title: "Invalid rotation request", status, detail },
    };
}
