import { rowMappers } from "./rows";

/**
 * Row ⇄ domain mapping for the PostgreSQL store. The store's pool leaves `json` columns
 * as text (see JSON_AS_TEXT) so SQL NULL and JSON `null` stay apart exactly as in the
 * embedded store; `timestamptz` arrives as the ISO string with millisecond precision that
 * the domain wrote (see timestamptzParser), or as a Date that is printed as one.
 */

export type PgRow = Record<string, unknown>;

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export function iso(v: unknown): string | undefined {
    if (v === null || v === undefined) return undefined;
    if (typeof v === "string" && ISO_MS.test(v)) return v;
    return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

/** `timestamptz` as PostgreSQL prints it in a UTC session: `2030-01-02 03:04:05.1+00` (fraction trimmed, or none). */
const PG_UTC = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/**
 * The store's sessions run in UTC, so a `timestamptz` arrives as text that is the ISO string
 * the domain wrote but for three characters: rewritten here rather than parsed into a Date and
 * printed again (three per row of a list page; npm run bench:api). Any other text (another
 * session time zone, a year past 9999) takes the driver's own parser.
 */
export function timestamptzParser(fallback: (text: string) => unknown): (text: string) => unknown {
    return (text) => {
        const m = PG_UTC.exec(text);
        return m ? `${m[1]}T${m[2]}.${(m[3] ?? "").padEnd(3, "0").slice(0, 3)}Z` : fallback(text);
    };
}

/** pg returns timestamptz as Date and booleans as booleans. */
export const { rowToEnvironment, rowToOperation, rowToEvent, rowToAudit } = rowMappers({ time: iso, flag: (v) => v === true });
export { toJson } from "./rows";
