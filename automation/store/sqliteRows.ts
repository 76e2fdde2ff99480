import { rowMappers } from "./rows";

/** SQLite stores timestamps as the ISO text the domain wrote, and flags as 0/1. */
export const { rowToEnvironment, rowToOperation, rowToEvent, rowToAudit } = rowMappers({
    time: (v) => (v === null || v === undefined ? undefined : String(v)),
    flag: (v) => Number(v) === 1,
});
export { decodeCursor, encodeCursor, toJson } from "./rows";
