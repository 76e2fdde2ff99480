import type { Response } from "express";
import { isFinalEvent, type StateEventData } from "../domain/eventHub";
import { TERMINAL_STATES, type OperationEvent, type OperationState } from "../domain/ports";

/**
 * Server-Sent Events for one operation: replay what the store holds after the
 * client's last seen seq, then stream live events, then a final `end` event once
 * the operation is terminal. Subscribing happens before the replay so nothing
 * emitted in between is lost; seq numbers drop the duplicates.
 */

export interface OperationEventSource {
    /** Stored events with seq greater than `afterSeq`, in order. */
    replay(afterSeq: number): Promise<OperationEvent[]>;
    /** Live events as they are stored; returns the unsubscribe function. */
    subscribe(listener: (event: OperationEvent) => void): () => void;
    /** The operation's current state. */
    state(): Promise<OperationState>;
    /**
     * The state, read again periodically until the returned function is called: a backstop to the
     * final event, which a lost notification would leave undelivered (see StateChecks).
     */
    watchState(onState: (state: OperationState) => void, onError: (err: unknown) => void): () => void;
}

export interface SseOptions {
    /** Comment lines keep proxies from closing an idle stream. */
    heartbeatMs: number;
    onError(err: unknown): void;
}

/** Heartbeats, and how often a streamed operation's state is read again (StateChecks, one read per operation). */
export const DEFAULT_SSE_OPTIONS = { heartbeatMs: 15_000, stateCheckMs: 2_000 };

/** SSE field values may not hold line breaks; types are restricted to a safe token set. */
function eventType(type: string): string {
    const safe = type.replace(/[^A-Za-z0-9._:-]/g, "_");
    return safe || "message";
}

export function formatEvent(event: OperationEvent): string {
    return `id: ${event.seq}\nevent: ${eventType(event.type)}\ndata: ${JSON.stringify(event.data ?? null)}\n\n`;
}

/**
 * Whether a reconnecting client already has all there is: the operation has ended and no event
 * follows its Last-Event-ID. Such a client is answered 204, the one answer that makes a
 * standard EventSource stop reconnecting instead of retrying forever.
 */
export async function hasEnded(state: OperationState, eventsAfter: () => Promise<OperationEvent[]>): Promise<boolean> {
    return TERMINAL_STATES.has(state) && (await eventsAfter()).length === 0;
}

export async function streamOperationEvents(res: Response, source: OperationEventSource, afterSeq: number, options: SseOptions): Promise<void> {
    let lastSeq = afterSeq;
    let live = false;
    let closed = false;
    let ending = false;
    const buffered: OperationEvent[] = [];
    const timers: NodeJS.Timeout[] = [];
    let stopWatching = () => {};

    const write = (event: OperationEvent) => {
        if (closed || event.seq <= lastSeq) return;
        lastSeq = event.seq;
        res.write(formatEvent(event));
        // Nothing is stored after the final event, so a stream that wrote it has every event.
        if (live && isFinalEvent(event)) finish((event.data as StateEventData).state, false).catch(fail);
    };
    const unsubscribe = source.subscribe((event) => (live ? write(event) : buffered.push(event)));
    const cleanup = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        stopWatching();
        timers.forEach(clearInterval);
    };
    // The response's close (not the request's, which fires once its body is read) marks a gone client.
    res.on("close", cleanup);
    const fail = (err: unknown) => {
        options.onError(err);
        cleanup();
        res.end();
    };

    const finish = async (state: OperationState, missedSome: boolean) => {
        if (ending) return;
        ending = true;
        // Learnt from the state rather than the final event: the events stored before it may not have been delivered yet.
        if (missedSome) for (const e of await source.replay(lastSeq)) write(e);
        if (closed) return;
        res.write(`event: end\ndata: ${JSON.stringify({ state })}\n\n`);
        cleanup();
        res.end();
    };
    const onState = (state: OperationState) => {
        if (!closed && TERMINAL_STATES.has(state)) finish(state, true).catch(fail);
    };
    try {
        res.status(200).set({
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-transform",
            Connection: "keep-alive",
            // nginx and similar proxies buffer responses unless told not to.
            "X-Accel-Buffering": "no",
        });
        res.flushHeaders();
        res.write("retry: 3000\n\n");
        let batch: OperationEvent[];
        do {
            batch = await source.replay(lastSeq);
            batch.forEach(write);
        } while (batch.length > 0 && !closed);
        buffered.splice(0).forEach(write);
        live = true;
        if (closed) return;
        timers.push(setInterval(() => { if (!closed) res.write(": heartbeat\n\n"); }, options.heartbeatMs));
        stopWatching = source.watchState(onState, fail);
        const state = await source.state();
        if (TERMINAL_STATES.has(state)) await finish(state, true);
    } catch (err) {
        fail(err);
    }
}
