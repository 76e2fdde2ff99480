import { escapeIdentifier } from "pg";
import { adminQuery } from "../automation/storePostgresHarness";

/**
 * What the fault tests check the stored record against: every run an operation had
 * (from its `operation.state` events, written by whichever process ran or reclaimed it)
 * and whether two runs on one environment ever overlapped.
 */

export interface RunWindow {
    operationId: string;
    environment: string;
    attempt: number;
    startedAt: string;
    /** When the next state was recorded: the outcome, or `interrupted` once another worker reclaimed the lapsed lease. */
    endedAt?: string;
    endedAs?: string;
}

export const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export async function runWindows(schema: string): Promise<RunWindow[]> {
    const s = escapeIdentifier(schema);
    const rows = await adminQuery<{ operation_id: string; environment: string; at: Date; data: string }>(
        `SELECT e.operation_id, o.environment, e.at, e.data::text AS data FROM ${s}.events e JOIN ${s}.operations o ON o.id = e.operation_id
         WHERE e.type = 'operation.state' ORDER BY e.operation_id, e.seq`,
    );
    const windows: RunWindow[] = [];
    let open: RunWindow | undefined;
    for (const row of rows) {
        const data = JSON.parse(row.data) as { state: string; attempt: number };
        if (open && open.operationId !== row.operation_id) {
            windows.push(open);
            open = undefined;
        }
        if (data.state === "running") {
            if (open) windows.push(open);
            open = { operationId: row.operation_id, environment: row.environment, attempt: data.attempt, startedAt: row.at.toISOString() };
        } else if (open) {
            windows.push({ ...open, endedAt: row.at.toISOString(), endedAs: data.state });
            open = undefined;
        }
    }
    if (open) windows.push(open);
    return windows;
}

/** Pairs of runs on one environment whose windows overlap; an unfinished window counts as still running. */
export function overlaps(windows: RunWindow[]): string[] {
    const found: string[] = [];
    const byEnvironment = new Map<string, RunWindow[]>();
    for (const w of windows) byEnvironment.set(w.environment, [...(byEnvironment.get(w.environment) ?? []), w]);
    for (const [environment, list] of byEnvironment) {
        const sorted = [...list].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
        for (let i = 1; i < sorted.length; i++) {
            const before = sorted[i - 1];
            if (before.endedAt === undefined || sorted[i].startedAt < before.endedAt) {
                found.push(`${environment}: ${sorted[i].operationId}#${sorted[i].attempt} started ${sorted[i].startedAt} while ${before.operationId}#${before.attempt} ran (${before.startedAt} to ${before.endedAt ?? "never ended"})`);
            }
        }
    }
    return found;
}

export async function operationStates(schema: string): Promise<Map<string, { state: string; attempt: number; error?: string }>> {
    const rows = await adminQuery<{ id: string; state: string; attempt: number; error: string | null }>(`SELECT id, state, attempt, error::text AS error FROM ${escapeIdentifier(schema)}.operations`);
    return new Map(rows.map((r) => [r.id, { state: r.state, attempt: r.attempt, ...(r.error ? { error: r.error } : {}) }]));
}
