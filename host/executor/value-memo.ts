import { lwwValueView, registerC, registerMs } from '../../kvs/index.ts';
import { VersionTable } from '../cache/versions.ts';

/**
 * Bytes of a memo's entry besides its value and key (the entry object, the value's typed array
 * and its buffer, its map and ring slots), for the bound. Measured: 20,000 entries of 1 KiB
 * values under 13-character keys took 26.6 MiB of heap and array buffers, 1,396 bytes each.
 */
const ENTRY_OVERHEAD_BYTES = 360;
/** Entries a memo holds at most, whatever their size. */
export const MEMO_MAX_ENTRIES = 65_536;
/**
 * Values larger than this are not kept: copying them out of LMDB costs more than the lookup
 * the memo saves, and a few would push out thousands of small ones.
 */
export const MEMO_MAX_VALUE_BYTES = 64 * 1024;
/** The doorkeeper's bits: 2^20 (128 KiB), indexed by the top bits of a key's hash (its slot takes the low ones). */
const SEEN_BITS_LOG2 = 20;
/**
 * The doorkeeper's bits are cleared after this many were set, so that at most 1 in 16 are set
 * and a key read for the first time is taken for a second read (and kept) at most 1 time in 16.
 * A key read again within about this many other first reads is kept.
 */
const SEEN_RESET = 1 << (SEEN_BITS_LOG2 - 4);

/** What a register read needs of a kept value: its primary value (null: deleted) and the primary stamp's clock for the HLC. */
export interface MemoEntry {
  readonly value: Uint8Array | null;
  readonly ms: number;
  readonly c: number;
}

interface Entry extends MemoEntry {
  readonly key: string;
  /** The key's slot in the version table, and the slot's version the value was kept at. */
  readonly slot: number;
  readonly tag: number;
  readonly bytes: number;
  /** CLOCK's reference bit: read since the hand last passed. */
  ref: boolean;
  /** Where the entry is in the ring. */
  at: number;
}

/**
 * A worker's memo of register values it read from the cache: a later plain `get` of the same
 * key is served from here, without LMDB (a distinct key's LMDB lookup alone costs about 1 µs:
 * cold B-tree pages), as long as no thread has written the key since.
 *
 * Each entry is tagged with its key's slot version in the host's version table; an entry is
 * served only while the slot still holds its tag, and kept only when the slot is no newer
 * than the snapshot it was read from (`keep`'s `snapshotSequence`): the proof is in
 * host/cache/versions.ts. So a hit is exactly what the LMDB read would have returned, but for
 * a write that has committed and not yet bumped, which nobody has been told of either.
 *
 * A key is kept at its second read, not its first (a doorkeeper: one bit per key hash,
 * cleared every SEEN_RESET first reads): keeping a value costs a copy and garbage later, about
 * as much as the LMDB read itself, which a key read once (a scan) would pay for nothing.
 *
 * Bounded by bytes (values, keys and an estimate of each entry's overhead) and by
 * MEMO_MAX_ENTRIES; past either, CLOCK evicts entries not read since the hand last passed.
 *
 * @example
 * const memo = new ValueMemo(cache.versions, 32 * 1024 * 1024);
 * const hit = memo.get(key);                                    // undefined: not kept, or written since
 * if (hit === undefined) memo.keep(key, raw, cache.snapshotSequence); // raw: the register's bytes from the snapshot
 */
export class ValueMemo {
  readonly #versions: VersionTable;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #map = new Map<string, Entry>();
  readonly #ring: Entry[] = [];
  #hand = 0;
  #bytes = 0;
  /** The doorkeeper: a bit per hash of the keys read once since the last clearing (a collision only admits a key early). */
  readonly #seen = new Int32Array((1 << SEEN_BITS_LOG2) >>> 5);
  #marks = 0;

  constructor(versions: VersionTable, maxBytes: number, maxEntries = MEMO_MAX_ENTRIES) {
    this.#versions = versions;
    this.#maxBytes = maxBytes;
    this.#maxEntries = maxEntries;
  }

  /** The kept value of `key`, if it is kept and its key was not written since. */
  get(key: string): MemoEntry | undefined {
    if (this.#ring.length === 0) return undefined;
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    if (this.#versions.version(e.slot) !== e.tag) {
      this.#remove(e);
      return undefined;
    }
    e.ref = true;
    return e;
  }

  /**
   * Keeps the value of `key` read out of the read snapshot whose G was `snapshotSequence`
   * (HostCache.snapshotSequence): `raw` is the register's encoding there (isRegister).
   * Nothing is kept at a key's first read (the doorkeeper), when the key's slot is newer than
   * the snapshot (a write the snapshot may miss) or when the value is too large.
   */
  keep(key: string, raw: Uint8Array, snapshotSequence: number): void {
    const h = VersionTable.hash(key);
    const slot = this.#versions.slotOfHash(h);
    const seen = h >>> (32 - SEEN_BITS_LOG2);
    const bit = 1 << (seen & 31);
    if ((this.#seen[seen >>> 5]! & bit) === 0) {
      this.#seen[seen >>> 5]! |= bit;
      if (++this.#marks >= SEEN_RESET) {
        this.#seen.fill(0);
        this.#marks = 0;
      }
      return;
    }
    const tag = this.#versions.version(slot);
    if (tag > snapshotSequence) return;
    const view = lwwValueView(raw);
    if (view !== null && view.byteLength > MEMO_MAX_VALUE_BYTES) return;
    const bytes = ENTRY_OVERHEAD_BYTES + key.length + (view === null ? 0 : view.byteLength);
    if (bytes > this.#maxBytes) return;
    const old = this.#map.get(key);
    if (old !== undefined) this.#remove(old);
    while (this.#ring.length > 0 && (this.#bytes + bytes > this.#maxBytes || this.#ring.length >= this.#maxEntries)) this.#evictOne();
    // A copy (a Buffer's `slice` would be a view): `raw` is LMDB's, valid only until the thread's next read.
    const e: Entry = { key, value: view === null ? null : new Uint8Array(view), ms: registerMs(raw), c: registerC(raw), slot, tag, bytes, ref: false, at: this.#ring.length };
    this.#ring.push(e);
    this.#map.set(key, e);
    this.#bytes += bytes;
  }

  /** Entries kept. */
  get size(): number {
    return this.#ring.length;
  }

  /** What the kept entries take, by the bound's estimate. */
  get bytes(): number {
    return this.#bytes;
  }

  clear(): void {
    this.#map.clear();
    this.#ring.length = 0;
    this.#hand = 0;
    this.#bytes = 0;
  }

  /** CLOCK: passes over entries read since the last pass (clearing their bit), evicts the first that was not. */
  #evictOne(): void {
    for (;;) {
      if (this.#hand >= this.#ring.length) this.#hand = 0;
      const e = this.#ring[this.#hand]!;
      if (!e.ref) {
        this.#remove(e);
        return;
      }
      e.ref = false;
      this.#hand++;
    }
  }

  /** Takes `e` out: the ring's last entry moves into its place. */
  #remove(e: Entry): void {
    this.#map.delete(e.key);
    const last = this.#ring.pop()!;
    if (last !== e) {
      last.at = e.at;
      this.#ring[e.at] = last;
    }
    this.#bytes -= e.bytes;
  }
}
