/**
 * Hinted handoff: "peer P missed key K". A hint holds no value: when P is back the node
 * sends K's current value, which is the merge of everything P missed (lattices make the
 * newest value a superset of every older one). Hints live in LMDB (`hints-v1` next to the
 * lattices, same durability), so they survive a restart of the node that keeps them.
 */
import { Buffer } from 'node:buffer';
import type { Database } from 'lmdb';
import type { LatticeStore } from '../store.ts';

/** The table's name; the version changes with its layout: key = peer id, NUL, key. */
export const HINTS_DB_NAME = 'hints-v1';

const EMPTY = Buffer.alloc(0);

/**
 * @example
 * const hints = new Hints(store);
 * hints.add('kv-2', ['a', 'b']);
 * for (const batch of hints.batches('kv-2', 1000)) await push(batch) && hints.remove('kv-2', batch);
 */
export class Hints {
  readonly #db: Database<Buffer, Buffer>;
  /** Hints per peer, counted at open and kept up to date (cheap "anything for P?"). */
  readonly #counts = new Map<string, number>();
  readonly #known = new Set<string>();
  #closed = false;

  constructor(store: LatticeStore) {
    this.#db = store.openTable(HINTS_DB_NAME);
    for (const { key } of this.#db.getRange({})) {
      const k = key.toString('utf8');
      const peer = k.slice(0, k.indexOf('\u0000'));
      this.#counts.set(peer, (this.#counts.get(peer) ?? 0) + 1);
      this.#known.add(k);
    }
  }

  /** Records that `peer` missed `keys` (idempotent). */
  add(peer: string, keys: Iterable<string>): void {
    if (this.#closed) return;
    for (const key of keys) {
      const k = `${peer}\u0000${key}`;
      if (this.#known.has(k)) continue;
      this.#known.add(k);
      this.#counts.set(peer, (this.#counts.get(peer) ?? 0) + 1);
      void this.#db.put(Buffer.from(k, 'utf8'), EMPTY);
    }
  }

  /** Forgets hints once `peer` acknowledged those keys. */
  remove(peer: string, keys: Iterable<string>): void {
    if (this.#closed) return;
    for (const key of keys) {
      const k = `${peer}\u0000${key}`;
      if (!this.#known.delete(k)) continue;
      const left = (this.#counts.get(peer) ?? 1) - 1;
      if (left > 0) this.#counts.set(peer, left);
      else this.#counts.delete(peer);
      void this.#db.remove(Buffer.from(k, 'utf8'));
    }
  }

  /** How many keys `peer` has missed. */
  count(peer: string): number {
    return this.#counts.get(peer) ?? 0;
  }

  /** Peers with hints. */
  peers(): string[] {
    return [...this.#counts.keys()];
  }

  /** Up to `limit` keys `peer` missed. */
  take(peer: string, limit: number): string[] {
    const prefix = `${peer}\u0000`;
    const out: string[] = [];
    if (this.#closed) return out;
    for (const { key } of this.#db.getRange({ start: Buffer.from(prefix, 'utf8') })) {
      const k = key.toString('utf8');
      if (!k.startsWith(prefix) || out.length >= limit) break;
      // Skip hints removed but not yet committed.
      if (this.#known.has(k)) out.push(k.slice(prefix.length));
    }
    return out;
  }

  /** Stops writing: the store is about to close (lmdb must not see a put after that). */
  close(): void {
    this.#closed = true;
  }

  /** Drops every hint for `peer` (it left the cluster for good). */
  clear(peer: string): void {
    this.remove(peer, this.take(peer, Number.MAX_SAFE_INTEGER));
  }
}
