import type { HostCache } from '../cache/cache.ts';
import type { ExecutorPool } from '../executor/pool.ts';
import { gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import type { SelfAddress } from '../self-address.ts';
import { Bloom } from './bloom.ts';
import type { HostRecord, PeerView } from './directory.ts';
import { isUserKey } from '../keys.ts';

export interface PresenceOptions {
  self: SelfAddress;
  /** The cache whose user keys the record summarizes. */
  cache: Pick<HostCache, 'keys'>;
  /** The pool whose load is sampled. */
  pool: Pick<ExecutorPool, 'stats'>;
  /** How often the load is sampled. Default 100 ms. */
  sampleMs?: number;
}

/** What `GET /v1/cluster` answers: this host, and the peers as its scheduler sees them. */
export interface ClusterInfo {
  host: { id: string; url: string; utilization: number };
  peers: Omit<HostRecord, 'summary' | 'stopped'>[];
}

/**
 * What this host tells the rest of the cluster about itself, through its directory record
 * (`cluster/directory.ts`): how busy it is and which user keys it caches. Placement (its own
 * and the other hosts') reads both.
 *
 * Utilization is the busy and waiting calls per worker the pool may grow to (`maxWorkers`, not
 * the workers it has now: 0.7 means 70% of what this host can do, which is what placement and
 * the autoscalers compare with their threshold), sampled every `sampleMs` and smoothed over
 * about a second, capped at 1.5 so that a burst of queued calls fades quickly.
 */
export class Presence {
  readonly #self: SelfAddress;
  readonly #cache: PresenceOptions['cache'];
  readonly #pool: PresenceOptions['pool'];
  readonly #sampler: NodeJS.Timeout;
  #utilization = 0;
  /** Records built while no peer was live. */
  #lonelyBeats = 0;

  constructor(opts: PresenceOptions) {
    this.#self = opts.self;
    this.#cache = opts.cache;
    this.#pool = opts.pool;
    this.#sampler = setInterval(() => {
      const s = this.#pool.stats();
      this.#utilization = 0.7 * this.#utilization + 0.3 * Math.min(1.5, (s.busy + s.queued) / s.maxWorkers);
    }, opts.sampleMs ?? 100);
    this.#sampler.unref();
  }

  get utilization(): number {
    return this.#utilization;
  }

  /**
   * This host's directory record. The key summary is a scan of the cache: it is left empty
   * while no peer is live to read it (`hasPeers`), but for the very first record. It holds
   * the user keys of every tenant as storage keys (`{tenant}/k/{key}`), which is what a
   * call's references are when placement looks them up.
   */
  record(hasPeers: boolean): Omit<HostRecord, 'updatedAt'> {
    const keys = hasPeers || this.#lonelyBeats++ === 0 ? [...this.#cache.keys('')].filter(isUserKey) : [];
    const bloom = Bloom.forCount(keys.length);
    for (const k of keys) bloom.add(k);
    const s = this.#pool.stats();
    return { id: this.#self.id, url: this.#self.url(), utilization: this.#utilization, queued: s.queued, keys: keys.length, summary: bloom.toBase64() };
  }

  view(peers: readonly PeerView[]): ClusterInfo {
    return {
      host: { id: this.#self.id, url: this.#self.url(), utilization: this.#utilization },
      peers: peers.map((p) => ({ id: p.id, url: p.url, utilization: p.utilization, queued: p.queued, keys: p.keys, updatedAt: p.updatedAt })),
    };
  }

  /** The utilization this host publishes (host/README.md, "Metrics"): what the HPA's adapter rule reads. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_utilization', 'Busy and waiting calls per executor worker the host may grow to (maxWorkers), smoothed over about 1 s: what placement and autoscaling compare with 0.7.', () => this.#utilization);
  }

  /** Stops sampling (after the directory's last record: it reports the load). */
  close(): void {
    clearInterval(this.#sampler);
  }
}
