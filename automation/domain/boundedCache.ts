/**
 * A map that never holds more than `capacity` entries and keeps the recently used ones.
 *
 * Two generations: sets and hits land in the young one; when it is full it becomes the old
 * one and the previous old one is dropped whole. Every key used among the last capacity/2
 * distinct keys is still there. A linked-list LRU would keep a little more, but it pays
 * bookkeeping on every hit, and these caches sit on the read path where a hit must cost
 * one Map lookup. `undefined` is not a storable value: `get` uses it for a miss.
 */
export class BoundedCache<K, V> {
    private young = new Map<K, V>();
    private old = new Map<K, V>();
    private readonly generation: number;

    constructor(readonly capacity: number) {
        if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`capacity must be a whole number of 2 or more, not ${capacity}`);
        this.generation = Math.floor(capacity / 2);
    }

    get(key: K): V | undefined {
        const value = this.young.get(key);
        if (value !== undefined) return value;
        const aged = this.old.get(key);
        if (aged !== undefined) this.set(key, aged);
        return aged;
    }

    set(key: K, value: V): void {
        if (this.young.has(key)) {
            this.young.set(key, value);
            return;
        }
        if (this.young.size >= this.generation) {
            this.old = this.young;
            this.young = new Map();
        }
        this.young.set(key, value);
        this.old.delete(key);
    }

    get size(): number {
        return this.young.size + this.old.size;
    }

    clear(): void {
        this.young.clear();
        this.old.clear();
    }
}
