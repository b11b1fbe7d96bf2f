// The causal cut of a host's cache (the paper's DSC): a causal version becomes visible here
// only once every version it depends on is. See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import { fromVersions, merge, satisfies, versionsOf, type Dep, type Lattice, type Lww, type LwwVersion } from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import type { CausalNeed } from './call-session.ts';
import { closedSubset, closeOverHeld, depChecker, type DepTest } from './causal-admission.ts';
import { CAUSAL_WINDOW_MS } from './causal-deps.ts';
import { readPeerCache, serveCacheRead } from './causal-peers.ts';
import { depFromWire, isCausal } from './causal-wire.ts';
import { displayKey } from '../keys.ts';

export interface CutTier {
  /** The merge of every replica's value (a plain read may miss the newest write). */
  getFresh(key: string): Promise<Lattice | undefined>;
  /**
   * Many keys in one round trip per node (any replica: a miss is retried later). A key whose
   * nodes are down is left undefined without failing the others.
   */
  getSome(keys: readonly string[]): Promise<{ values: (Lattice | undefined)[] }>;
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

/** Rounds of fetching one resolution makes (each round brings the dependencies of what the previous one brought). */
const MAX_ROUNDS = 16;

/**
 * Admits values arriving from the KV tier (pushes, read misses) or from peers' caches into
 * this host's cache, keeping it a causal cut: a version with dependencies that are not
 * visible here yet is held aside (never visible, even to lww reads) while they are fetched,
 * from the peer it came from or the tier, and admitted once they are. Held versions are
 * admitted in groups: a set of them whose dependencies are met by the cache or by each other
 * goes in together (two writes that each read the other's key's previous version depend on
 * each other's keys, and neither could go in alone). Plain values (no causal metadata) pass
 * straight through: lww keys pay one field check.
 *
 * Local commits need no check: a causal request imports what it depends on before it runs
 * (`ensureAll`), so its writes' dependencies are already here.
 */
export class CausalCut {
  readonly #cache: HostCache;
  readonly #tier: CutTier;
  readonly #link: PeerLink;
  readonly #selfUrl: CutOptions['selfUrl'];
  readonly #onStored: CutOptions['onStored'];
  readonly #holdMs: number;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;
  #rechecking = false;
  /** The background resolution of every held version, while it runs. */
  #background: Promise<void> | undefined;
  #closed = false;
  /** Versions dropped after being held for holdMs (metrics). */
  dropped = 0;
  /** Values held at least once before being admitted (metrics). */
  heldTotal = 0;
  /** Reads of the tier or of a peer's cache made to bring dependencies here (metrics). */
  fetches = 0;

  constructor(opts: CutOptions) {
    this.#cache = opts.cache;
    this.#tier = opts.tier;
    this.#link = opts.link;
    this.#selfUrl = opts.selfUrl;
    this.#onStored = opts.onStored;
    this.#holdMs = opts.holdMs ?? CAUSAL_WINDOW_MS;
  }

  get held(): number {
    return this.#held.size;
  }

  /** What the cut holds back now, and what it held, dropped and fetched so far. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_causal_versions_held', 'Versions held aside until their causal dependencies are visible here.', () => this.held);
    counterFrom(registry, 'cloudburst_causal_held_total', 'Values held at least once before being admitted.', () => this.heldTotal);
    counterFrom(registry, 'cloudburst_causal_versions_dropped_total', 'Held versions dropped after holdMs (the next change brings them again).', () => this.dropped);
    counterFrom(registry, 'cloudburst_causal_fetches_total', 'Reads of the KV tier or of a peer\'s cache made to bring dependencies here.', () => this.fetches);
  }

  #visible(dep: Dep): boolean {
    return satisfies(this.#local(dep.key), dep);
  }

  /** The dependency test of one pass (`depChecker`), over this host's cache. */
  #depCheck(): DepTest {
    return depChecker((k) => this.#local(k));
  }

  #local(key: string): Lww | undefined {
    const v = this.#cache.get(key);
    return v?.type === 'lww' ? v : undefined;
  }

  /**
   * Stores what is admissible of a value now; holds the rest and works on it in the
   * background. Returns the cache's merged value (undefined if nothing was stored).
   */
  absorb(key: string, value: Lattice, from?: string): Lattice | undefined {
    if (!isCausal(value)) return this.#store(key, value);
    this.#cache.refresh();
    const ready: LwwVersion[] = [];
    const wait: LwwVersion[] = [];
    const met = this.#depCheck();
    for (const v of versionsOf(value)) (v.causal === undefined || v.causal.deps.every((d) => met(key, d)) ? ready : wait).push(v);
    let merged: Lattice | undefined;
    if (ready.length > 0) merged = this.#store(key, ready.length === versionsOf(value).length ? value : fromVersions(ready));
    if (wait.length > 0) {
      this.#hold(key, fromVersions(wait), from);
      this.#recheckSoon();
    }
    return merged;
  }

  /** Like `absorb`, but first tries (until `deadline`) to bring what the held versions depend on. */
  async absorbAwait(key: string, value: Lattice, deadline: number, from?: string): Promise<Lattice | undefined> {
    const merged = this.absorb(key, value, from);
    if (!this.#held.has(key)) return merged;
    this.#admitClosed();
    await this.#resolveRounds([key], deadline);
    this.#cache.refresh();
    return this.#cache.get(key);
  }

  #store(key: string, value: Lattice): Lattice {
    const merged = this.#cache.absorb(key, value);
    this.#onStored?.(key);
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
   * Something was stored or held: held versions may be admissible now. A local check only
   * (no fetch), coalesced into one per event-loop turn.
   */
  #recheckSoon(): void {
    if (this.#held.size === 0 || this.#rechecking) return;
    this.#rechecking = true;
    setImmediate(() => {
      this.#rechecking = false;
      if (!this.#closed) this.#admitClosed();
    });
  }

  /**
   * Admits the largest set of held versions whose dependencies are all met, by the cache or
   * by versions of the set (`closedSubset`): it goes in together.
   */
  #admitClosed(): void {
    if (this.#held.size === 0) return;
    this.#cache.refresh();
    for (const [key, vs] of closedSubset(this.#held, this.#depCheck())) {
      if (vs.length === 0) continue;
      const h = this.#held.get(key)!;
      const rest = versionsOf(h.value).filter((v) => !vs.includes(v));
      if (rest.length === 0) this.#held.delete(key);
      else this.#held.set(key, { ...h, value: fromVersions(rest) });
      this.#store(key, fromVersions(vs));
    }
  }

  /** Background work on held versions: drop the too old, bring dependencies, admit. */
  async #retryHeld(): Promise<void> {
    if (this.#closed) return;
    const now = performance.now();
    for (const [key, h] of [...this.#held]) {
      if (now - h.since > this.#holdMs) {
        this.#held.delete(key);
        this.dropped++;
      }
    }
    this.#background ??= this.#resolveRounds(undefined, now + 2000).catch(() => undefined).finally(() => {
      this.#background = undefined;
    });
    await this.#background;
    if (this.#held.size > 0) this.#schedule(100);
  }

  /**
   * Rounds of: find the keys whose versions held values depend on and neither the cache nor
   * another held value provides; read them (from the peer a held value came from, which as a
   * cut has them, then the tier for the rest, one request each); absorb them (they may be
   * held in turn); admit what became closed. Each key is read at most once per resolution.
   *
   * With `roots`, only what the held versions of those keys need is brought (and what the
   * values brought for them need in turn), and the resolution ends once no root is held:
   * a read waits for its own key only, never behind others' resolutions (one stuck on a
   * peer that does not answer, say). Without, every held version is worked on.
   */
  async #resolveRounds(roots: readonly string[] | undefined, deadline: number): Promise<void> {
    const tried = new Set<string>();
    const mine = roots === undefined ? undefined : new Set(roots);
    for (let round = 0; round < MAX_ROUNDS && performance.now() < deadline && !this.#closed; round++) {
      if (roots !== undefined ? !roots.some((k) => this.#held.has(k)) : this.#held.size === 0) return;
      if (mine) closeOverHeld(this.#held, mine);
      this.#cache.refresh();
      const met = this.#depCheck();
      const heldValue = (k: string): Lww | undefined => this.#held.get(k)?.value;
      const byPeer = new Map<string | undefined, Set<string>>();
      for (const key of mine ?? this.#held.keys()) {
        const h = this.#held.get(key);
        if (h === undefined) continue;
        for (const v of versionsOf(h.value)) {
          for (const d of v.causal!.deps) {
            if (tried.has(d.key) || met(key, d) || satisfies(heldValue(d.key), d)) continue;
            const from = h.from !== undefined && h.from !== this.#selfUrl() ? h.from : undefined;
            let set = byPeer.get(from);
            if (!set) byPeer.set(from, (set = new Set()));
            set.add(d.key);
          }
        }
      }
      if (byPeer.size === 0) return;
      for (const ks of byPeer.values()) {
        for (const k of ks) {
          tried.add(k);
          mine?.add(k);
        }
      }
      const fromTier = new Set<string>(byPeer.get(undefined) ?? []);
      await Promise.all([...byPeer].filter(([from]) => from !== undefined).map(async ([from, keys]) => {
        this.fetches++;
        const got = await readPeerCache(this.#link, from!, [...keys], deadline).catch(() => new Map<string, Lattice>());
        for (const k of keys) {
          const v = got.get(k);
          if (v !== undefined) this.absorb(k, v, from);
          else fromTier.add(k);
        }
      }));
      const keys = [...fromTier];
      if (keys.length > 0) {
        this.fetches++;
        const { values } = await this.#tier.getSome(keys).catch(() => ({ values: [] as (Lattice | undefined)[] }));
        keys.forEach((k, i) => {
          const v = values[i];
          if (v !== undefined) this.absorb(k, v);
        });
      }
      this.#admitClosed();
    }
  }

  /**
   * Returns once this host's cache holds a version of `key` with every one of `need.deps` in its
   * past, fetching it (and what it depends on) from the host named in `need`, else the tier,
   * retrying until `deadline`.
   * @throws CloudburstError CONSISTENCY_UNAVAILABLE at the deadline.
   */
  async ensure(key: string, need: CausalNeed, deadline: number): Promise<void> {
    const deps = need.deps.map((w) => depFromWire(key, w));
    const ok = (): boolean => {
      this.#cache.refresh();
      return deps.every((d) => this.#visible(d));
    };
    const peer = need.url !== undefined && need.url !== this.#selfUrl() ? need.url : undefined;
    let wait = 2;
    for (;;) {
      if (ok()) return;
      if (peer !== undefined) {
        this.fetches++;
        const got = (await readPeerCache(this.#link, peer, [key], deadline).catch(() => undefined))?.get(key);
        if (got !== undefined && (await this.absorbAwait(key, got, deadline, peer), ok())) return;
      }
      this.fetches++;
      const fresh = await this.#tier.getFresh(key).catch(() => undefined);
      if (fresh !== undefined && (await this.absorbAwait(key, fresh, deadline), ok())) return;
      if (performance.now() >= deadline || this.#closed) {
        throw new CloudburstError('CONSISTENCY_UNAVAILABLE', `no version of ${displayKey(key)} as new as the request depends on reached this host in time`);
      }
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(1, deadline - performance.now()))));
      wait = Math.min(wait * 2, 100);
    }
  }

  /**
   * `ensure` for every key a request needs (what a DAG step imports before it runs): first
   * one request to each host that has some of them, then `ensure` for whatever is still behind.
   */
  async ensureAll(need: Readonly<Record<string, CausalNeed>>, deadline: number): Promise<void> {
    const behind = (entries: [string, CausalNeed][]): [string, CausalNeed][] => {
      this.#cache.refresh();
      return entries.filter(([key, n]) => !n.deps.every((w) => this.#visible(depFromWire(key, w))));
    };
    let todo = behind(Object.entries(need));
    if (todo.length === 0) return;
    const byPeer = new Map<string, string[]>();
    for (const [key, n] of todo) {
      if (n.url === undefined || n.url === this.#selfUrl()) continue;
      const keys = byPeer.get(n.url) ?? [];
      keys.push(key);
      byPeer.set(n.url, keys);
    }
    if (byPeer.size > 0) {
      await Promise.all([...byPeer].map(async ([url, keys]) => {
        this.fetches++;
        const got = await readPeerCache(this.#link, url, keys, deadline).catch(() => new Map<string, Lattice>());
        for (const [k, v] of got) this.absorb(k, v, url);
      }));
      this.#admitClosed();
      await this.#resolveRounds(todo.map(([k]) => k), deadline);
      todo = behind(todo);
    }
    await Promise.all(todo.map(([key, n]) => this.ensure(key, n, deadline)));
  }

  /** For the internal route (`HOST_PATHS.cacheRead`): this host's cached values of `keys` (what is visible here). */
  serve(keys: readonly string[]): { values: Record<string, string | null> } {
    return serveCacheRead(this.#cache, keys);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#held.clear();
  }
}
