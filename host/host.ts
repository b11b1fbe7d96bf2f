import { InsecureAuthenticator, type Authenticator } from './auth/principal.ts';
import { AUDIT_FILE, AuditLog } from './auth/audit.ts';
import { AuthStore } from './auth/auth-store.ts';
import { TokenAuthenticator } from './auth/authenticator.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { advertisedUrl, bareHost, CloudburstError, createServer, listen, retainIdleBuffers, Router, serve, type ServerDrain } from '../common/index.ts';
import { Hlc, KvClient } from '../kvs/index.ts';
import { HostCache } from './cache/cache.ts';
import { Flusher } from './cache/flusher.ts';
import { CacheBudget } from './cache/budget.ts';
import { Subscriptions } from './cache/subscriptions.ts';
import { ABSENT_KEYS_MAX, AbsentKeys } from './cache/absent-keys.ts';
import { Calls } from './calls.ts';
import { DagService } from './dag/service.ts';
import { Directory } from './cluster/directory.ts';
import { Forwarder } from './cluster/forward.ts';
import { PeerLink } from './cluster/peer-link.ts';
import { Presence } from './cluster/presence.ts';
import { executorBridge } from './executor/bridge.ts';
import { ExecutorPool } from './executor/pool.ts';
import { Futures } from './futures.ts';
import { Messaging } from './messaging/messaging.ts';
import { Metrics } from './metrics.ts';
import { resolveOptions, type HostOptions } from './options.ts';
import { functionInfo, Registry } from './registry.ts';
import { routes } from './routes.ts';
import { CausalCut } from './consistency/causal.ts';
import { SessionCatchUp } from './consistency/session-catch-up.ts';
import { Snapshots } from './consistency/snapshots.ts';
import { ReadThroughCache } from './cache/read-through.ts';
import { Quotas } from './quotas/quotas.ts';
import { DefaultQuotaSource, RecordQuotaSource } from './quotas/tenant-quotas.ts';
import { isStateBytesKey } from './quotas/state-ledger.ts';
import { SelfAddress } from './self-address.ts';
import { Readiness } from './readiness.ts';
import { drainHost, type Draining } from './drain.ts';
import { overviewReader, userKeyCounter } from './ui/overview.ts';
import { kvViewReader } from './ui/kv-nodes.ts';
import { LogStore } from './logs/log-store.ts';
import { ClusterLogs } from './logs/cluster-logs.ts';
import { LogFollowers } from './logs/follow.ts';

export interface Host {
  readonly id: string;
  readonly url: string;
  readonly port: number;
  /** Whether `GET /readyz` answers 200 now. */
  readonly ready: boolean;
  /** Releases the hold of `HostOptions.holdReady` (the host is ready once it also reached the tier). */
  setReady(): void;
  /**
   * Stops accepting connections; serves the requests in flight and those that arrive on open
   * connections (each answer with `Connection: close`); closes idle connections once nothing
   * has been in flight for 500 ms; then stops the rest, flushes the outbox and closes.
   */
  close(): Promise<void>;
  /**
   * What SIGTERM runs (host/README.md, "Draining"): /readyz goes 503 SHUTTING_DOWN, the host
   * leaves the directory and waits until its peers have read that, long-polls end, then it
   * closes as `close()` does, its calls, asynchronous calls and DAG steps given until
   * `timeoutMs` (default 30 s) from the start to finish: those still running then are cut
   * (answered 503 SHUTTING_DOWN; nothing they did is committed). The outbox is flushed last.
   */
  drain(o?: { timeoutMs?: number }): Promise<void>;
}

/** `Host.drain()`'s bound when none is given (`--drain-timeout`). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** How long close() waits, with nothing in flight, before it closes idle keep-alive connections. */
const IDLE_GRACE_MS = 500;

const MiB = 1024 * 1024;

/**
 * A host's identity is one incarnation's: a host started again, with the same data folder or
 * not, is a new member of the cluster (a pod of a Deployment is). Its cache stays valid data
 * and the outbox a previous incarnation left is flushed as its own (the entries are lattice
 * values: who wrote them is inside them). Writers are `h-{id}/...`, so a counter gains an
 * entry per incarnation that wrote to it, and no two processes ever share a writer id (two
 * hosts started from copies of one folder would have, with a saved id: their counter entries
 * would overwrite each other's). A stopped incarnation's directory record is final.
 */
function hostId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Starts a function host: HTTP API, registry, executor pool and cache, talking to the KV
 * tier at `kvsUrl` over HTTP (also in the embedded mode, so that one path is exercised).
 *
 * The parts are built in dependency order, each given what it calls. Where two parts call
 * each other (a real cycle), the one built first reaches the other through an arrow naming a
 * part built a few lines below, marked "Cycle"; the host's URL, known only once it listens,
 * is the `SelfAddress` seam. The server listens once every part exists; the work that reaches
 * the tier and the other hosts on its own (flusher, directory, subscriptions) starts after.
 *
 * @example
 * const host = await startHost({ dataDir: './.cloudburst/host', kvsUrl: kv.url, port: 0 });
 * await fetch(`${host.url}/v1/functions`);
 * await host.close();
 */
export async function startHost(options: HostOptions): Promise<Host> {
  const opts = resolveOptions(options);
  mkdirSync(opts.dataDir, { recursive: true });
  const self = new SelfAddress(hostId());
  const writerPrefix = `h-${self.id}`;
  const hlc = new Hlc(`${writerPrefix}/main`);
  const metrics = new Metrics();
  // An empty secret is the option left out (resolveOptions): requests go unsigned.
  const clusterSecret = opts.clusterSecret.length > 0 ? opts.clusterSecret : undefined;
  const link = new PeerLink({ secret: clusterSecret, ca: opts.ca });

  // State: the cache, the KV tier behind it, and the subscriptions that keep the cache fresh
  // (the host subscribes to every key it caches, read from the tier or written and flushed;
  // the tier pushes merged changes to POST /v1/internal/kv/push).
  const cachePath = join(opts.dataDir, 'cache');
  const cache = HostCache.open({ path: cachePath, fsync: opts.fsync });
  // Cycle: replicas of a key can move when the ring changes, so every cached key is subscribed
  // again; the subscriptions subscribe through this client.
  const kv = new KvClient({ url: opts.kvsUrl, seeds: opts.kvsSeeds, ca: opts.ca, clusterSecret, onRingChange: () => subs.renew() });
  // Cycle: a key just subscribed is read once more through the read-through cache, which
  // subscribes to what it reads.
  const subs = new Subscriptions(kv, self.url, { ttlMs: opts.subscriptionTtlMs, onSubscribed: (keys) => readThrough.readAgain(keys) });
  const budget = new CacheBudget(cache, {
    maxBytes: opts.cacheMiB * MiB, maxKeys: opts.cacheKeys, keep: isStateBytesKey, onDirty: () => flusher.flushNow(),
    onEvicted: (keys) => {
      subs.remove(keys);
      absent?.forget(keys);
    },
  });
  const flusher = new Flusher(cache, kv, {
    delayMs: opts.flushDelayMs,
    maxDelayMs: opts.flushMaxDelayMs,
    intervalMs: Math.max(1000, opts.flushDelayMs),
    origin: self.url,
    onFlushed: (keys) => {
      budget.touch(keys);
      subs.add(keys);
    },
  });
  // Values from the tier and from peers enter the cache through its causal cut.
  const cut = new CausalCut({ cache, tier: kv, link, selfUrl: self.url, onStored: (key) => subs.add([key]) });
  // Keys guests read that the tier has none of: subscribed while remembered (a key that is
  // also cached stays subscribed when forgotten); forgotten when they leave the cache.
  const absent = opts.absentTtlMs > 0
    ? new AbsentKeys({ maxKeys: ABSENT_KEYS_MAX, ttlMs: opts.absentTtlMs, onForgotten: (keys) => subs.remove(keys.filter((k) => !cache.has(k))) })
    : undefined;
  const readThrough = new ReadThroughCache(cache, kv, flusher, cut, (key) => subs.add([key]), absent);
  // Who may do what: tokens and tenants live in the tier, read fresh (auth/authenticator.ts).
  const authStore = new AuthStore(kv, hlc);
  const tokens = opts.insecure ? undefined : new TokenAuthenticator({ clusterSecret: opts.clusterSecret, store: authStore });
  const auth: Authenticator = tokens ?? new InsecureAuthenticator();
  // Every tenant's quotas, checked where requests are accepted: its record's, over the host's
  // (insecure: no records are read, every tenant has the host's).
  const quotas = new Quotas({
    source: tokens ? new RecordQuotaSource((tenant) => tokens.tenantQuotas(tenant), opts.quotas) : new DefaultQuotaSource(opts.quotas),
    readThrough, writer: `${writerPrefix}/main`,
    host: { guestMemoryMiB: opts.guestMemoryMiB, defaultTimeoutMs: opts.defaultTimeoutMs, maxTimeoutMs: opts.maxTimeoutMs },
  });

  // Execution: the worker threads that run guests, the modules, futures.
  const router = new Router({ paths: 'url', onResponse: (method, status) => metrics.observeRequest(method, status) });
  const pool = new ExecutorPool({
    // A lone call may busy-wait for its worker only while no other request needs this thread
    // (open log streams, which wait, do not count: `cloudburst dev` keeps one open).
    mainIsIdle: (): boolean => router.inflight - followers.size <= 1,
    size: opts.workers,
    maxSize: opts.maxWorkers,
    scaleUpWaitMs: opts.scaleUpWaitMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    queue: opts.queue,
    workerMemoryBytes: opts.workerMemoryMiB * MiB,
    cachePath,
    ...(opts.valueMemoMiB > 0 ? { valueMemo: { versions: cache.versions.buffer, maxBytes: opts.valueMemoMiB * MiB } } : {}),
    writerPrefix,
    // Cycle: running guests ask the main thread for parts built on the pool (DAG pins, and
    // messages, sent through the directory that publishes the pool's load).
    bridge: (req, remainingMs, tenant) => serveWorkers(req, remainingMs, tenant),
  });
  const registry = new Registry(readThrough, hlc, pool, {
    maxModuleBytes: opts.maxModuleBytes,
    memoryMaxPages: Math.floor((opts.guestMemoryMiB * MiB) / 65536),
    instantiateTimeoutMs: 5000,
  });
  const futures = new Futures(readThrough, hlc, { rereadMs: opts.futureRereadMs });

  // The cluster: this host's published load and keys, every host's record, messages between
  // functions, calls forwarded to other hosts.
  const presence = new Presence({ self, cache, pool });
  // Ready once the tier took this host's first record (peers can then place work here), and
  // whatever the starter holds (host/README.md, "Readiness and draining").
  const readiness = new Readiness({
    tier: 'it has not reached the KV tier and published its directory record yet',
    ...(opts.holdReady === undefined ? {} : { starter: opts.holdReady }),
  });
  const directory = new Directory({
    kv, hlc, intervalMs: opts.publishIntervalMs, self: (hasPeers) => presence.record(hasPeers), onPublished: () => readiness.release('tier'),
    // Calls forwarded to a peer taken for dead are placed again at once, not at their deadline.
    onLost: (peer, why) => void link.lost(peer.url, why),
  });
  const others = { peers: () => directory.peers(), markUnreachable: (peer: string, url?: string) => directory.markUnreachable(peer, url) };
  const messaging = new Messaging({ hostId: self.id, kv, link, ...others });
  const forwarder = new Forwarder(self.id, link);
  // Guest log lines and failed calls, per function, bounded; read and followed over every host.
  const logStore = new LogStore(self.id, opts.logBounds);
  const clusterLogs = new ClusterLogs({ store: logStore, selfId: self.id, peers: () => directory.peers(), link });
  const followers = new LogFollowers(logStore, clusterLogs, opts.logFollow);

  // Calls and DAGs. Client sessions: a call first brings this cache up to what the client's
  // earlier calls saw.
  const catchUp = new SessionCatchUp({
    cache, link, selfUrl: self.url,
    admit: (key, value, deadline, from) => cut.absorbAwait(key, value, deadline, from),
    getFresh: (key) => kv.getFresh(key),
  });
  const calls = new Calls({
    registry, pool, readThrough, metrics, futures, hostId: self.id, messaging,
    onTouched: (keys) => {
      readThrough.callKeys += keys.length;
      budget.touch(keys);
    },
    sessions: { catchUp, selfUrl: self.url },
    cluster: {
      ...others, absence: (peer) => directory.absence(peer),
      forwarder, load: presence.load, explore: opts.explore, maxUtilization: opts.maxUtilization,
    },
    defaultTimeoutMs: opts.defaultTimeoutMs,
    maxTimeoutMs: opts.maxTimeoutMs,
    onGuestLog: opts.onGuestLog,
    logStore,
    quotas,
  });
  const snapshots = new Snapshots(self.id, link);
  const dags = new DagService({ registry, calls, pool, readThrough, hlc, futures, link, hostId: self.id, selfUrl: self.url, snapshots, cut, fuse: opts.dagFusion });
  const serveWorkers = executorBridge({ readThrough, flusher, messaging, snapshots, cut, dags });

  // Each part registers what it counts (host/README.md, "Metrics").
  for (const part of [flusher, budget, subs, readThrough, cut, catchUp, snapshots, dags, pool, presence, messaging, quotas, readiness, logStore, followers]) part.registerMetrics(metrics.registry);

  const audit = new AuditLog({ path: join(opts.dataDir, AUDIT_FILE), hostId: self.id, onAudit: opts.onAudit });

  routes(router, {
    auth,
    admin: { store: authStore, changed: (what) => tokens?.forget(what) },
    audit,
    registry, calls, dags, futures, readThrough, metrics, hlc, messaging, cut, quotas, hostId: self.id, writer: `${writerPrefix}/main`,
    maxBodyBytes: opts.maxBodyBytes,
    readiness,
    clusterView: () => presence.view(directory.peers()),
    overview: overviewReader({
      registry: metrics.registry,
      cluster: () => presence.view(directory.peers()),
      kv: kvViewReader(kv),
      userKeys: userKeyCounter(() => cache.keys('')),
      functions: async (tenant) => (await registry.list(tenant)).flatMap((r) => r.types.exports.map((sig) => functionInfo(r, sig))),
      dags: (tenant) => dags.list(tenant),
    }),
    logs: { store: logStore, cluster: clusterLogs, followers },
  });

  // node:https with opts.tls (README, "TLS"): the same keep-alive, the same drain.
  const server = createServer({ keepAliveTimeout: 65_000 }, opts.tls);
  const drain = serve(server, router.handle);
  let port: number;
  try {
    port = await listen(server, opts.port, bareHost(opts.listen));
  } catch (err) {
    // Nothing has started but the parts' own timers and the workers.
    presence.close();
    budget.close();
    messaging.close();
    await pool.close();
    await kv.close();
    await cache.close();
    await audit.close();
    throw err;
  }
  // The URL others reach us at (common/address.ts): --advertise, else listen address and port.
  self.listening(advertisedUrl({ listen: opts.listen, advertise: opts.advertise, port, scheme: opts.tls ? 'https' : 'http' }));
  // Writes left in the outbox by a previous run (even one killed with -9) go out now.
  flusher.start();
  directory.start();
  subs.start();
  // Keys cached by a previous run are subscribed again.
  subs.add(cache.keys(''));

  // Values up to 64 MiB cross the main thread several times: their dead buffers go back once
  // the host is idle (host/README.md, "Memory").
  const releaseIdleBuffers = retainIdleBuffers();

  const running = { id: self.id, drain, readiness, futures, followers, directory, presence, budget, subs, dags, cut, pool, messaging, link, flusher, kv, cache, audit, releaseIdleBuffers };
  let closing: Promise<void> | undefined;
  const draining: Draining = { ...running, publishIntervalMs: opts.publishIntervalMs, idleGraceMs: IDLE_GRACE_MS, stop: (o) => stop(running, o) };
  return {
    id: self.id, port, url: self.url(),
    get ready() {
      return readiness.ready;
    },
    setReady: () => readiness.release('starter'),
    close: () => (closing ??= stop(running)),
    drain: (o = {}) => (closing ??= drainHost(draining, o.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS)),
  };
}

export interface Running {
  id: string;
  drain: ServerDrain;
  readiness: Readiness;
  futures: Futures;
  /** Log streams: ended first when the host stops, as long-polls are. */
  followers: LogFollowers;
  directory: Directory;
  presence: Presence;
  budget: CacheBudget;
  subs: Subscriptions;
  dags: DagService;
  cut: CausalCut;
  pool: ExecutorPool;
  messaging: Messaging;
  link: PeerLink;
  flusher: Flusher;
  kv: KvClient;
  cache: HostCache;
  audit: AuditLog;
  releaseIdleBuffers: () => void;
}

/**
 * `Host.close()`: every part stops after those that use it (host/README.md, "Stopping").
 * `drained`, from `Host.drain()`: the HTTP side is drained already (the in-flight work that is
 * left was cut), go on with the rest.
 */
async function stop(p: Running, o: { drained?: Promise<void> } = {}): Promise<void> {
  p.readiness.drain();
  // First the HTTP side, while everything behind it still works: no new connections, every
  // answer from now on closes its connection, requests in flight and requests arriving on
  // open connections are served; idle connections close once things are quiet. Meanwhile
  // the directory tells the other hosts that this one is stopping.
  const drained = o.drained ?? p.drain.close({ idleGraceMs: IDLE_GRACE_MS });
  // Long-polls of futures answer now instead of holding the stop up for their whole wait; log
  // streams end.
  p.futures.stopWaiting();
  p.followers.endAll();
  await p.directory.close();
  await drained;
  // No request is left. The loops that work on their own: the load sampler (after the
  // directory's last record, which reports it), eviction, subscriptions, DAG requests held
  // here, held causal versions, futures' tier listener.
  p.presence.close();
  p.budget.close();
  p.subs.close();
  await p.dags.close();
  p.cut.close();
  p.futures.close();
  // Then the workers: once they are gone nothing commits, and the outbox holds every write
  // this host acknowledged. Then what only served the parts above: messaging's sweeper, the
  // connections to other hosts.
  await p.pool.close();
  p.messaging.close();
  await p.link.close();
  // Last, the outbox goes to the tier (what cannot stays in the cache for the next start),
  // then the tier's client and the cache that every part read.
  await p.flusher.flushAll().catch((err: unknown) => {
    if (!(err instanceof CloudburstError)) throw err;
    console.error(`host ${p.id}: ${p.cache.outboxSize()} writes stay in the outbox (${err.message}); they are flushed at the next start`);
  });
  await p.flusher.close();
  await p.kv.close();
  await p.cache.close();
  await p.audit.close();
  p.releaseIdleBuffers();
}
