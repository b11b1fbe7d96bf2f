/**
 * The KV node's HTTP server (plain node:http): the routes of KV_ROUTES over one
 * LatticeStore and the node's `Cluster`. Handlers are a table keyed by route name: the data
 * routes here, the ring, subscription and node-to-node routes in cluster/routes.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { advertisedUrl, bareHost, checkAddresses, checkCa, CloudburstError, listen, readBody, retainIdleBuffers, Router, sendBytes, sendJson, serve } from '../common/index.ts';
import { Seeds, type Lookup } from './seeds.ts';
import { checkAccess, kvCredential } from './auth.ts';
import { Cluster, DEFAULT_TIMINGS, type ClusterTimings } from './cluster/cluster.ts';
import type { RingInfo } from './cluster/gossip.ts';
import { CLUSTER_HANDLERS } from './cluster/routes.ts';
import * as ops from './data-ops.ts';
import { KV_CONTENT_TYPES, KV_HEADERS, KV_LIMITS, KV_ROUTES, type KvRouteName } from './protocol.ts';
import { defaultWire, type WireMode } from './wire/mode.ts';
import { WIRE_OPS, type WireOp } from './wire/frame.ts';
import { acceptWire, type WireServer } from './wire/server.ts';
import { LatticeStore, type FsyncPolicy } from './store.ts';

/**
 * Options of `startKvNode`.
 *
 * @example
 * const opts: KvNodeOptions = { dataDir: '.cloudburst/kv', port: 7100 };
 */
export interface KvNodeOptions {
  /** The node's folder: the LMDB store lives in `<dataDir>/store`, the node id in `<dataDir>/node-id`. */
  readonly dataDir: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /**
   * The address to listen on (`cloudburst kvs --listen`; an IPv6 literal with or without
   * brackets). Defaults to 127.0.0.1. A wildcard (`0.0.0.0`, `::`) needs `advertiseUrl`.
   */
  readonly host?: string;
  readonly fsync?: FsyncPolicy;
  /** Defaults to the id saved in the data folder, or a new random one saved there. */
  readonly nodeId?: string;
  /** Where unexpected errors go (default console.error). */
  readonly log?: (message: string, err: unknown) => void;
  /**
   * The cluster credential (common/cluster-auth.ts) shared by every host and KV node of the
   * cluster: every request to the node but `/healthz` must be signed with it, and the node
   * signs its own. Required unless `insecure`; at least 32 bytes (kvs/README.md, "Authentication").
   */
  readonly clusterSecret?: Buffer;
  /**
   * No authentication at all: every request is served, signed or not (what the node sends is
   * still signed when `clusterSecret` is given too). For a laptop or a test, never a network.
   */
  readonly insecure?: boolean;
  /**
   * PEM CA certificate(s) the node trusts besides the system's when it connects out: the CA
   * of the hosts it pushes cache changes to, when they serve TLS with a private or
   * self-signed certificate (README, "TLS").
   */
  readonly ca?: Buffer;
  /**
   * Any node(s) of an existing cluster to join. Without seeds (and no membership saved in
   * `dataDir`) the node starts a cluster of its own.
   */
  readonly seeds?: readonly string[];
  /**
   * The resolver of seeds given by name (default the system's `dns.lookup`): a name resolving
   * to several addresses (a headless Service) stands for all of them, looked up again every
   * `seedResolveMs` (10 s) so nodes that come later are found (kvs/seeds.ts).
   */
  readonly lookup?: Lookup;
  readonly seedResolveMs?: number;
  /** Replicas per key (default: 1, 2 or 3 by cluster size; the cluster uses the largest announced). */
  readonly replication?: number;
  /** Acknowledgements a client write waits for (default: a majority of the replicas). */
  readonly writeQuorum?: number;
  /**
   * The URL other nodes and clients use to reach this node, its identity in the membership
   * (`cloudburst kvs --advertise`; default `http://host:port`, refused for a wildcard host:
   * common/address.ts).
   */
  readonly advertiseUrl?: string;
  /** Gossip period in ms (default 200). */
  readonly heartbeatMs?: number;
  /** A peer silent for this long is down in this node's view (default 2500 ms). */
  readonly downAfterMs?: number;
  /** Anti-entropy period per peer (default 1000 ms). */
  readonly antiEntropyMs?: number;
  /** Replica push batching window (default 10 ms). */
  readonly pushDelayMs?: number;
  /** Subscription push batching window (default 5 ms). */
  readonly subscriptionPushMs?: number;
  /** How long a new node tries its seeds before `startKvNode` fails (default 15000 ms). */
  readonly joinTimeoutMs?: number;
  /**
   * Hot-key detection (selective replication): a key read more than `factor` (10) times the
   * mean and at least `minReads` (100) times in a `windowMs` (10 s) window gets extra read
   * replicas. `false` turns it off.
   */
  readonly hotKeys?: { readonly windowMs?: number; readonly factor?: number; readonly minReads?: number } | false;
  /**
   * `binary` (the default, or CLOUDBURST_KV_WIRE): the node also takes the binary wire's
   * upgrade (kvs/README.md, "Binary wire") and speaks it to its peers; `http`: neither, the
   * node answers an upgrade request as an old node does (a 404), and its clients stay on HTTP.
   */
  readonly wire?: WireMode;
}

/**
 * A running KV node.
 *
 * @example
 * const node = await startKvNode({ dataDir });
 * const client = new KvClient({ url: node.url });
 * await node.close();
 */
export interface KvNode {
  /** The URL this node announces (`advertiseUrl`, else where it listens). */
  readonly url: string;
  readonly port: number;
  readonly nodeId: string;
  readonly store: LatticeStore;
  /** The ring as this node sees it (what `GET /kv/v1/ring` answers). */
  ring(): RingInfo & { catchingUp: boolean };
  /**
   * Graceful leave: hands every key to the nodes that replicate it next, leaves the ring,
   * then closes. Rejects with KV_UNAVAILABLE (and keeps serving) if it cannot hand over.
   */
  leave(): Promise<void>;
  /**
   * Stops accepting connections, serves what is in flight and what arrives on open connections
   * (answers with `Connection: close`; busy connections are cut after 2 s), closes idle ones
   * once quiet, then stops the cluster layer and closes the store.
   */
  close(): Promise<void>;
}

/** What every handler gets. */
export interface Context {
  readonly store: LatticeStore;
  readonly nodeId: string;
  readonly fsync: FsyncPolicy;
  readonly startedAt: number;
  readonly counts: Record<KvRouteName | 'errors', number>;
  readonly cluster: Cluster;
  /** Throws NOT_READY or SHUTTING_DOWN unless the node is ready (`GET /kv/v1/readyz`). */
  readonly checkReady: () => void;
  /** The binary wire's sockets open now and upgrades taken (zeros with `wire: 'http'`). */
  readonly wireStats: () => { sockets: number; upgrades: number };
}

/** `rawKey`: the key routes' `*key`, as sent (still percent-encoded). */
export type Handler = (ctx: Context, req: IncomingMessage, res: ServerResponse, rawKey: string) => void | Promise<void>;

/** How long close() lets requests in flight finish before cutting their connections. */
const CLOSE_MAX_WAIT_MS = 2000;
/** How long close() waits, with nothing in flight, before it closes idle keep-alive connections. */
const IDLE_GRACE_MS = 500;

const HANDLERS: Record<KvRouteName, Handler> = {
  ...CLUSTER_HANDLERS,

  getKey(ctx, _req, res, rawKey) {
    sendBytes(res, ops.getKey(ctx, rawKey), KV_CONTENT_TYPES.lattice);
  },

  async mergeKey(ctx, req, res, rawKey) {
    const key = ops.admitMerge(ctx, rawKey); // before the body: a bad key costs no upload
    const body = await readBody(req, KV_LIMITS.maxValueBytes, 'KV_VALUE_TOO_LARGE');
    sendBytes(res, await ops.mergeKey(ctx, key, body), KV_CONTENT_TYPES.lattice);
  },

  async batchMerge(ctx, req, res) {
    const body = await readBody(req, KV_LIMITS.maxBodyBytes, 'BODY_TOO_LARGE');
    const origin = req.headers[KV_HEADERS.origin];
    sendBytes(res, await ops.batchMerge(ctx, body, typeof origin === 'string' ? origin : undefined), KV_CONTENT_TYPES.json);
  },

  async batchGet(ctx, req, res) {
    sendBytes(res, ops.batchGet(ctx, await readBody(req, KV_LIMITS.maxBodyBytes, 'BODY_TOO_LARGE')), KV_CONTENT_TYPES.frame);
  },

  healthz(ctx, _req, res) {
    sendJson(res, 200, { ok: true, node: ctx.nodeId });
  },

  readyz(ctx, _req, res) {
    ctx.checkReady();
    sendJson(res, 200, { ready: true, node: ctx.nodeId });
  },

  stats(ctx, _req, res) {
    sendJson(res, 200, {
      keys: ctx.store.keyCount(),
      node: ctx.nodeId,
      fsync: ctx.fsync,
      uptimeMs: Date.now() - ctx.startedAt,
      requests: ctx.counts,
      wire: ctx.wireStats(),
      cluster: {
        ring: ctx.cluster.version,
        catchingUp: ctx.cluster.catchingUp,
        hints: Object.fromEntries(ctx.cluster.hints.peers().map((p) => [p, ctx.cluster.hints.count(p)])),
        pushed: ctx.cluster.replicator.pushed,
        antiEntropyRounds: ctx.cluster.antiEntropy.rounds,
        repairedKeys: ctx.cluster.antiEntropy.repairedKeys,
        shedKeys: ctx.cluster.handoff.shed,
        subscriptions: ctx.cluster.subscriptions.size,
        hotKeys: ctx.cluster.hotKeys?.current ?? [],
        subscriptionPushes: ctx.cluster.subscriptions.pushed,
      },
    });
  },
};

/** Each wire op's route: its request count, and the data operation it runs. */
const WIRE_ROUTES: Record<WireOp, KvRouteName> = {
  [WIRE_OPS.get]: 'getKey',
  [WIRE_OPS.merge]: 'mergeKey',
  [WIRE_OPS.batchMerge]: 'batchMerge',
  [WIRE_OPS.batchGet]: 'batchGet',
  [WIRE_OPS.push]: 'push',
};

// The binary wire on the node's port: the same operations as the HTTP routes (data-ops.ts),
// counted under the same names, refused the same way while the node stops.
function serveWire(server: ReturnType<typeof createServer>, ctx: Context, credential: ReturnType<typeof kvCredential>, stopping: () => boolean, log: (m: string, e: unknown) => void): WireServer {
  return acceptWire(server, {
    credential,
    nodeId: ctx.nodeId,
    ringVersion: () => ctx.cluster.version,
    onError: (err, unexpected) => {
      ctx.counts.errors++;
      if (unexpected) log('kv: wire request: unexpected error', err);
    },
    handle: (op, arg, body) => {
      if (stopping()) throw new CloudburstError('SHUTTING_DOWN', 'the KV node is stopping');
      ctx.counts[WIRE_ROUTES[op]]++;
      switch (op) {
        case WIRE_OPS.get:
          if (body.length > 0) throw new CloudburstError('INVALID_REQUEST', 'a get carries no body');
          return ops.getKey(ctx, arg);
        case WIRE_OPS.merge: {
          const key = ops.admitMerge(ctx, arg);
          return ops.mergeKey(ctx, key, body);
        }
        case WIRE_OPS.batchMerge:
          return ops.batchMerge(ctx, body, arg || undefined);
        case WIRE_OPS.batchGet:
          return ops.batchGet(ctx, body);
        case WIRE_OPS.push:
          return ops.push(ctx, body, arg || undefined);
      }
    },
  });
}

function loadNodeId(dataDir: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const file = join(dataDir, 'node-id');
  try {
    const saved = readFileSync(file, 'utf8').trim();
    if (saved) return saved;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = `kv-${randomUUID().slice(0, 8)}`;
  writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * Starts a KV node: opens its store in `dataDir` and serves KV_ROUTES over HTTP.
 *
 * @example
 * const node = await startKvNode({ dataDir: '/tmp/kv', port: 0 });
 * console.log(node.url); // http://127.0.0.1:41234
 */
export async function startKvNode(opts: KvNodeOptions): Promise<KvNode> {
  const host = opts.host ?? '127.0.0.1';
  const fsync = opts.fsync ?? 'batch';
  const log = opts.log ?? ((message: string, err: unknown) => console.error(message, err));
  if (opts.ca) checkCa(opts.ca);
  checkAddresses({ listen: host, advertise: opts.advertiseUrl }, 'a KV node');
  const credential = kvCredential(opts);
  mkdirSync(opts.dataDir, { recursive: true });
  const nodeId = loadNodeId(opts.dataDir, opts.nodeId);
  const store = LatticeStore.open({ path: join(opts.dataDir, 'store'), fsync });
  const counts = Object.fromEntries([...KV_ROUTES.map((r) => [r.name, 0]), ['errors', 0]]) as Context['counts'];
  const router = new Router({ paths: 'raw', log: (message, err) => log(`kv: ${message}`, err), onError: () => counts.errors++ });
  // Set once the port is known (the cluster announces our URL); until then requests get 503.
  let ctx: Context | undefined;

  // Set once the HTTP server has drained and the cluster and the store are closing.
  let stopping = false;
  const server = createServer({ noDelay: true });
  const wireMode = opts.wire ?? defaultWire();
  const drain = serve(server, (req, res) => {
    res.setHeader(KV_HEADERS.node, nodeId);
    if (stopping) return router.fail(req, res, new CloudburstError('SHUTTING_DOWN', 'the KV node is stopping'));
    if (!ctx) return router.fail(req, res, new CloudburstError('KV_UNAVAILABLE', 'the KV node is starting'));
    res.setHeader(KV_HEADERS.ringVersion, ctx.cluster.version);
    router.handle(req, res);
  });

  let port: number;
  try {
    port = await listen(server, opts.port ?? 0, bareHost(host));
  } catch (err) {
    await store.close();
    throw err;
  }

  const url = advertisedUrl({ listen: host, advertise: opts.advertiseUrl, port, scheme: 'http' });
  const timings: ClusterTimings = {
    heartbeatMs: opts.heartbeatMs ?? DEFAULT_TIMINGS.heartbeatMs,
    downAfterMs: opts.downAfterMs ?? DEFAULT_TIMINGS.downAfterMs,
    antiEntropyMs: opts.antiEntropyMs ?? DEFAULT_TIMINGS.antiEntropyMs,
    pushDelayMs: opts.pushDelayMs ?? DEFAULT_TIMINGS.pushDelayMs,
    subscriptionPushMs: opts.subscriptionPushMs ?? DEFAULT_TIMINGS.subscriptionPushMs,
    joinTimeoutMs: opts.joinTimeoutMs ?? DEFAULT_TIMINGS.joinTimeoutMs,
  };
  const cluster = new Cluster({
    self: { id: nodeId, url },
    dataDir: opts.dataDir,
    store,
    seeds: new Seeds(opts.seeds ?? [], opts.lookup ? { lookup: opts.lookup } : {}),
    seedResolveMs: opts.seedResolveMs,
    replication: opts.replication,
    writeQuorum: opts.writeQuorum,
    timings,
    log,
    hotKeys: opts.hotKeys,
    ca: opts.ca,
    clusterSecret: credential.secret,
    wire: wireMode,
  });
  // Ready once joined (`start` resolved: a new node pulled its ranges) and caught up with its
  // replicas (a restarted or paused node compares digests with every live peer first); never
  // again once it leaves or closes.
  let joined = false;
  let draining = false;
  const checkReady = (): void => {
    if (draining) throw new CloudburstError('SHUTTING_DOWN', 'the KV node is stopping');
    if (!joined) throw new CloudburstError('NOT_READY', 'the KV node has not joined its ring yet');
    if (cluster.catchingUp) throw new CloudburstError('NOT_READY', 'the KV node is catching up with its replicas');
  };
  let wire: WireServer | undefined;
  const wireStats = (): { sockets: number; upgrades: number } => wire?.stats() ?? { sockets: 0, upgrades: 0 };
  const context: Context = { store, nodeId, fsync, startedAt: Date.now(), counts, cluster, checkReady, wireStats };
  for (const route of KV_ROUTES) {
    const handler = HANDLERS[route.name];
    router.on(route.method, route.path, ({ req, res, params }) => {
      checkAccess(credential, route.access, req);
      counts[route.name]++;
      return handler(context, req, res, params['key'] ?? '');
    });
  }
  ctx = context;
  wire = wireMode === 'binary' ? serveWire(server, context, credential, () => stopping, log) : undefined;

  // Values up to 64 MiB pass through here: their dead buffers go back once the node is idle.
  const releaseIdleBuffers = retainIdleBuffers();
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      draining = true;
      // Requests still arriving on open connections are served (with Connection: close) while
      // the cluster and the store are up.
      // Wire sockets are the server's connections too: they end while HTTP drains.
      await Promise.all([drain.close({ idleGraceMs: IDLE_GRACE_MS, maxWaitMs: CLOSE_MAX_WAIT_MS }), wire?.close(CLOSE_MAX_WAIT_MS)]);
      stopping = true;
      await cluster.close();
      await store.close();
      releaseIdleBuffers();
    })());

  try {
    await cluster.start();
  } catch (err) {
    await close();
    throw err;
  }
  joined = true;

  const leave = async (): Promise<void> => {
    draining = true;
    await cluster.leave();
    await close();
  };
  return { url, port, nodeId, store, ring: () => cluster.info(), leave, close };
}
