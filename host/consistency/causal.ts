// The causal cut of a host's cache (the paper's DSC): a causal version becomes visible here
// only once every version it depends on is. See host/README.md, "Consistency".
import { Buffer } from 'node:buffer';
import {
  CloudburstError, decode, fromVersions, merge, satisfies, versionsOf,
  type Dep, type Lattice, type Lww, type LwwVersion,
} from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import type { CausalNeed } from '../executor/protocol.ts';
import { depFromWire, isCausal } from './causal-wire.ts';

/** The internal route a host reads a peer's cache through (causal requests catching up). */
export const CACHE_READ_PATH = '/v1/internal/cache/read';

export interface CutTier {
  /** The merge of every replica's value (a plain read may miss the newest write). */
  getFresh(key: string): Promise<Lattice | undefined>;
  /** Many keys in one round trip per node (any replica: a miss is retried later). */
  getBatch(keys: readonly string[]): Promise<(Lattice | undefined)[]>;
}

export interface CutOptions {
  cache: HostCache;
  tier: CutTier;
  link: PeerLink;
  selfUrl: () => string;
  /** Told of keys a value was stored for (the LRU index and subscriptions). */
  onStored?: (key: string) => void;
  /** How long held versions are retried before they are dropped (the next change brings them again). Default 60 s. */
  holdMs?: number;
}

interface Held {
  value: Lww;
  since: number;
  /** Where it came from (a peer's cache has its dependencies), if not the tier. */
  from: string | undefined;
}

/** Deepest chain of dependencies fetched to admit one version. */
const MAX_DEPTH = 16;

/**
 * Admits values arriving from the KV tier (pushes, read misses) or from peers' caches into
 * this host's cache, keeping it a causal cut: a version with dependencies that are not
 * visible here yet is held aside (never visible, even to lww reads) while they are fetched,
 * from the peer it came from or the tier, and admitted once they are. Plain values (no
 * causal metadata) pass straight through: lww keys pay one field check.
 *
 * Local commits need no check: a causal request imports what it depends on before it runs
 * (`ensureAll`), so its writes' dependencies are already here.
 */
export class CausalCut {
  readonly #o: CutOptions;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;
  #rechecking = false;
  #closed = false;
  /** Versions dropped after being held for holdMs (metrics). */
  dropped = 0;
  /** Values held at least once before being admitted (metrics). */
  heldTotal = 0;
  /** Reads of the tier or of a peer's cache made to bring dependencies here (metrics). */
  fetches = 0;

  constructor(opts: CutOptions) {
    this.#o = opts;
  }

  get held(): number {
    return this.#held.size;
  }

  #visible(dep: Dep): boolean {
    return satisfies(this.#local(dep.key), dep);
  }

  #local(key: string): Lww | undefined {
    const v = this.#o.cache.get(key);
    return v?.type === 'lww' ? v : undefined;
  }

  /**
   * Stores what is admissible of a value now; holds the rest and works on it in the
   * background. Returns the cache's merged value (undefined if nothing was stored).
   */
  absorb(key: string, value: Lattice, from?: string): Lattice | undefined {
    if (!isCausal(value)) return this.#store(key, value);
    this.#o.cache.refresh();
    const ready: LwwVersion[] = [];
    const wait: LwwVersion[] = [];
    for (const v of versionsOf(value)) (v.causal === undefined || v.causal.deps.every((d) => this.#visible(d)) ? ready : wait).push(v);
    let merged: Lattice | undefined;
    if (ready.length > 0) merged = this.#store(key, ready.length === versionsOf(value).length ? value : fromVersions(ready));
    if (wait.length > 0) this.#hold(key, fromVersions(wait), from);
    return merged;
  }

  /** Like `absorb`, but first tries (until `deadline`) to fetch what the held versions depend on. */
  async absorbAwait(key: string, value: Lattice, deadline: number, from?: string, depth = 0): Promise<Lattice | undefined> {
    const merged = this.absorb(key, value, from);
    const held = this.#held.get(key);
    if (held === undefined) return merged;
    await this.#resolve(key, held, deadline, depth);
    this.#o.cache.refresh();
    return this.#o.cache.get(key);
  }

  #store(key: string, value: Lattice): Lattice {
    const merged = this.#o.cache.absorb(key, value);
    this.#o.onStored?.(key);
    this.#recheckSoon();
    return merged;
  }

  #hold(key: string, value: Lww, from: string | undefined): void {
    const cur = this.#held.get(key);
    if (cur === undefined) this.heldTotal++;
    this.#held.set(key, { value: cur ? (merge(cur.value, value) as Lww) : value, since: cur?.since ?? performance.now(), from: from ?? cur?.from });
    this.#schedule(20);
  }

  #schedule(ms: number): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#retryHeld();
    }, ms);
    this.#timer.unref();
  }

  /**
   * Something was stored: held versions waiting for it may be admissible now. A local check
   * only (no fetch), coalesced into one per event-loop turn.
   */
  #recheckSoon(): void {
    if (this.#held.size === 0 || this.#rechecking) return;
    this.#rechecking = true;
    setImmediate(() => {
      this.#rechecking = false;
      if (this.#closed) return;
      this.#o.cache.refresh();
      for (const [key, h] of [...this.#held]) this.#admitReady(key, h);
    });
  }

  /** Stores the versions of a held value whose dependencies are visible now; keeps the rest. */
  #admitReady(key: string, h: Held): void {
    const ready: LwwVersion[] = [];
    const wait: LwwVersion[] = [];
    for (const v of versionsOf(h.value)) (v.causal!.deps.every((d) => this.#visible(d)) ? ready : wait).push(v);
    if (ready.length === 0) return;
    if (wait.length === 0) this.#held.delete(key);
    else this.#held.set(key, { ...h, value: fromVersions(wait) });
    this.#store(key, fromVersions(ready));
  }

  /** Background work on held versions: fetch their dependencies, admit what became visible. */
  async #retryHeld(): Promise<void> {
    if (this.#closed) return;
    const now = performance.now();
    const holdMs = this.#o.holdMs ?? 60_000;
    await Promise.all([...this.#held].map(async ([key, h]) => {
      if (now - h.since > holdMs) {
        this.#held.delete(key);
        this.dropped++;
        return;
      }
      await this.#resolve(key, h, now + 2000, 0).catch(() => undefined);
    }));
    if (this.#held.size > 0) this.#schedule(100);
  }

  /** Fetches the dependencies of a held value, then admits what is admissible. */
  async #resolve(key: string, h: Held, deadline: number, depth: number): Promise<void> {
    this.#o.cache.refresh();
    const missing = new Map<string, Dep[]>();
    for (const v of versionsOf(h.value)) {
      for (const d of v.causal?.deps ?? []) {
        if (this.#visible(d)) continue;
        const list = missing.get(d.key) ?? [];
        list.push(d);
        missing.set(d.key, list);
      }
    }
    if (missing.size > 0) await this.#bringAll(missing, h.from, deadline, depth + 1).catch(() => undefined);
    // The entry may have changed meanwhile (a newer push merged into it): the next round takes it.
    if (this.#held.get(key) !== h) return;
    this.#o.cache.refresh();
    this.#admitReady(key, h);
  }

  /** One attempt to make `deps` of `key` visible: from the peer that has them, else the tier. */
  async #bring(key: string, deps: readonly Dep[], from: string | undefined, deadline: number, depth: number): Promise<boolean> {
    if (depth > MAX_DEPTH) return false;
    const ok = (): boolean => {
      this.#o.cache.refresh();
      return deps.every((d) => this.#visible(d));
    };
    if (from !== undefined && from !== this.#o.selfUrl()) {
      this.fetches++;
      const got = await this.#fromPeer(from, key, deadline).catch(() => undefined);
      if (got !== undefined) await this.absorbAwait(key, got, deadline, from, depth);
      if (ok()) return true;
    }
    this.fetches++;
    const fresh = await this.#o.tier.getFresh(key).catch(() => undefined);
    if (fresh !== undefined) await this.absorbAwait(key, fresh, deadline, undefined, depth);
    return ok();
  }

  /**
   * Brings several keys' dependencies in one request each way: the peer's cache first (it
   * has them, being a cut), then the tier for what is still missing.
   */
  async #bringAll(missing: ReadonlyMap<string, readonly Dep[]>, from: string | undefined, deadline: number, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) return;
    const behind = (): string[] => {
      this.#o.cache.refresh();
      return [...missing].filter(([, deps]) => !deps.every((d) => this.#visible(d))).map(([k]) => k);
    };
    let keys = [...missing.keys()];
    if (from !== undefined && from !== this.#o.selfUrl()) {
      this.fetches++;
      const got = await this.#fromPeerMany(from, keys, deadline).catch(() => new Map<string, Lattice>());
      for (const [k, v] of got) await this.absorbAwait(k, v, deadline, from, depth);
      keys = behind();
      if (keys.length === 0) return;
    }
    this.fetches++;
    const values = await this.#o.tier.getBatch(keys).catch(() => [] as (Lattice | undefined)[]);
    for (let i = 0; i < keys.length; i++) {
      const v = values[i];
      if (v !== undefined) await this.absorbAwait(keys[i]!, v, deadline, undefined, depth);
    }
  }

  async #fromPeerMany(url: string, keys: readonly string[], deadline: number): Promise<Map<string, Lattice>> {
    const body = (await this.#o.link.send(url, 'POST', CACHE_READ_PATH, { keys }, Math.max(100, deadline - performance.now()))) as { values?: Record<string, string | null> };
    const out = new Map<string, Lattice>();
    for (const k of keys) {
      const b64 = body?.values?.[k];
      if (typeof b64 === 'string') out.set(k, decode(new Uint8Array(Buffer.from(b64, 'base64'))));
    }
    return out;
  }

  async #fromPeer(url: string, key: string, deadline: number): Promise<Lattice | undefined> {
    return (await this.#fromPeerMany(url, [key], deadline)).get(key);
  }


  /**
   * Returns once this host's cache holds a version of `key` with every one of `need.d` in its
   * past, fetching it (and what it depends on) from the host named in `need`, else the tier,
   * retrying until `deadline`.
   * @throws CloudburstError CONSISTENCY_UNAVAILABLE at the deadline.
   */
  async ensure(key: string, need: CausalNeed, deadline: number): Promise<void> {
    const deps = need.d.map((w) => depFromWire(key, w));
    let wait = 2;
    for (;;) {
      this.#o.cache.refresh();
      if (deps.every((d) => this.#visible(d))) return;
      if (await this.#bring(key, deps, need.u, deadline, 0)) return;
      if (performance.now() >= deadline || this.#closed) {
        throw new CloudburstError('CONSISTENCY_UNAVAILABLE', `no version of ${key} as new as the request depends on reached this host in time`);
      }
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(1, deadline - performance.now()))));
      wait = Math.min(wait * 2, 100);
    }
  }

  /** `ensure` for every key a request needs (what a DAG step imports before it runs). */
  async ensureAll(need: Readonly<Record<string, CausalNeed>>, deadline: number): Promise<void> {
    this.#o.cache.refresh();
    const behind = Object.entries(need).filter(([key, n]) => !n.d.every((w) => this.#visible(depFromWire(key, w))));
    await Promise.all(behind.map(([key, n]) => this.ensure(key, n, deadline)));
  }

  /** For the internal route: this host's cached values of `keys` (what is visible here). */
  serve(body: unknown): { values: Record<string, string | null> } {
    const keys = (body as { keys?: unknown } | undefined)?.keys;
    if (!Array.isArray(keys) || keys.length > 1000 || !keys.every((k) => typeof k === 'string')) {
      throw new CloudburstError('INVALID_REQUEST', 'a cache read is {"keys": [up to 1000 strings]}');
    }
    this.#o.cache.refresh();
    const values: Record<string, string | null> = {};
    for (const k of keys as string[]) {
      const bytes = this.#o.cache.getEncoded(k);
      values[k] = bytes === undefined ? null : Buffer.from(bytes).toString('base64');
    }
    return { values };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#held.clear();
  }
}
