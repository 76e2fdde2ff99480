import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import type { Response } from "express";
import { STATE_EVENT } from "../../automation/domain/eventHub";
import type { OperationEvent, OperationState } from "../../automation/domain/ports";
import { streamOperationEvents, type OperationEventSource } from "../../automation/http/sse";
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

/** A source whose store reads are counted; `emit` delivers a live event. */
function source(stored: OperationEvent[], state: () => OperationState) {
    const listeners = new Set<(e: OperationEvent) => void>();
    const reads = { replay: 0, state: 0 };
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
    };
    return { src, reads, emit: (e: OperationEvent) => listeners.forEach((l) => l(e)) };
}

describe("SSE stream of one operation", () => {
    const options = { heartbeatMs: 60_000, stateCheckMs: 60_000, onError: (e: unknown) => assert.fail(String(e)) };

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
        const { src } = source(stored, () => state);
        const { res, written, ended } = fakeResponse();
        await streamOperationEvents(res, src, 0, { ...options, stateCheckMs: 20 });
        // Stored, but never delivered live (a notification lost with a dropped connection).
        stored.push(event(2, "summary"), finalState(3));
        state = "succeeded";
        await eventually(() => ended(), "the end of the stream");
        assert.deepEqual(written.filter((w) => w.startsWith("id:")).map((w) => w.split("\n")[0]), ["id: 1", "id: 2", "id: 3"]);
    });
});
