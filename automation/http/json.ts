import type { Response } from "express";
import { isDeepFrozen } from "../domain/frozen";
import type { Page } from "../domain/store";

/**
 * JSON responses whose parts are remembered. A list page is ~32 KB of JSON built from
 * environments that rarely change; serializing them on every request was a large share of
 * the list route's CPU. Text is only remembered for deeply frozen values, whose JSON cannot
 * change, and by identity (a WeakMap), so it needs no invalidation and goes with its value.
 */

const texts = new WeakMap<object, string>();

/** JSON.stringify(value), remembered when the value is deeply frozen. */
export function jsonText(value: unknown): string {
    // Only frozen values are ever stored, so a hit needs no second look at the value.
    let text = value !== null && typeof value === "object" ? texts.get(value) : undefined;
    if (text !== undefined) return text;
    text = JSON.stringify(value);
    if (isDeepFrozen(value)) texts.set(value, text);
    return text;
}

/**
 * The same text as JSON.stringify(page) for a page whose `items` is its first key (every
 * page the service builds), with each item's text from jsonText.
 */
export function pageJson(page: Page<unknown>): string {
    const { items, ...rest } = page;
    const head = `{"items":[${items.map(jsonText).join(",")}]`;
    const tail = JSON.stringify(rest);
    return tail === "{}" ? `${head}}` : `${head},${tail.slice(1)}`;
}

/** Sends JSON text exactly as res.json would send the value it came from (same Content-Type, same bytes). */
export function sendJsonText(res: Response, text: string): void {
    if (!res.get("Content-Type")) res.set("Content-Type", "application/json");
    res.send(text);
}
