import {
  causalMeta, CloudburstError, KV_LIMITS, compareStamps, counter, decode, encode, floorOf, gset, joinVectors, lww, max, merge,
  satisfies, tombstoneFor, vectorOf, versionsOf,
  type Counter, type GSet, type Hlc, type Lattice, type LatticeType, type Lww, type Max, type Stamp,
} from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import { displayKey } from '../keys.ts';
import { CALL_WRITE_LIMITS, weight } from './write-limits.ts';
import { CausalCall } from '../consistency/causal-call.ts';
import { dependenciesOf } from '../consistency/causal-deps.ts';
import {
  ABSENT_VERSION, versionOf, type CausalNeed, type HistoryOp, type ReadVersion, type SessionResult, type SessionSpec,
} from '../consistency/call-session.ts';
import { depFromWire, isCausal } from '../consistency/causal-wire.ts';
import { versionOfValue, type KeyVersion } from '../consistency/client-session.ts';
import { versionInfo } from '../consistency/history.ts';
import type { GuestLog } from './protocol.ts';

interface Pinned {
  value: Lattice | undefined;
  v: string;
}

/** How a call's state operations reach the main thread (read misses, durable puts). */
export interface Bridge {
  fetch(keys: string[]): void;
  flush(keys: string[]): void;
  send(from: string, to: string, data: Uint8Array): void;
  recv(id: string, timeoutMs: number): Uint8Array | null;
  /** The encoded value of version `at.v` of `key` that request `rid` read first (null: absent). */
  snapshot(rid: string, key: string, at: ReadVersion): Uint8Array | null;
  /** Causal: returns once the cache holds a version of `key` with every one of `need.d` in its past (else throws). */
  ensure(key: string, need: CausalNeed): void;
  /**
   * rr with parallel branches: proposes version `v` (encoded `bytes`, null: absent) as the
   * request's version of `key`; answers the request's version (this one, or another branch's).
   */
  pin(rid: string, key: string, v: string, bytes: Uint8Array | null): ReadVersion;
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
 * Counters keep one entry per writer, and the writer is this worker slot: only this thread
 * ever raises that entry, so read-increment-commit never races with another worker.
 */
export class GuestState {
  readonly #cache: HostCache;
  readonly #bridge: Bridge;
  readonly #hlc: Hlc;
  readonly #writer: string;
  #overlay = new Map<string, Lattice>();
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
  /** The call's consistency session (`rr` or a recorded history); undefined for plain lww calls. */
  #session: SessionSpec | undefined;
  /** rr: the version of each key the call read, for the whole call (never cleared mid-call). */
  #pins = new Map<string, Pinned>();
  /** rr: first reads the request did not know yet, and writes, for the host's snapshots. */
  #snaps = new Map<string, { v: string; bytes: Uint8Array | null }>();
  #history: HistoryOp[] = [];
  /** rr with parallel branches: versions agreed with the coordinator in this call. */
  #shared = new Map<string, ReadVersion>();
  /** causal: the request's needs and what this call observed. */
  #causal: CausalCall | undefined;

  constructor(cache: HostCache, bridge: Bridge, hlc: Hlc, writer: string) {
    this.#cache = cache;
    this.#bridge = bridge;
    this.#hlc = hlc;
    this.#writer = writer;
  }

  /** Starts a call: a fresh snapshot of the cache and an empty overlay. */
  begin(callId: string, session?: SessionSpec): void {
    this.callId = callId;
    this.#session = session;
    if (session) {
      this.#pins.clear();
      this.#snaps.clear();
      this.#shared.clear();
      this.#history = [];
    }
    this.#causal = session?.causal ? new CausalCall(session) : undefined;
    this.#cache.refresh();
    this.#overlay.clear();
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
      for (const key of this.#overlay.keys()) this.#written.add(key);
      const written = this.#session ? new Map(this.#overlay) : undefined;
      const merged = this.#cache.commit(this.#overlay);
      if (written) this.#committed(merged, written);
    }
    this.#overlay.clear();
    this.#overlayBytes = 0;
    this.#memo.clear();
    return n;
  }

  /**
   * What a client session learns from this call (after `commit`): the versions this host's
   * cache now holds of the keys the call wrote, then of those it read, most recent first, at
   * most `limit` (see consistency/client-session.ts). Keys are user keys (the prefix cut off);
   * an absent key constrains nothing and is left out.
   */
  sessionVersions(prefix: string, limit: number): [string, KeyVersion][] {
    if (this.touched.size === 0) return [];
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
    if (!this.#session) return undefined;
    const out: SessionResult = { snaps: [...this.#snaps].map(([key, s]) => ({ key, ...s })), history: this.#history };
    if (this.#shared.size > 0) out.shared = Object.fromEntries(this.#shared);
    if (this.#causal) Object.assign(out, this.#causal.result());
    return out;
  }

  /** A session's writes, once committed: the request reads them from now on (its own writes). */
  #committed(merged: ReadonlyMap<string, Lattice>, written: ReadonlyMap<string, Lattice>): void {
    const s = this.#session!;
    for (const [key, value] of merged) {
      const mine = written.get(key);
      if (this.#causal && mine?.type === 'lww') this.#causal.observe(key, mine);
      if (!s.rr && !s.history) continue;
      const bytes = encode(value);
      const v = versionOf(bytes);
      if (s.rr) {
        this.#pins.set(key, { value, v });
        this.#snaps.set(key, { v, bytes });
      }
      if (s.history) this.#history.push({ op: 'w', key, v, ...(mine?.type === 'lww' ? { ver: versionsOf(mine).map(versionInfo) } : {}) });
    }
  }

  /**
   * A read in a causal request. A register's value must have in its past every version the
   * request depends on (what it read or wrote upstream, and their dependencies); when this
   * host's cache is behind, the main thread brings it up to date (from the host that has
   * them, else the KV tier) before the read goes on. Counters, sets and max carry no causal
   * metadata and read as under lww.
   */
  #causalRead(key: string): Lattice | undefined {
    const c = this.#causal!;
    let got = this.#cached(key);
    if (got === undefined && this.#fetchOnce(key)) got = this.#cached(key);
    if (got === undefined || got.type === 'lww') {
      const need = c.need.get(key);
      const met = (): boolean => need === undefined || need.d.every((w) => satisfies(got as Lww | undefined, depFromWire(key, w)));
      if (!met()) {
        this.#bridge.ensure(key, need!);
        this.#cache.refresh();
        this.#memo.clear();
        got = this.#cached(key);
        if (!met()) {
          throw new CloudburstError('CONSISTENCY_UNAVAILABLE', `no version of ${this.#display(key)} as new as the request depends on reached this host`);
        }
      }
      if (got !== undefined) c.observe(key, got as Lww);
    }
    if (this.#session!.history) this.#record(key, got);
    return got;
  }

  #record(key: string, got: Lattice | undefined, v?: string): void {
    let version = v;
    if (version === undefined) {
      const raw = got === undefined ? undefined : encode(got);
      version = raw === undefined ? ABSENT_VERSION : versionOf(raw);
    }
    const ver = got === undefined ? [] : got.type === 'lww' ? versionsOf(got).map(versionInfo) : undefined;
    this.#history.push({ op: 'r', key, v: version, ...(ver ? { ver } : {}) });
  }

  /**
   * A read in a session. Under rr, the first read of a key in the call pins its version for
   * the rest of the call; when an upstream step of the request already read (or wrote) the
   * key and this host's cache holds another version, that exact version is fetched from the
   * snapshot of the host that read it. Without rr (a recorded lww call) it reads as lww does.
   */
  #sessionRead(key: string): Lattice | undefined {
    const s = this.#session!;
    let got = this.#pins.get(key);
    if (got === undefined) {
      const raw = this.readRaw(key);
      // `raw` is LMDB's reused buffer: hash, decode (a copy) and copy before any other read.
      const v = raw === undefined ? ABSENT_VERSION : versionOf(raw);
      got = { value: raw === undefined ? undefined : decode(raw), v };
      if (s.rr) {
        const known = s.reads[key];
        if (known !== undefined && known.v !== v) {
          const bytes = known.v === ABSENT_VERSION ? null : this.#fromSnapshot(key, known);
          got = { value: bytes === null ? undefined : decode(bytes), v: known.v };
        } else if (known === undefined && s.shared) {
          // Parallel branches: the request's version of the key is whichever branch's first
          // read reached the coordinator first (this host keeps a snapshot of its proposal).
          const at = this.#bridge.pin(s.rid!, key, v, raw === undefined ? null : new Uint8Array(raw));
          if (at.v !== v) {
            const bytes = at.v === ABSENT_VERSION ? null : this.#fromSnapshot(key, at);
            got = { value: bytes === null ? undefined : decode(bytes), v: at.v };
          }
          this.#shared.set(key, at);
        } else if (known === undefined) {
          this.#snaps.set(key, { v, bytes: raw === undefined ? null : new Uint8Array(raw) });
        }
        this.#pins.set(key, got);
      }
    }
    if (s.history) this.#record(key, got.value, got.v);
    return got.value;
  }

  #fromSnapshot(key: string, at: ReadVersion): Uint8Array | null {
    const rid = this.#session?.rid;
    if (rid === undefined) throw new CloudburstError('INTERNAL', `no request id to fetch the snapshot of ${this.#display(key)}`);
    return this.#bridge.snapshot(rid, key, at);
  }

  /** Drops the call's writes (the call failed). */
  discard(): void {
    this.#overlay.clear();
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
    let cached = this.#causal ? this.#causalRead(key) : this.#session ? this.#sessionRead(key) : this.#cached(key);
    if (cached === undefined && !this.#session && this.#fetchOnce(key)) cached = this.#cached(key);
    if (cached !== undefined && cached.type === 'lww') this.#hlc.observe(cached.stamp);
    const mine = this.#overlay.get(key);
    if (mine === undefined) return cached;
    return cached === undefined ? mine : merge(cached, mine);
  }

  #typed<T extends Lattice['type']>(key: string, type: T): Extract<Lattice, { type: T }> | undefined {
    const v = this.read(key);
    if (v !== undefined && v.type !== type) {
      throw new CloudburstError('KV_TYPE_MISMATCH', `key holds a ${v.type}, not a ${type}`, { key: this.#display(key) });
    }
    return v as Extract<Lattice, { type: T }> | undefined;
  }

  #write(key: string, delta: Lattice): void {
    if (this.touched.size < MAX_TOUCHED) this.touched.add(key);
    const prev = this.#overlay.get(key);
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
   * miss does not go to the KV tier. Its type is checked against what the cache holds; a
   * conflict with a value the cache never saw is refused by the tier at flush time (the
   * flusher then drops the cached value, and the next read fetches the tier's).
   */
  put(key: string, value: Uint8Array): void {
    if (value.byteLength > KV_LIMITS.maxRegisterBytes) {
      throw new CloudburstError('KV_VALUE_TOO_LARGE', `a value of ${value.byteLength} bytes is over the limit of ${KV_LIMITS.maxRegisterBytes} bytes for one key`, { key: this.#display(key) });
    }
    const known = this.#peek(key);
    if (known !== undefined && known.type !== 'lww') {
      throw new CloudburstError('KV_TYPE_MISMATCH', `key holds a ${known.type}, not a lww`, { key: this.#display(key) });
    }
    this.#write(key, this.#registerWrite(key, known as Lww | undefined, value));
  }

  /**
   * A new register version. Plain (last-writer-wins) unless the request is causal or the key
   * already holds causal versions: then it carries the key's version vector (every version
   * this host holds of the key is in its past), the latest plain write seen, and its
   * dependencies (`dependenciesOf`): in a causal request, every version of another key the
   * request observed; in any request, what the versions it supersedes depend on.
   */
  #registerWrite(key: string, known: Lww | undefined, value: Uint8Array | null): Lww {
    if (!this.#causal && !isCausal(known)) {
      const stamp = this.#hlc.now();
      return value === null ? lww.tombstone(stamp) : lww.write(value, stamp);
    }
    const versions = known === undefined ? [] : versionsOf(known);
    const vc = joinVectors(...versions.map(vectorOf));
    // The new stamp must be after every entry of the vector, this writer's own earlier ones
    // included (a clock that stepped back across a restart must not make the write older).
    for (const e of vc) this.#hlc.observe(e);
    const stamp = this.#hlc.now();
    // Against plain writes a register stays last-writer-wins: the new version supersedes every
    // plain write with an older stamp, seen here or not (its floor is at least its own stamp).
    let floor: Stamp = stamp;
    for (const v of versions) if (compareStamps(floorOf(v), floor) > 0) floor = floorOf(v);
    const self = lww.tombstone(stamp, causalMeta(stamp, vc, floor, []));
    const local = (k: string): Lww | undefined => {
      const v = this.#cache.get(k);
      return v?.type === 'lww' ? v : undefined;
    };
    const deps = this.#causal ? this.#causal.depsFor(key, self, versions, local) : dependenciesOf(key, self, [], versions, new Map(), local);
    const meta = causalMeta(stamp, vc, floor, deps);
    return value === null ? lww.tombstone(stamp, meta) : lww.write(value, stamp, meta);
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
    this.logs.push({ level, message: this.#logBytes > MAX_LOG_BYTES ? `${message.slice(0, 256)}... (log limit of ${MAX_LOG_BYTES} bytes per call reached)` : message });
  }
}
