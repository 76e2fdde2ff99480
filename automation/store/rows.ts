import { ValidationError } from "../domain/errors";
import type { AuditEntry, Environment, Operation, OperationEvent } from "../domain/ports";

/**
 * Row ⇄ domain mapping shared by both stores. The stores differ only in how their driver
 * hands back timestamps and flags, so each supplies a dialect and the mapping lives once.
 */

export type Row = Record<string, unknown>;

export interface RowDialect {
    /** A timestamp column as the ISO string the domain wrote, or undefined for NULL. */
    time(value: unknown): string | undefined;
    /** A boolean column. */
    flag(value: unknown): boolean;
}

const text = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const json = (v: unknown): unknown => (v === null || v === undefined ? undefined : JSON.parse(String(v)));

/** JSON for a column; values JSON cannot carry (cycles, BigInt) are recorded as such rather than failing the write. */
export function toJson(value: unknown): string {
    try {
        return JSON.stringify(value ?? null);
    } catch {
        return JSON.stringify({ unserializable: true });
    }
}

/** The columns an Environment is made of. */
export const ENVIRONMENT_COLUMNS = ["name", "team", "spec", "spec_hash", "status", "outputs", "created_at", "updated_at", "expires_at", "last_operation_id"] as const;

export interface RowMappers {
    rowToEnvironment(r: Row): Environment;
    rowToOperation(r: Row): Operation;
    rowToEvent(r: Row): OperationEvent;
    rowToAudit(r: Row): AuditEntry;
}

export function rowMappers(d: RowDialect): RowMappers {
    function buildEnvironment(r: Row): Environment {
        const env: Environment = {
            name: String(r.name),
            team: String(r.team),
            spec: json(r.spec),
            specHash: String(r.spec_hash),
            status: String(r.status) as Environment["status"],
            createdAt: d.time(r.created_at)!,
            updatedAt: d.time(r.updated_at)!,
        };
        const outputs = json(r.outputs);
        if (outputs !== undefined) env.outputs = outputs as Record<string, unknown>;
        const expiresAt = d.time(r.expires_at);
        if (expiresAt !== undefined) env.expiresAt = expiresAt;
        const last = text(r.last_operation_id);
        if (last !== undefined) env.lastOperationId = last;
        return env;
    }

    return {
        rowToEnvironment: buildEnvironment,
        rowToOperation(r) {
            const op: Operation = {
                id: String(r.id),
                environment: String(r.environment),
                team: String(r.team),
                kind: String(r.kind) as Operation["kind"],
                state: String(r.state) as Operation["state"],
                requestedBy: String(r.requested_by),
                attempt: Number(r.attempt),
                maxAttempts: Number(r.max_attempts),
                createdAt: d.time(r.created_at)!,
                cancelRequested: d.flag(r.cancel_requested),
            };
            const optional: Array<[keyof Operation, unknown]> = [
                ["specHash", text(r.spec_hash)], ["startedAt", d.time(r.started_at)], ["finishedAt", d.time(r.finished_at)],
                ["notBefore", d.time(r.not_before)], ["leaseOwner", text(r.lease_owner)], ["leaseExpiresAt", d.time(r.lease_expires_at)],
                ["summary", json(r.summary)], ["error", json(r.error)], ["proposedSpec", json(r.proposed_spec)],
            ];
            for (const [k, v] of optional) if (v !== undefined) (op as unknown as Record<string, unknown>)[k] = v;
            return op;
        },
        rowToEvent(r) {
            return { operationId: String(r.operation_id), seq: Number(r.seq), at: d.time(r.at)!, type: String(r.type), data: json(r.data) };
        },
        rowToAudit(r) {
            const entry: AuditEntry = {
                id: String(r.id),
                at: d.time(r.at)!,
                actor: json(r.actor) as AuditEntry["actor"],
                action: String(r.action),
                target: String(r.target),
                outcome: String(r.outcome) as AuditEntry["outcome"],
            };
            const details = json(r.details);
            if (details !== undefined) entry.details = details;
            const requestId = text(r.request_id);
            if (requestId !== undefined) entry.requestId = requestId;
            return entry;
        },
    };
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
