// The portal's only door to the server: the /v1 API with the bearer token from session storage.
// The token never goes into a URL, a log line or local storage.

const TOKEN_KEY = "kvp.token";

export const session = {
    token: () => sessionStorage.getItem(TOKEN_KEY),
    set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
    clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A problem+json answer (RFC 9457): status, title, detail and the fields it names in errors[]. */
export class ApiError extends Error {
    constructor(status, problem) {
        super(problem?.detail || problem?.title || `HTTP ${status}`);
        this.status = status;
        this.problem = problem || {};
    }
}

export async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const token = session.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data;
    try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
    if (!res.ok) throw new ApiError(res.status, data);
    return { status: res.status, data };
}

export const get = (path) => api("GET", path).then((r) => r.data);

const sleep = (ms, signal) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

/** Parses one SSE block ("id:", "event:", "data:" lines); comments (": heartbeat") yield nothing. */
function parseBlock(block) {
    const out = { data: "" };
    for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "data") out.data += (out.data ? "\n" : "") + value;
        else if (field === "id" || field === "event") out[field] = value;
    }
    return out.event || out.id ? out : undefined;
}

/**
 * Follows an operation's Server-Sent Events. EventSource cannot send an Authorization header,
 * so this reads the stream with fetch and does what EventSource would: it remembers the last
 * event id and, when the connection drops, reconnects with Last-Event-ID so that nothing is
 * missed and nothing is shown twice. Resolves with the final state from the `end` event.
 */
export async function followOperation(id, { onEvent, onConnection, signal }) {
    let last = 0;
    let failures = 0;
    let connections = 0;
    while (!signal.aborted) {
        try {
            const headers = { Accept: "text/event-stream", Authorization: `Bearer ${session.token()}` };
            if (last > 0) headers["Last-Event-ID"] = String(last);
            const res = await fetch(`/v1/operations/${encodeURIComponent(id)}/events`, { headers, signal });
            if (!res.ok) {
                const problem = await res.json().catch(() => null);
                throw new ApiError(res.status, problem);
            }
            connections++;
            onConnection({ state: "open", connections });
            const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
            let buffer = "";
            for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                failures = 0;
                buffer += value.replace(/\r\n?/g, "\n");
                let cut;
                while ((cut = buffer.indexOf("\n\n")) >= 0) {
                    const msg = parseBlock(buffer.slice(0, cut));
                    buffer = buffer.slice(cut + 2);
                    if (!msg) continue;
                    const data = msg.data ? JSON.parse(msg.data) : null;
                    if (msg.event === "end") return data?.state;
                    const seq = Number(msg.id);
                    if (!Number.isInteger(seq) || seq <= last) continue;
                    last = seq;
                    onEvent({ seq, type: msg.event || "message", data });
                }
            }
        } catch (e) {
            if (signal.aborted) return undefined;
            // Authorization and not-found answers will not change by retrying.
            if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) throw e;
        }
        if (signal.aborted) return undefined;
        failures++;
        onConnection({ state: "reconnecting", connections, lastEventId: last });
        await sleep(Math.min(500 * 2 ** (failures - 1), 5000), signal);
    }
    return undefined;
}
