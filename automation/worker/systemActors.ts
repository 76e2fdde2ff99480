import type { Actor } from "../domain/ports";

/** Audit actors for work nobody asked for in a request: the worker finishing runs, recovery, TTL expiry. */
export const WORKER_ACTOR: Actor = { subject: "system:worker", role: "admin" };
export const RECOVERY_ACTOR: Actor = { subject: "system:recovery", role: "admin" };
export const TTL_ACTOR: Actor = { subject: "system:ttl", role: "admin" };
