/**
 * The KV node's HTTP server (plain node:http): the routes of KV_ROUTES over one
 * LatticeStore. Handlers are a table keyed by route name, so the ring's routes slot in
 * next to these.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CloudburstError } from './errors.ts';
import { readBody, sendBytes, sendError, sendJson } from './http.ts';
import { decode } from './lattice/codec.ts';
import type { Lattice } from './lattice/registry.ts';
import {
  checkKey,
  decodeFrame,
  encodeFrame,
  KV_CONTENT_TYPES,
  KV_HEADERS,
  KV_LIMITS,
  KV_ROUTES,
  type FrameEntry,
  type KvRouteName,
} from './protocol.ts';
import { Router } from './router.ts';
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
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  readonly fsync?: FsyncPolicy;
  /** Defaults to the id saved in the data folder, or a new random one saved there. */
  readonly nodeId?: string;
  /** Where unexpected errors go (default console.error). */
  readonly log?: (message: string, err: unknown) => void;
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
  readonly url: string;
  readonly port: number;
  readonly nodeId: string;
  readonly store: LatticeStore;
  /** Stops accepting, lets in-flight requests finish (briefly), closes connections and the store. */
  close(): Promise<void>;
}

interface Context {
  readonly store: LatticeStore;
  readonly nodeId: string;
  readonly fsync: FsyncPolicy;
  readonly startedAt: number;
  readonly counts: Record<KvRouteName | 'errors', number>;
}

type Handler = (ctx: Context, req: IncomingMessage, res: ServerResponse, rest: string) => void | Promise<void>;

/** How long close() lets in-flight requests finish before cutting connections. */
const CLOSE_GRACE_MS = 2000;

function keyFromPath(rest: string): string {
  let key: string;
  try {
    key = decodeURIComponent(rest);
  } catch {
    throw new CloudburstError('INVALID_KEY', 'the key in the path is not valid percent-encoded UTF-8');
  }
  return checkKey(key);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new CloudburstError('MALFORMED_JSON', 'the body is not valid JSON');
  }
}

/** Checks one frame entry; the error, if any, is that entry's result. */
function entryValue(entry: FrameEntry): Lattice {
  checkKey(entry.key);
  if (!entry.value) throw new CloudburstError('KV_BAD_VALUE', 'a merge entry needs a value');
  if (entry.value.byteLength > KV_LIMITS.maxValueBytes) {
    throw new CloudburstError('KV_VALUE_TOO_LARGE', `the value is over ${KV_LIMITS.maxValueBytes} bytes`);
  }
  return decode(entry.value);
}

const HANDLERS: Record<KvRouteName, Handler> = {
  getKey(ctx, _req, res, rest) {
    const key = keyFromPath(rest);
    const bytes = ctx.store.getEncoded(key);
    if (!bytes) throw new CloudburstError('KEY_NOT_FOUND', `no value under ${JSON.stringify(key)}`);
    sendBytes(res, bytes, KV_CONTENT_TYPES.lattice);
  },

  async mergeKey(ctx, req, res, rest) {
    const key = keyFromPath(rest); // before the body: a bad key costs no upload
    const body = await readBody(req, KV_LIMITS.maxValueBytes, 'KV_VALUE_TOO_LARGE');
    const { bytes } = await ctx.store.mergeEncoded(key, decode(body));
    sendBytes(res, bytes, KV_CONTENT_TYPES.lattice);
  },

  async batchMerge(ctx, req, res) {
    const entries = decodeFrame(await readBody(req, KV_LIMITS.maxBodyBytes, 'BODY_TOO_LARGE'));
    const results: (CloudburstError | null)[] = new Array(entries.length).fill(null);
    const valid: { key: string; value: Lattice }[] = [];
    const slots: number[] = [];
    entries.forEach((entry, i) => {
      try {
        valid.push({ key: entry.key, value: entryValue(entry) });
        slots.push(i);
      } catch (err) {
        if (!(err instanceof CloudburstError)) throw err;
        results[i] = err;
      }
    });
    const merged = await ctx.store.mergeMany(valid);
    merged.forEach((r, j) => {
      if (r instanceof CloudburstError) results[slots[j]!] = r;
    });
    sendJson(res, 200, { results: results.map((r) => (r ? r.toJSON().error : null)) });
  },

  async batchGet(ctx, req, res) {
    const body = parseJson(await readBody(req, KV_LIMITS.maxBodyBytes, 'BODY_TOO_LARGE'));
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new CloudburstError('INVALID_REQUEST', 'expected {"keys": [string, ...]}');
    if (keys.length > KV_LIMITS.maxBatchEntries) {
      throw new CloudburstError('INVALID_REQUEST', `at most ${KV_LIMITS.maxBatchEntries} keys per batch`);
    }
    let total = 0;
    const entries = keys.map((k: unknown, index): FrameEntry => {
      let key: string;
      try {
        key = checkKey(k);
      } catch (err) {
        throw new CloudburstError('INVALID_KEY', `keys[${index}]: ${(err as Error).message}`, { index });
      }
      const value = ctx.store.getEncoded(key);
      total += 6 + key.length * 3 + (value?.byteLength ?? 0);
      if (total > KV_LIMITS.maxBodyBytes) {
        throw new CloudburstError('BODY_TOO_LARGE', `the response would be over ${KV_LIMITS.maxBodyBytes} bytes; ask for fewer keys`);
      }
      return { key, value };
    });
    sendBytes(res, encodeFrame(entries), KV_CONTENT_TYPES.frame);
  },

  healthz(ctx, _req, res) {
    sendJson(res, 200, { ok: true, node: ctx.nodeId });
  },

  stats(ctx, _req, res) {
    sendJson(res, 200, {
      keys: ctx.store.keyCount(),
      node: ctx.nodeId,
      fsync: ctx.fsync,
      uptimeMs: Date.now() - ctx.startedAt,
      requests: ctx.counts,
    });
  },
};

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

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
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
  mkdirSync(opts.dataDir, { recursive: true });
  const nodeId = loadNodeId(opts.dataDir, opts.nodeId);
  const store = LatticeStore.open({ path: join(opts.dataDir, 'store'), fsync });
  const router = new Router(KV_ROUTES);
  const counts = Object.fromEntries([...KV_ROUTES.map((r) => [r.name, 0]), ['errors', 0]]) as Context['counts'];
  const ctx: Context = { store, nodeId, fsync, startedAt: Date.now(), counts };

  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const done = (): void => {
    if (--inFlight === 0) drained?.();
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    inFlight++;
    res.once('close', done);
    res.setHeader(KV_HEADERS.node, nodeId);
    try {
      if (closing) throw new CloudburstError('SHUTTING_DOWN', 'the KV node is stopping');
      const { route, rest } = router.match(req.method ?? 'GET', req.url ?? '/');
      counts[route.name]++;
      const pending = HANDLERS[route.name](ctx, req, res, rest);
      if (pending) {
        pending.catch((err: unknown) => {
          counts.errors++;
          sendError(req, res, err, log);
        });
      }
    } catch (err) {
      counts.errors++;
      sendError(req, res, err, log);
    }
  });

  let port: number;
  try {
    port = await listen(server, opts.port ?? 0, host);
  } catch (err) {
    await store.close();
    throw err;
  }

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, CLOSE_GRACE_MS).unref();
        });
      }
      server.closeAllConnections();
      await stopped;
      await store.close();
    })());

  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${port}`, port, nodeId, store, close };
}
