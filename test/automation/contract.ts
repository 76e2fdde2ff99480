import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { apiDocument } from "../../automation/http/routes";

/**
 * Checks an HTTP answer against the server's own OpenAPI document, with ajv: the status must
 * be declared for the route, the media type must be one the status declares (or none, for an
 * answer declared without a body), the body must match its schema, and every required header
 * must be there with a value its schema allows. Answers to paths or methods the document does
 * not list (404 for an unknown route, 405) must be problem+json Problems.
 */

type Json = Record<string, unknown>;

interface HeaderDoc { required?: boolean; schema: Json }
interface ResponseDoc { headers?: Record<string, HeaderDoc>; content?: Record<string, { schema: Json }> }
interface OperationDoc { responses: Record<string, ResponseDoc> }

export interface Answer {
    method: string;
    /** The request path as sent, with its query. */
    path: string;
    status: number;
    headers: Record<string, string | string[] | undefined>;
    /** The parsed JSON body, or the text of any other body. */
    body: unknown;
}

const document = apiDocument() as { paths: Record<string, Record<string, OperationDoc>>; components: { schemas: Record<string, Json> } };

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
const ROOT = "kvp:openapi";
ajv.addSchema({ $id: ROOT, components: document.components });

/** Component references point into the registered document, so each response schema compiles on its own. */
function rooted(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(rooted);
    if (node === null || typeof node !== "object") return node;
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `${ROOT}${v}` : rooted(v)]));
}

const compiled = new Map<Json, ValidateFunction>();
function validator(schema: Json): ValidateFunction {
    let v = compiled.get(schema);
    if (!v) compiled.set(schema, (v = ajv.compile(rooted(schema) as Json)));
    return v;
}

const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
}));
// Templates with fewer parameters win, so /v1/operations/{id}/plan is never read as a deeper {id}.
templates.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));

const PROBLEM: ResponseDoc = { content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } };

/** What has been checked so far, for the summary at the end of the run. */
export const checked = { answers: 0, pairs: new Set<string>(), undocumented: 0 };

function describeErrors(v: ValidateFunction): string {
    return (v.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || "(root)"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`).join("; ");
}

function headerValue(doc: HeaderDoc, raw: string): unknown {
    return doc.schema.type === "integer" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** Undefined when the answer keeps to the contract; else what drifted. */
export function contractDrift(answer: Answer): string | undefined {
    const path = answer.path.split("?")[0];
    const method = answer.method.toLowerCase() === "head" ? "get" : answer.method.toLowerCase();
    const template = templates.find((t) => t.pattern.test(path))?.template;
    const operation = template ? document.paths[template][method] : undefined;
    const where = `${answer.method} ${path} → ${answer.status}`;
    // The portal's page and assets are served by the same app but are not API routes; portalServe.spec.ts checks them.
    if (!operation && /^\/(portal\/.*)?$/.test(path) && answer.status < 400) return undefined;
    let doc: ResponseDoc;
    if (operation) {
        const declared = operation.responses[String(answer.status)];
        if (!declared) return `${where}: status ${answer.status} is not declared for ${method} ${template} (declared: ${Object.keys(operation.responses).join(", ")})`;
        doc = declared;
        checked.pairs.add(`${method} ${template} ${answer.status}`);
    } else {
        doc = PROBLEM;
        checked.undocumented += 1;
        checked.pairs.add(`(no route) ${answer.status}`);
    }
    checked.answers += 1;

    for (const [name, h] of Object.entries(doc.headers ?? {})) {
        const raw = answer.headers[name.toLowerCase()];
        if (raw === undefined) {
            if (h.required) return `${where}: the required header ${name} is missing`;
            continue;
        }
        const v = validator(h.schema);
        if (!v(headerValue(h, String(raw)))) return `${where}: header ${name}: ${JSON.stringify(raw)} ${describeErrors(v)}`;
    }

    const mediaType = String(answer.headers["content-type"] ?? "").split(";")[0].trim();
    const hasBody = answer.method.toLowerCase() !== "head" && answer.headers["content-length"] !== "0" && !!mediaType;
    if (!doc.content) {
        return hasBody ? `${where}: declared without a body, but sent ${mediaType}` : undefined;
    }
    if (!hasBody) return `${where}: declared with ${Object.keys(doc.content).join(", ")}, but sent no body`;
    const content = doc.content[mediaType];
    if (!content) return `${where}: sent ${mediaType}, declared ${Object.keys(doc.content).join(", ")}`;
    if (!/[/+]json$/.test(mediaType)) return undefined;
    const v = validator(content.schema);
    return v(answer.body) ? undefined : `${where}: the body does not match its schema: ${describeErrors(v)}`;
}
