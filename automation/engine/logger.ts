import pino, { type BaseLogger } from "pino";

/** The slice of a pino logger the engines use; the server passes a child logger bound to the engine. */
export type EngineLogger = Pick<BaseLogger, "debug" | "info" | "warn" | "error">;

export const silentLogger: EngineLogger = pino({ level: "silent" });
