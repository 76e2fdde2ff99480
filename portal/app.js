// The self-service portal: a Preact + htm single page over the /v1 API. Pages are chosen by
// the URL's hash, so the server serves one page at `/` and every view can be bookmarked.
// What a button does is decided by the API; the portal only hides buttons the caller's role
// cannot use (GET /v1/whoami), it never grants anything.

import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "htm/preact";
import { api, ApiError, followOperation, get, session } from "./api.js";
import { completeSignIn, startSignIn } from "./oidc.js";
import { errorsByField, fieldId, fieldPaths, prune, setAt, SpecFields, specSchema } from "./schemaForm.js";

const STATUSES = ["pending", "provisioning", "ready", "failed", "destroying", "destroyed"];
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const SECRET = "[secret]";
/** The event the server records on every state change (automation/domain/eventHub.ts). */
const STATE_EVENT = "operation.state";

const enc = encodeURIComponent;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const canMutate = (me) => me.role === "admin" || me.role === "operator";
// A keystroke's state update renders in a later task; Enter can submit before it. Form handlers
// read what is in the fields (the DOM), or wait for that render and read the latest state.
const rendered = () => new Promise((resolve) => setTimeout(resolve));

function useHash() {
    const [hash, setHash] = useState(location.hash || "#/");
    useEffect(() => {
        const on = () => setHash(location.hash || "#/");
        addEventListener("hashchange", on);
        return () => removeEventListener("hashchange", on);
    }, []);
    return hash;
}

/** Loads once per key; `reload` fetches again. */
function useLoad(key, load) {
    const [state, setState] = useState({ loading: true });
    const [n, setN] = useState(0);
    useEffect(() => {
        let live = true;
        setState((s) => ({ ...s, loading: true, error: undefined }));
        load().then((data) => live && setState({ data }), (error) => live && setState({ error }));
        return () => { live = false; };
    }, [key, n]);
    return { ...state, reload: () => setN((x) => x + 1) };
}

function Badge({ value }) {
    return html`<span class=${`badge s-${value}`}>${value}</span>`;
}

function Problem({ error }) {
    if (!error) return null;
    const p = error instanceof ApiError ? error.problem : {};
    return html`<div class="error-box" role="alert">
        <p><strong>${p.title || "Something went wrong"}</strong>${error.status ? ` (HTTP ${error.status})` : ""}</p>
        <p>${error.message}</p>
        ${p.errors?.length ? html`<ul>${p.errors.map((e) => html`<li><code>${e.path}</code>: ${e.message}</li>`)}</ul>` : null}
    </div>`;
}

/** Moves focus to the page's heading on navigation, so keyboard and screen-reader users start there. */
function Page({ title, children }) {
    const h1 = useRef();
    useEffect(() => {
        document.title = `${title} · Key Vault environments`;
        h1.current?.focus();
    }, [title]);
    return html`<h1 tabindex="-1" ref=${h1}>${title}</h1>${children}`;
}

function TableWrap({ label, children }) {
    return html`<div class="table-wrap" role="region" aria-label=${label} tabindex="0">${children}</div>`;
}

// ---- sign in -------------------------------------------------------------

function SignIn({ config, onToken, error }) {
    const [busy, setBusy] = useState(false);
    const [failure, setFailure] = useState();
    const submit = (e) => {
        e.preventDefault();
        const token = e.currentTarget.elements.token.value.trim();
        if (token) onToken(token);
    };
    return html`<main id="main" class="signin">
        <${Page} title="Sign in">
            <${Problem} error=${error || failure} />
            ${config.oidc ? html`<p><button type="button" disabled=${busy}
                onClick=${() => { setBusy(true); startSignIn(config.oidc).catch((e) => { setBusy(false); setFailure(e); }); }}>Sign in with your organisation</button></p>
                <p>Or use an API token:</p>` : null}
            <form onSubmit=${submit}>
                <div class="field">
                    <label for="token">API token</label>
                    <p class="hint" id="token-hint">Kept in this tab's session storage only; closing the tab signs you out.</p>
                    <input id="token" name="token" type="password" autocomplete="off" aria-describedby="token-hint" />
                </div>
                <button type="submit">Sign in</button>
            </form>
        <//>
    </main>`;
}

// ---- environments ---------------------------------------------------------

function EnvironmentList({ me }) {
    const [filters, setFilters] = useState({ team: "", status: "" });
    // What is typed is kept apart from the applied filter, so a list arriving mid-typing cannot reset it.
    const [teamDraft, setTeamDraft] = useState("");
    const [cursors, setCursors] = useState([undefined]);
    const cursor = cursors.at(-1);
    const query = new URLSearchParams({ limit: "10" });
    if (filters.team) query.set("team", filters.team);
    if (filters.status) query.set("status", filters.status);
    if (cursor) query.set("cursor", cursor);
    const list = useLoad(query.toString(), () => get(`/v1/environments?${query}`));
    // An updater, not a copy of this render's filters: two changes before a render must both stay.
    const setFilter = (k) => (e) => { const value = e.currentTarget.value; setFilters((f) => ({ ...f, [k]: value })); setCursors([undefined]); };
    const title = me.role === "admin" ? "Environments of every team" : `Environments of team ${me.team}`;
    return html`<${Page} title=${title}>
        ${canMutate(me) ? html`<div class="actions"><a class="button" href="#/new">New environment</a></div>` : null}
        <form class="filters" aria-label="Filter environments"
            onSubmit=${(e) => { e.preventDefault(); const team = e.currentTarget.elements.team; if (team) setFilter("team")({ currentTarget: team }); }}>
            ${me.role === "admin" ? html`<div class="field"><label for="filter-team">Team</label>
                <input id="filter-team" name="team" type="text" value=${teamDraft} onInput=${(e) => setTeamDraft(e.currentTarget.value)}
                    onChange=${setFilter("team")} placeholder="all teams" /></div>` : null}
            <div class="field"><label for="filter-status">Status</label>
                <select id="filter-status" value=${filters.status} onChange=${setFilter("status")}>
                    <option value="">any</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
                </select></div>
        </form>
        <${Problem} error=${list.error} />
        ${list.data ? html`
            <${TableWrap} label="Environments">
                <table><thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Tier</th><th scope="col">Team</th><th scope="col">Last operation</th><th scope="col">Updated</th></tr></thead>
                <tbody>${list.data.items.map((e) => html`<tr>
                    <td><a href=${`#/environments/${enc(e.name)}`}>${e.name}</a></td>
                    <td><${Badge} value=${e.status} /></td><td>${e.spec.tier}</td><td>${e.team}</td>
                    <td>${e.lastOperationId ? html`<${LastOperation} id=${e.lastOperationId} />` : "—"}</td>
                    <td>${when(e.updatedAt)}</td></tr>`)}
                ${list.data.items.length === 0 ? html`<tr><td colspan="6">No environments match.</td></tr>` : null}
                </tbody></table>
            <//>
            <nav class="pager" aria-label="Pages">
                <button type="button" class="secondary" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
                <span>Page ${cursors.length}</span>
                <button type="button" class="secondary" disabled=${!list.data.nextCursor} onClick=${() => setCursors([...cursors, list.data.nextCursor])}>Next page</button>
            </nav>` : list.loading ? html`<p role="status">Loading…</p>` : null}
    <//>`;
}

/** The list's items carry only the last operation's id; each row reads its kind and state. */
function LastOperation({ id }) {
    const op = useLoad(id, () => get(`/v1/operations/${enc(id)}`));
    return html`<a href=${`#/operations/${enc(id)}`}>${op.data ? html`${op.data.kind} <${Badge} value=${op.data.state} />` : "open"}</a>`;
}

function Outputs({ outputs }) {
    const entries = Object.entries(outputs || {});
    if (!entries.length) return html`<p>No outputs yet: they appear once an update has succeeded.</p>`;
    return html`<${TableWrap} label="Outputs"><table><thead><tr><th scope="col">Output</th><th scope="col">Value</th></tr></thead><tbody>
        ${entries.map(([k, v]) => html`<tr><th scope="row"><code>${k}</code></th><td>${v === SECRET
            ? html`<span class="secret" aria-hidden="true">••••••••</span><span class="sr-only">secret, hidden</span> <em>(secret)</em>`
            : html`<code>${typeof v === "string" ? v : JSON.stringify(v)}</code>`}</td></tr>`)}
    </tbody></table><//>`;
}

/** The ownership tags the last update gave the resources: read from its plan, as the program set them. */
async function loadTags(history) {
    const update = history.find((o) => o.kind === "update" && o.state === "succeeded");
    if (!update) return undefined;
    const plan = await get(`/v1/operations/${enc(update.id)}/plan?limit=100`);
    return plan.items.find((s) => s.inputs?.tags && typeof s.inputs.tags === "object")?.inputs.tags;
}

function DestroyDialog({ name, onClose, onDestroyed }) {
    const dialog = useRef();
    const [typed, setTyped] = useState("");
    const [error, setError] = useState();
    useEffect(() => {
        const d = dialog.current;
        d.showModal();
        const close = () => onClose();
        d.addEventListener("close", close);
        return () => d.removeEventListener("close", close);
    }, []);
    const destroy = async (e) => {
        e.preventDefault();
        // The button's state can trail the field by one keystroke; the field decides.
        if (e.currentTarget.elements["confirm-name"].value !== name) return;
        try {
            const res = await api("DELETE", `/v1/environments/${enc(name)}`);
            onDestroyed(res.data.operation);
        } catch (err) { setError(err); }
    };
    return html`<dialog ref=${dialog} aria-labelledby="destroy-title">
        <form onSubmit=${destroy}>
            <h2 id="destroy-title">Destroy ${name}?</h2>
            <p>Every resource of this environment is deleted. This cannot be undone.</p>
            <${Problem} error=${error} />
            <div class="field"><label for="confirm-name">Type <strong>${name}</strong> to confirm</label>
                <input id="confirm-name" type="text" autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.currentTarget.value)} /></div>
            <div class="actions">
                <button type="submit" class="danger" disabled=${typed !== name}>Destroy</button>
                <button type="button" class="secondary" onClick=${() => dialog.current.close()}>Keep it</button>
            </div>
        </form>
    </dialog>`;
}

function EnvironmentDetail({ me, name }) {
    const env = useLoad(name, () => get(`/v1/environments/${enc(name)}`));
    const history = useLoad(`${name}:ops`, () => get(`/v1/environments/${enc(name)}/operations?limit=20`).then((r) => r.items));
    const tags = useLoad(`${name}:tags:${history.data?.[0]?.id}`, () => (history.data ? loadTags(history.data) : Promise.resolve(undefined)));
    const [destroying, setDestroying] = useState(false);
    const [error, setError] = useState();
    const e = env.data;
    const preview = async () => {
        try {
            const res = await api("POST", `/v1/environments/${enc(name)}/preview`);
            location.hash = `#/operations/${enc(res.data.operation.id)}`;
        } catch (err) { setError(err); }
    };
    const live = e && e.status !== "destroyed";
    return html`<${Page} title=${`Environment ${name}`}>
        <${Problem} error=${env.error || error} />
        ${e ? html`
            <dl class="meta">
                <dt>Status</dt><dd><${Badge} value=${e.status} /></dd>
                <dt>Team</dt><dd>${e.team}</dd><dt>Tier</dt><dd>${e.spec.tier}</dd><dt>Location</dt><dd>${e.spec.location}</dd>
                <dt>Updated</dt><dd>${when(e.updatedAt)}</dd>
                ${e.expiresAt ? html`<dt>Expires</dt><dd>${when(e.expiresAt)}</dd>` : null}
                ${e.lastOperation ? html`<dt>Last operation</dt><dd><a href=${`#/operations/${enc(e.lastOperation.id)}`}>${e.lastOperation.kind} · ${e.lastOperation.state}</a></dd>` : null}
            </dl>
            ${canMutate(me) && live ? html`<div class="actions">
                <a class="button" href=${`#/environments/${enc(name)}/edit`}>Edit spec</a>
                <button type="button" class="secondary" onClick=${preview}>Preview</button>
                <button type="button" class="danger" onClick=${() => setDestroying(true)}>Destroy…</button>
            </div>` : null}
            ${destroying ? html`<${DestroyDialog} name=${name} onClose=${() => setDestroying(false)}
                onDestroyed=${(op) => { location.hash = `#/operations/${enc(op.id)}`; }} />` : null}
            <h2>Outputs</h2><${Outputs} outputs=${e.outputs} />
            <h2>Tags</h2>
            ${tags.data ? html`<dl class="meta">${Object.entries(tags.data).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`
                : html`<p>${tags.loading ? "Loading…" : "No tags yet: they are read from the last successful update."}</p>`}
            <h2>Operation history</h2>
            ${history.data ? html`<${TableWrap} label="Operation history"><table>
                <thead><tr><th scope="col">Operation</th><th scope="col">State</th><th scope="col">Requested by</th><th scope="col">Created</th><th scope="col">Changes</th></tr></thead>
                <tbody>${history.data.map((o) => html`<tr><td><a href=${`#/operations/${enc(o.id)}`}>${o.kind}</a></td><td><${Badge} value=${o.state} /></td>
                    <td>${o.requestedBy}</td><td>${when(o.createdAt)}</td><td>${o.summary ? Object.entries(o.summary).map(([k, v]) => `${k} ${v}`).join(", ") : "—"}</td></tr>`)}</tbody>
            </table><//>` : html`<${Problem} error=${history.error} />`}
            <h2>Spec</h2><pre tabindex="0" aria-label="Spec as JSON">${JSON.stringify(e.spec, null, 2)}</pre>
        ` : env.loading ? html`<p role="status">Loading…</p>` : null}
    <//>`;
}

// ---- create and edit ------------------------------------------------------

let openapi;
const loadOpenApi = () => (openapi ??= fetch("/openapi.json").then((r) => r.json()));

function SpecForm({ me, name: editing }) {
    const doc = useLoad("openapi", loadOpenApi);
    const existing = useLoad(editing || "", () => (editing ? get(`/v1/environments/${enc(editing)}`) : Promise.resolve(undefined)));
    const [name, setName] = useState(editing || "");
    const [spec, setSpec] = useState();
    const [error, setError] = useState();
    const [busy, setBusy] = useState(false);
    useEffect(() => {
        if (spec === undefined && !existing.loading && !editing) setSpec({ tier: "dev", ...(me.team ? { team: me.team } : {}) });
        if (spec === undefined && existing.data) setSpec(existing.data.spec);
    }, [existing.loading, existing.data]);
    const ready = doc.data && spec;
    const schema = ready ? specSchema(doc.data) : undefined;
    const known = ready ? fieldPaths(schema, spec) : new Set();
    known.add("name");
    const problems = error instanceof ApiError ? errorsByField(error.problem.errors, known) : { at: {}, general: [] };
    useEffect(() => {
        const first = Object.keys(problems.at)[0];
        if (first) document.getElementById(fieldId(first))?.focus();
    }, [error]);
    const [preview, setPreview] = useState();
    const body = () => prune(spec) || {};
    const latest = useRef();
    latest.current = { name, body: body() };
    const send = async (action) => {
        setBusy(true);
        setError(undefined);
        try {
            await action();
        } catch (err) {
            setError(err);
        } finally {
            setBusy(false);
        }
    };
    const submit = (e) => {
        e.preventDefault();
        send(async () => {
            await rendered();
            const { name, body } = latest.current;
            const res = await api("PUT", `/v1/environments/${enc(name)}`, body);
            location.hash = res.data.operation ? `#/operations/${enc(res.data.operation.id)}` : `#/environments/${enc(name)}`;
        });
    };
    const dryRun = () => send(async () => {
        await rendered();
        const { name, body } = latest.current;
        const res = await api("POST", `/v1/environments/${enc(name)}/preview`, body);
        setPreview({ id: res.data.operation.id, of: JSON.stringify(body) });
    });
    const nameErrors = problems.at.name;
    return html`<${Page} title=${editing ? `Edit ${editing}` : "New environment"}>
        <p class="notice"><em>Preview plan</em> lists the resources this spec would create, change or delete, without applying anything.
            Applying queues an update, whose page shows its progress live.</p>
        ${error ? html`<div class="error-box" role="alert"><p><strong>${error.problem?.title || "Not applied"}</strong>: ${error.message}</p>
            ${Object.keys(problems.at).length ? html`<p>The fields marked below need a change.</p>` : null}
            ${problems.general.length ? html`<ul>${problems.general.map((p) => html`<li><code>${p.path}</code>: ${p.message}</li>`)}</ul>` : null}</div>` : null}
        <${Problem} error=${doc.error || existing.error} />
        ${ready ? html`<form class="form" noValidate onSubmit=${submit}>
            <div class="field"><label for="f-name">Name <span aria-hidden="true">*</span></label>
                <p class="hint" id="f-name-hint">Also the Pulumi stack name: 3-24 lowercase letters, digits and single hyphens, starting with a letter.</p>
                <input id="f-name" type="text" autocomplete="off" aria-required="true" disabled=${!!editing} value=${name}
                    aria-invalid=${nameErrors ? "true" : undefined} aria-describedby=${nameErrors ? "f-name-hint f-name-error" : "f-name-hint"}
                    onInput=${(e) => setName(e.currentTarget.value)} />
                ${nameErrors ? html`<p class="error" id="f-name-error">${nameErrors.join("; ")}</p>` : null}
            </div>
            <${SpecFields} schema=${schema} value=${spec} errors=${problems} disabled=${busy} onChange=${(p, v) => setSpec((s) => setAt(s, p, v))} />
            ${preview ? html`<section aria-labelledby="preview-title">
                <h2 id="preview-title">Preview</h2>
                ${preview.of !== JSON.stringify(body()) ? html`<p class="notice">The form has changed since this preview; preview again to see the new plan.</p>` : null}
                <${DryRun} key=${preview.id} id=${preview.id} />
            </section>` : null}
            <div class="actions">
                <button type="button" class="secondary" disabled=${busy || !name} onClick=${dryRun}>Preview plan</button>
                <button type="submit" disabled=${busy || !name}>${editing ? "Apply changes" : "Create and apply"}</button>
                <a class="button secondary" href=${editing ? `#/environments/${enc(editing)}` : "#/"}>Cancel</a></div>
        </form>` : html`<p role="status">Loading the form…</p>`}
    <//>`;
}

// ---- live operations ------------------------------------------------------

function describe(event) {
    const d = event.data || {};
    switch (event.type) {
        case STATE_EVENT: return `state → ${d.state}${d.error ? `: ${d.error.message}` : ""}`;
        case "resource-pre": return `${d.op} ${d.type} ${d.name ?? ""}`.trim();
        case "resource-outputs": return `done ${d.op ?? ""} ${d.type ?? ""} ${d.name ?? ""}`.replace(/\s+/g, " ").trim();
        case "resource-failed": return `FAILED ${d.type ?? ""} ${d.name ?? ""}`.trim();
        case "diagnostic": return `${d.severity}: ${d.message}`;
        case "policy": return `policy ${d.policyName ?? ""}: ${d.message ?? ""}`.trim();
        case "summary": return `summary: ${Object.entries(d.resourceChanges || {}).map(([k, v]) => `${k} ${v}`).join(", ")}`;
        default: return event.type;
    }
}

function Plan({ id }) {
    const plan = useLoad(id, async () => {
        const items = [];
        let cursor;
        do {
            const page = await get(`/v1/operations/${enc(id)}/plan?limit=100${cursor ? `&cursor=${enc(cursor)}` : ""}`);
            items.push(...page.items);
            cursor = page.nextCursor;
        } while (cursor);
        return items;
    });
    if (plan.error) return html`<${Problem} error=${plan.error} />`;
    if (!plan.data) return html`<p role="status">Loading the plan…</p>`;
    const counts = {};
    for (const step of plan.data) counts[step.op] = (counts[step.op] ?? 0) + 1;
    return html`<p id=${`plan-summary-${id}`}>${Object.entries(counts).map(([op, n]) => `${op} ${n}`).join(", ") || "No resources."}</p>
    <${TableWrap} label="Planned resources"><table>
        <thead><tr><th scope="col">Change</th><th scope="col">Type</th><th scope="col">Name</th></tr></thead>
        <tbody>${plan.data.map((s) => html`<tr><td>${s.op}</td><td><code>${s.type}</code></td><td>${s.name}</td></tr>`)}</tbody>
    </table><//>`;
}

/** A dry run's plan inside the form: waits for the preview to end, then lists its steps. */
function DryRun({ id }) {
    const [state, setState] = useState();
    const [error, setError] = useState();
    useEffect(() => {
        const abort = new AbortController();
        followOperation(id, { signal: abort.signal, onEvent: () => {}, onConnection: () => {} }).then(setState, setError);
        return () => abort.abort();
    }, [id]);
    if (error) return html`<${Problem} error=${error} />`;
    if (!state) return html`<p role="status">Planning… (<a href=${`#/operations/${enc(id)}`}>follow the preview</a>)</p>`;
    if (state !== "succeeded") return html`<p role="status" class="error">The preview ${state}; <a href=${`#/operations/${enc(id)}`}>see why</a>.</p>`;
    return html`<p role="status">Planned with the spec above; nothing has been applied.</p><${Plan} id=${id} />`;
}

function OperationView({ me, id }) {
    const op = useLoad(id, () => get(`/v1/operations/${enc(id)}`));
    const [events, setEvents] = useState([]);
    const [final, setFinal] = useState();
    const [connection, setConnection] = useState({ state: "connecting", connections: 0 });
    const [error, setError] = useState();
    useEffect(() => {
        setEvents([]);
        setFinal(undefined);
        const abort = new AbortController();
        followOperation(id, { signal: abort.signal, onEvent: (e) => setEvents((list) => [...list, e]), onConnection: setConnection })
            .then((state) => { if (state) { setFinal(state); op.reload(); } }, setError);
        return () => abort.abort();
    }, [id]);
    const planned = events.filter((e) => e.type === "resource-pre").length;
    const done = events.filter((e) => e.type === "resource-outputs" || e.type === "resource-failed").length;
    const o = op.data;
    const state = final || [...events].reverse().find((e) => e.type === STATE_EVENT)?.data?.state || o?.state;
    const cancel = async () => {
        try { await api("POST", `/v1/operations/${enc(id)}/cancel`); } catch (err) { setError(err); }
    };
    return html`<${Page} title=${o ? `${o.kind} of ${o.environment}` : "Operation"}>
        <${Problem} error=${op.error || error} />
        ${o ? html`<dl class="meta">
            <dt>Environment</dt><dd><a href=${`#/environments/${enc(o.environment)}`}>${o.environment}</a></dd>
            <dt>State</dt><dd><${Badge} value=${state} /></dd>
            <dt>Requested by</dt><dd>${o.requestedBy}</dd><dt>Created</dt><dd>${when(o.createdAt)}</dd>
            ${o.error ? html`<dt>Error</dt><dd>${o.error.message}</dd>` : null}
        </dl>` : null}
        <label for="progress">Resources done: ${done} of ${planned} planned</label>
        <progress id="progress" max=${Math.max(planned, 1)} value=${TERMINAL.has(state) && state === "succeeded" ? Math.max(planned, 1) : done}></progress>
        <p role="status" id="op-status">${final ? `Finished: ${final}.` : connection.state === "reconnecting"
            ? `Connection lost; reconnecting from event ${connection.lastEventId}…` : TERMINAL.has(state) ? `Finished: ${state}.` : `Following live (connection ${connection.connections}).`}</p>
        ${canMutate(me) && o && !TERMINAL.has(state) ? html`<div class="actions"><button type="button" class="danger" onClick=${cancel}>Cancel operation</button></div>` : null}
        ${final && o && o.kind !== "destroy" ? html`<h2>Planned resources</h2><${Plan} id=${id} />` : null}
        <h2>Event log</h2>
        <ol class="log" id="event-log" tabindex="0" aria-label="Event log">${events.map((e) => html`<li key=${e.seq} data-seq=${e.seq}>#${e.seq} ${describe(e)}</li>`)}</ol>
    <//>`;
}

// ---- admin ----------------------------------------------------------------

function AuditLog() {
    const [pages, setPages] = useState([]);
    const [next, setNext] = useState(undefined);
    const [error, setError] = useState();
    const [filters, setFilters] = useState({ action: "", outcome: "", text: "" });
    const load = async (cursor) => {
        try {
            const page = await get(`/v1/audit?limit=50${cursor ? `&cursor=${enc(cursor)}` : ""}`);
            setPages((p) => [...p, ...page.items]);
            setNext(page.nextCursor);
        } catch (err) { setError(err); }
    };
    useEffect(() => { load(); }, []);
    const actions = [...new Set(pages.map((a) => a.action))].sort();
    const text = filters.text.toLowerCase();
    const shown = pages.filter((a) => (!filters.action || a.action === filters.action) && (!filters.outcome || a.outcome === filters.outcome)
        && (!text || `${a.actor.subject} ${a.actor.team ?? ""} ${a.target}`.toLowerCase().includes(text)));
    const set = (k) => (e) => { const value = e.currentTarget.value; setFilters((f) => ({ ...f, [k]: value })); };
    return html`<${Page} title="Audit log">
        <${Problem} error=${error} />
        <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filter the audit log">
            <div class="field"><label for="audit-action">Action</label><select id="audit-action" value=${filters.action} onChange=${set("action")}>
                <option value="">any</option>${actions.map((a) => html`<option value=${a}>${a}</option>`)}</select></div>
            <div class="field"><label for="audit-outcome">Outcome</label><select id="audit-outcome" value=${filters.outcome} onChange=${set("outcome")}>
                <option value="">any</option>${["accepted", "rejected", "succeeded", "failed"].map((a) => html`<option value=${a}>${a}</option>`)}</select></div>
            <div class="field"><label for="audit-text">Actor, team or target contains</label><input id="audit-text" type="text" value=${filters.text} onInput=${set("text")} /></div>
        </form>
        <p>${shown.length} of ${pages.length} loaded entries match; filters apply to the entries loaded, newest first.</p>
        <${TableWrap} label="Audit entries"><table>
            <thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th></tr></thead>
            <tbody>${shown.map((a) => html`<tr><td>${when(a.at)}</td><td>${a.actor.subject} (${a.actor.role}${a.actor.team ? `, ${a.actor.team}` : ""})</td>
                <td>${a.action}</td><td>${a.target}</td><td><${Badge} value=${a.outcome === "accepted" ? "succeeded" : a.outcome} /> <span class="sr-only">${a.outcome}</span></td></tr>`)}</tbody>
        </table><//>
        ${next ? html`<button type="button" class="secondary" onClick=${() => load(next)}>Load older entries</button>` : null}
    <//>`;
}

// ---- shell ----------------------------------------------------------------

function Shell({ me, onSignOut }) {
    const hash = useHash();
    const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    let page;
    if (parts[0] === "environments" && parts[1] && parts[2] === "edit" && canMutate(me)) page = html`<${SpecForm} me=${me} name=${parts[1]} />`;
    else if (parts[0] === "environments" && parts[1]) page = html`<${EnvironmentDetail} key=${parts[1]} me=${me} name=${parts[1]} />`;
    else if (parts[0] === "new" && canMutate(me)) page = html`<${SpecForm} me=${me} />`;
    else if (parts[0] === "operations" && parts[1]) page = html`<${OperationView} key=${parts[1]} me=${me} id=${parts[1]} />`;
    else if (parts[0] === "audit" && me.role === "admin") page = html`<${AuditLog} />`;
    else page = html`<${EnvironmentList} me=${me} />`;
    return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.querySelector("main h1")?.focus(); }}>Skip to content</a>
        <header class="top">
            <a class="brand" href="#/">Key Vault environments</a>
            <nav aria-label="Main"><ul>
                <li><a href="#/">Environments</a></li>
                ${canMutate(me) ? html`<li><a href="#/new">New environment</a></li>` : null}
                ${me.role === "admin" ? html`<li><a href="#/audit">Audit log</a></li>` : null}
            </ul></nav>
            <div class="who"><span>${me.subject} · ${me.role}${me.team ? ` · team ${me.team}` : " · all teams"}</span>
                <button type="button" onClick=${onSignOut}>Sign out</button></div>
        </header>
        <main id="main">${page}</main>`;
}

function App() {
    const [config, setConfig] = useState();
    const [me, setMe] = useState();
    const [error, setError] = useState();
    const whoami = () => get("/v1/whoami").then(setMe, (e) => {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) session.clear();
        setError(e);
    });
    useEffect(() => {
        (async () => {
            const cfg = await fetch("/portal/config.json").then((r) => r.json());
            setConfig(cfg);
            if (cfg.oidc) {
                try {
                    const token = await completeSignIn(cfg.oidc);
                    if (token) session.set(token);
                } catch (e) { setError(e); }
            }
            if (session.token()) await whoami();
        })().catch(setError);
    }, []);
    if (!config) return html`<main id="main"><h1>Key Vault environments</h1><p role="status">Loading…</p></main>`;
    if (!me) {
        return html`<${SignIn} config=${config} error=${error} onToken=${(t) => { session.set(t); setError(undefined); whoami(); }} />`;
    }
    return html`<${Shell} me=${me} onSignOut=${() => { session.clear(); setMe(undefined); location.hash = "#/"; }} />`;
}

render(html`<${App} />`, document.getElementById("app"));
