import { rowMappers } from "./rows";

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

/** pg returns timestamptz as Date and booleans as booleans. */
export const { rowToEnvironment, rowToOperation, rowToEvent, rowToAudit } = rowMappers({ time: iso, flag: (v) => v === true });
export { toJson } from "./rows";
