import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import { isSecretKey } from "../domain/redact";

/**
 * Structured logs with secrets removed before they are written. Path-based
 * redaction covers the known places (headers); a deep pass masks any field whose
 * name looks secret, and bearer tokens or JWTs that end up inside strings.
 */

export const REDACTED = "[redacted]";

/** The outputs' notion of a secret key, plus what only requests carry. */
const isSecretField = (key: string) => isSecretKey(key) || /authorization|cookie/i.test(key);
const BEARER_IN_TEXT = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT_IN_TEXT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const MAX_DEPTH = 8;

export function redactText(text: string): string {
    return text.replace(BEARER_IN_TEXT, `$1 ${REDACTED}`).replace(JWT_IN_TEXT, REDACTED);
}

/** Returns a copy with secret-looking fields masked at any depth. */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
    if (typeof value === "string") return redactText(value);
    if (value === null || typeof value !== "object") return value;
    if (depth >= MAX_DEPTH || seen.has(value)) return "[truncated]";
    seen.add(value);
    if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
    if (value instanceof Error) {
        const code = (value as { code?: unknown }).code;
        return { type: value.name, message: redactText(value.message), ...(code === undefined ? {} : { code }), stack: value.stack ? redactText(value.stack) : undefined };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
        out[k] = isSecretField(k) && v !== undefined && v !== null && v !== "" ? REDACTED : redactDeep(v, depth + 1, seen);
    }
    return out;
}

/**
 * Marks a log object whose fields the caller built from known-safe values (the access log):
 * the formatter then skips the deep pass. Symbol keys never reach the JSON line.
 */
export const ALREADY_REDACTED = Symbol("already redacted");

export interface LoggerOptions {
    level: string;
    /** Where to write; tests pass an in-memory stream. Defaults to stdout: readable lines on a terminal, JSON otherwise. */
    destination?: DestinationStream;
}

/**
 * Readable log lines for a person at a terminal. Redaction has already happened in the
 * formatter by the time a line gets here. Synchronous, so the last lines before an exit
 * are not lost; anything that is not a terminal (a file, a pipe, a log collector) gets JSON.
 */
export function prettyDestination(out: NodeJS.WritableStream = process.stdout): DestinationStream {
    return pretty({ destination: out, sync: true, colorize: out === process.stdout && process.stdout.isTTY === true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" });
}

export function createLogger(options: LoggerOptions): Logger {
    const destination = options.destination ?? (process.stdout.isTTY ? prettyDestination() : undefined);
    return pino({
        level: options.level,
        base: { service: "keyvault-platform" },
        redact: { paths: ["req.headers.authorization", "headers.authorization", "*.headers.authorization"], censor: REDACTED },
        // formatters.log runs before pino's serializers, so errors are flattened (and masked) here.
        formatters: { log: (obj) => ((obj as { [ALREADY_REDACTED]?: boolean })[ALREADY_REDACTED] === true ? obj : redactDeep(obj) as Record<string, unknown>) },
        hooks: {
            logMethod(args, method) {
                // The message string itself may have been built from untrusted text.
                const masked = args.map((a) => (typeof a === "string" ? redactText(a) : a)) as typeof args;
                method.apply(this, masked);
            },
        },
    }, destination);
}
