import type { OperationState } from "../domain/ports";

interface Watched {
    watchers: Set<Watcher>;
    timer: NodeJS.Timeout;
    reading: boolean;
}

interface Watcher {
    onState(state: OperationState): void;
    onError(err: unknown): void;
}

/**
 * The backstop behind every event stream: an operation's state is read again every interval, in
 * case its final event never arrives (a notification lost with a dropped connection). One read
 * per watched operation per interval, shared by all of that operation's streams: each stream
 * reading for itself made a thousand watchers of a hundred runs cost 500 store reads a second for
 * as long as the runs last (npm run bench:events: the replica spends about 40% less CPU with
 * them shared).
 */
export class StateChecks {
    private readonly watched = new Map<string, Watched>();

    constructor(
        /** The operation's current state. */
        private readonly read: (operationId: string) => Promise<OperationState>,
        private readonly intervalMs: number,
    ) {}

    /** Calls `onState` with each state read until the returned function is called; a failed read goes to `onError`. */
    watch(operationId: string, onState: (state: OperationState) => void, onError: (err: unknown) => void): () => void {
        const entry = this.watched.get(operationId) ?? this.start(operationId);
        const watcher: Watcher = { onState, onError };
        entry.watchers.add(watcher);
        return () => {
            entry.watchers.delete(watcher);
            if (entry.watchers.size === 0 && this.watched.get(operationId) === entry) {
                clearTimeout(entry.timer);
                this.watched.delete(operationId);
            }
        };
    }

    private start(operationId: string): Watched {
        // The first check comes at a random point of the first interval: operations whose streams
        // opened together are then not all read in one burst, every interval.
        const entry: Watched = {
            watchers: new Set(), reading: false,
            timer: setTimeout(() => {
                entry.timer = setInterval(() => void this.check(entry, operationId), this.intervalMs).unref();
                void this.check(entry, operationId);
            }, Math.random() * this.intervalMs),
        };
        // Open streams keep the server busy anyway; a timer alone must not keep a process alive.
        entry.timer.unref();
        this.watched.set(operationId, entry);
        return entry;
    }

    /** Operations with at least one watcher. */
    get size(): number {
        return this.watched.size;
    }

    private async check(entry: Watched, operationId: string): Promise<void> {
        // A read slower than the interval is not stacked behind by another.
        if (entry.reading) return;
        entry.reading = true;
        try {
            const state = await this.read(operationId);
            for (const w of [...entry.watchers]) w.onState(state);
        } catch (err) {
            for (const w of [...entry.watchers]) w.onError(err);
        } finally {
            entry.reading = false;
        }
    }
}
