import type { AuditEntry, Environment, Operation, OperationEvent } from "../domain/ports";

/**
 * Row ⇄ domain mapping for the PostgreSQL store. The store's pool leaves `json` columns
 * as text (see JSON_AS_TEXT) so SQL NULL and JSON `null` stay apart exactly as in the
 * embedded store; `timestamptz` arrives as Date and goes back out as an ISO string with
 * millisecond precision, exactly as the domain wrote it.
 */

export type PgRow = Record<string, unknown>;

export function iso(v: unknown): string | undefined {
    if (v === null || v === undefined) return undefined;
    return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

const present = (v: unknown): unknown => (v === null ? undefined : v);
const json = (v: unknown): unknown => (v === null || v === undefined ? undefined : JSON.parse(String(v)));

/** JSON for a column; values JSON cannot carry (cycles, BigInt) are recorded as such rather than failing the write. */
export function toJson(value: unknown): string {
    try {
        return JSON.stringify(value ?? null);
    } catch {
        return JSON.stringify({ unserializable: true });
    }
}

export function rowToEnvironment(r: PgRow): Environment {
    const env: Environment = {
        name: String(r.name),
        team: String(r.team),
        spec: json(r.spec),
        specHash: String(r.spec_hash),
        status: String(r.status) as Environment["status"],
        createdAt: iso(r.created_at)!,
        updatedAt: iso(r.updated_at)!,
    };
    const outputs = json(r.outputs);
    if (outputs !== undefined) env.outputs = outputs as Record<string, unknown>;
    if (r.expires_at !== null) env.expiresAt = iso(r.expires_at);
    if (r.last_operation_id !== null) env.lastOperationId = String(r.last_operation_id);
    return env;
}

export function rowToOperation(r: PgRow): Operation {
    const op: Operation = {
        id: String(r.id),
        environment: String(r.environment),
        team: String(r.team),
        kind: String(r.kind) as Operation["kind"],
        state: String(r.state) as Operation["state"],
        requestedBy: String(r.requested_by),
        attempt: Number(r.attempt),
        maxAttempts: Number(r.max_attempts),
        createdAt: iso(r.created_at)!,
        cancelRequested: r.cancel_requested === true,
    };
    const optional: Array<[keyof Operation, unknown]> = [
        ["specHash", present(r.spec_hash)], ["startedAt", iso(r.started_at)], ["finishedAt", iso(r.finished_at)],
        ["notBefore", iso(r.not_before)], ["leaseOwner", present(r.lease_owner)], ["leaseExpiresAt", iso(r.lease_expires_at)],
        ["summary", json(r.summary)], ["error", json(r.error)],
    ];
    for (const [k, v] of optional) if (v !== undefined) (op as unknown as Record<string, unknown>)[k] = v;
    return op;
}

export function rowToEvent(r: PgRow): OperationEvent {
    return { operationId: String(r.operation_id), seq: Number(r.seq), at: iso(r.at)!, type: String(r.type), data: json(r.data) };
}

export function rowToAudit(r: PgRow): AuditEntry {
    const entry: AuditEntry = {
        id: String(r.id),
        at: iso(r.at)!,
        actor: json(r.actor) as AuditEntry["actor"],
        action: String(r.action),
        target: String(r.target),
        outcome: String(r.outcome) as AuditEntry["outcome"],
    };
    const details = json(r.details);
    if (details !== undefined) entry.details = details;
    if (r.request_id !== null) entry.requestId = String(r.request_id);
    return entry;
}
