import { CloudburstError, readBody, readJson, sendJson, type Router } from '../common/index.ts';
import { KV_LIMITS, decode, decodeFrame, isDeleted, tombstoneFor, versionsOf, type Hlc, type Lattice } from '../kvs/index.ts';
import type { Calls } from './calls.ts';
import { FORWARDED_HEADER, HOST_HEADER } from './cluster/forward.ts';
import type { DagService } from './dag/service.ts';
import { dagRoutes } from './dag/routes.ts';
import { checkFutureId, parseWait, type Futures } from './futures.ts';
import { userKey } from './keys.ts';
import { SESSION_HEADER, clientSession, encodeSession } from './consistency/client-session.ts';
import { deltaFromBody, latticeToJson } from './kv-json.ts';
import type { Messaging } from './messaging/messaging.ts';
import type { Metrics } from './metrics.ts';
import { functionInfo, type ModuleRecord, type Registry } from './registry.ts';
import type { ReadThroughCache } from './cache/read-through.ts';

export interface RouteDeps {
  registry: Registry;
  calls: Calls;
  dags: DagService;
  futures: Futures;
  readThrough: ReadThroughCache;
  metrics: Metrics;
  messaging: Messaging;
  hlc: Hlc;
  hostId: string;
  writer: string;
  maxBodyBytes: number;
  clusterView: () => unknown;
}

/**
 * Moves this thread's clock past every version of a register before it writes one: a write
 * (or delete) must win over what it replaces, also when another thread's clock (a worker's)
 * stamped that value ahead of ours.
 */
function observe(hlc: Hlc, current: Lattice | undefined): void {
  if (current?.type === 'lww') for (const v of versionsOf(current)) hlc.observe(v.stamp);
}

function moduleJson(r: ModuleRecord): Record<string, unknown> {
  return {
    name: r.name, sha256: r.sha256, size: r.size, deployedAt: r.deployedAt,
    functions: r.types.exports.map((sig) => functionInfo(r, sig)),
  };
}

/** The host's HTTP API. Every route and status code is documented in host/README.md. */
export function routes(router: Router, d: RouteDeps): void {
  const { registry, calls, readThrough } = d;

  router.on('GET', '/healthz', ({ res }) => sendJson(res, 200, { ok: true, host: d.hostId }));

  // This host's view of the other hosts, as the scheduler sees it.
  router.on('GET', '/v1/cluster', ({ res }) => sendJson(res, 200, d.clusterView()));

  router.on('GET', '/metrics', async ({ res }) => {
    const text = await d.metrics.render();
    res.writeHead(200, { 'content-type': d.metrics.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });

  router.on('PUT', '/v1/modules/:module', async ({ req, res, params }) => {
    const bytes = await readBody(req, registry.limits.maxModuleBytes);
    const { record, functions } = await registry.deploy(params.module!, bytes);
    sendJson(res, 200, { module: record.name, sha256: record.sha256, functions });
  });

  router.on('GET', '/v1/modules', async ({ res }) => {
    sendJson(res, 200, { modules: (await registry.list()).map(moduleJson) });
  });

  router.on('GET', '/v1/modules/:module', async ({ res, params }) => {
    sendJson(res, 200, moduleJson(await registry.module(params.module!)));
  });

  router.on('DELETE', '/v1/modules/:module', async ({ res, params }) => {
    await registry.remove(params.module!);
    d.metrics.forget(`${params.module}.`);
    sendJson(res, 200, { deleted: params.module });
  });

  router.on('GET', '/v1/functions', async ({ res }) => {
    const functions = (await registry.list())
      .flatMap((r) => r.types.exports.map((sig) => functionInfo(r, sig)))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    sendJson(res, 200, { functions });
  });

  router.on('GET', '/v1/functions/:fn', async ({ res, params }) => {
    sendJson(res, 200, (await registry.resolve(params.fn!)).info);
  });

  router.on('POST', '/v1/functions/:fn/call', async ({ req, res, params, query }) => {
    const reading = readJson(req, d.maxBodyBytes);
    // Wake a worker while the body is still on its way (the wake-up is a system call).
    calls.prewake();
    const body = await reading;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw new CloudburstError('INVALID_REQUEST', 'the body of a call is an object: {"args": [...]}');
    }
    const request = (body ?? {}) as { args?: unknown; timeoutMs?: unknown; async?: unknown; consistency?: unknown; session?: unknown };
    const history = query.get('history') === '1';
    const client = clientSession(req.headers[SESSION_HEADER], request.session);
    const call = { args: request.args, timeoutMs: query.get('timeoutMs') ?? request.timeoutMs, consistency: request.consistency, history, ...(client ? { client } : {}) };
    if (request.async !== undefined && typeof request.async !== 'boolean') throw new CloudburstError('INVALID_REQUEST', '"async" must be true or false');
    if (request.async) {
      const id = await calls.start(params.fn!, call);
      sendJson(res, 202, { future: id }, { location: `/v1/futures/${id}` });
      return;
    }
    const out = await calls.dispatch(params.fn!, call, req.headers[FORWARDED_HEADER] !== undefined);
    const reply: Record<string, unknown> = { result: out.result };
    if (query.get('logs') === '1') reply.logs = out.logs;
    if (history) reply.history = out.history ?? [];
    sendJson(res, 200, reply, {
      [HOST_HEADER]: out.host, 'x-cloudburst-duration-us': String(out.durationUs),
      ...(out.client ? { [SESSION_HEADER]: encodeSession(out.client) } : {}),
    });
  });

  // The KV tier pushes merged changes of the keys this host subscribed to (batch frame body).
  router.on('POST', '/v1/internal/kv/push', async ({ req, res }) => {
    const body = await readBody(req, KV_LIMITS.maxBodyBytes);
    const entries = decodeFrame(body);
    const values = entries.map((e) => {
      if (e.value === undefined) throw new CloudburstError('INVALID_REQUEST', `push of ${e.key} carries no value`);
      return { key: e.key, value: decode(e.value) };
    });
    for (const { key, value } of values) readThrough.absorbPushed(key, value);
    res.writeHead(204).end();
  });

  // A message for a function running here, sent directly by another host (JSON, data in base64).
  router.on('POST', '/v1/internal/messages', async ({ req, res }) => {
    const body = (await readJson(req, 2 * 1024 * 1024)) as { to?: unknown; from?: unknown; seq?: unknown; data?: unknown } | undefined;
    const { to, from, seq, data } = body ?? {};
    if (typeof to !== 'string' || !to.startsWith(`${d.hostId}.`) || typeof from !== 'string' || !Number.isSafeInteger(seq) || (seq as number) < 1 || typeof data !== 'string') {
      throw new CloudburstError('INVALID_REQUEST', 'a message is {"to": id of a function of this host, "from": id, "seq": n >= 1, "data": base64}');
    }
    d.messaging.accept({ to, from, seq: seq as number, data: new Uint8Array(Buffer.from(data, 'base64')) });
    res.writeHead(204).end();
  });

  dagRoutes(router, d.dags, { maxBodyBytes: d.maxBodyBytes, prewake: () => calls.prewake() });

  router.on('GET', '/v1/futures/:id', async ({ res, params, query }) => {
    const waitMs = parseWait(query.get('wait'));
    const record = await d.futures.get(checkFutureId(params.id), waitMs);
    sendJson(res, record.status === 'pending' ? 202 : 200, record);
  });

  router.on('GET', '/v1/kv/*key', async ({ req, res, params, query }) => {
    const key = userKey(params.key);
    const v = await readThrough.read(key, { fresh: query.get('fresh') !== null });
    if (v === undefined || isDeleted(v)) throw new CloudburstError('KEY_NOT_FOUND', `no value under key ${JSON.stringify(params.key)}`);
    if (v.type === 'lww' && (req.headers.accept ?? '').includes('application/octet-stream')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.value.byteLength, 'x-cloudburst-type': 'lww' });
      res.end(v.value);
      return;
    }
    sendJson(res, 200, latticeToJson(params.key!, v));
  });

  router.on('PUT', '/v1/kv/*key', async ({ req, res, params, query }) => {
    const key = userKey(params.key);
    const body = await readBody(req, d.maxBodyBytes);
    const current = await readThrough.read(key);
    observe(d.hlc, current);
    const delta = deltaFromBody(query.get('type'), body, current, d.hlc, d.writer);
    const merged = await readThrough.writeDurable(new Map([[key, delta]]));
    sendJson(res, 200, latticeToJson(params.key!, merged.get(key)!, { echo: false }));
  });

  // Writes the KV tier refused for good after the host had acknowledged them (a type conflict
  // between hosts), kept with the refused value for an operator (host/README.md, "Durability").
  router.on('GET', '/v1/outbox/rejected', ({ res }) => {
    const rejected = [...readThrough.cache.rejected()].map(({ value, ...r }) => ({ ...r, bytes: value.byteLength }));
    sendJson(res, 200, { rejected });
  });

  router.on('GET', '/v1/outbox/rejected/*key', ({ res, params }) => {
    const r = readThrough.cache.rejectedOne(params.key!);
    if (r === undefined) throw new CloudburstError('KEY_NOT_FOUND', `no refused write of ${JSON.stringify(params.key)}`);
    const { value, ...rest } = r;
    sendJson(res, 200, { ...rest, bytes: value.byteLength, ...(value.byteLength > 0 ? { value: latticeToJson(r.key, decode(value)) } : {}) });
  });

  router.on('DELETE', '/v1/outbox/rejected/*key', ({ res, params }) => {
    if (!readThrough.cache.forgetRejected(params.key!)) throw new CloudburstError('KEY_NOT_FOUND', `no refused write of ${JSON.stringify(params.key)}`);
    sendJson(res, 200, { deleted: params.key });
  });

  router.on('DELETE', '/v1/kv/*key', async ({ res, params }) => {
    const key = userKey(params.key);
    const current = await readThrough.read(key);
    if (current === undefined || isDeleted(current)) throw new CloudburstError('KEY_NOT_FOUND', `no value under key ${JSON.stringify(params.key)}`);
    observe(d.hlc, current);
    await readThrough.writeDurable(new Map([[key, tombstoneFor(current.type, d.hlc.now())]]));
    sendJson(res, 200, { deleted: params.key });
  });
}
