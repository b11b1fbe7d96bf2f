/**
 * The HTTP protocol of a host, in one place: paths, the routes table, headers, limits, and the
 * parsers of what requests carry. The routes (routes.ts, dag/routes.ts), the forwarder, the
 * peers and the CLI import from here; no other file of the host defines a path. The DAG
 * messages between hosts are in dag/protocol.ts, the KV tier's push frame in kvs/protocol.ts;
 * the limits of values and of a call's writes are KV_LIMITS and executor/write-limits.ts.
 *
 * A parser checks the shape of what arrives, so that a malformed request fails before anything
 * runs, and returns a typed value. What can only be checked against something else is checked
 * there: arguments against the function's signature (executor/args.ts), a DAG call against the
 * DAG and the live hosts (dag/coordinator.ts), a DAG definition as a graph (dag/graph.ts), a
 * KV write against the key's type (kv-json.ts), a module against the ABI (registry.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { CloudburstError } from '../common/index.ts';
import { KV_LIMITS, SUBSCRIBER_PUSH_PATH, decode, decodeFrame, type Lattice } from '../kvs/index.ts';
import { SESSION_HEADER, decodeSession, encodeSession, type ClientSession } from './consistency/client-session.ts';
import { parseConsistency, type Consistency } from './consistency/mode.ts';
import { checkKeyName } from './keys.ts';
import { checkTenantName, SCOPES, type Scope } from './auth/principal.ts';
import { checkTenantQuotas } from './auth/tenant-quotas.ts';
import { checkTokenName } from './auth/records.ts';
import type { Envelope } from './messaging/messaging.ts';

/**
 * Limits of the API. The first four are the defaults of the host's options of the same role
 * (`maxModuleBytes`, `maxBodyBytes`, `defaultTimeoutMs`, `maxTimeoutMs`); bodies over a limit
 * are refused while they stream in (host/README.md, "Routes"). Where the other limits live:
 * keys (MAX_USER_KEY_BYTES, keys.ts), session tokens (SESSION_MAX_TOKEN, SESSION_MAX_KEYS,
 * consistency/client-session.ts), DAGs (DAG_LIMITS, dag/graph.ts), values (KV_LIMITS).
 *
 * @example
 * readJson(req, HOST_LIMITS.pinBodyBytes)
 */
export const HOST_LIMITS = {
  /** A module upload. */
  moduleBytes: 8 * 1024 * 1024,
  /** A call, a DAG call or definition, a KV write, a DAG message between hosts. */
  bodyBytes: 64 * 1024 * 1024,
  /** A call's deadline when it asks for none. */
  defaultTimeoutMs: 10_000,
  /** The longest deadline a call may ask for. */
  maxTimeoutMs: 300_000,
  /** `GET /v1/futures/{id}?wait=`, in ms. */
  maxWaitMs: 60_000,
  /** One message between functions (a guest's `send`). */
  messageBytes: 1024 * 1024,
  /** A message in base64 with its envelope (`POST /v1/internal/messages`). */
  messageBodyBytes: 2 * 1024 * 1024,
  /** Keys of one read of a peer's cache, and its body. */
  cacheReadKeys: 1000,
  cacheReadBodyBytes: 1024 * 1024,
  /** A body of the admin API (`POST /v1/tenants`, `POST /v1/tokens`). */
  adminBodyBytes: 64 * 1024,
  /** The longest life a token may be given (`expiresInSeconds`): ten years. */
  maxTokenSeconds: 10 * 365 * 86_400,
  /** Bodies of the rr snapshot, rr pin and warm-up routes. */
  snapshotBodyBytes: 1024 * 1024,
  pinBodyBytes: 64 * 1024,
  warmBodyBytes: 1024 * 1024,
  /** A push of the KV tier (a batch frame). */
  pushBodyBytes: KV_LIMITS.maxBodyBytes,
} as const;

/**
 * The paths of a host. Names, keys and ids go percent-encoded after them (`hostPath`).
 *
 * @example
 * await link.send(peer.url, 'POST', HOST_PATHS.dagWarm, { functions }, 5000);
 */
export const HOST_PATHS = {
  healthz: '/healthz',
  /** 200 once this host can serve, 503 NOT_READY before, 503 SHUTTING_DOWN while it drains. */
  readyz: '/readyz',
  metrics: '/metrics',
  /** This host's view of the cluster. */
  cluster: '/v1/cluster',
  /** The dashboard's page (its files under `/ui/`) and its data. */
  ui: '/ui',
  overview: '/v1/overview',
  modules: '/v1/modules',
  functions: '/v1/functions',
  futures: '/v1/futures',
  kv: '/v1/kv',
  /** Writes the KV tier refused after the host acknowledged them. */
  rejected: '/v1/outbox/rejected',
  dags: '/v1/dags',
  /** The tenant's recent failed calls with their logs, over every host (logs/routes.ts). */
  errors: '/v1/errors',
  /** The admin API: tenants and tokens. */
  tenants: '/v1/tenants',
  tokens: '/v1/tokens',
  // Cluster-internal: the KV tier and the other hosts call these, users do not.
  /** The KV tier pushes changes of subscribed keys (a batch frame). */
  kvPush: SUBSCRIBER_PUSH_PATH,
  /** A message for a function running here. */
  messages: '/v1/internal/messages',
  /** A causal step catching up reads what this host's cache holds. */
  cacheRead: '/v1/internal/cache/read',
  /** A host's share of a DAG request's schedule; sources start on arrival. */
  dagSchedule: '/v1/internal/dag/schedule',
  /** One predecessor's result for one step. */
  dagTrigger: '/v1/internal/dag/trigger',
  /** To the coordinator: the sink's result, or the failure of a step. */
  dagDone: '/v1/internal/dag/done',
  /** `/{rid}`, GET: the state of this host's steps of a request; DELETE: drop them (the request was abandoned). */
  dagRequests: '/v1/internal/dag/requests',
  /** `?fn=&after=&limit=`: this host's lines of one function of the request's tenant (the public logs route merges them). */
  logsRead: '/v1/internal/logs',
  /** `?limit=`: this host's recent failed calls of the request's tenant. */
  errorsRead: '/v1/internal/errors',
  /** `{"module": name}`: a module of the request's tenant was deleted, forget its functions' logs. */
  logsForget: '/v1/internal/logs/forget',
  /** Load functions into a worker ahead of their first call (registration pre-warms). */
  dagWarm: '/v1/internal/dag/warm',
  /** To the coordinator, rr with parallel branches: propose a version of a key as the request's. */
  dagPin: '/v1/internal/dag/pin',
  /** rr: the exact version a request read first here. */
  dagSnapshot: '/v1/internal/dag/snapshot',
  /** rr: the snapshots this host holds. */
  dagSnapshots: '/v1/internal/dag/snapshots',
} as const;

const seg = encodeURIComponent;

/**
 * Paths with a name, key or id in them, encoded as one segment each.
 *
 * @example
 * hostPath.call('math.square') // '/v1/functions/math.square/call'
 */
export const hostPath = {
  module: (name: string): string => `${HOST_PATHS.modules}/${seg(name)}`,
  function: (fn: string): string => `${HOST_PATHS.functions}/${seg(fn)}`,
  call: (fn: string): string => `${HOST_PATHS.functions}/${seg(fn)}/call`,
  logs: (fn: string): string => `${HOST_PATHS.functions}/${seg(fn)}/logs`,
  future: (id: string): string => `${HOST_PATHS.futures}/${seg(id)}`,
  key: (key: string): string => `${HOST_PATHS.kv}/${seg(key)}`,
  dag: (name: string): string => `${HOST_PATHS.dags}/${seg(name)}`,
  dagCall: (name: string): string => `${HOST_PATHS.dags}/${seg(name)}/call`,
  dagRequest: (rid: string): string => `${HOST_PATHS.dagRequests}/${seg(rid)}`,
  tenant: (name: string): string => `${HOST_PATHS.tenants}/${seg(name)}`,
  token: (name: string): string => `${HOST_PATHS.tokens}/${seg(name)}`,
} as const;

/**
 * The routes table: every route a host serves, registered by routes.ts and nowhere else.
 * `:name` matches one path segment, `*name` the rest of the path (common/router.ts). `access` is
 * who may use it (auth/principal.ts, `RouteAccess`): `open`, `internal` (the cluster credential
 * only) or the token scopes of which one is needed (`admin` has them all). A new route is a row
 * here, a handler keyed by its name, and its section in host/README.md.
 *
 * @example
 * HOST_ROUTES.find((r) => r.name === 'callFunction')!.path // '/v1/functions/:fn/call'
 */
const READ = ['read'] as const;
const LIST = ['read', 'deploy', 'invoke'] as const;
const DEPLOY = ['deploy'] as const;
const INVOKE = ['invoke'] as const;
const STATE = ['state'] as const;
/** Logs: what the dashboard reads (`read`), and what the developer who deploys reads (`deploy`). */
const LOGS = ['read', 'deploy'] as const;
const ADMIN = ['admin'] as const;

export const HOST_ROUTES = [
  { name: 'healthz', method: 'GET', path: HOST_PATHS.healthz, access: 'open' },
  { name: 'readyz', method: 'GET', path: HOST_PATHS.readyz, access: 'open' },
  { name: 'cluster', method: 'GET', path: HOST_PATHS.cluster, access: READ },
  { name: 'metrics', method: 'GET', path: HOST_PATHS.metrics, access: READ },
  { name: 'ui', method: 'GET', path: HOST_PATHS.ui, access: 'open' },
  { name: 'uiFile', method: 'GET', path: `${HOST_PATHS.ui}/:file`, access: 'open' },
  { name: 'overview', method: 'GET', path: HOST_PATHS.overview, access: READ },
  { name: 'putModule', method: 'PUT', path: `${HOST_PATHS.modules}/:module`, access: DEPLOY },
  { name: 'listModules', method: 'GET', path: HOST_PATHS.modules, access: LIST },
  { name: 'getModule', method: 'GET', path: `${HOST_PATHS.modules}/:module`, access: LIST },
  { name: 'deleteModule', method: 'DELETE', path: `${HOST_PATHS.modules}/:module`, access: DEPLOY },
  { name: 'listFunctions', method: 'GET', path: HOST_PATHS.functions, access: LIST },
  { name: 'getFunction', method: 'GET', path: `${HOST_PATHS.functions}/:fn`, access: LIST },
  { name: 'callFunction', method: 'POST', path: `${HOST_PATHS.functions}/:fn/call`, access: INVOKE },
  { name: 'functionLogs', method: 'GET', path: `${HOST_PATHS.functions}/:fn/logs`, access: LOGS },
  { name: 'errors', method: 'GET', path: HOST_PATHS.errors, access: LOGS },
  { name: 'getFuture', method: 'GET', path: `${HOST_PATHS.futures}/:id`, access: INVOKE },
  { name: 'getKey', method: 'GET', path: `${HOST_PATHS.kv}/*key`, access: STATE },
  { name: 'putKey', method: 'PUT', path: `${HOST_PATHS.kv}/*key`, access: STATE },
  { name: 'deleteKey', method: 'DELETE', path: `${HOST_PATHS.kv}/*key`, access: STATE },
  { name: 'listRejected', method: 'GET', path: HOST_PATHS.rejected, access: ADMIN },
  { name: 'getRejected', method: 'GET', path: `${HOST_PATHS.rejected}/*key`, access: ADMIN },
  { name: 'forgetRejected', method: 'DELETE', path: `${HOST_PATHS.rejected}/*key`, access: ADMIN },
  { name: 'dagPut', method: 'PUT', path: `${HOST_PATHS.dags}/:name`, access: DEPLOY },
  { name: 'dagList', method: 'GET', path: HOST_PATHS.dags, access: LIST },
  { name: 'dagGet', method: 'GET', path: `${HOST_PATHS.dags}/:name`, access: LIST },
  { name: 'dagDelete', method: 'DELETE', path: `${HOST_PATHS.dags}/:name`, access: DEPLOY },
  { name: 'dagCall', method: 'POST', path: `${HOST_PATHS.dags}/:name/call`, access: INVOKE },
  { name: 'tenantCreate', method: 'POST', path: HOST_PATHS.tenants, access: ADMIN },
  { name: 'tenantList', method: 'GET', path: HOST_PATHS.tenants, access: ADMIN },
  { name: 'tenantGet', method: 'GET', path: `${HOST_PATHS.tenants}/:name`, access: ADMIN },
  { name: 'tenantDelete', method: 'DELETE', path: `${HOST_PATHS.tenants}/:name`, access: ADMIN },
  { name: 'tokenCreate', method: 'POST', path: HOST_PATHS.tokens, access: ADMIN },
  { name: 'tokenList', method: 'GET', path: HOST_PATHS.tokens, access: ADMIN },
  { name: 'tokenRevoke', method: 'DELETE', path: `${HOST_PATHS.tokens}/:name`, access: ADMIN },
  { name: 'kvPush', method: 'POST', path: HOST_PATHS.kvPush, access: 'internal' },
  { name: 'message', method: 'POST', path: HOST_PATHS.messages, access: 'internal' },
  { name: 'cacheRead', method: 'POST', path: HOST_PATHS.cacheRead, access: 'internal' },
  { name: 'dagSchedule', method: 'POST', path: HOST_PATHS.dagSchedule, access: 'internal' },
  { name: 'dagTrigger', method: 'POST', path: HOST_PATHS.dagTrigger, access: 'internal' },
  { name: 'dagDone', method: 'POST', path: HOST_PATHS.dagDone, access: 'internal' },
  { name: 'dagStatus', method: 'GET', path: `${HOST_PATHS.dagRequests}/:rid`, access: 'internal' },
  { name: 'dagCancel', method: 'DELETE', path: `${HOST_PATHS.dagRequests}/:rid`, access: 'internal' },
  { name: 'dagSnapshot', method: 'POST', path: HOST_PATHS.dagSnapshot, access: 'internal' },
  { name: 'dagPin', method: 'POST', path: HOST_PATHS.dagPin, access: 'internal' },
  { name: 'dagSnapshots', method: 'GET', path: HOST_PATHS.dagSnapshots, access: 'internal' },
  { name: 'dagWarm', method: 'POST', path: HOST_PATHS.dagWarm, access: 'internal' },
  { name: 'logsRead', method: 'GET', path: HOST_PATHS.logsRead, access: 'internal' },
  { name: 'errorsRead', method: 'GET', path: HOST_PATHS.errorsRead, access: 'internal' },
  { name: 'logsForget', method: 'POST', path: HOST_PATHS.logsForget, access: 'internal' },
] as const;

/**
 * One row of HOST_ROUTES, and the names handlers are keyed by (the DAG routes' start with `dag`).
 *
 * @example
 * const handlers: Record<HostRouteName, Handler> = { healthz, ... };
 */
export type HostRoute = (typeof HOST_ROUTES)[number];
export type HostRouteName = HostRoute['name'];

/**
 * The host's own headers. It also reads `Accept` (`GET /v1/kv`: raw bytes with
 * `application/octet-stream`) and `Expect: 100-continue` (answered once the declared length is
 * within the route's limit, common/body.ts), and sets `Location` (202), `Allow` (405) and
 * `Connection: close` (413, stopping).
 *
 * @example
 * res.setHeader(HOST_HEADERS.host, hostId);
 */
export const HOST_HEADERS = {
  /** A client session token, on a call's request and on its answer (consistency/client-session.ts). */
  session: SESSION_HEADER,
  /** On a call a host forwards (its id): the receiver runs it, without placing it again. */
  forwarded: 'x-cloudburst-forwarded',
  /** On a call's answer: the host that ran it (the sink's, for a DAG call). */
  host: 'x-cloudburst-host',
  /** On a call's answer (and on a failed call's, when it ran): the call's id, which its log lines carry. */
  callId: 'x-cloudburst-call-id',
  /** On a call's answer: how long it took, in microseconds. */
  durationUs: 'x-cloudburst-duration-us',
  /** On a raw value (`GET /v1/kv` with `Accept: application/octet-stream`): its lattice type. */
  type: 'x-cloudburst-type',
} as const;

/** The deadlines a call may ask for (the host's options, see HOST_LIMITS). */
export interface Timeouts {
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
}

/** A function call, checked: what `POST /v1/functions/{fn}/call` asks for. */
export interface CallRequest {
  /** The JSON arguments, checked against the function's signature (executor/args.ts). */
  args: unknown;
  timeoutMs: number;
  consistency: Consistency;
  /** `"async": true`: answer at once with a future. */
  async: boolean;
  /** `?history=1`: answer with the call's reads and writes. */
  history: boolean;
  /** `?logs=1` or `"logs": true`: answer with the call's log lines (a failed call's error too). */
  logs: boolean;
  /** The client's session; absent, the call starts one. */
  client?: ClientSession;
  /** Sent by another host that placed the call here: it runs here. */
  forwarded: boolean;
  /** That host's id (`x-cloudburst-forwarded`): its calls here are counted apart (cluster/load.ts). */
  forwardedBy?: string;
}

/** A DAG call, checked as far as it can be without the DAG: what `POST /v1/dags/{name}/call` asks for. */
export interface DagCallRequest {
  /** Fixed arguments per function, `{"module.fn": [...]}`: functions and arguments are the coordinator's to check. */
  args: Readonly<Record<string, unknown>>;
  timeoutMs: number;
  consistency: Consistency;
  async: boolean;
  /** Forced placement, `{"module.fn": hostId}`: functions and hosts are the coordinator's to check (live hosts only). */
  placement: Readonly<Record<string, unknown>>;
  history: boolean;
  client?: ClientSession;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A call's or DAG call's `timeoutMs`: a number, or text (`?timeoutMs=`, read by `Number()`, so
 * `1e3` and `0x10` pass, unlike `wait`); absent, the default.
 *
 * @throws CloudburstError `INVALID_REQUEST`
 */
export function parseTimeout(requested: unknown, t: Timeouts): number {
  if (requested === undefined || requested === null) return t.defaultTimeoutMs;
  const n = typeof requested === 'string' ? Number(requested) : requested;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > t.maxTimeoutMs) {
    throw new CloudburstError('INVALID_REQUEST', `timeoutMs must be an integer from 1 to ${t.maxTimeoutMs}`);
  }
  return n;
}

function parseAsync(v: unknown): boolean {
  if (v !== undefined && typeof v !== 'boolean') throw new CloudburstError('INVALID_REQUEST', '"async" must be true or false');
  return v === true;
}

/** The client session of a call: the header, or `"session"` in the body (a token too long for a header). */
function parseClientSession(headers: IncomingHttpHeaders, field: unknown): { client?: ClientSession } {
  const header = headers[HOST_HEADERS.session];
  if (Array.isArray(header)) throw new CloudburstError('INVALID_REQUEST', `more than one ${HOST_HEADERS.session} header`);
  const token = header ?? field;
  return token === undefined ? {} : { client: decodeSession(token, checkKeyName) };
}

/**
 * The request of `POST /v1/functions/{fn}/call`: body (`undefined` when empty), headers and
 * query. Parsed once, on arrival, forwarded calls too.
 *
 * @throws CloudburstError `INVALID_REQUEST` for a malformed body, session, `async`, `logs`, `timeoutMs`
 *   or `consistency`.
 * @example
 * const call = parseCall(await readJson(req, limit), req.headers, query, calls.timeouts);
 */
export function parseCall(body: unknown, headers: IncomingHttpHeaders, query: URLSearchParams, t: Timeouts): CallRequest {
  if (body !== undefined && !isObject(body)) throw new CloudburstError('INVALID_REQUEST', 'the body of a call is an object: {"args": [...]}');
  const b = body ?? {};
  const client = parseClientSession(headers, b.session);
  const async = parseAsync(b.async);
  if (b.logs !== undefined && typeof b.logs !== 'boolean') throw new CloudburstError('INVALID_REQUEST', '"logs" must be true or false');
  const by = headers[HOST_HEADERS.forwarded];
  return {
    args: b.args ?? [], timeoutMs: parseTimeout(query.get('timeoutMs') ?? b.timeoutMs, t), consistency: parseConsistency(b.consistency),
    async, history: query.get('history') === '1', logs: query.get('logs') === '1' || b.logs === true, forwarded: by !== undefined,
    ...(typeof by === 'string' && by !== '' ? { forwardedBy: by } : {}),
    ...client,
  };
}

/**
 * The request a host sends when it forwards a call it placed elsewhere: what `parseCall` reads
 * back there (as a forwarded call, answered synchronously).
 *
 * @example
 * const { path, body, headers } = forwardCall('math.square', call, selfId);
 */
export function forwardCall(fn: string, call: CallRequest, selfId: string): { path: string; body: Record<string, unknown>; headers: Record<string, string> } {
  return {
    path: `${hostPath.call(fn)}${call.history ? '?history=1' : ''}`,
    body: { args: call.args, timeoutMs: call.timeoutMs, ...(call.consistency === 'lww' ? {} : { consistency: call.consistency }), ...(call.logs ? { logs: true } : {}) },
    headers: { [HOST_HEADERS.forwarded]: selfId, ...(call.client && call.client.length > 0 ? { [HOST_HEADERS.session]: encodeSession(call.client) } : {}) },
  };
}

/**
 * The headers of the answer to a call or DAG call: where it ran (the sink, for a DAG), how long
 * it took, and the client's session after it (absent: the call had nothing to pass on).
 */
export function answerHeaders(host: string, durationUs: number, client: ClientSession | undefined): Record<string, string> {
  return { [HOST_HEADERS.host]: host, [HOST_HEADERS.durationUs]: String(durationUs), ...(client ? { [HOST_HEADERS.session]: encodeSession(client) } : {}) };
}

/**
 * The request of `POST /v1/dags/{name}/call` (body `undefined` when empty).
 *
 * @throws CloudburstError `INVALID_REQUEST` for a malformed body, session, `async`,
 *   `consistency`, `args`, `placement` or `timeoutMs`.
 */
export function parseDagCall(body: unknown, headers: IncomingHttpHeaders, query: URLSearchParams, t: Timeouts): DagCallRequest {
  if (body !== undefined && !isObject(body)) throw new CloudburstError('INVALID_REQUEST', 'the body of a DAG call is an object: {"args": {"module.fn": [...]}}');
  const b = body ?? {};
  const async = parseAsync(b.async);
  const client = parseClientSession(headers, b.session);
  const consistency = parseConsistency(b.consistency);
  const args = b.args ?? {};
  if (!isObject(args)) throw new CloudburstError('INVALID_REQUEST', '"args" maps function names to argument arrays: {"module.fn": [...]}');
  const placement = b.placement ?? {};
  if (!isObject(placement)) throw new CloudburstError('INVALID_REQUEST', '"placement" maps function names to host ids: {"module.fn": "hostid"}');
  return { args, timeoutMs: parseTimeout(b.timeoutMs, t), consistency, async, placement, history: query.get('history') === '1', ...client };
}

/**
 * The `wait` of `GET /v1/futures/{id}`: absent (0), or the decimal digits of an integer from
 * 0 to `maxWaitMs`. Anything else (`1e9`, `-1`, `1.5`, `0x10`, an empty value) is refused
 * rather than read by `Number()`'s rules or clamped.
 *
 * @throws CloudburstError `INVALID_REQUEST`
 */
export function parseWait(text: string | null): number {
  if (text === null) return 0;
  if (!/^\d{1,5}$/.test(text) || Number(text) > HOST_LIMITS.maxWaitMs) {
    throw new CloudburstError('INVALID_REQUEST', `wait must be an integer from 0 to ${HOST_LIMITS.maxWaitMs} (milliseconds), not ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/**
 * The changes a KV tier pushes (a batch frame of keys and merged values).
 *
 * @throws CloudburstError `INVALID_REQUEST` or `KV_BAD_VALUE` for a malformed frame.
 */
export function parsePush(frame: Uint8Array): { key: string; value: Lattice }[] {
  return decodeFrame(frame).map((e) => {
    if (e.value === undefined) throw new CloudburstError('INVALID_REQUEST', `push of ${e.key} carries no value`);
    return { key: e.key, value: decode(e.value) };
  });
}

/**
 * A message between functions as it travels between hosts: `{to, from, seq, data}`, the data in
 * base64; its tenant travels as the request's (PeerLink's `tenant`, `x-cloudburst-tenant`).
 *
 * @example
 * await link.send(peer.url, 'POST', HOST_PATHS.messages, encodeMessage(e), 2000, e.tenant);
 */
export function encodeMessage(e: Envelope): { to: string; from: string; seq: number; data: string } {
  return { to: e.to, from: e.from, seq: e.seq, data: Buffer.from(e.data).toString('base64') };
}

/**
 * A message from another host, for a function of this host (`selfId`), sent in `tenant` (the
 * request's principal's: the sending host acts for the sender's tenant, `x-cloudburst-tenant`).
 *
 * @throws CloudburstError `INVALID_REQUEST` (the sender then falls back to the KV inbox).
 */
export function parseMessage(body: unknown, selfId: string, tenant: string): Envelope {
  const { to, from, seq, data } = isObject(body) ? body : {};
  if (typeof to !== 'string' || !to.startsWith(`${selfId}.`) || typeof from !== 'string' || !Number.isSafeInteger(seq) || (seq as number) < 1 || typeof data !== 'string') {
    throw new CloudburstError('INVALID_REQUEST', 'a message is {"to": id of a function of this host, "from": id, "seq": n >= 1, "data": base64}');
  }
  return { tenant, to, from, seq: seq as number, data: new Uint8Array(Buffer.from(data, 'base64')) };
}

/**
 * A read of this host's cache by a peer: `{"keys": [...]}`, storage keys.
 *
 * @throws CloudburstError `INVALID_REQUEST`
 */
export function parseCacheRead(body: unknown): string[] {
  const keys = isObject(body) ? body.keys : undefined;
  if (!Array.isArray(keys) || keys.length > HOST_LIMITS.cacheReadKeys || !keys.every((k) => typeof k === 'string')) {
    throw new CloudburstError('INVALID_REQUEST', `a cache read is {"keys": [up to ${HOST_LIMITS.cacheReadKeys} strings]}`);
  }
  return keys as string[];
}

/** What `POST /v1/tenants` asks for. */
export interface TenantRequest {
  name: string;
  quotas: Record<string, unknown>;
}

/**
 * The body of `POST /v1/tenants`: `{"name": "acme", "quotas": {...}}` (quotas optional).
 *
 * @throws CloudburstError `INVALID_REQUEST` (shape, unknown fields), `INVALID_NAME`
 */
export function parseTenantRequest(body: unknown): TenantRequest {
  if (!isObject(body)) throw new CloudburstError('INVALID_REQUEST', 'the body is {"name": "acme", "quotas": {...}}');
  onlyFields(body, ['name', 'quotas']);
  return { name: checkTenantName(body.name), quotas: checkTenantQuotas(body.quotas) };
}

/** What `POST /v1/tokens` asks for. */
export interface TokenRequest {
  tenant: string;
  scopes: Scope[];
  name: string;
  expiresInSeconds?: number;
}

/**
 * The body of `POST /v1/tokens`: `{"tenant", "scopes": [...], "name", "expiresInSeconds"?}`.
 *
 * @throws CloudburstError `INVALID_REQUEST` (shape, unknown fields, scopes, expiry), `INVALID_NAME`
 */
export function parseTokenRequest(body: unknown): TokenRequest {
  if (!isObject(body)) throw new CloudburstError('INVALID_REQUEST', 'the body is {"tenant": "acme", "scopes": ["invoke"], "name": "ci", "expiresInSeconds": 86400}');
  onlyFields(body, ['tenant', 'scopes', 'name', 'expiresInSeconds']);
  const tenant = checkTenantName(body.tenant);
  const name = checkTokenName(body.name);
  const { scopes, expiresInSeconds: expires } = body;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((x) => (SCOPES as readonly unknown[]).includes(x)) || new Set(scopes).size !== scopes.length) {
    throw new CloudburstError('INVALID_REQUEST', `"scopes" is a non-empty list of distinct scopes out of ${SCOPES.join(', ')}`);
  }
  if (expires !== undefined && (typeof expires !== 'number' || !Number.isInteger(expires) || expires < 1 || expires > HOST_LIMITS.maxTokenSeconds)) {
    throw new CloudburstError('INVALID_REQUEST', `"expiresInSeconds" is an integer from 1 to ${HOST_LIMITS.maxTokenSeconds}`);
  }
  return { tenant, scopes: scopes as Scope[], name, ...(expires === undefined ? {} : { expiresInSeconds: expires }) };
}

function onlyFields(body: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new CloudburstError('INVALID_REQUEST', `unknown field ${JSON.stringify(unknown[0])}: the fields are ${known.join(', ')}`);
}
