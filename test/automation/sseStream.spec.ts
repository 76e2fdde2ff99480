import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import type { Response } from "express";
import { STATE_EVENT } from "../../automation/domain/eventHub";
import type { OperationEvent, OperationState } from "../../automation/domain/ports";
import { streamOperationEvents, type OperationEventSource } from "../../automation/http/sse";
import { StateChecks } from "../../automation/http/stateChecks";
import { eventually } from "./domainFixtures";

/** The part of an express Response the stream uses, recording what was written. */
function fakeResponse(): { res: Response; written: string[]; ended: () => boolean } {
    const written: string[] = [];
    let ended = false;
    const res = Object.assign(new EventEmitter(), {
        status: () => res,
        set: () => res,
        flushHeaders: () => undefined,
        write: (chunk: string) => written.push(chunk),
        end: () => {
            ended = true;
        },
    });
    return { res: res as unknown as Response, written, ended: () => ended };
}

const event = (seq: number, type: string, data: unknown = null): OperationEvent => ({ operationId: "op-1", seq, at: "2030-01-01T00:00:00.000Z", type, data });
const finalState = (seq: number): OperationEvent => event(seq, STATE_EVENT, { state: "succeeded" });

/** A source whose store reads are counted; `emit` delivers a live event. The state is read again every `checkMs`. */
function source(stored: OperationEvent[], state: () => OperationState, checkMs = 60_000) {
    const listeners = new Set<(e: OperationEvent) => void>();
    const reads = { replay: 0, state: 0 };
    const checks = new StateChecks(async () => {
        reads.state++;
        return state();
    }, checkMs);
    const src: OperationEventSource = {
        async replay(afterSeq) {
            reads.replay++;
            return stored.filter((e) => e.seq > afterSeq);
        },
        subscribe(listener) {
            listeners.add(listener);
            return () => listeners.delete(listener);
        },
        async state() {
            reads.state++;
            return state();
        },
        watchState: (onState, onError) => checks.watch("op-1", onState, onError),
    };
    return { src, reads, emit: (e: OperationEvent) => listeners.forEach((l) => l(e)) };
}

describe("SSE stream of one operation", () => {
    const options = { heartbeatMs: 60_000, onError: (e: unknown) => assert.fail(String(e)) };

    it("ends once the final event arrives live, without reading the store again", async () => {
        const stored = [event(1, STATE_EVENT, { state: "running" })];
        const { src, reads, emit } = source(stored, () => "running");
        const { res, written, ended } = fakeResponse();
        await streamOperationEvents(res, src, 0, options);
        const readsWhenLive = reads.replay;
        emit(event(2, "summary"));
        emit(finalState(3));
        await eventually(() => ended(), "the end of the stream");
        assert.deepEqual(written.filter((w) => w.startsWith("id:")).map((w) => w.split("\n")[0]), ["id: 1", "id: 2", "id: 3"]);
        assert.match(written[written.length - 1], /^event: end\ndata: {"state":"succeeded"}/);
        assert.equal(reads.replay, readsWhenLive, "nothing is stored after the final event, so there is nothing to read");
    });

    it("reads what it missed when it learns of the end from the state check rather than the final event", async () => {
        const stored = [event(1, STATE_EVENT, { state: "running" })];
        let state: OperationState = "running";
        const { src } = source(stored, () => state, 20);
        const { res, written, ended } = fakeResponse();
        await streamOperationEvents(res, src, 0, options);
        // Stored, but never delivered live (a notification lost with a dropped connection).
        stored.push(event(2, "summary"), finalState(3));
        state = "succeeded";
        await eventually(() => ended(), "the end of the stream");
        assert.deepEqual(written.filter((w) => w.startsWith("id:")).map((w) => w.split("\n")[0]), ["id: 1", "id: 2", "id: 3"]);
    });

    it("stops watching the operation's state once the client goes", async () => {
        const stored = [event(1, STATE_EVENT, { state: "running" })];
        const { src } = source(stored, () => "running");
        const watching: string[] = [];
        const { res } = fakeResponse();
        await streamOperationEvents(res, {
            ...src,
            watchState: (onState, onError) => {
                watching.push("op-1");
                const stop = src.watchState(onState, onError);
                return () => {
                    watching.pop();
                    stop();
                };
            },
        }, 0, options);
        assert.equal(watching.length, 1, "a live stream watches the state");
        res.emit("close");
        assert.equal(watching.length, 0, "a closed stream no longer does");
    });
});

describe("state checks shared by the streams of an operation", () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it("reads each watched operation once per interval, however many streams watch it", async () => {
        const reads = new Map<string, number>();
        const checks = new StateChecks(async (id) => {
            reads.set(id, (reads.get(id) ?? 0) + 1);
            return "running";
        }, 25);
        const seen = new Map<number, number>();
        const stops = [
            ...Array.from({ length: 10 }, (_, i) => checks.watch("op-a", () => seen.set(i, (seen.get(i) ?? 0) + 1), (e) => assert.fail(String(e)))),
            checks.watch("op-b", () => undefined, (e) => assert.fail(String(e))),
        ];
        await sleep(160);
        stops.forEach((stop) => stop());
        const a = reads.get("op-a") ?? 0;
        assert.ok(a >= 1 && a <= 7, `op-a read ${a} times in 160 ms at a 25 ms interval`);
        assert.ok(Math.abs(a - (reads.get("op-b") ?? 0)) <= 1, `ten watchers cost what one does: ${a} reads against ${reads.get("op-b")}`);
        for (let i = 0; i < 10; i++) assert.equal(seen.get(i), a, `watcher ${i} hears every read`);
    });

    it("stops reading an operation once its last watcher goes", async () => {
        let reads = 0;
        const checks = new StateChecks(async () => {
            reads++;
            return "running";
        }, 10);
        const first = checks.watch("op-a", () => undefined, (e) => assert.fail(String(e)));
        const second = checks.watch("op-a", () => undefined, (e) => assert.fail(String(e)));
        first();
        await sleep(40);
        assert.ok(reads > 0, "one watcher left: still read");
        second();
        assert.equal(checks.size, 0);
        const after = reads;
        await sleep(50);
        assert.equal(reads, after, "no reads once nobody watches");
    });

    it("gives a failed read to every watcher, and never stacks a slow read behind another", async () => {
        let inFlight = 0;
        let most = 0;
        const checks = new StateChecks(async () => {
            most = Math.max(most, ++inFlight);
            await sleep(35);
            inFlight--;
            throw new Error("store down");
        }, 10);
        const errors: string[] = [];
        const stops = [1, 2, 3].map((n) => checks.watch("op-a", () => assert.fail("no state from a failed read"), (e) => errors.push(`${n}: ${(e as Error).message}`)));
        await eventually(() => errors.length >= 3, "the failed read reaching every watcher");
        stops.forEach((stop) => stop());
        assert.deepEqual(errors.slice(0, 3).sort(), ["1: store down", "2: store down", "3: store down"]);
        assert.equal(most, 1, "one read at a time per operation");
    });
});
