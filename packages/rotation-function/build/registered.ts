import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";

/** A function the package registers with the Functions host, as the worker would see it. */
export interface RegisteredFunction {
    name: string;
    /** The trigger binding's type, e.g. eventGridTrigger, timerTrigger, httpTrigger. */
    trigger: string;
}

/**
 * Loads a built bundle with a stand-in for the worker's `@azure/functions-core` and returns the
 * functions it registers. Used by tests to prove the Event Grid subscription names a function
 * the code really registers; too slow for the program itself, which takes the name as an arg.
 */
export function registeredFunctions(bundlePath: string): RegisteredFunction[] {
    const found: RegisteredFunction[] = [];
    const core = {
        setProgrammingModel: () => undefined,
        registerHook: () => ({ dispose: () => undefined }),
        log: () => undefined,
        registerFunction: (metadata: { name: string; bindings: Record<string, { type: string; direction: string }> }) => {
            const trigger = Object.values(metadata.bindings).find((b) => b.direction === "in" && /Trigger$/.test(b.type));
            found.push({ name: metadata.name, trigger: trigger?.type ?? "unknown" });
            return { dispose: () => undefined };
        },
    };
    const realRequire = createRequire(bundlePath);
    const fakeRequire = (id: string) => (id === "@azure/functions-core" ? core : realRequire(id));
    const module = { exports: {} };
    const code = readFileSync(bundlePath, "utf8");
    new Function("require", "module", "exports", "__filename", "__dirname", code)(fakeRequire, module, module.exports, bundlePath, dirname(bundlePath));
    return found;
}
