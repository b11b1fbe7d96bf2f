import { open, type Database, type RootDatabase } from 'lmdb';
import { CloudburstError } from '../../common/index.ts';
import { KV_LIMITS, PlainRegisterCodec, decode, encode, equals, isPlainRegister, merge, type Lattice } from '../../kvs/index.ts';
import { displayKey } from '../keys.ts';
import { Outbox, type OutboxBatch } from './outbox.ts';
import { VersionTable } from './versions.ts';

export type { OutboxBatch, OutboxRecord } from './outbox.ts';

/**
 * `getBinaryFast` without its trap: the buffer it returns is reused by the next read, and
 * when it is lmdb-js's global buffer (`isGlobal`) its length is the whole buffer's; the value
 * is the first `db.lastSize` bytes.
 */
function readFast(db: Database<Uint8Array, string>, key: string): Buffer | undefined {
  const buf = db.getBinaryFast(key) as (Buffer & { isGlobal?: boolean }) | undefined;
  if (buf === undefined || !buf.isGlobal) return buf;
  return buf.subarray(0, (db as unknown as { lastSize: number }).lastSize);
}

/** A refusal record: u32 length of its JSON header, the header, then the encoded value. */
function encodeRejected(r: RejectedWrite): Buffer {
  const head = Buffer.from(JSON.stringify({ key: r.key, code: r.code, message: r.message, at: r.at }));
  const out = Buffer.allocUnsafe(4 + head.length + r.value.byteLength);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  out.set(r.value, 4 + head.length);
  return out;
}

function decodeRejected(raw: Uint8Array): RejectedWrite {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const len = buf.readUInt32LE(0);
  const head = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as Omit<RejectedWrite, 'value'>;
  return { ...head, value: new Uint8Array(buf.subarray(4 + len)) };
}

/**
 * Accounts for the bytes a commit adds to the keys it counts (host/quotas/state-ledger.ts:
 * a tenant's state bytes), inside the commit's transaction.
 */
export interface CommitLedger {
  /** Whether a key's size is accounted. */
  counts(key: string): boolean;
  /**
   * What the commit adds, in bytes (key and encoded value of a new key, the change of the
   * encoded value of a cached one; negative when it shrinks), given the values the cache holds
   * now: returns writes committed with it (merged like the others), or throws to refuse the
   * whole commit.
   */
  settle(growth: number, current: (key: string) => Lattice | undefined): ReadonlyMap<string, Lattice>;
}

/** How hard the cache tries to reach the disk. See the README's "Durability" section. */
export type FsyncPolicy = 'always' | 'batch' | 'off';

export interface CacheOptions {
  /** Folder of the LMDB environment; every thread of one host opens the same one. */
  path: string;
  fsync?: FsyncPolicy;
  /** The host's version table (versions.ts), made by the main thread's cache; default: a new one. */
  versions?: SharedArrayBuffer;
}

/**
 * The blind puts of a commit (GuestState.put: no read at put time), resolved against the
 * stored value inside the commit's transaction.
 */
export interface BlindWrites {
  /** Whether the write of `key` is a blind put. */
  has(key: string): boolean;
  /**
   * The write to merge instead of `write` now that the stored value `current` is known, when
   * that value is not a plain register (causal versions, siblings), or throws
   * KV_TYPE_MISMATCH (refusing the whole commit) when it is not a register at all.
   */
  resolve(key: string, current: Lattice, write: Lattice): Lattice;
}

/** A key the KV tier refused for good, with why (see `HostCache.settle`). */
export interface Refusal {
  key: string;
  code: string;
  message: string;
}

/**
 * A write the KV tier refused for good, kept where the flusher took it out of the cache: the
 * key, why, when, and the value that was refused (encoded), so that an operator can see it
 * and put it back by hand. One record per key (the latest refusal: the cache's merged value,
 * so it holds every earlier refused write of the key that the tier did not take).
 */
export interface RejectedWrite {
  key: string;
  code: string;
  message: string;
  at: string;
  value: Uint8Array;
}

/**
 * The host's cache: one LMDB environment shared by the main thread and every worker.
 *
 * Values are encoded lattices keyed by storage key. The outbox (outbox.ts) is a second
 * database with one record per commit naming the keys it wrote: keys whose cached value
 * holds writes the KV tier has not acknowledged yet. A commit merges its writes into the
 * values and appends its record in the same write transaction, so a committed put is never
 * without its outbox record, even after `kill -9`. The flusher sends the whole merged value
 * of each key the oldest records name (lattice merges are idempotent, so resending is
 * harmless) and deletes exactly the records it took: a later commit of the same key has its
 * own record, which stays.
 *
 * @example
 * const cache = HostCache.open({ path: './.cloudburst/host/cache' });
 * cache.commit(new Map([['default/k/a', lww.write(bytes, hlc.now())]]));
 * cache.get('default/k/a'); // the merged lattice
 */
export class HostCache {
  readonly #env: RootDatabase;
  readonly #values: Database<Uint8Array, string>;
  readonly #outbox: Outbox;
  readonly #rejected: Database<Uint8Array, string>;
  readonly #fsync: FsyncPolicy;
  /** Encodes this thread's plain register writes (commit's fast path); one per thread, as the cache is. */
  readonly #plain = new PlainRegisterCodec();
  #closed = false;
  /**
   * The version slots every write path bumps after its transaction (versions.ts): a worker's
   * value memo checks its values against them. Give `versions.buffer` to the other threads.
   */
  readonly versions: VersionTable;
  /** G as `refresh` read it, just before it dropped the read snapshot (versions.ts, step 1). */
  #snapshotSequence = 0;
  /** Told of every value this instance stores (the main thread keeps its LRU index with it). */
  onStored: ((key: string, bytes: number) => void) | undefined;

  private constructor(env: RootDatabase, fsync: FsyncPolicy, versions: VersionTable) {
    this.#env = env;
    this.#fsync = fsync;
    this.versions = versions;
    // On-disk layouts carry their version in their names.
    this.#values = env.openDB<Uint8Array, string>('values-v1', { encoding: 'binary' });
    this.#outbox = new Outbox(env);
    this.#rejected = env.openDB<Uint8Array, string>('rejected-v1', { encoding: 'binary' });
  }

  static open(opts: CacheOptions): HostCache {
    const fsync = opts.fsync ?? 'batch';
    // A committed transaction survives the death of the process without an fsync (the pages
    // are in the OS page cache); only 'always' pays for an fsync on every commit.
    const env = open({ path: opts.path, encoding: 'binary', noSync: fsync !== 'always', maxDbs: 8 });
    return new HostCache(env, fsync, opts.versions ? VersionTable.from(opts.versions) : VersionTable.create());
  }

  get fsync(): FsyncPolicy {
    return this.#fsync;
  }

  /**
   * Drops this thread's read snapshot, so the next read sees every commit made so far by any
   * thread. lmdb-js renews snapshots only between event-loop turns; a worker that runs a
   * whole call synchronously must call this to see what the main thread fetched meanwhile.
   */
  refresh(): void {
    // G first: the snapshot renewed after this read holds every commit that took a seq <= G.
    this.#snapshotSequence = this.versions.sequence();
    this.#values.resetReadTxn();
  }

  /**
   * G as the last `refresh` read it: every commit with a seq up to this is in this thread's
   * read snapshot (lmdb-js may renew the snapshot on its own too, but only ever forward).
   */
  get snapshotSequence(): number {
    return this.#snapshotSequence;
  }

  /**
   * Called by every write path with the keys whose values its transaction changed or removed,
   * AFTER the transaction committed and before the write is answered (versions.ts).
   */
  #changed(keys: Iterable<string>): void {
    this.versions.bump(keys);
  }

  get(key: string): Lattice | undefined {
    const raw = readFast(this.#values, key);
    // getBinaryFast returns a shared buffer: decode copies what it keeps.
    return raw === undefined ? undefined : decode(raw);
  }

  /** The raw value bytes, valid only until the next read on this thread. */
  getFast(key: string): Buffer | undefined {
    return readFast(this.#values, key);
  }

  getEncoded(key: string): Uint8Array | undefined {
    const raw = readFast(this.#values, key);
    return raw === undefined ? undefined : new Uint8Array(raw); // a copy
  }

  has(key: string): boolean {
    return this.#values.doesExist(key);
  }

  /**
   * Merges every write into the cache and appends one outbox record naming every key it
   * wrote (the ledger's too), in one synchronous write transaction. When this returns the writes are committed: they survive `kill -9`.
   * Throws (and commits nothing) if any write has a lattice type other than the key's, or
   * would make a key's value larger than the KV tier takes (KV_LIMITS.maxValueBytes, encoded):
   * what the tier would refuse is refused here, before anything is acknowledged. With a
   * `ledger`, what the commit adds to the size of the keys it counts is settled in the same
   * transaction: the ledger's own writes go in with the commit, or its refusal aborts it.
   * The `blind` puts among the writes are resolved against the stored value here (see
   * `BlindWrites`): a stored value of another type refuses the whole commit.
   */
  commit(writes: ReadonlyMap<string, Lattice>, ledger?: CommitLedger, blind?: BlindWrites): Map<string, Lattice> {
    const merged = new Map<string, Lattice>();
    const stored: string[] = [];
    this.#env.transactionSync(() => {
      let growth = 0;
      const put = (key: string, value: Lattice, own: boolean): void => {
        const raw = readFast(this.#values, key);
        let next: Lattice;
        let bytes: Uint8Array;
        if (value.type === 'lww' && PlainRegisterCodec.takes(value) && (raw === undefined || (isPlainRegister(raw) && this.#plain.newer(value, raw)))) {
          // A plain write over nothing or over an older plain write: the merge is the write
          // itself, so the stored value is not decoded, and it is encoded into a reused buffer
          // (putSync copies it into LMDB at once: this is a write transaction).
          next = value;
          bytes = this.#plain.encode(value);
        } else if (raw === undefined) {
          next = value;
          bytes = encode(next);
        } else {
          const current = decode(raw);
          next = merge(current, blind?.has(key) === true ? blind.resolve(key, current, value) : value);
          bytes = encode(next);
        }
        if (bytes.byteLength > KV_LIMITS.maxValueBytes) {
          const name = displayKey(key);
          throw new CloudburstError(
            'KV_VALUE_TOO_LARGE',
            `the value of ${JSON.stringify(name)} would be ${bytes.byteLength} bytes encoded; a key's value may be at most ${KV_LIMITS.maxValueBytes}`,
            { key: name, bytes: bytes.byteLength, limit: KV_LIMITS.maxValueBytes },
          );
        }
        if (ledger?.counts(key)) growth += raw === undefined ? Buffer.byteLength(key) + bytes.byteLength : bytes.byteLength - raw.byteLength;
        this.#values.putSync(key, bytes);
        stored.push(key);
        if (own) merged.set(key, next);
        this.onStored?.(key, key.length + bytes.byteLength);
      };
      for (const [key, value] of writes) put(key, value, true);
      if (ledger && growth !== 0) {
        const current = (key: string): Lattice | undefined => {
          const raw = readFast(this.#values, key);
          return raw === undefined ? undefined : decode(raw);
        };
        // The ledger's writes are not the caller's: they are committed, not returned.
        const settled = ledger.settle(growth, current);
        for (const [key, value] of settled) put(key, value, false);
        this.#outbox.append(settled.size === 0 ? writes.keys() : [...writes.keys(), ...settled.keys()]);
      } else {
        this.#outbox.append(writes.keys());
      }
    });
    this.#changed(stored);
    return merged;
  }

  /**
   * Merges a value that came from the KV tier (a read miss or a pushed update). It is not
   * dirty: the tier already has it.
   */
  absorb(key: string, value: Lattice): Lattice {
    // Most values from the tier change nothing: the push of this host's own flushed write, a
    // re-read of a key nobody else wrote. Such a value costs a read, not a write transaction
    // (a commit wakes LMDB's writer and contends with the workers' commits). The check reads
    // a fresh snapshot; a value can only grow (merges) or leave (eviction, refusal), so if it
    // dominates `value` now, every later state of the key does too or re-reads it from the tier.
    this.refresh();
    const raw = readFast(this.#values, key);
    if (raw !== undefined) {
      const current = decode(raw); // copies: `raw` is reused by the next read
      // A type mismatch is left to the transaction below, which throws as before.
      if (current.type === value.type && equals(merge(current, value), current)) {
        this.onStored?.(key, key.length + raw.byteLength); // recency, as a stored value
        return current;
      }
    }
    let merged: Lattice = value;
    this.#env.transactionSync(() => {
      const raw = readFast(this.#values, key);
      merged = raw === undefined ? value : merge(decode(raw), value);
      const bytes = encode(merged);
      this.#values.putSync(key, bytes);
      this.onStored?.(key, key.length + bytes.byteLength);
    });
    this.#changed([key]);
    return merged;
  }

  /** The oldest outbox records, until they name at least `limit` keys (fewer when the outbox ends). */
  dirty(limit: number): OutboxBatch {
    this.refresh(); // workers commit from other threads
    return this.#outbox.oldest(limit);
  }

  /** The outbox records that name any of these keys (none: every one of them was acknowledged). */
  dirtyEntries(keys: readonly string[]): OutboxBatch {
    this.refresh();
    return this.#outbox.naming(keys);
  }

  /** Deletes the records of a batch whose every key the tier acknowledged. Returns how many keys they named. */
  clean(batch: OutboxBatch): number {
    return this.settle(batch, new Set(batch.keys), []).cleared;
  }

  /**
   * Settles a flushed batch in one write transaction: `refusals` (keys the KV tier refused
   * for good, a type conflict between hosts) leave the cache with a durable record of the
   * refused value (`rejected`), unless a commit that is not in the batch wrote the key again
   * (its record stays and the flusher sends it on its own); then every record of the batch
   * whose keys were all acknowledged (`done`) or refused is deleted. A dirty key never
   * disappears without either the tier's acknowledgement or a record of why.
   * Returns how many keys the deleted records named (`cleared`) and how many refusals were recorded.
   */
  settle(batch: OutboxBatch, done: ReadonlySet<string>, refusals: readonly Refusal[]): { cleared: number; rejected: number } {
    const dropped: string[] = [];
    const at = new Date().toISOString();
    const taken = new Set(batch.records.map((r) => r.id.toString('hex')));
    const refused = new Set(refusals.map((r) => r.key));
    const settled = batch.records.filter((r) => r.keys.every((k) => done.has(k) || refused.has(k)));
    let rejected = 0;
    let removed: OutboxBatch['records'] = [];
    this.#env.transactionSync(() => {
      for (const { key, code, message } of refusals) {
        if (this.#outbox.namedElsewhere(key, taken)) continue;
        const value = this.getEncoded(key) ?? new Uint8Array(0);
        this.#rejected.putSync(key, encodeRejected({ key, code, message, at, value }));
        this.#values.removeSync(key);
        dropped.push(key);
        rejected++;
      }
      removed = this.#outbox.remove(settled);
    });
    this.#changed(dropped);
    this.#outbox.forget(removed);
    let cleared = 0;
    for (const r of removed) cleared += r.keys.length;
    return { cleared, rejected };
  }

  /** The recorded refusals, in key order (see `settle`). */
  *rejected(): Generator<RejectedWrite> {
    this.refresh();
    for (const { value } of this.#rejected.getRange({})) yield decodeRejected(value);
  }

  /** One recorded refusal. */
  rejectedOne(key: string): RejectedWrite | undefined {
    const raw = this.#rejected.getBinary(key);
    return raw === undefined ? undefined : decodeRejected(raw);
  }

  /** Forgets a recorded refusal (an operator dealt with it). Returns whether there was one. */
  forgetRejected(key: string): boolean {
    return this.#rejected.removeSync(key);
  }

  rejectedCount(): number {
    return this.#rejected.getCount();
  }

  /** Every cached key with its size (key + value bytes): the LRU index is rebuilt from it. */
  *sizes(): Generator<[string, number]> {
    this.refresh();
    for (const { key, value } of this.#values.getRange({})) yield [key, key.length + value.length];
  }

  /**
   * Removes these keys from the cache, except the dirty ones (checked in the same
   * transaction, so a write committed meanwhile is never lost). Returns the removed keys.
   */
  evict(keys: readonly string[]): string[] {
    const removed: string[] = [];
    this.#env.transactionSync(() => {
      const dirty = this.#outbox.dirtyOf(keys);
      for (const key of keys) {
        if (dirty.has(key)) continue;
        if (this.#values.removeSync(key)) removed.push(key);
      }
    });
    this.#changed(removed);
    return removed;
  }

  /** The cached keys that start with `prefix` (a scan; for summaries, not hot paths). */
  *keys(prefix: string): Generator<string> {
    this.refresh();
    for (const key of this.#values.getKeys({ start: prefix })) {
      if (!key.startsWith(prefix)) return;
      yield key;
    }
  }

  /** Distinct keys the outbox names: keys with writes the KV tier has not acknowledged. */
  outboxSize(): number {
    this.refresh();
    return this.#outbox.keys();
  }

  /** Records in the outbox: commits whose writes the KV tier has not acknowledged (O(1)). */
  outboxCommits(): number {
    return this.#outbox.records();
  }

  keyCount(): number {
    return this.#values.getCount();
  }

  /** Forces committed pages to disk (the fsync of the 'batch' policy). */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      // `sync` is missing from lmdb's type declarations; it calls mdb_env_sync off-thread.
      (this.#env as unknown as { sync(cb: (err: unknown) => void): void }).sync((err) => (err ? reject(err as Error) : resolve()));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#env.close();
  }
}
