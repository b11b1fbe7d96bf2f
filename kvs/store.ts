/**
 * The lattice store: LMDB on disk, one merge = read, merge, write.
 *
 * Two commit paths, picked by the fsync policy:
 * - `off`: each merge (or mergeMany) is one `transactionSync`: read, merge and write inside a
 *   real LMDB write transaction, committed before the call returns. Without an fsync that
 *   costs ~10 us, far less than a hop to lmdb's write thread (~75 us).
 * - `batch` / `always`: a commit waits for an fsync, which must not block the event loop, and
 *   lmdb-js's async `transaction(callback)` never runs its callback here (lmdb 3.5.6 on
 *   Node 20; see kvs/README.md). So writes go through lmdb's async batched `put` (one
 *   transaction per event turn, committed and flushed on lmdb's thread) and a merge reads the
 *   newest value from `#pending` (written, not yet committed) before the database. Staging
 *   runs synchronously on the one JS thread, so read-merge-write is still atomic.
 * Either way this process must be the only writer of the folder, which `open` enforces within
 * the process.
 */
import { Buffer } from 'node:buffer';
import { resolve } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { CloudburstError } from '../common/index.ts';
import { decode, encode } from './lattice/codec.ts';
import { equals, merge, type Lattice } from './lattice/registry.ts';
import { checkKey, KV_LIMITS } from './protocol.ts';
import type { CommitListener, FsyncPolicy, LatticeStoreOptions, MergeResult } from './store-types.ts';

export type { CommitListener, FsyncPolicy, LatticeStoreOptions, MergeResult } from './store-types.ts';

interface Pending {
  readonly value: Lattice;
  readonly bytes: Uint8Array;
  readonly committed: Promise<void>;
}

/**
 * The named database inside the environment; the version changes with the on-disk layout.
 *
 * @example
 * open({ path }).openDB({ name: STORE_DB_NAME, encoding: 'binary', keyEncoding: 'binary' })
 */
export const STORE_DB_NAME = 'lattices-v1';

const RESOLVED = Promise.resolve();
const openPaths = new Set<string>();

function envOptions(fsync: FsyncPolicy): { noSync?: boolean; overlappingSync?: boolean } {
  if (fsync === 'off') return { noSync: true };
  if (fsync === 'always') return { overlappingSync: false };
  return {};
}

/**
 * Lattice values by key in LMDB. Keys are stored as their UTF-8 bytes, values as the
 * canonical lattice encoding.
 *
 * @example
 * const store = LatticeStore.open({ path: dir });
 * await store.merge('k', counter.add(undefined, 'w', 1n));
 * store.get('k'); // { type: 'counter', ... }
 * await store.close();
 */
export class LatticeStore {
  readonly path: string;
  readonly fsync: FsyncPolicy;
  readonly #env: RootDatabase;
  readonly #db: Database<Buffer, Buffer>;
  readonly #maxValueBytes: number;
  readonly #pending = new Map<string, Pending>();
  readonly #syncCommits: boolean;
  readonly #listeners = new Set<CommitListener>();
  // `off` mode: changes made inside the running transactionSync, announced after it commits.
  #syncChanges: [string, Uint8Array | undefined, string | undefined][] = [];
  #closed: Promise<void> | undefined;

  private constructor(path: string, fsync: FsyncPolicy, maxValueBytes: number) {
    this.path = path;
    this.fsync = fsync;
    this.#maxValueBytes = maxValueBytes;
    this.#syncCommits = fsync === 'off';
    this.#env = open({ path, maxDbs: 4, ...envOptions(fsync) });
    try {
      this.#db = this.#env.openDB<Buffer, Buffer>({ name: STORE_DB_NAME, encoding: 'binary', keyEncoding: 'binary' });
    } catch (err) {
      void this.#env.close();
      throw err;
    }
  }

  /**
   * Opens (or creates) the store in `opts.path`. One store per directory per process: a
   * second open of the same path throws until the first is closed.
   *
   * @example
   * const store = LatticeStore.open({ path: join(dataDir, 'store'), fsync: 'batch' });
   */
  static open(opts: LatticeStoreOptions): LatticeStore {
    const path = resolve(opts.path);
    if (openPaths.has(path)) throw new CloudburstError('INTERNAL', `a LatticeStore is already open in ${path}`);
    const store = new LatticeStore(path, opts.fsync ?? 'batch', opts.maxValueBytes ?? KV_LIMITS.maxValueBytes);
    openPaths.add(path);
    return store;
  }

  /**
   * The committed value of `key` (acknowledged writes only), decoded.
   *
   * @example
   * const v = store.get('k'); if (v && !isDeleted(v)) ...
   */
  get(key: string): Lattice | undefined {
    this.#checkOpen();
    // getBinaryFast's buffer is reused by the next read; decode copies what it keeps.
    const raw = this.#db.getBinaryFast(Buffer.from(checkKey(key), 'utf8'));
    return raw === undefined ? undefined : this.#decodeStored(key, raw);
  }

  /**
   * The committed encoding of `key`: a copy the caller owns.
   *
   * @example
   * res.end(store.getEncoded('k'));
   */
  getEncoded(key: string): Uint8Array | undefined {
    this.#checkOpen();
    return this.#db.getBinary(Buffer.from(checkKey(key), 'utf8'));
  }

  /**
   * Merges `incoming` into the value of `key` and resolves with the merged value once it is
   * committed (and flushed, per the fsync policy). A failed merge changes nothing.
   *
   * @throws CloudburstError `INVALID_KEY`, `KV_TYPE_MISMATCH`, `KV_BAD_VALUE`,
   *   `KV_VALUE_TOO_LARGE`, `SHUTTING_DOWN` (closed store).
   * @example
   * const merged = await store.merge('k', lww.write(bytes, hlc.now()));
   */
  async merge(key: string, incoming: Lattice): Promise<Lattice> {
    return (await this.mergeEncoded(key, incoming)).value;
  }

  /**
   * `merge`, also returning the merged value's encoding (saves the server an encode).
   * `incomingBytes`, when given, is `incoming`'s own encoding (the request body it was decoded
   * from: decode accepts only canonical bytes, so they are what encode would make): when the
   * merge keeps `incoming` as it is (a newer LWW write, a first write), they are stored as
   * they came instead of being encoded again.
   *
   * @example
   * const { bytes } = await store.mergeEncoded('k', value);
   */
  async mergeEncoded(key: string, incoming: Lattice, origin?: string, incomingBytes?: Uint8Array): Promise<MergeResult> {
    this.#checkOpen();
    checkKey(key);
    const staged = this.#transaction(() => this.#stage(key, incoming, origin, incomingBytes));
    await staged.committed;
    return { value: staged.value, bytes: staged.bytes };
  }

  /**
   * Whether the committed value of `key` is exactly `bytes` with no write of it in flight:
   * merging `bytes` would change nothing, and what is there is acknowledged already. A replica
   * push of a value the client wrote here too (the common case with N=3) costs a compare,
   * not a decode and a merge.
   *
   * @example
   * if (store.holds(key, bytes)) return; // nothing to merge
   */
  holds(key: string, bytes: Uint8Array): boolean {
    this.#checkOpen();
    if (this.#pending.has(key)) return false;
    // getBinaryFast's buffer is reused by the next read: compared at once, never kept. Its
    // `length` is the value's, its byteLength the whole shared buffer's: compare by length.
    const raw = this.#db.getBinaryFast(Buffer.from(key, 'utf8'));
    if (raw === undefined || raw.length !== bytes.byteLength) return false;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).compare(raw, 0, raw.length) === 0;
  }

  /**
   * Merges many entries in one LMDB transaction (every write is issued in the same event
   * turn); an entry's `bytes` is its value's encoding, as in `mergeEncoded`. An entry that fails (bad key, type mismatch, too large) is skipped and its error
   * returned in its slot; the others are merged.
   *
   * @example
   * const results = await store.mergeMany([{ key: 'a', value: x }, { key: 'b', value: y }]);
   * results.forEach((r) => r instanceof CloudburstError && console.warn(r.code));
   */
  async mergeMany(entries: readonly { key: string; value: Lattice; bytes?: Uint8Array }[], origin?: string): Promise<(Lattice | CloudburstError)[]> {
    this.#checkOpen();
    const results: (Lattice | CloudburstError)[] = [];
    const commits: Promise<void>[] = [];
    this.#transaction(() => {
      for (const { key, value, bytes } of entries) {
        try {
          const staged = this.#stage(checkKey(key), value, origin, bytes);
          results.push(staged.value);
          if (staged.committed !== RESOLVED) commits.push(staged.committed);
        } catch (err) {
          if (!(err instanceof CloudburstError)) throw err;
          results.push(err);
        }
      }
    });
    await Promise.all(commits);
    return results;
  }

  /**
   * Every committed (key, encoding) in key byte order, starting after `after` if given. The
   * bytes are only valid until the next step: copy what you keep.
   *
   * @example
   * for (const [key, bytes] of store.scan()) index.set(key, valueHash(bytes));
   */
  *scan(after?: string): Generator<[string, Uint8Array]> {
    this.#checkOpen();
    const start = after === undefined ? undefined : Buffer.from(after, 'utf8');
    for (const { key, value } of this.#db.getRange(start ? { start } : {})) {
      const k = key.toString('utf8');
      if (after !== undefined && k === after) continue;
      yield [k, value];
      if (this.#closed) return;
    }
  }

  /**
   * Removes `key` if its committed value is still `ifBytes` and no write is in flight: how a
   * node sheds a key it no longer replicates once the new replicas hold it. Resolves with
   * whether it removed. A merge racing with the removal wins (merges only add).
   *
   * @example
   * if (await store.drop(key, sentBytes, 'handoff')) handedOver++;
   */
  async drop(key: string, ifBytes: Uint8Array, origin?: string): Promise<boolean> {
    this.#checkOpen();
    if (this.#pending.has(key)) return false;
    const keyBytes = Buffer.from(checkKey(key), 'utf8');
    return this.#transaction(() => {
      const raw = this.#db.getBinary(keyBytes);
      if (raw === undefined || Buffer.compare(raw, ifBytes) !== 0) return Promise.resolve(false);
      if (this.#syncCommits) {
        void this.#db.remove(keyBytes);
        this.#syncChanges.push([key, undefined, origin]);
        return Promise.resolve(true);
      }
      return this.#db.remove(keyBytes).then((done) => {
        this.#emit(key, undefined, origin);
        return done;
      });
    });
  }

  /**
   * Registers a listener for committed changes (see `CommitListener`); returns its removal.
   *
   * @example
   * const off = store.onCommit((key) => dirty.add(key));
   */
  onCommit(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Opens another named database in the same environment (hints of the cluster layer), so
   * that its writes share the store's durability and lifetime.
   *
   * @example
   * const hints = store.openTable('hints-v1');
   */
  openTable(name: string): Database<Buffer, Buffer> {
    this.#checkOpen();
    if (name === STORE_DB_NAME) throw new CloudburstError('INTERNAL', `${name} is the lattice table`);
    return this.#env.openDB<Buffer, Buffer>({ name, encoding: 'binary', keyEncoding: 'binary' });
  }

  /**
   * The number of keys stored (deleted keys keep their tombstone and count).
   *
   * @example
   * store.keyCount() // 3
   */
  keyCount(): number {
    this.#checkOpen();
    return (this.#db.getStats() as { entryCount: number }).entryCount;
  }

  /**
   * Waits for outstanding writes, then closes the environment. Idempotent.
   *
   * @example
   * await store.close();
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#pending.values()].map((p) => p.committed));
      try {
        await this.#env.close();
      } finally {
        openPaths.delete(this.path);
      }
    })();
    return this.#closed;
  }

  // `off`: one synchronous LMDB transaction (aborted if `fn` throws). Otherwise `fn` only
  // queues puts, and lmdb groups everything queued in this event turn into one transaction.
  #transaction<T>(fn: () => T): T {
    if (!this.#syncCommits) return fn();
    let result: T;
    try {
      result = this.#db.transactionSync(fn);
    } catch (err) {
      this.#syncChanges = [];
      throw err;
    }
    const changes = this.#syncChanges;
    this.#syncChanges = [];
    for (const [key, bytes, origin] of changes) this.#emit(key, bytes, origin);
    return result;
  }

  #emit(key: string, bytes: Uint8Array | undefined, origin: string | undefined): void {
    for (const listener of this.#listeners) {
      try {
        listener(key, bytes, origin);
      } catch {
        // A listener must not break a commit; listeners handle their own errors.
      }
    }
  }

  // Synchronous from read to issuing the put: nothing else can interleave on this thread.
  #stage(key: string, incoming: Lattice, origin: string | undefined, incomingBytes?: Uint8Array): Pending {
    const keyBytes = Buffer.from(key, 'utf8');
    const current = this.#current(key, keyBytes);
    let value: Lattice;
    if (current) {
      value = merge(current.value, incoming);
      // Nothing new: acknowledge once whatever we read is itself acknowledged.
      if (value === current.value || equals(value, current.value)) return current;
    } else {
      value = incoming;
    }
    // The merge kept the incoming value itself: its own (canonical) bytes are its encoding.
    const bytes = value === incoming && incomingBytes !== undefined ? incomingBytes : encode(value);
    if (bytes.byteLength > this.#maxValueBytes) {
      throw new CloudburstError('KV_VALUE_TOO_LARGE', `the merged value would be ${bytes.byteLength} bytes; the limit is ${this.#maxValueBytes}`);
    }
    return this.#write(key, keyBytes, value, bytes, origin);
  }

  #current(key: string, keyBytes: Buffer): Pending | undefined {
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const raw = this.#db.getBinary(keyBytes);
    if (raw === undefined) return undefined;
    return { value: this.#decodeStored(key, raw), bytes: raw, committed: RESOLVED };
  }

  #write(key: string, keyBytes: Buffer, value: Lattice, bytes: Uint8Array, origin: string | undefined): Pending {
    if (this.#syncCommits) {
      // Inside transactionSync: applied at once, committed when the transaction returns.
      void this.#db.put(keyBytes, bytes as Buffer);
      this.#syncChanges.push([key, bytes, origin]);
      return { value, bytes, committed: RESOLVED };
    }
    const put = this.#db.put(keyBytes, bytes as Buffer);
    const forget = (): void => {
      if (this.#pending.get(key) === entry) this.#pending.delete(key);
    };
    const committed = put.then(() => {
      forget();
      this.#emit(key, bytes, origin);
    }, (err: unknown) => {
      forget();
      throw new CloudburstError('INTERNAL', `the write of ${JSON.stringify(key)} failed`, undefined, { cause: err });
    });
    const entry: Pending = { value, bytes, committed };
    this.#pending.set(key, entry);
    return entry;
  }

  #decodeStored(key: string, raw: Uint8Array): Lattice {
    try {
      return decode(raw);
    } catch (err) {
      throw new CloudburstError('INTERNAL', `the stored value of ${JSON.stringify(key)} is corrupt`, undefined, { cause: err });
    }
  }

  // lmdb-js crashes the process (an uncaught error in a setImmediate) on a put after close.
  #checkOpen(): void {
    if (this.#closed) throw new CloudburstError('SHUTTING_DOWN', 'the store is closed');
  }
}
