/**
 * Structured logging port. Fields are metadata only (secret names, versions,
 * credential ids, outcomes); no caller ever passes a value or a password.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
    info(event: string, fields?: LogFields): void;
    warn(event: string, fields?: LogFields): void;
    error(event: string, fields?: LogFields): void;
}

/** One JSON object per line, the shape Application Insights indexes as customDimensions. */
export function jsonLine(level: string, event: string, fields: LogFields = {}): string {
    return JSON.stringify({ level, event, ...fields });
}

/** Adapts the Functions InvocationContext (or anything with log/warn/error) to the port. */
export function contextLogger(context: { log(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void }, base: LogFields = {}): Logger {
    return {
        info: (event, fields) => context.log(jsonLine("info", event, { ...base, ...fields })),
        warn: (event, fields) => context.warn(jsonLine("warn", event, { ...base, ...fields })),
        error: (event, fields) => context.error(jsonLine("error", event, { ...base, ...fields })),
    };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
