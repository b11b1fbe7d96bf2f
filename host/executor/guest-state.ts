import { CloudburstError } from '../../common/index.ts';
import {
  KV_LIMITS, counter, gset, isPlainRegister, isRegister, lww, lwwValueView, max, merge, observeRegister, PlainRegisterCodec, tombstoneFor,
  versionsOf, type Counter, type GSet, type Hlc, type Lattice, type LatticeType, type Lww, type Max,
} from '../../kvs/index.ts';
import type { BlindWrites, HostCache } from '../cache/cache.ts';
import { resolveBlindPut, typeMismatch } from './blind-put.ts';
import { displayKey, userPrefix } from '../keys.ts';
import { CALL_WRITE_LIMITS, weight } from './write-limits.ts';
import { ReusedBytes } from './reused-bytes.ts';
import type { MemoEntry, ValueMemo } from './value-memo.ts';
import { registerWrite } from './register-write.ts';
import type { SessionResult, SessionSpec } from '../consistency/call-session.ts';
import { versionOfValue, type KeyVersion } from '../consistency/client-session.ts';
import { readPolicy, type CallReads, type ReadPolicy, type SessionBridge } from '../consistency/read-policy.ts';
import type { GuestLog } from './protocol.ts';
import type { StateLedger } from '../quotas/state-ledger.ts';

/** How a call's state operations reach the main thread (read misses, durable puts, messages, its session's requests). */
export interface Bridge extends SessionBridge {
  fetch(keys: string[]): void;
  flush(keys: string[]): void;
  send(from: string, to: string, data: Uint8Array): void;
  recv(id: string, timeoutMs: number): Uint8Array | null;
}

const MAX_LOG_BYTES = 64 * 1024;
/** Past this many keys a call's recency is not reported (its writes still reach the index through the flusher). */
const MAX_TOUCHED = 4096;

/**
 * The state a running call sees: the host cache plus the call's own uncommitted writes.
 *
 * Writes go to an overlay, merged as lattice deltas; reads merge the cached value with the
 * overlay, so a call reads its own writes. When the call returns, the overlay is committed
 * in ONE LMDB write transaction together with its outbox marks (amortizing the commit over
 * every put of the call); a call that traps, aborts or times out commits nothing.
 *
 * How a read sees the cache is the call's session's (consistency/read-policy.ts: rr, causal,
 * a recorded history); a plain lww call has no policy and reads the cache directly, at the
 * cost of one field checked per read.
 *
 * Counters keep one entry per writer, and the writer is this worker slot: only this thread
 * ever raises that entry, so read-increment-commit never races with another worker.
 */
export class GuestState {
  readonly #cache: HostCache;
  readonly #bridge: Bridge;
  readonly #hlc: Hlc;
  readonly #writer: string;
  #overlay = new Map<string, Lattice>();
  /**
   * Keys whose overlay entry is a blind put (plain writes, nothing read at put time): the
   * commit resolves them against the stored value (`#blindWrites`), or a read in the call does.
   */
  readonly #blind = new Set<string>();
  /** How the commit resolves the blind puts (one object, built once). */
  readonly #blindWrites: BlindWrites = {
    has: (key) => this.#blind.has(key),
    resolve: (key, current, write) => resolveBlindPut(key, current, write as Lww, this.#hlc, this.#cache),
  };
  /** What the overlay holds, by `weight`: bounded by CALL_WRITE_LIMITS. */
  #overlayBytes = 0;
  /**
   * Decoded cache values this call has read. The call reads one LMDB snapshot, so a second
   * read of a key is exact from here; it is cleared whenever the snapshot moves (a fetch or a
   * commit in the middle of the call).
   */
  #memo = new Map<string, Lattice | undefined>();
  #fetched = new Set<string>();
  /** Keys this call read or wrote (up to MAX_TOUCHED), for the main thread's LRU index. */
  touched = new Set<string>();
  /** Keys this call committed writes of. */
  readonly #written = new Set<string>();
  logs: GuestLog[] = [];
  #logBytes = 0;
  /** Bytes staged by the last get/set_members/id/recv for the guest's `take`. */
  staged: Uint8Array | undefined;
  /** The running call's id (`{hostId}.{seq}`). */
  callId = '';
  /** The running call's tenant, and the storage prefix of its user keys: every key the guest names gets it. */
  tenant = '';
  userPrefix = '';
  /** How the call's session reads (rr, causal, a recorded history); undefined for plain lww calls. */
  #policy: ReadPolicy | undefined;
  /** What a policy reads through: this call's view of the cache. */
  readonly #reads: CallReads;
  /** The calling tenant's state bytes, settled by each commit (host/quotas/state-ledger.ts). */
  #ledger: StateLedger | undefined;
  /** Where `getStaged` copies a value for the guest's `take`. */
  readonly #staging = new ReusedBytes();
  /** This worker's memo of register values, across calls (value-memo.ts); undefined: off. */
  readonly #values: ValueMemo | undefined;

  constructor(cache: HostCache, bridge: Bridge, hlc: Hlc, writer: string, values?: ValueMemo) {
    this.#cache = cache;
    this.#values = values;
    this.#bridge = bridge;
    this.#hlc = hlc;
    this.#writer = writer;
    this.#reads = {
      cached: (key) => this.#cached(key),
      fetchOnce: (key) => this.#fetchOnce(key),
      readRaw: (key) => this.readRaw(key),
      refresh: () => {
        this.#cache.refresh();
        this.#memo.clear();
      },
    };
  }

  /** Starts a call of `tenant`: a fresh snapshot of the cache and an empty overlay; `ledger` settles its commits against the tenant's state bytes. */
  begin(callId: string, tenant: string, session?: SessionSpec, ledger?: StateLedger): void {
    this.callId = callId;
    this.#ledger = ledger;
    if (tenant !== this.tenant) {
      this.tenant = tenant;
      this.userPrefix = userPrefix(tenant);
    }
    this.#policy = session ? readPolicy(session, this.#reads, this.#bridge) : undefined;
    this.#cache.refresh();
    this.#overlay.clear();
    this.#blind.clear();
    this.#overlayBytes = 0;
    this.#memo.clear();
    this.#fetched.clear();
    this.touched = new Set();
    this.#written.clear();
    this.logs = [];
    this.#logBytes = 0;
    this.staged = undefined;
  }

  /** Commits the call's writes (one transaction). Returns how many keys it wrote. */
  commit(): number {
    const n = this.#overlay.size;
    if (n > 0) {
      // The ledger settles against what the cache holds (never waiting for the tier: state-ledger.ts).
      const ledger = this.#ledger;
      for (const key of this.#overlay.keys()) this.#written.add(key);
      const policy = this.#policy;
      if (policy === undefined) this.#cache.commit(this.#overlay, ledger, this.#blind.size > 0 ? this.#blindWrites : undefined);
      else {
        // A session's writes, once committed: the request reads them from now on (its own writes).
        const written = new Map(this.#overlay);
        policy.committed(this.#cache.commit(this.#overlay, ledger), written);
      }
    }
    this.#overlay.clear();
    this.#blind.clear();
    this.#overlayBytes = 0;
    this.#memo.clear();
    return n;
  }

  /**
   * What a client session learns from this call (after `commit`): the versions this host's
   * cache now holds of the keys the call wrote, then of those it read, most recent first, at
   * most `limit` (see consistency/client-session.ts). Keys are user keys (the call's tenant's
   * prefix cut off); an absent key constrains nothing and is left out.
   */
  sessionVersions(limit: number): [string, KeyVersion][] {
    if (this.touched.size === 0) return [];
    const prefix = this.userPrefix;
    this.#cache.refresh();
    const out: [string, KeyVersion][] = [];
    const add = (key: string): void => {
      const version = out.length < limit ? versionOfValue(key, this.#cache.get(key)) : undefined;
      if (version !== undefined) out.push([key.slice(prefix.length), version]);
    };
    for (const key of [...this.#written].reverse()) add(key);
    for (const key of [...this.touched].reverse()) if (!this.#written.has(key)) add(key);
    return out;
  }

  /** What the session recorded (after `commit`). */
  finishSession(): SessionResult | undefined {
    return this.#policy?.result();
  }

  /** Drops the call's writes (the call failed). */
  discard(): void {
    this.#overlay.clear();
    this.#blind.clear();
    this.#overlayBytes = 0;
  }

  /** What the cache and this call's writes hold, without going to the KV tier on a miss. */
  #cached(key: string): Lattice | undefined {
    if (this.#memo.has(key)) return this.#memo.get(key);
    if (this.touched.size < MAX_TOUCHED) this.touched.add(key);
    const v = this.#cache.get(key);
    this.#memo.set(key, v);
    return v;
  }

  #peek(key: string): Lattice | undefined {
    const cached = this.#cached(key);
    const mine = this.#overlay.get(key);
    if (mine === undefined) return cached;
    return cached === undefined ? mine : merge(cached, mine);
  }

  /**
   * The raw encoded value of a key, straight from LMDB (fetched on a miss), valid only until
   * the next read on this thread. For argument references, read before the guest runs (so
   * the call has no writes of its own yet): one copy, from LMDB into the guest's memory.
   */
  readRaw(key: string): Uint8Array | undefined {
    if (this.touched.size < MAX_TOUCHED) this.touched.add(key);
    const raw = this.#cache.getFast(key);
    return raw === undefined && this.#fetchOnce(key) ? this.#cache.getFast(key) : raw;
  }

  /**
   * A miss: the main thread reads the KV tier into the cache while this thread waits, once
   * per key and call. Returns whether it fetched (then the snapshot has moved on).
   */
  #fetchOnce(key: string): boolean {
    if (this.#fetched.has(key)) return false;
    this.#fetched.add(key);
    this.#bridge.fetch([key]);
    this.#cache.refresh();
    this.#memo.clear();
    return true;
  }

  read(key: string): Lattice | undefined {
    let cached: Lattice | undefined;
    if (this.#policy === undefined) {
      cached = this.#cached(key);
      if (cached === undefined && this.#fetchOnce(key)) cached = this.#cached(key);
    } else {
      cached = this.#policy.read(key);
    }
    if (cached !== undefined && cached.type === 'lww') this.#hlc.observe(cached.stamp);
    let mine = this.#overlay.get(key);
    if (mine === undefined) return cached;
    if (cached !== undefined && this.#blind.has(key)) mine = this.#resolveBlindRead(key, cached, mine as Lww);
    return cached === undefined ? mine : merge(cached, mine);
  }

  #typed<T extends Lattice['type']>(key: string, type: T): Extract<Lattice, { type: T }> | undefined {
    const v = this.read(key);
    if (v !== undefined && v.type !== type) throw typeMismatch(key, v.type, type);
    return v as Extract<Lattice, { type: T }> | undefined;
  }

  /** A read of a key with a blind put: resolves it now, so that the read (and the commit) sees the write `put` would have made. */
  #resolveBlindRead(key: string, cached: Lattice, mine: Lww): Lattice {
    const resolved = resolveBlindPut(key, cached, mine, this.#hlc, this.#cache);
    if (resolved === mine) return mine; // still plain: the commit checks it again against what it finds
    this.#blind.delete(key);
    this.#overlay.delete(key);
    this.#overlayBytes -= weight(mine);
    this.#write(key, resolved);
    return resolved;
  }

  /** Adds `delta` to the call's writes of `key`, not blind (`put` marks its own writes blind). */
  #write(key: string, delta: Lattice): void {
    this.#blind.delete(key);
    this.#store(key, delta, this.#overlay.get(key));
  }

  /** Merges `delta` into `prev`, the call's writes of `key` so far, within CALL_WRITE_LIMITS. */
  #store(key: string, delta: Lattice, prev: Lattice | undefined): void {
    if (this.touched.size < MAX_TOUCHED) this.touched.add(key);
    if (prev === undefined && this.#overlay.size >= CALL_WRITE_LIMITS.keys) {
      throw new CloudburstError('GUEST_OUT_OF_MEMORY', `the call has more than ${CALL_WRITE_LIMITS.keys} keys of uncommitted writes (the limit of a call; putDurable commits what the call wrote so far)`);
    }
    const next = prev === undefined ? delta : merge(prev, delta);
    const bytes = this.#overlayBytes + weight(next) - (prev === undefined ? 0 : weight(prev));
    if (bytes > CALL_WRITE_LIMITS.bytes) {
      throw new CloudburstError('GUEST_OUT_OF_MEMORY', `the call's uncommitted writes would take ${bytes} bytes; a call may hold at most ${CALL_WRITE_LIMITS.bytes} (putDurable commits what the call wrote so far)`);
    }
    this.#overlay.set(key, next);
    this.#overlayBytes = bytes;
  }

  #display(key: string): string {
    return displayKey(key);
  }

  /**
   * `getBytes` for the guest's `get`, copied into a buffer this state reuses: valid until the
   * next `getStaged`, and never to be written. A read that needs nothing but the cache (no
   * session policy, no write of this call to merge, the key cached and a register) is served
   * from the worker's value memo when it kept the key and nobody wrote it since, else reads
   * the value's bytes in place, out of the call's LMDB snapshot, without building a Lattice
   * (and the memo keeps them): the same value, the same clock observation and the same
   * recency as `getBytes`, which every other case goes through.
   */
  getStaged(key: string): Uint8Array | undefined {
    if (this.#policy === undefined && (this.#overlay.size === 0 || !this.#overlay.has(key))) {
      const kept = this.#values?.get(key);
      if (kept !== undefined) return this.#stageKept(key, kept);
      const raw = this.#cache.getFast(key);
      if (raw !== undefined && isRegister(raw)) {
        if (this.touched.size < MAX_TOUCHED) this.touched.add(key);
        observeRegister(this.#hlc, raw);
        this.#values?.keep(key, raw, this.#cache.snapshotSequence);
        const view = lwwValueView(raw);
        return view === null ? undefined : this.#staging.copy(view);
      }
    }
    return this.getBytes(key);
  }

  /**
   * `getStaged` of a value the memo kept (no other thread wrote the key since: value-memo.ts):
   * the same clock observation and recency as a read of the cache. The memo's own bytes are
   * staged, not a copy: `take` only copies them into the guest, and nothing writes them.
   */
  #stageKept(key: string, kept: MemoEntry): Uint8Array | undefined {
    if (this.touched.size < MAX_TOUCHED) this.touched.add(key);
    this.#hlc.observeTick(kept.ms, kept.c);
    return kept.value ?? undefined;
  }

  getBytes(key: string): Uint8Array | undefined {
    const v = this.#typed(key, 'lww');
    return v === undefined || v.tombstone ? undefined : v.value;
  }

  /**
   * Every concurrent version's value (deleted ones left out), the one `getBytes` returns
   * first; undefined when the key is absent.
   */
  getAllBytes(key: string): Uint8Array[] | undefined {
    const v = this.#typed(key, 'lww');
    return v === undefined ? undefined : versionsOf(v).filter((x) => !x.tombstone).map((x) => x.value);
  }

  /**
   * A blind write: unlike the other operations it needs nothing from the current value, so a
   * miss does not go to the KV tier, and a call without a session reads nothing at all: the
   * plain write goes to the overlay marked blind, and the commit (which reads the stored
   * value anyway) resolves it (blind-put.ts): a key of another type refuses the whole commit
   * with KV_TYPE_MISMATCH, so the call fails at its end, nothing of it written. A conflict
   * with a value the cache never saw is refused by the tier at flush time (the flusher then
   * drops the cached value, and the next read fetches the tier's). Sessions (rr, causal)
   * keep the put-time read: their writes depend on what the session has seen.
   */
  put(key: string, value: Uint8Array): void {
    if (value.byteLength > KV_LIMITS.maxRegisterBytes) {
      throw new CloudburstError('KV_VALUE_TOO_LARGE', `a value of ${value.byteLength} bytes is over the limit of ${KV_LIMITS.maxRegisterBytes} bytes for one key`, { key: this.#display(key) });
    }
    if (this.#policy === undefined) {
      const prev = this.#overlay.get(key);
      if (prev === undefined || this.#blind.has(key)) {
        this.#store(key, lww.write(value, this.#hlc.now()), prev);
        this.#blind.add(key);
        return;
      }
    }
    if (this.#policy?.depsFor === undefined && this.#plainSoFar(key)) {
      // What #peek would find is a plain register or nothing: the write is plain (#registerWrite).
      this.#write(key, lww.write(value, this.#hlc.now()));
      return;
    }
    const known = this.#peek(key);
    if (known !== undefined && known.type !== 'lww') throw typeMismatch(key, known.type, 'lww');
    this.#write(key, this.#registerWrite(key, known as Lww | undefined, value));
  }

  /**
   * Whether the key holds nothing or a plain register (no causal metadata, no siblings), in
   * the cache (read in place) and in this call's writes: then a put needs no decoded value.
   */
  #plainSoFar(key: string): boolean {
    const mine = this.#overlay.get(key);
    if (mine !== undefined && (mine.type !== 'lww' || !PlainRegisterCodec.takes(mine))) return false;
    const raw = this.#cache.getFast(key);
    return raw === undefined || isPlainRegister(raw);
  }

  /** A new register version of `key` over `known` (register-write.ts). */
  #registerWrite(key: string, known: Lww | undefined, value: Uint8Array | null): Lww {
    return registerWrite(key, known, value, this.#hlc, this.#policy, this.#cache);
  }

  /** Commits everything so far, then waits until the KV tier acknowledged this key. */
  putDurable(key: string, value: Uint8Array): void {
    this.put(key, value);
    this.commit();
    this.#bridge.flush([key]);
  }

  del(key: string): void {
    const v = this.read(key);
    const type: LatticeType = v?.type ?? 'lww';
    this.#write(key, type === 'lww' ? this.#registerWrite(key, this.#peek(key) as Lww | undefined, null) : tombstoneFor(type, this.#hlc.now()));
  }

  counterAdd(key: string, by: bigint): bigint {
    const cur = this.#typed(key, 'counter');
    const delta = counter.add(cur, this.#writer, by);
    this.#write(key, delta);
    return counter.total(cur === undefined ? delta : (merge(cur, delta) as Counter));
  }

  counterGet(key: string): bigint {
    const cur = this.#typed(key, 'counter');
    return cur === undefined ? 0n : counter.total(cur);
  }

  setAdd(key: string, member: Uint8Array): boolean {
    const cur = this.#typed(key, 'set');
    if (cur !== undefined && gset.has(cur, member)) return false;
    this.#write(key, gset.add(cur, member));
    return true;
  }

  setHas(key: string, member: Uint8Array): boolean {
    const cur = this.#typed(key, 'set');
    return cur !== undefined && gset.has(cur, member);
  }

  setMembers(key: string): readonly Uint8Array[] | undefined {
    const cur: GSet | undefined = this.#typed(key, 'set');
    return cur?.members;
  }

  maxPut(key: string, v: bigint): bigint {
    const cur = this.#typed(key, 'max');
    const delta = max.put(cur, v);
    this.#write(key, delta);
    const next = (cur === undefined ? delta : merge(cur, delta)) as Max;
    return next.value ?? v;
  }

  maxGet(key: string): bigint | undefined {
    const cur = this.#typed(key, 'max');
    return cur?.value ?? undefined;
  }

  send(to: string, data: Uint8Array): void {
    this.#bridge.send(this.callId, to, data);
  }

  /**
   * The next message, waiting up to `timeoutMs`. A recv is where a function waits for the
   * rest of the cluster, so afterwards it reads a fresh snapshot of the cache, and keys that
   * were missing are fetched again (a function polling for a key another one writes, as the
   * gossip example does for its peers' ids, sees it appear). Its own writes stay in the overlay.
   */
  recv(timeoutMs: number): Uint8Array | null {
    const msg = this.#bridge.recv(this.callId, timeoutMs);
    this.#cache.refresh();
    this.#memo.clear();
    this.#fetched.clear();
    return msg;
  }

  log(level: number, message: string): void {
    if (this.#logBytes > MAX_LOG_BYTES) return;
    this.#logBytes += message.length;
    this.logs.push({ level, message: this.#logBytes > MAX_LOG_BYTES ? `${message.slice(0, 256)}... (log limit of ${MAX_LOG_BYTES} bytes per call reached)` : message, time: Date.now() });
  }
}
