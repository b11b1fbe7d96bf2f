import { CloudburstError, readBody, readJson, sendJson, type Handler, type RouteContext, type Router } from '../common/index.ts';
import type { Authenticator, Principal, RouteAccess } from './auth/principal.ts';
import { adminHandlers } from './auth/admin-routes.ts';
import type { AuditLog } from './auth/audit.ts';
import type { AuthStore } from './auth/auth-store.ts';
import { decode, isDeleted, KV_HEADERS, tombstoneFor, versionsOf, type Hlc, type Lattice } from '../kvs/index.ts';
import type { CallOutcome, Calls } from './calls.ts';
import type { CausalCut } from './consistency/causal.ts';
import type { DagService } from './dag/service.ts';
import { dagHandlers } from './dag/routes.ts';
import { checkFutureId, type Futures } from './futures.ts';
import { userKey } from './keys.ts';
import { deltaFromBody, latticeToJson, writeAnswer } from './kv-json.ts';
import type { Messaging } from './messaging/messaging.ts';
import type { Metrics } from './metrics.ts';
import { HOST_HEADERS, HOST_LIMITS, HOST_ROUTES, answerHeaders, hostPath, parseCacheRead, parseCall, parseMessage, parsePush, parseWait, type HostRouteName } from './protocol.ts';
import { functionInfo, type ModuleRecord, type Registry } from './registry.ts';
import type { ModuleCandidate, Quotas } from './quotas/quotas.ts';
import type { ReadThroughCache } from './cache/read-through.ts';
import type { Readiness } from './readiness.ts';
import type { Overview } from './ui/overview.ts';
import { uiHandlers } from './ui/routes.ts';
import { logHandlers, type LogRouteDeps } from './logs/routes.ts';
import { callLogsOf } from './logs/call-logs.ts';

export interface RouteDeps {
  /** Who each request comes from, checked against its route's `access` before the handler runs. */
  auth: Authenticator;
  /** Tenants and tokens (the admin API); `changed` is told what the admin API changed. */
  admin: { store: AuthStore; changed: (what: { hash?: string; tenant?: string }) => void };
  audit: AuditLog;
  registry: Registry;
  calls: Calls;
  /** The tenants' quotas, checked where each request is accepted (quotas/quotas.ts). */
  quotas: Quotas;
  dags: DagService;
  futures: Futures;
  readThrough: ReadThroughCache;
  metrics: Metrics;
  messaging: Messaging;
  /** This host's causal cut, read by peers' causal steps catching up. */
  cut: CausalCut;
  hlc: Hlc;
  hostId: string;
  writer: string;
  maxBodyBytes: number;
  /** What `GET /readyz` answers. */
  readiness: Readiness;
  clusterView: () => unknown;
  /** What the dashboard shows (`GET /v1/overview`, ui/overview.ts). */
  overview: (tenant: string) => Promise<Overview>;
  /** Guest log lines and failed calls (logs/): their routes, and what a deleted module forgets. */
  logs: Omit<LogRouteDeps, 'registry'>;
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

/**
 * The host's HTTP API: every row of HOST_ROUTES (protocol.ts) with its handler. Every route and
 * status code is documented in host/README.md.
 */
export function routes(router: Router, d: RouteDeps): void {
  const handlers: Record<HostRouteName, HostHandler> = {
    ...apiHandlers(d),
    ...logHandlers({ ...d.logs, registry: d.registry }),
    ...dagHandlers(d.dags, { maxBodyBytes: d.maxBodyBytes, prewake: () => d.calls.prewake(), quotas: d.quotas }),
    ...adminHandlers(d.admin.store, d.admin.changed),
    ...uiHandlers(d.overview),
  };
  for (const r of HOST_ROUTES) {
    const action: string | undefined = AUDITED[r.name as keyof typeof AUDITED];
    const handler = action === undefined ? handlers[r.name] : audited(d.audit, action, handlers[r.name]);
    router.on(r.method, r.path, guarded(d.auth, r.access, handler));
  }
}

/**
 * The routes that change the platform's code or who may use it, with the action the audit log
 * names them by (host/README.md, "Audit").
 */
const AUDITED = {
  putModule: 'module.deploy',
  deleteModule: 'module.delete',
  dagPut: 'dag.put',
  dagDelete: 'dag.delete',
  tenantCreate: 'tenant.create',
  tenantDelete: 'tenant.delete',
  tokenCreate: 'token.create',
  tokenRevoke: 'token.revoke',
} as const satisfies Partial<Record<HostRouteName, string>>;

/**
 * What a host's handler gets: the route's context, who sent the request, and what the audit
 * log names as its target (a path parameter unless the handler, reading a body, says otherwise).
 */
export type HostContext = RouteContext & { readonly principal: Principal; readonly audit: { target: string } };
export type HostHandler = (ctx: HostContext) => Promise<void> | void;

/**
 * A handler that runs only once the request is authenticated for `access`: before its body is
 * read, so a request without the right credential costs no more than its headers.
 */
function guarded(auth: Authenticator, access: RouteAccess, handler: HostHandler): Handler {
  return (ctx) => {
    const audit = { target: ctx.params.module ?? ctx.params.name ?? '' };
    const principal = auth.authenticate(ctx.req, access);
    if (principal instanceof Promise) return principal.then((p) => handler(Object.assign(ctx, { principal: p, audit })));
    return handler(Object.assign(ctx, { principal, audit }));
  };
}

/** A handler whose every outcome (once authenticated) is an entry of the audit log. */
function audited(log: AuditLog, action: string, handler: HostHandler): HostHandler {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (err) {
      log.record(ctx.principal, action, ctx.audit.target, err instanceof CloudburstError ? err.code : 'INTERNAL');
      throw err;
    }
    log.record(ctx.principal, action, ctx.audit.target, 'ok');
  };
}

type LogRouteName = keyof ReturnType<typeof logHandlers>;

/**
 * A failed call's error, with the call's id and log lines in its body when the request asked
 * for its logs (`?logs=1`, `"logs": true`): `{"error": {"code", "message", ..., "callId", "logs"}}`.
 */
function withLogsIfAsked(err: unknown, asked: boolean): unknown {
  const logs = asked ? callLogsOf(err) : undefined;
  if (!logs || !(err instanceof CloudburstError)) return err;
  return new CloudburstError(err.code, err.message, { ...err.details, callId: logs.callId, logs: logs.logs }, { cause: err });
}

function apiHandlers(d: RouteDeps): Record<Exclude<HostRouteName, `dag${string}` | `tenant${string}` | `token${string}` | LogRouteName | 'ui' | 'uiFile' | 'overview'>, HostHandler> {
  const { registry, calls, readThrough, quotas } = d;
  return {
    healthz: ({ res }) => sendJson(res, 200, { ok: true, host: d.hostId }),

    // Liveness is healthz; this is whether work should be sent here (503 NOT_READY / SHUTTING_DOWN).
    readyz: ({ res }) => {
      d.readiness.check();
      sendJson(res, 200, { ready: true, host: d.hostId });
    },

    // This host's view of the other hosts, as the scheduler sees it.
    cluster: ({ res }) => sendJson(res, 200, d.clusterView()),

    metrics: async ({ res }) => {
      const text = await d.metrics.render();
      res.writeHead(200, { 'content-type': d.metrics.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },

    putModule: async ({ req, res, params, principal }) => {
      const bytes = await readBody(req, registry.limits.maxModuleBytes);
      const admit = (m: ModuleCandidate): Promise<void> => quotas.admitModule(principal.tenant, m, () => registry.list(principal.tenant));
      const { record, functions, replaced } = await registry.deploy(principal.tenant, params.module!, bytes, admit);
      sendJson(res, 200, { module: record.name, sha256: record.sha256, functions, ...(replaced ? { replaced } : {}) });
    },

    listModules: async ({ res, principal }) => {
      sendJson(res, 200, { modules: (await registry.list(principal.tenant)).map(moduleJson) });
    },

    getModule: async ({ res, params, principal }) => {
      sendJson(res, 200, moduleJson(await registry.module(principal.tenant, params.module!)));
    },

    deleteModule: async ({ res, params, principal }) => {
      await registry.remove(principal.tenant, params.module!);
      d.metrics.forget(`${params.module}.`);
      d.logs.cluster.forget(principal.tenant, params.module!);
      sendJson(res, 200, { deleted: params.module });
    },

    listFunctions: async ({ res, principal }) => {
      const functions = (await registry.list(principal.tenant))
        .flatMap((r) => r.types.exports.map((sig) => functionInfo(r, sig)))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      sendJson(res, 200, { functions });
    },

    getFunction: async ({ res, params, principal }) => {
      sendJson(res, 200, (await registry.resolve(principal.tenant, params.fn!)).info);
    },

    callFunction: async ({ req, res, params, query, principal }) => {
      const reading = readJson(req, d.maxBodyBytes);
      // Wake a worker while the body is still on its way (the wake-up is a system call).
      calls.prewake();
      const tenant = principal.tenant;
      const parsed = parseCall(await reading, req.headers, query, quotas.timeouts(tenant));
      // Which host forwarded a call is a host's to say (a cluster-signed request), as for quotas:
      // placement counts the call as that host's (cluster/load.ts).
      const { forwardedBy: _claimed, ...unclaimed } = parsed;
      const call = principal.kind === 'token' ? unclaimed : parsed;
      // Its place among the tenant's calls, held until it ended (an asynchronous one's too).
      const release = quotas.admitCall(principal, call.timeoutMs, call.forwarded);
      let out: CallOutcome;
      try {
        const checked = await calls.prepare(tenant, params.fn!, call);
        if (call.async) {
          const id = await calls.start(checked, release);
          sendJson(res, 202, { future: id }, { location: hostPath.future(id) });
          return;
        }
        out = await calls.dispatch(checked);
      } catch (err) {
        release();
        throw withLogsIfAsked(err, call.logs);
      }
      release();
      const reply: Record<string, unknown> = { result: out.result };
      if (call.logs) reply.logs = out.logs;
      if (call.history) reply.history = out.history ?? [];
      const headers = answerHeaders(out.host, out.durationUs, out.client);
      if (out.callId !== undefined) headers[HOST_HEADERS.callId] = out.callId;
      sendJson(res, 200, reply, headers);
    },

    // The KV tier pushes merged changes of the keys this host subscribed to (batch frame body).
    kvPush: async ({ req, res }) => {
      const values = parsePush(await readBody(req, HOST_LIMITS.pushBodyBytes));
      for (const { key, value } of values) readThrough.absorbPushed(key, value);
      const changedAt = Number(req.headers[KV_HEADERS.changedAt]);
      if (values.length > 0 && Number.isFinite(changedAt) && changedAt > 0) readThrough.observePushLag(changedAt);
      res.writeHead(204).end();
    },

    // A message for a function running here, sent directly by another host (JSON, data in
    // base64), in the tenant the sending host acts for.
    message: async ({ req, res, principal }) => {
      d.messaging.accept(parseMessage(await readJson(req, HOST_LIMITS.messageBodyBytes), d.hostId, principal.tenant));
      res.writeHead(204).end();
    },

    // Causal requests catching up read what a peer's cut holds (consistency/causal-peers.ts).
    cacheRead: async ({ req, res }) => {
      sendJson(res, 200, d.cut.serve(parseCacheRead(await readJson(req, HOST_LIMITS.cacheReadBodyBytes))));
    },

    getFuture: async ({ res, params, query, principal }) => {
      const waitMs = parseWait(query.get('wait'));
      const record = await d.futures.get(principal.tenant, checkFutureId(params.id), waitMs);
      sendJson(res, record.status === 'pending' ? 202 : 200, record);
    },

    getKey: async ({ req, res, params, query, principal }) => {
      const key = userKey(principal.tenant, params.key);
      const v = await readThrough.read(key, { fresh: query.get('fresh') !== null });
      if (v === undefined || isDeleted(v)) throw new CloudburstError('KEY_NOT_FOUND', `no value under key ${JSON.stringify(params.key)}`);
      if (v.type === 'lww' && (req.headers.accept ?? '').includes('application/octet-stream')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.value.byteLength, [HOST_HEADERS.type]: 'lww' });
        res.end(v.value);
        return;
      }
      sendJson(res, 200, latticeToJson(params.key!, v));
    },

    putKey: async ({ req, res, params, query, principal }) => {
      const key = userKey(principal.tenant, params.key);
      const body = await readBody(req, d.maxBodyBytes);
      const current = await readThrough.read(key);
      observe(d.hlc, current);
      const delta = deltaFromBody(query.get('type'), body, current, d.hlc, d.writer);
      const merged = await quotas.writeState(principal.tenant, new Map([[key, delta]]));
      sendJson(res, 200, writeAnswer(params.key!, merged.get(key)!));
    },

    // Writes the KV tier refused for good after the host had acknowledged them (a type conflict
    // between hosts), kept with the refused value for an operator (host/README.md, "Durability").
    listRejected: ({ res }) => {
      const rejected = [...readThrough.cache.rejected()].map(({ value, ...r }) => ({ ...r, bytes: value.byteLength }));
      sendJson(res, 200, { rejected });
    },

    getRejected: ({ res, params }) => {
      const r = readThrough.cache.rejectedOne(params.key!);
      if (r === undefined) throw new CloudburstError('KEY_NOT_FOUND', `no refused write of ${JSON.stringify(params.key)}`);
      const { value, ...rest } = r;
      sendJson(res, 200, { ...rest, bytes: value.byteLength, ...(value.byteLength > 0 ? { value: latticeToJson(r.key, decode(value)) } : {}) });
    },

    forgetRejected: ({ res, params }) => {
      if (!readThrough.cache.forgetRejected(params.key!)) throw new CloudburstError('KEY_NOT_FOUND', `no refused write of ${JSON.stringify(params.key)}`);
      sendJson(res, 200, { deleted: params.key });
    },

    deleteKey: async ({ res, params, principal }) => {
      const key = userKey(principal.tenant, params.key);
      const current = await readThrough.read(key);
      if (current === undefined || isDeleted(current)) throw new CloudburstError('KEY_NOT_FOUND', `no value under key ${JSON.stringify(params.key)}`);
      observe(d.hlc, current);
      await quotas.writeState(principal.tenant, new Map([[key, tombstoneFor(current.type, d.hlc.now())]]));
      sendJson(res, 200, { deleted: params.key });
    },
  };
}
