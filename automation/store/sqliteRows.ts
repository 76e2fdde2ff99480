import { ValidationError } from "../domain/errors";
import type { AuditEntry, Environment, Operation, OperationEvent } from "../domain/ports";

/** Row ⇄ domain mapping for the embedded store. JSON columns are parsed here and nowhere else. */

type Row = Record<string, unknown>;

const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const json = (v: unknown): unknown => (v === null || v === undefined ? undefined : JSON.parse(String(v)));

/** JSON for a column; values JSON cannot carry (cycles, BigInt) are recorded as such rather than failing the write. */
export function toJson(value: unknown): string {
    try {
        return JSON.stringify(value ?? null);
    } catch {
        return JSON.stringify({ unserializable: true });
    }
}

export function rowToEnvironment(r: Row): Environment {
    const env: Environment = {
        name: String(r.name),
        team: String(r.team),
        spec: json(r.spec),
        specHash: String(r.spec_hash),
        status: String(r.status) as Environment["status"],
        createdAt: String(r.created_at),
        updatedAt: String(r.updated_at),
    };
    const outputs = json(r.outputs);
    if (outputs !== undefined) env.outputs = outputs as Record<string, unknown>;
    if (r.expires_at !== null) env.expiresAt = String(r.expires_at);
    if (r.last_operation_id !== null) env.lastOperationId = String(r.last_operation_id);
    return env;
}

export function rowToOperation(r: Row): Operation {
    const op: Operation = {
        id: String(r.id),
        environment: String(r.environment),
        team: String(r.team),
        kind: String(r.kind) as Operation["kind"],
        state: String(r.state) as Operation["state"],
        requestedBy: String(r.requested_by),
        attempt: Number(r.attempt),
        maxAttempts: Number(r.max_attempts),
        createdAt: String(r.created_at),
        cancelRequested: Number(r.cancel_requested) === 1,
    };
    const optional: Array<[keyof Operation, unknown]> = [
        ["specHash", str(r.spec_hash)], ["startedAt", str(r.started_at)], ["finishedAt", str(r.finished_at)],
        ["notBefore", str(r.not_before)], ["leaseOwner", str(r.lease_owner)], ["leaseExpiresAt", str(r.lease_expires_at)],
        ["summary", json(r.summary)], ["error", json(r.error)],
    ];
    for (const [k, v] of optional) if (v !== undefined) (op as unknown as Record<string, unknown>)[k] = v;
    return op;
}

export function rowToEvent(r: Row): OperationEvent {
    return { operationId: String(r.operation_id), seq: Number(r.seq), at: String(r.at), type: String(r.type), data: json(r.data) };
}

export function rowToAudit(r: Row): AuditEntry {
    const entry: AuditEntry = {
        id: String(r.id),
        at: String(r.at),
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

/** Opaque page cursors: base64url JSON of the last key seen. */
export function encodeCursor(position: Record<string, string | number>): string {
    return Buffer.from(JSON.stringify(position)).toString("base64url");
}

export function decodeCursor<K extends string>(cursor: string, key: K, type: "string" | "number"): Record<K, string | number> {
    try {
        const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Record<string, unknown>;
        if (parsed && typeof parsed === "object" && typeof parsed[key] === type) return parsed as Record<K, string | number>;
    } catch {
        // Falls through to the ValidationError below.
    }
    throw new ValidationError([{ path: "cursor", message: "is not a cursor this API returned; start again without it" }]);
}
