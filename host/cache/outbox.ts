import type { Database, RootDatabase } from 'lmdb';
import { RecordIds, RecordScratch, decodeKeys, firstIdOf, msOfId } from './outbox-record.ts';

/** One outbox record: its id and the keys its commit wrote. */
export interface OutboxRecord {
  id: Buffer;
  keys: string[];
}

/** Records the flusher took, and the union of their keys (what it sends). */
export interface OutboxBatch {
  records: OutboxRecord[];
  keys: string[];
}

/** Keys per record when the old layout (one record per key) is migrated. */
const MIGRATED_KEYS_PER_RECORD = 1024;
/**
 * How far back (ms) an incremental index scan starts before the newest record it saw: a
 * record of another thread can carry a slightly older time than one indexed already (ties
 * within a millisecond, a clock that stepped back a little). Whatever this misses shows as a
 * count that does not match, and the index is rebuilt.
 */
const RESCAN_MS = 1000;

/**
 * The outbox: one record per commit naming the keys it wrote (outbox-record.ts), in the same
 * LMDB environment and write transaction as the values. A key is dirty while some record
 * names it. The flusher sends the current values of the keys of the oldest records and, on
 * acknowledgement, deletes exactly the records it took: a commit that wrote one of those
 * keys again meanwhile has its own record, which stays.
 *
 * Who needs to know whether a given key is dirty (eviction, a durable put, a refusal, the
 * metrics: all on the main thread) asks the index, a map from key to the records that name
 * it, kept up to date by reading only records newer than the last it saw.
 */
export class Outbox {
  readonly #db: Database<Uint8Array, Buffer>;
  readonly #ids = new RecordIds();
  readonly #scratch = new RecordScratch();
  /** Built on first use (only the main thread asks which keys are dirty). */
  #index: OutboxIndex | undefined;

  constructor(env: RootDatabase) {
    // On-disk layouts carry their version in their names: v1 was one record per key.
    this.#db = env.openDB<Uint8Array, Buffer>('outbox-v2', { encoding: 'binary', keyEncoding: 'binary' });
    migrateV1(env, this);
  }

  /** Inside a write transaction: one record naming `keys` (none: no record). */
  append(keys: Iterable<string>): void {
    const value = this.#scratch.encode(keys);
    if (value.byteLength === 0) return;
    // Ids are unique but for a clash of two threads' random instance ids in the same
    // millisecond and count: never overwrite a record (its keys would lose their mark).
    // (`putSync` returns whether it wrote; lmdb's declarations say void.)
    while (!(this.#db.putSync(this.#ids.next(), value, { noOverwrite: true }) as unknown as boolean));
  }

  /** The oldest records, until their keys number at least `limit` (or the outbox ends). */
  oldest(limit: number): OutboxBatch {
    const records: OutboxRecord[] = [];
    const keys = new Set<string>();
    for (const { key, value } of this.#db.getRange({})) {
      if (keys.size >= limit) break;
      const names = decodeKeys(value);
      records.push({ id: Buffer.from(key), keys: names });
      for (const k of names) keys.add(k);
    }
    return { records, keys: [...keys] };
  }

  /** The records that name any of `keys`, and the union of their keys. */
  naming(keys: readonly string[]): OutboxBatch {
    const index = this.#synced();
    const records = new Map<string, OutboxRecord>();
    for (const key of keys) for (const [hex, r] of index.recordsOf(key)) records.set(hex, r);
    const union = new Set<string>();
    for (const r of records.values()) for (const k of r.keys) union.add(k);
    return { records: [...records.values()], keys: [...union] };
  }

  /** Whether some record other than `except` (hex ids) names `key`. Current as of the caller's transaction. */
  namedElsewhere(key: string, except: ReadonlySet<string>): boolean {
    for (const hex of this.#synced().recordsOf(key).keys()) if (!except.has(hex)) return true;
    return false;
  }

  /**
   * Which of `keys` some record names (for eviction, inside its write transaction). The
   * index is brought up to date once for all of them: nothing commits inside the caller's
   * transaction, and each sync reads the last second's records again.
   */
  dirtyOf(keys: readonly string[]): Set<string> {
    const index = this.#synced();
    const dirty = new Set<string>();
    for (const key of keys) if (index.recordsOf(key).size > 0) dirty.add(key);
    return dirty;
  }

  /** Inside a write transaction: deletes these records. Call `forget` once it committed. */
  remove(records: readonly OutboxRecord[]): OutboxRecord[] {
    const removed: OutboxRecord[] = [];
    for (const r of records) if (this.#db.removeSync(r.id)) removed.push(r);
    return removed;
  }

  /** Tells the index these records are gone (after the transaction that removed them). */
  forget(records: readonly OutboxRecord[]): void {
    this.#index?.forget(records);
  }

  /** Records in the outbox (one per commit not yet acknowledged). O(1). */
  records(): number {
    return this.#db.getCount();
  }

  /** Distinct keys the outbox names (the index, brought up to date). */
  keys(): number {
    return this.#synced().keyCount;
  }

  #synced(): OutboxIndex {
    this.#index ??= new OutboxIndex();
    this.#index.sync(this.#db);
    return this.#index;
  }
}

/** Which records name which keys (see `Outbox`); one per instance, used on the main thread. */
class OutboxIndex {
  readonly #records = new Map<string, OutboxRecord>();
  readonly #byKey = new Map<string, Map<string, OutboxRecord>>();
  /** The newest time of a record seen, where the next incremental scan starts (minus RESCAN_MS). */
  #newestMs = -1;
  static readonly #none = new Map<string, OutboxRecord>();

  get keyCount(): number {
    return this.#byKey.size;
  }

  recordsOf(key: string): ReadonlyMap<string, OutboxRecord> {
    return this.#byKey.get(key) ?? OutboxIndex.#none;
  }

  /** Reads the records added since the last sync; rebuilds when the count says it missed some. */
  sync(db: Database<Uint8Array, Buffer>): void {
    const count = db.getCount();
    if (count === 0) {
      this.#clear();
      return;
    }
    if (this.#newestMs >= 0) this.#scan(db, firstIdOf(this.#newestMs - RESCAN_MS));
    if (this.#records.size === count) return;
    // Some record was deleted by another instance, or added below the scan's start.
    this.#clear();
    this.#scan(db, undefined);
  }

  forget(records: readonly OutboxRecord[]): void {
    for (const r of records) {
      const hex = r.id.toString('hex');
      if (!this.#records.delete(hex)) continue;
      for (const k of r.keys) {
        const of = this.#byKey.get(k);
        of?.delete(hex);
        if (of?.size === 0) this.#byKey.delete(k);
      }
    }
  }

  #scan(db: Database<Uint8Array, Buffer>, start: Buffer | undefined): void {
    for (const { key, value } of db.getRange(start === undefined ? {} : { start })) {
      const hex = key.toString('hex');
      if (this.#records.has(hex)) continue;
      const r: OutboxRecord = { id: Buffer.from(key), keys: decodeKeys(value) };
      this.#records.set(hex, r);
      for (const k of r.keys) {
        let of = this.#byKey.get(k);
        if (of === undefined) this.#byKey.set(k, (of = new Map()));
        of.set(hex, r);
      }
      this.#newestMs = Math.max(this.#newestMs, msOfId(key));
    }
  }

  #clear(): void {
    this.#records.clear();
    this.#byKey.clear();
    this.#newestMs = -1;
  }
}

/**
 * The layout before one record per commit: `outbox-v1`, one record per dirty key (an 8-byte
 * token). At open, its keys move into v2 records, in one transaction, so that a host
 * restarted on an old data folder flushes every key the old one had marked. Idempotent:
 * every thread opens the cache, the first one migrates, the others find v1 empty.
 */
function migrateV1(env: RootDatabase, outbox: Outbox): void {
  const v1 = env.openDB<Uint8Array, string>('outbox-v1', { encoding: 'binary' });
  if (v1.getCount() === 0) return;
  env.transactionSync(() => {
    const keys = [...v1.getKeys({})];
    for (let i = 0; i < keys.length; i += MIGRATED_KEYS_PER_RECORD) outbox.append(keys.slice(i, i + MIGRATED_KEYS_PER_RECORD));
    for (const key of keys) v1.removeSync(key);
  });
}
