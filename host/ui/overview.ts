/**
 * `GET /v1/overview`: what the dashboard shows, in one JSON answer (host/README.md,
 * "GET /v1/overview"). Counts come from the host's metrics registry, read through the same
 * collectors as `/metrics`, so the page and a scrape agree; the cluster from the directory
 * (what the scheduler sees); the KV nodes from the KV client's ring; functions and DAGs from
 * the caller's tenant.
 */
import type { ClusterInfo } from '../cluster/presence.ts';
import type { DagSpec } from '../dag/graph.ts';
import { isUserKey } from '../keys.ts';
import type { MetricsRegistry } from '../metrics.ts';
import type { FunctionInfo } from '../registry.ts';
import { quantile, type HistogramReading } from './histogram.ts';
import type { KvView } from './kv-nodes.ts';
import { MetricValues } from './metric-values.ts';

export interface HostView {
  id: string;
  url: string;
  /** This host (the one that answered). */
  self: boolean;
  /** Smoothed busy and waiting calls per worker it may grow to (its directory record). */
  utilization: number;
  /** What placement compares now (cluster/load.ts). */
  load: number;
  /** Calls waiting for a worker. */
  queued: number;
  /** User keys it caches (every tenant's). */
  keys: number;
  /** When its record was written (ms epoch); this host: now. */
  updatedAt: number;
}

export interface FunctionView {
  name: string;
  /** Calls run on this host since it started, by outcome (`cloudburst_calls_total`). */
  calls: number;
  ok: number;
  errors: number;
  /** Failed calls by error code (`cloudburst_call_errors_total`). */
  codes: Record<string, number>;
  /** `cloudburst_call_duration_seconds`: the histogram, and its quantiles since the start (seconds). */
  latency: HistogramReading;
  p50: number | null;
  p99: number | null;
}

export interface Overview {
  /** When this was read (ms epoch): the page computes rates between two of these. */
  time: number;
  tenant: string;
  host: HostView & { ready: boolean; workers: number; workersBusy: number; maxWorkers: number };
  /** Every live host, this one first. */
  hosts: HostView[];
  kv: KvView | { error: string };
  functions: FunctionView[];
  cache: {
    keys: number; bytes: number; maxBytes: number; evicted: number;
    /** Keys calls used, and the guests' reads among them the cache did not hold (hit rate: 1 - misses / callKeys). */
    callKeys: number; misses: number;
    outbox: number; outboxRejected: number; flushed: number; flushFailures: number;
    /** Keys subscribed on the tier, those whose subscription lapsed (changes to them are not pushed here until renewed), changes pushed. */
    subscribed: number; lapsed: number; pushed: number;
    /**
     * How late pushes arrive (the subscription lag: from the merge on the KV node to the push's
     * arrival here, `cloudburst_push_lag_seconds`): pushes measured, and their p50 and p99 in
     * seconds since the host started (null before the first).
     */
    pushLag: { count: number; p50: number | null; p99: number | null; reading: HistogramReading };
  };
  dags: Pick<DagSpec, 'name' | 'functions' | 'edges'>[];
}

export interface OverviewSources {
  registry: MetricsRegistry;
  cluster: () => ClusterInfo;
  kv: () => Promise<KvView>;
  /** The user keys this host caches. */
  userKeys: () => number;
  functions: (tenant: string) => Promise<FunctionInfo[]>;
  dags: (tenant: string) => Promise<DagSpec[]>;
  clock?: () => number;
}

/**
 * Builds the overview for a tenant.
 *
 * @example
 * const overview = overviewReader({ registry: metrics.registry, cluster, kv, userKeys, functions, dags });
 * sendJson(res, 200, await overview('default'));
 */
export function overviewReader(s: OverviewSources): (tenant: string) => Promise<Overview> {
  const clock = s.clock ?? Date.now;
  return async (tenant) => {
    const [m, fns, dags, kv] = await Promise.all([
      MetricValues.read(s.registry),
      s.functions(tenant),
      s.dags(tenant),
      s.kv().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })),
    ]);
    const v = (name: string): number => m.value(name) ?? 0;
    const now = clock();
    const view = s.cluster();
    const self: HostView = { id: view.host.id, url: view.host.url, self: true, utilization: view.host.utilization, load: view.host.load, queued: v('cloudburst_calls_queued'), keys: s.userKeys(), updatedAt: now };
    const peers: HostView[] = view.peers.map((p) => ({ id: p.id, url: p.url, self: false, utilization: p.utilization, load: p.load, queued: p.queued, keys: p.keys, updatedAt: p.updatedAt }));
    return {
      time: now,
      tenant,
      host: { ...self, ready: v('cloudburst_ready') === 1, workers: v('cloudburst_workers'), workersBusy: v('cloudburst_workers_busy'), maxWorkers: v('cloudburst_workers_max') },
      hosts: [self, ...peers.sort((a, b) => (a.url < b.url ? -1 : 1))],
      kv,
      functions: functionViews(m, fns.map((f) => f.name)),
      cache: {
        keys: v('cloudburst_cache_keys'), bytes: v('cloudburst_cache_bytes'), maxBytes: v('cloudburst_cache_max_bytes'), evicted: v('cloudburst_cache_evicted_total'),
        callKeys: v('cloudburst_call_keys_total'), misses: v('cloudburst_guest_read_misses_total'),
        outbox: v('cloudburst_outbox_keys'), outboxRejected: v('cloudburst_outbox_rejected_keys'), flushed: v('cloudburst_outbox_flushed_total'), flushFailures: v('cloudburst_outbox_flush_failures_total'),
        subscribed: v('cloudburst_subscribed_keys'), lapsed: v('cloudburst_subscriptions_lapsed'), pushed: v('cloudburst_pushed_changes_total'),
        pushLag: lagOf(m.histogram('cloudburst_push_lag_seconds')),
      },
      dags: dags.map((d) => ({ name: d.name, functions: d.functions, edges: d.edges })),
    };
  };
}

function lagOf(h: HistogramReading): Overview['cache']['pushLag'] {
  return { count: h.count, p50: h.count > 0 ? quantile(h, 0.5) ?? null : null, p99: h.count > 0 ? quantile(h, 0.99) ?? null : null, reading: h };
}

/** The tenant's functions with what this host's metrics say of each (nothing yet: zeros). */
function functionViews(m: MetricValues, names: string[]): FunctionView[] {
  const calls = m.byLabel('cloudburst_calls_total', 'function');
  const errors = m.byLabel('cloudburst_call_errors_total', 'function');
  const latency = m.histograms('cloudburst_call_duration_seconds', 'function');
  return [...new Set(names)].sort().map((name) => {
    const outcome = (o: string): number => calls.get(name)?.find((s) => s.labels.outcome === o)?.value ?? 0;
    const codes: Record<string, number> = {};
    for (const s of errors.get(name) ?? []) codes[String(s.labels.code)] = s.value;
    const h = latency.get(name) ?? { bounds: [], cumulative: [], count: 0, sum: 0 };
    const ok = outcome('ok');
    const failed = outcome('error');
    return { name, calls: ok + failed, ok, errors: failed, codes, latency: h, p50: quantile(h, 0.5) ?? null, p99: quantile(h, 0.99) ?? null };
  });
}

/** How long a count of the cached user keys is reused (it is a scan of the cache). */
const KEY_COUNT_TTL_MS = 2000;

/**
 * The user keys in the cache, counted by a scan at most every 2 s.
 *
 * @example
 * const userKeys = userKeyCounter(() => cache.keys(''));
 */
export function userKeyCounter(keys: () => Iterable<string>, clock: () => number = Date.now): () => number {
  let last: { at: number; n: number } | undefined;
  return () => {
    const now = clock();
    if (last === undefined || now - last.at > KEY_COUNT_TTL_MS) {
      let n = 0;
      for (const k of keys()) if (isUserKey(k)) n++;
      last = { at: now, n };
    }
    return last.n;
  };
}
