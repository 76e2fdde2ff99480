// eslint-disable-next-line no-restricted-imports -- types only: nothing of zod is loaded through this import
import type { z } from "zod";

/**
 * The one place that turns schema failures into messages a person can act on. The
 * stack config (`pulumi up`), the self-service API and the server settings all use
 * it, so a rule reads the same whichever door the value came through.
 */

export interface FieldProblem {
    /** Dotted path of the bad value, e.g. `cosmos.keySize` or `allowedIpRanges[2]`. */
    path: string;
    /** What is wrong and what is allowed. */
    message: string;
    /** The offending value as given; omitted when absent, or when it must not be echoed. */
    value?: unknown;
}

/** A refusal that lists every problem found under one heading, one line each, so one run shows them all. */
export class ProblemListError<P> extends Error {
    constructor(heading: string, public readonly problems: P[], line: (problem: P) => string) {
        super(`${heading}:\n${problems.map((p) => `  - ${line(p)}`).join("\n")}`);
        this.name = new.target.name;
    }
}

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

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; in?: z.ZodType; valueType?: z.ZodType };
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The keys an object schema accepts at `path`, looking through optional, default and array wrappers. */
export function knownKeysAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
    const WRAPPERS = ["optional", "default", "prefault", "nullable", "readonly", "pipe"];
    let cur: z.ZodType | undefined = schema;
    const unwrap = () => {
        while (cur && WRAPPERS.includes(defOf(cur).type)) {
            const d = defOf(cur);
            cur = d.type === "pipe" ? d.in : d.innerType;
        }
    };
    for (const seg of path) {
        unwrap();
        if (!cur) return [];
        const d = defOf(cur);
        if (typeof seg === "number") cur = d.element;
        else if (d.type === "object") cur = d.shape?.[String(seg)];
        else if (d.type === "record") cur = d.valueType;
        else return [];
    }
    if (!cur) return [];
    unwrap();
    const d = defOf(cur);
    return d.type === "object" && d.shape ? Object.keys(d.shape) : [];
}

/** Edits between two words, counting a swap of neighbours as one (teir → tier). */
function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** The known key a misspelled one most likely meant: case slips, a transposition, a letter or two. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
    let best: { k: string; d: number } | undefined;
    for (const k of known) {
        const d = editDistance(key.toLowerCase(), k.toLowerCase());
        if (d <= Math.max(1, Math.floor(k.length / 3)) && (!best || d < best.d)) best = { k, d };
    }
    return best?.k;
}

function unknownKeyMessage(key: string, known: string[]): string {
    const guess = closestKey(key, known);
    if (guess) return `is not a known field; did you mean "${guess}"?`;
    return known.length > 0 ? `is not a known field; known fields here: ${known.join(", ")}` : "is not a known field";
}

/** Rewords zod's messages so each names what is allowed, not only what went wrong. */
function describe(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        case "invalid_type":
            return `must be ${issue.expected === "array" ? "a list" : issue.expected === "object" ? "an object" : `a ${issue.expected}`}`;
        case "too_small":
            return issue.origin === "array" ? `must list at least ${issue.minimum} item(s)` : `must be at least ${issue.minimum}${issue.origin === "string" ? " characters" : ""}`;
        case "too_big":
            return issue.origin === "array" ? `must list at most ${issue.maximum} item(s)` : `must be at most ${issue.maximum}${issue.origin === "string" ? " characters" : ""}`;
        case "invalid_union":
            return "is not one of the allowed values";
        default:
            return issue.message;
    }
}

export interface ProblemOptions {
    /** The schema that failed, for did-you-mean suggestions on unknown keys. */
    schema?: z.ZodType;
    /** Put in front of every path, e.g. `query` for a query string. */
    prefix?: string;
    /** Echo the bad value in `value`. Off for anything that may hold a secret. */
    withValues?: boolean;
}

/** One problem per bad field; an unknown key gets a did-you-mean suggestion. */
export function schemaProblems(error: z.ZodError, input: unknown, opts: ProblemOptions = {}): FieldProblem[] {
    const at = (path: ReadonlyArray<PropertyKey>) => keyOf(opts.prefix ? [opts.prefix, ...path] : path) || "(root)";
    return error.issues.flatMap((issue): FieldProblem[] => {
        if (issue.code === "unrecognized_keys") {
            const known = opts.schema ? knownKeysAt(opts.schema, issue.path) : [];
            return issue.keys.map((k) => ({ path: at([...issue.path, k]), message: unknownKeyMessage(k, known) }));
        }
        const value = valueAt(input, issue.path);
        const missing = value === undefined && issue.path.length > 0 && (issue.code === "invalid_value" || issue.code === "invalid_type");
        return [{
            path: at(issue.path),
            message: missing ? `is required and ${describe(issue)}` : describe(issue),
            ...(opts.withValues && value !== undefined ? { value } : {}),
        }];
    });
}
