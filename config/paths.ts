/** Dotted key for a validation path, e.g. `cosmos.keySize` or `allowedIpRanges[2]`. */
export function keyOf(path: ReadonlyArray<PropertyKey>): string {
    return path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), "");
}

/** The value at a validation path inside the raw input, or undefined where the path leads nowhere. */
export function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
    let cur: unknown = root;
    for (const seg of path) {
        if (cur === null || typeof cur !== "object") return undefined;
        cur = (cur as Record<PropertyKey, unknown>)[seg as string];
    }
    return cur;
}
