/**
 * A self-contained HTML rendering of the OpenAPI document: rendered on the
 * server, no script and no external assets, so it works offline and under the
 * strict Content-Security-Policy helmet sets.
 */

const escape = (s: string): string =>
    s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c] as string);

interface Operation {
    operationId: string;
    summary: string;
    description?: string;
    "x-required-role"?: string;
    parameters?: Array<{ name: string; in: string; required: boolean; description?: string; schema: unknown }>;
    requestBody?: { content: Record<string, { schema: unknown }> };
    responses: Record<string, { description: string }>;
}

function json(value: unknown): string {
    return `<pre>${escape(JSON.stringify(value, null, 2))}</pre>`;
}

function renderOperation(path: string, method: string, op: Operation): string {
    const params = (op.parameters ?? []).map((p) =>
        `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}</td><td>${p.required ? "yes" : "no"}</td><td>${escape(p.description ?? "")}</td></tr>`).join("");
    const body = op.requestBody ? `<details><summary>Request body (application/json)</summary>${json(Object.values(op.requestBody.content)[0]?.schema)}</details>` : "";
    const responses = Object.entries(op.responses).map(([status, r]) => `<li><code>${escape(status)}</code> ${escape(r.description)}</li>`).join("");
    return `<section id="${escape(op.operationId)}">
<h3><span class="m ${escape(method)}">${escape(method.toUpperCase())}</span> <code>${escape(path)}</code></h3>
<p>${escape(op.summary)}${op["x-required-role"] ? ` <em>(role: ${escape(op["x-required-role"])} or higher)</em>` : " <em>(no token)</em>"}</p>
${op.description ? `<p>${escape(op.description)}</p>` : ""}
${params ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>description</th></tr>${params}</table>` : ""}
${body}
<ul>${responses}</ul>
</section>`;
}

export function renderDocsPage(doc: { info: { title: string; version: string; description: string }; paths: Record<string, Record<string, Operation>> }): string {
    const sections = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => renderOperation(path, m, op)));
    const index = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([m, op]) => `<li><a href="#${escape(op.operationId)}">${escape(m.toUpperCase())} ${escape(path)}</a></li>`)).join("");
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(doc.info.title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f5f5f5;padding:.5rem;overflow:auto;font-size:.8rem}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
.m{display:inline-block;min-width:4rem;font-weight:bold}.get{color:#0a6}.put{color:#b60}.post{color:#06b}.delete{color:#c00}
section{border-top:1px solid #ddd;padding-top:.5rem}
</style></head><body>
<h1>${escape(doc.info.title)} <small>${escape(doc.info.version)}</small></h1>
<p>${escape(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<ul>${index}</ul>
${sections.join("\n")}
</body></html>`;
}
