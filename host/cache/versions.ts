/**
 * The shared version table that lets a worker keep values it read from the cache (its value
 * memo, host/executor/value-memo.ts) and still see every other thread's writes.
 *
 * One SharedArrayBuffer of 64-bit words, made by the main thread with the cache and given to
 * every worker: word 0 is G, the global commit sequence; the others are version slots, one
 * per hash of a key (several keys may share a slot: a collision only costs a memo miss).
 * Every transaction that changes or removes values of the cache, on any thread, calls
 * `bump(keys)` AFTER it committed: it takes seq = ++G once for the transaction and raises the
 * slot of each key to max(slot, seq). Slots never go back, and 64-bit words never wrap.
 *
 * A reader that fills its memo out of its LMDB read snapshot uses it so (value-memo.ts):
 *   1. `sequence()` into G_snap just BEFORE it renews its snapshot (HostCache.refresh does both);
 *   2. to keep a value read from that snapshot, it reads the key's slot s and keeps the value
 *      only if s <= G_snap, tagged s;
 *   3. a later read may serve the kept value only while the slot still equals its tag.
 *
 * Why that never serves a value older than an acknowledged write. Take a commit c of key k
 * that the snapshot does not contain. c committed after the snapshot was taken (a snapshot
 * holds every transaction committed before it), so after G_snap was read; c takes its seq
 * after it committed, hence seq_c > G_snap >= s = tag. Once c has bumped, slot(k) >= seq_c >
 * tag for ever (slots only rise), so the tag no longer matches: the memo misses and reads LMDB
 * afresh. A commit that has not bumped yet has not been acknowledged either: every writer
 * bumps before it answers (HostCache's write paths return after their bump), so a call that
 * starts after an acknowledgement finds the slot raised. Without step 2's check, a slot
 * raised by such a commit c (s = seq_c > G_snap) would tag a value that misses c, and the tag
 * would match for ever after.
 *
 * @example
 * const table = VersionTable.create();           // main thread, with the cache
 * const again = VersionTable.from(table.buffer); // a worker, from its WorkerInit
 * table.bump(['default/k/a']);                   // after a commit of default/k/a
 */
export class VersionTable {
  /** Version slots of a table made by `create` (a power of two): 2^17 slots, 1 MiB shared by the host's threads. */
  static readonly DEFAULT_SLOTS = 1 << 17;
  readonly buffer: SharedArrayBuffer;
  readonly #words: BigInt64Array;
  readonly #mask: number;

  private constructor(buffer: SharedArrayBuffer) {
    const words = buffer.byteLength / 8 - 1;
    if (!Number.isInteger(words) || words < 1 || (words & (words - 1)) !== 0) {
      throw new RangeError(`a version table holds G and a power of two of slots, not ${buffer.byteLength} bytes`);
    }
    this.buffer = buffer;
    this.#words = new BigInt64Array(buffer);
    this.#mask = words - 1;
  }

  /** A new table, every slot at version 0 (G = 0). */
  static create(slots = VersionTable.DEFAULT_SLOTS): VersionTable {
    return new VersionTable(new SharedArrayBuffer(8 * (slots + 1)));
  }

  /** The table another thread made (its `buffer`). */
  static from(buffer: SharedArrayBuffer): VersionTable {
    return new VersionTable(buffer);
  }

  /**
   * G: how many transactions have bumped so far. Read it just before renewing a snapshot.
   * Versions are handed out as numbers (exact up to 2^53 transactions: centuries at a million
   * a second), so that a memo's hit compares two numbers, not two BigInts on the heap.
   */
  sequence(): number {
    return Number(Atomics.load(this.#words, 0));
  }

  /** The 32-bit hash of `key` its slot comes from: FNV-1a of its UTF-16 code units, unsigned. */
  static hash(key: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  /** The slot of a key whose `hash` is `h`: 1 .. slots (its low bits). */
  slotOfHash(h: number): number {
    return 1 + (h & this.#mask);
  }

  /** The slot of `key`: 1 .. slots. */
  slotOf(key: string): number {
    return this.slotOfHash(VersionTable.hash(key));
  }

  /** The version in `slot` now. */
  version(slot: number): number {
    return Number(Atomics.load(this.#words, slot));
  }

  /**
   * After a transaction that changed or removed the values of `keys` committed: one new seq
   * for the transaction, every key's slot raised to it. Call it before the write is answered.
   */
  bump(keys: Iterable<string>): void {
    const words = this.#words;
    const seq = Atomics.add(words, 0, 1n) + 1n;
    for (const key of keys) {
      const slot = this.slotOf(key);
      let v = Atomics.load(words, slot);
      // Raise to max(v, seq); another writer may raise the slot meanwhile (then retry or stop).
      while (v < seq) {
        const was = Atomics.compareExchange(words, slot, v, seq);
        if (was === v) break;
        v = was;
      }
    }
  }
}
