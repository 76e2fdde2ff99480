import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import { bearer, listen, spec, startHarness, stopListening, TOKENS, type Harness } from "./httpHarness";

interface SseEvent {
    id?: number;
    event: string;
    data: unknown;
}

/** Parses an SSE body into events; comment lines (heartbeats) are dropped. */
function parseSse(text: string): SseEvent[] {
    return text.split("\n\n").filter((block) => block.trim() && !block.startsWith(":") && !block.startsWith("retry:")).map((block) => {
        const fields: Record<string, string> = {};
        for (const line of block.split("\n")) {
            const i = line.indexOf(": ");
            if (i > 0) fields[line.slice(0, i)] = line.slice(i + 2);
        }
        return { ...(fields.id ? { id: Number(fields.id) } : {}), event: fields.event ?? "message", data: JSON.parse(fields.data ?? "null") };
    });
}

async function readStream(h: Harness, opId: string, headers: Record<string, string> = {}, query = ""): Promise<{ res: request.Response; events: SseEvent[] }> {
    const res = await request(h.app).get(`/v1/operations/${opId}/events${query}`).set(bearer(TOKENS.readerA)).set(headers)
        .buffer(true).parse((r, done) => {
            let body = "";
            r.setEncoding("utf8");
            r.on("data", (c: string) => { body += c; });
            r.on("end", () => done(null, body));
        });
    return { res, events: parseSse(res.body as string) };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

describe("SSE: operation events", function () {
    this.timeout(20_000);

    describe("a finished operation", () => {
        let h: Harness;
        let opId: string;
        let full: SseEvent[];
        before(async () => {
            h = await startHarness({ worker: true, engine: { latencyMs: 150, progressEvents: 3 } });
            const put = await request(h.app).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
            opId = put.body.operation.id;
            full = (await readStream(h, opId)).events;
        });
        after(() => h.close());

        it("streams the lifecycle and the engine's events in seq order, then ends", async () => {
            const { res } = await readStream(h, opId);
            assert.equal(res.status, 200);
            assert.match(res.headers["content-type"], /^text\/event-stream/);
            assert.equal(res.headers["cache-control"], "no-cache, no-transform");
            const ids = full.filter((e) => e.id !== undefined).map((e) => e.id as number);
            assert.deepEqual(ids, ids.map((_, i) => i + 1), "ids are the seqs 1..n, each once");
            const states = full.filter((e) => e.event === "operation.state").map((e) => (e.data as { state: string }).state);
            assert.deepEqual(states, ["queued", "running", "succeeded"]);
            assert.ok(full.some((e) => e.event === "resource-pre"), "engine events are included");
            const last = full[full.length - 1];
            assert.deepEqual(last, { event: "end", data: { state: "succeeded" } });
        });

        it("resumes after Last-Event-ID without repeating or skipping", async () => {
            const resumed = (await readStream(h, opId, { "Last-Event-ID": "2" })).events;
            assert.deepEqual(resumed, full.filter((e) => e.id === undefined || e.id > 2));
        });

        it("resumes after ?after= too, with the header winning when both are sent", async () => {
            assert.deepEqual((await readStream(h, opId, {}, "?after=3")).events, full.filter((e) => e.id === undefined || e.id > 3));
            assert.deepEqual((await readStream(h, opId, { "Last-Event-ID": "4" }, "?after=1")).events, full.filter((e) => e.id === undefined || e.id > 4));
        });

        it("refuses a malformed Last-Event-ID with a 400 problem", async () => {
            const res = await request(h.app).get(`/v1/operations/${opId}/events`).set(bearer(TOKENS.readerA)).set("Last-Event-ID", "abc");
            assert.equal(res.status, 400);
            assert.equal(res.body.errors[0].path, "header.last-event-id");
        });
    });

    describe("a running operation", () => {
        let h: Harness;
        let port: number;
        let server: http.Server;
        before(async () => {
            h = await startHarness({ worker: true, engine: { defaultOutcome: { kind: "hang" } } });
            server = await listen(h.app);
            port = (server.address() as AddressInfo).port;
        });
        after(async () => {
            await stopListening(server);
            await h.close();
        });

        it("streams live events with heartbeats, ends on cancel, and unsubscribes when the client goes", async () => {
            const put = await request(server).put("/v1/environments/payments-dev").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
            const opId: string = put.body.operation.id;
            await waitFor("the operation to run", async () => ((await h.store.getOperation(opId))?.state === "running" ? true : undefined));

            let body = "";
            const ended = new Promise<void>((resolve, reject) => {
                const req = http.get({ port, host: "127.0.0.1", path: `/v1/operations/${opId}/events`, headers: bearer(TOKENS.readerA) }, (res) => {
                    res.setEncoding("utf8");
                    res.on("data", (c: string) => { body += c; });
                    res.on("end", resolve);
                });
                req.on("error", reject);
            });
            await waitFor("a heartbeat", async () => (body.includes(": heartbeat") ? true : undefined));
            assert.ok(!body.includes("event: end"), "a running operation's stream stays open");
            assert.equal(h.service.hub.subscriberCount(opId), 1);

            await request(server).post(`/v1/operations/${opId}/cancel`).set(bearer(TOKENS.operatorA)).expect(202);
            await ended;
            const events = parseSse(body);
            const states = events.filter((e) => e.event === "operation.state").map((e) => (e.data as { state: string }).state);
            assert.equal(states.at(-1), "canceled", body);
            assert.deepEqual(events.at(-1), { event: "end", data: { state: "canceled" } });
            await waitFor("the subscription to go", async () => (h.service.hub.subscriberCount(opId) === 0 ? true : undefined));

            // A client that disconnects mid-stream leaves no subscription behind.
            const second = await request(server).put("/v1/environments/payments-qa").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
            const secondId: string = second.body.operation.id;
            await waitFor("the second operation to run", async () => ((await h.store.getOperation(secondId))?.state === "running" ? true : undefined));
            const req = http.get({ port, host: "127.0.0.1", path: `/v1/operations/${secondId}/events`, headers: bearer(TOKENS.readerA) });
            await waitFor("the subscription", async () => (h.service.hub.subscriberCount(secondId) === 1 ? true : undefined));
            req.destroy();
            await waitFor("the subscription to be cleaned up", async () => (h.service.hub.subscriberCount(secondId) === 0 ? true : undefined));
            await request(server).post(`/v1/operations/${secondId}/cancel`).set(bearer(TOKENS.operatorA)).expect(202);
        });

        it("reads a streamed operation's state once per check, however many clients stream it", async () => {
            const put = await request(server).put("/v1/environments/payments-stage").set(bearer(TOKENS.operatorA)).send(spec()).expect(202);
            const opId: string = put.body.operation.id;
            await waitFor("the operation to run", async () => ((await h.store.getOperation(opId))?.state === "running" ? true : undefined));
            let reads = 0;
            const read = h.store.getOperation.bind(h.store);
            h.store.getOperation = (id) => {
                if (id === opId) reads++;
                return read(id);
            };
            const clients = Array.from({ length: 8 }, () => http.get({ port, host: "127.0.0.1", path: `/v1/operations/${opId}/events`, headers: bearer(TOKENS.readerA) }));
            try {
                await waitFor("eight streams", async () => (h.service.hub.subscriberCount(opId) === 8 ? true : undefined));
                reads = 0;
                // The harness checks every 100 ms: eight streams checking for themselves would read about 48 times.
                await new Promise((r) => setTimeout(r, 600));
                assert.ok(reads >= 1 && reads <= 12, `${reads} state reads in 600 ms for eight streams of one operation`);
            } finally {
                h.store.getOperation = read;
                clients.forEach((c) => c.destroy());
            }
            await request(server).post(`/v1/operations/${opId}/cancel`).set(bearer(TOKENS.operatorA)).expect(202);
        });
    });
});
