import { randomUUID } from "node:crypto";

/** Time source; tests pass a controllable one. */
export interface Clock {
    now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Id source for operations, audit entries and workers. */
export interface Ids {
    newId(): string;
}

export const randomIds: Ids = { newId: () => randomUUID() };

/** The slice of pino the domain uses; a pino logger fits as is. */
export interface Logger {
    debug(obj: object, msg?: string): void;
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
