// A form built from the spec's JSON Schema in /openapi.json, so a field added to the API's
// schema appears here without a portal change. Values are edited as a plain object; errors
// are keyed by the API's field paths (`alerts.emails[0]`), shown at the nearest field.

import { html } from "htm/preact";

export function resolveRef(doc, schema) {
    let s = schema;
    while (s && s.$ref) s = s.$ref.split("/").slice(1).reduce((o, k) => o?.[k], doc);
    return s || {};
}

/** The request body schema of PUT /v1/environments/{name}, with references resolved. */
export function specSchema(doc) {
    const op = doc.paths["/v1/environments/{name}"].put;
    const deref = (node) => {
        const s = resolveRef(doc, node);
        if (s.type === "object" && s.properties) {
            return { ...s, properties: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, deref(v)])) };
        }
        if (s.type === "array" && s.items) return { ...s, items: deref(s.items) };
        return s;
    };
    return deref(op.requestBody.content["application/json"].schema);
}

export const fieldId = (path) => `f-${path.replace(/\[(\d+)\]/g, "-$1").replace(/\./g, "-")}`;
const join = (base, key) => (typeof key === "number" ? `${base}[${key}]` : base ? `${base}.${key}` : key);
const isPrimitiveList = (s) => s.type === "array" && s.items?.type !== "object";

/** The error paths' nearest fields: `alerts.emails[0]` lands on the emails list when no field has that path. */
export function errorsByField(errors, known) {
    const at = {};
    const general = [];
    for (const e of errors || []) {
        let p = String(e.path || "").replace(/^(body|path)\./, "");
        while (p && !known.has(p)) p = p.replace(/(\[\d+\]|\.?[^.[]+)$/, "");
        if (p) (at[p] ??= []).push(e.message);
        else general.push(e);
    }
    return { at, general };
}

/** Every path a field is rendered at, for errorsByField. */
export function fieldPaths(schema, value, base = "", out = new Set()) {
    if (base) out.add(base);
    if (schema.type === "object" && schema.properties) {
        for (const [k, s] of Object.entries(schema.properties)) fieldPaths(s, value?.[k], join(base, k), out);
    } else if (schema.type === "array" && !isPrimitiveList(schema)) {
        (value || []).forEach((v, i) => fieldPaths(schema.items, v, join(base, i), out));
    }
    return out;
}

export function setAt(obj, path, value) {
    const keys = [];
    path.replace(/[^.[\]]+/g, (k) => { keys.push(/^\d+$/.test(k) ? Number(k) : k); return k; });
    const root = structuredClone(obj ?? {});
    let cur = root;
    keys.slice(0, -1).forEach((k, i) => {
        if (cur[k] === undefined || cur[k] === null) cur[k] = typeof keys[i + 1] === "number" ? [] : {};
        cur = cur[k];
    });
    const last = keys.at(-1);
    if (value === undefined && Array.isArray(cur) && typeof last === "number") cur.splice(last, 1);
    else if (value === undefined) delete cur[last];
    else cur[last] = value;
    return root;
}

/** Empty strings, lists and groups are left out, so optional parts stay optional. */
export function prune(value) {
    if (Array.isArray(value)) {
        const items = value.map(prune).filter((v) => v !== undefined);
        return items.length ? items : undefined;
    }
    if (value && typeof value === "object") {
        const entries = Object.entries(value).map(([k, v]) => [k, prune(v)]).filter(([, v]) => v !== undefined);
        return entries.length ? Object.fromEntries(entries) : undefined;
    }
    if (value === "" || value === null || (typeof value === "number" && Number.isNaN(value))) return undefined;
    return value;
}

const title = (key) => String(key).replace(/([A-Z])/g, " $1").replace(/^./, (c) => c.toUpperCase());

function Messages({ id, messages }) {
    if (!messages?.length) return null;
    return html`<p class="error" id=${id}>${messages.join("; ")}</p>`;
}

function Field({ schema, path, label, value, required, errors, onChange, disabled }) {
    const id = fieldId(path);
    const messages = errors.at[path];
    const hintId = `${id}-hint`;
    const errId = `${id}-error`;
    const described = [schema.description ? hintId : "", messages ? errId : ""].filter(Boolean).join(" ") || undefined;
        // Only top-level fields are marked required: a nested one is required only once its optional group is used.
    const common = { id, name: path, "aria-describedby": described, "aria-invalid": messages ? "true" : undefined, disabled, "aria-required": required && !/[.[]/.test(path) ? "true" : undefined };
    const hint = schema.description ? html`<p class="hint" id=${hintId}>${schema.description}${isPrimitiveList(schema) ? " One per line." : ""}</p>` : null;

    if (schema.type === "object" && schema.properties) {
        const req = new Set(schema.required || []);
        return html`<fieldset id=${id}>
            <legend>${label}</legend>${hint}<${Messages} id=${errId} messages=${messages} />
            ${Object.entries(schema.properties).map(([k, s]) => html`<${Field} key=${k} schema=${s} path=${join(path, k)} label=${title(k)}
                value=${value?.[k]} required=${req.has(k)} errors=${errors} onChange=${onChange} disabled=${disabled} />`)}
        </fieldset>`;
    }
    if (schema.type === "array" && !isPrimitiveList(schema)) {
        const items = value || [];
        return html`<fieldset id=${id}>
            <legend>${label}</legend>${hint}<${Messages} id=${errId} messages=${messages} />
            ${items.map((item, i) => html`<div key=${i}>
                <${Field} schema=${schema.items} path=${join(path, i)} label=${`${label} ${i + 1}`} value=${item} required=${true} errors=${errors} onChange=${onChange} disabled=${disabled} />
                <button type="button" class="secondary" onClick=${() => onChange(join(path, i), undefined)} disabled=${disabled}>Remove ${label.toLowerCase()} ${i + 1}</button>
            </div>`)}
            <p><button type="button" class="secondary" onClick=${() => onChange(join(path, items.length), {})} disabled=${disabled}>Add ${label.toLowerCase()}</button></p>
        </fieldset>`;
    }
    if (schema.type === "boolean") {
        return html`<div class="field checkbox">
            <input type="checkbox" ...${common} aria-required=${undefined} checked=${value === true} onChange=${(e) => onChange(path, e.currentTarget.checked)} />
            <label for=${id}> ${label}</label>${hint}<${Messages} id=${errId} messages=${messages} />
        </div>`;
    }
    let input;
    if (schema.enum) {
        input = html`<select ...${common} value=${value ?? ""} onChange=${(e) => onChange(path, e.currentTarget.value)}>
            ${!required || value === undefined ? html`<option value="">—</option>` : null}
            ${schema.enum.map((v) => html`<option key=${v} value=${v}>${v}</option>`)}
        </select>`;
    } else if (schema.type === "integer" || schema.type === "number") {
        input = html`<input type="number" inputmode="numeric" ...${common} min=${schema.minimum} max=${schema.maximum} value=${value ?? ""}
            onInput=${(e) => onChange(path, e.currentTarget.value === "" ? undefined : Number(e.currentTarget.value))} />`;
    } else if (isPrimitiveList(schema)) {
        input = html`<textarea rows="3" ...${common} value=${(value || []).join("\n")}
            onInput=${(e) => onChange(path, e.currentTarget.value.split("\n").map((s) => s.trim()).filter(Boolean))}></textarea>`;
    } else {
        input = html`<input type="text" autocomplete="off" spellcheck=${false} ...${common} value=${value ?? ""} onInput=${(e) => onChange(path, e.currentTarget.value)} />`;
    }
    return html`<div class="field">
        <label for=${id}>${label}${required ? html` <span aria-hidden="true">*</span>` : null}</label>
        ${hint}${input}<${Messages} id=${errId} messages=${messages} />
    </div>`;
}

/** The spec's fields, top level first; `value` is the spec being edited. */
export function SpecFields({ schema, value, errors, onChange, disabled }) {
    const req = new Set(schema.required || []);
    return Object.entries(schema.properties).map(([k, s]) => html`<${Field} key=${k} schema=${s} path=${k} label=${title(k)}
        value=${value?.[k]} required=${req.has(k)} errors=${errors} onChange=${onChange} disabled=${disabled} />`);
}
