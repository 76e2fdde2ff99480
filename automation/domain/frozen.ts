/**
 * Deeply frozen JSON-shaped values, and a way to ask whether a value is one. Read paths
 * remember work done on a value by its identity (redaction, serialization); that is only
 * correct when the value can never change afterwards, which is what this guarantees.
 */

const frozen = new WeakSet<object>();

/**
 * Freezes `value` and every object reachable from it, and records that it did. Parts that
 * are already recorded are not walked again, so freezing an object assembled from frozen
 * parts costs only its own keys. For JSON-shaped data (plain objects, arrays, primitives).
 */
export function deepFreeze<T>(value: T): T {
    if (value === null || typeof value !== "object" || frozen.has(value)) return value;
    // Recorded before the walk, so a cycle ends here instead of recursing forever.
    frozen.add(value);
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
    return value;
}

/** True for a value deepFreeze returned (or one of its parts): it and all it holds are immutable. */
export function isDeepFrozen(value: unknown): value is object {
    return value !== null && typeof value === "object" && frozen.has(value);
}
