// The host's protocol (host/protocol.ts, host/dag/protocol.ts): each parser accepts what it
// should and refuses the rest with a stable code (no sockets); and the routes table is exactly
// what a running host serves.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeSession, type ClientSession } from '../../host/consistency/client-session.ts';
import { parsePin, parseReadVersion, parseSnapshotRequest, parseWarm } from '../../host/dag/protocol.ts';
import {
  HOST_HEADERS, HOST_LIMITS, HOST_ROUTES, encodeMessage, forwardCall, hostPath, parseCacheRead, parseCall, parseDagCall,
  parseMessage, parsePush, parseTimeout, parseWait, type CallRequest,
} from '../../host/protocol.ts';
import { Router, signRequest, type ErrorCode } from '../../common/index.ts';
import { counter, encode, encodeFrame } from '../../kvs/index.ts';
import { startPlatform, type Platform, hostFetch } from '../helpers/platform.ts';

const T = { defaultTimeoutMs: 10_000, maxTimeoutMs: 300_000 };
const q = (s = ''): URLSearchParams => new URLSearchParams(s);
const SESSION: ClientSession = [{ key: 'cart', url: 'http://127.0.0.1:7070', version: { kind: 'max', epoch: '1700000000000.0.h-1/main', value: '5' } }];

function refused(f: () => unknown, code: ErrorCode, message?: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'it was accepted').toMatchObject({ code });
  if (message) expect((err as Error).message).toMatch(message);
}

describe('host protocol: request parsers', () => {
  it('a call: defaults, query flags, forwarded header, body or header session', () => {
    expect(parseCall(undefined, {}, q(), T)).toEqual({
      args: [], timeoutMs: 10_000, consistency: 'lww', async: false, history: false, logs: false, forwarded: false,
    });
    const call = parseCall({ args: [1, 'a'], timeoutMs: 500, consistency: 'rr', async: true, session: encodeSession(SESSION) },
      { [HOST_HEADERS.forwarded]: 'h2' }, q('history=1&logs=1'), T);
    expect(call).toEqual({ args: [1, 'a'], timeoutMs: 500, consistency: 'rr', async: true, history: true, logs: true, forwarded: true, forwardedBy: 'h2', client: SESSION });
    // `?timeoutMs=` wins over the body's; the header session over the body's.
    expect(parseCall({ timeoutMs: 500 }, {}, q('timeoutMs=700'), T).timeoutMs).toBe(700);
    expect(parseCall({ session: 'not a token' }, { [HOST_HEADERS.session]: encodeSession(SESSION) }, q(), T).client).toEqual(SESSION);
    // A JSON body may ask for the call's logs as well as the query.
    expect(parseCall({ logs: true }, {}, q(), T).logs).toBe(true);
    expect(parseCall({ logs: false }, {}, q('logs=1'), T).logs).toBe(true);
    // Arguments are the signature's to check (executor/args.ts): passed through as they came.
    expect(parseCall({ args: { not: 'an array' } }, {}, q(), T).args).toEqual({ not: 'an array' });
  });

  it('a malformed call is INVALID_REQUEST, naming what is wrong', () => {
    for (const body of [null, [], 5, 'x', true]) refused(() => parseCall(body, {}, q(), T), 'INVALID_REQUEST', /body of a call is an object/);
    for (const async of [1, 'true', null]) refused(() => parseCall({ async }, {}, q(), T), 'INVALID_REQUEST', /"async" must be true or false/);
    for (const logs of [1, 'true', null]) refused(() => parseCall({ logs }, {}, q(), T), 'INVALID_REQUEST', /"logs" must be true or false/);
    for (const timeoutMs of [0, -1, 1.5, 300_001, 'abc', '', true, [5]]) {
      refused(() => parseCall({ timeoutMs }, {}, q(), T), 'INVALID_REQUEST', /timeoutMs must be an integer from 1 to 300000/);
    }
    refused(() => parseCall({}, {}, q('timeoutMs=soon'), T), 'INVALID_REQUEST', /timeoutMs/);
    refused(() => parseCall({ consistency: 'strong' }, {}, q(), T), 'INVALID_REQUEST', /"consistency" is "lww", "rr" or "causal"/);
    refused(() => parseCall({ session: 'not a token' }, {}, q(), T), 'INVALID_REQUEST', /session token is malformed/);
    refused(() => parseCall({}, { [HOST_HEADERS.session]: ['a', 'b'] }, q(), T), 'INVALID_REQUEST', /more than one x-cloudburst-session header/);
  });

  it('property: what the forwarder sends is parsed back there as the same call, to run there', () => {
    const calls = fc.record({
      args: fc.array(fc.jsonValue(), { maxLength: 4 }),
      timeoutMs: fc.integer({ min: 1, max: T.maxTimeoutMs }),
      consistency: fc.constantFrom('lww' as const, 'rr' as const, 'causal' as const),
      history: fc.boolean(),
      logs: fc.boolean(),
      client: fc.option(fc.constant(SESSION), { nil: undefined }),
    });
    fc.assert(fc.property(calls, ({ client, ...rest }) => {
      const call: CallRequest = { ...rest, async: false, forwarded: false, ...(client ? { client } : {}) };
      const sent = forwardCall('m.f', call, 'h1');
      const url = new URL(sent.path, 'http://host');
      expect(url.pathname).toBe('/v1/functions/m.f/call');
      const parsed = parseCall(JSON.parse(JSON.stringify(sent.body)), sent.headers, url.searchParams, T);
      // A call that asked for its logs asks the host that runs it (which answers them, with its
      // error too); the receiver runs it without placing it again, and knows which host sent it.
      expect(parsed).toEqual({ ...call, args: JSON.parse(JSON.stringify(call.args)), forwarded: true, forwardedBy: 'h1' });
    }), { numRuns: 200 });
  });

  it('a DAG call: defaults, and shapes the coordinator checks against the DAG', () => {
    expect(parseDagCall(undefined, {}, q(), T)).toEqual({ args: {}, timeoutMs: 10_000, consistency: 'lww', async: false, placement: {}, history: false });
    expect(parseDagCall({ args: { 'm.f': [1] }, placement: { 'm.f': 'h1' }, timeoutMs: 50, consistency: 'causal', async: false, session: encodeSession(SESSION) }, {}, q('history=1'), T))
      .toEqual({ args: { 'm.f': [1] }, placement: { 'm.f': 'h1' }, timeoutMs: 50, consistency: 'causal', async: false, history: true, client: SESSION });
    for (const body of [null, [], 'x']) refused(() => parseDagCall(body, {}, q(), T), 'INVALID_REQUEST', /body of a DAG call is an object/);
    refused(() => parseDagCall({ args: [[1]] }, {}, q(), T), 'INVALID_REQUEST', /"args" maps function names to argument arrays/);
    refused(() => parseDagCall({ placement: ['h1'] }, {}, q(), T), 'INVALID_REQUEST', /"placement" maps function names to host ids/);
    refused(() => parseDagCall({ async: 'yes' }, {}, q(), T), 'INVALID_REQUEST', /"async"/);
    refused(() => parseDagCall({ timeoutMs: 300_001 }, {}, q(), T), 'INVALID_REQUEST', /timeoutMs/);
    refused(() => parseDagCall({ consistency: 'RR' }, {}, q(), T), 'INVALID_REQUEST', /"consistency"/);
  });

  it('timeouts and waits: integers within the bounds, nothing read loosely or clamped', () => {
    expect(parseTimeout(undefined, T)).toBe(10_000);
    expect(parseTimeout(null, T)).toBe(10_000);
    expect(parseTimeout('250', T)).toBe(250);
    expect(parseTimeout(300_000, T)).toBe(300_000);
    expect(parseWait(null)).toBe(0);
    expect(parseWait('0')).toBe(0);
    expect(parseWait(String(HOST_LIMITS.maxWaitMs))).toBe(60_000);
    for (const w of ['60001', '1e9', '-1', '1.5', '0x10', '', ' 5']) refused(() => parseWait(w), 'INVALID_REQUEST', /wait must be an integer from 0 to 60000/);
  });

  it('internal bodies: messages, cache reads, pushes', () => {
    const env = { tenant: 'acme', to: 'h1.b.7', from: 'h2.c.3', seq: 2, data: new Uint8Array([0, 1, 255]) };
    // The tenant travels as the request's (x-cloudburst-tenant), not in the body.
    expect(encodeMessage(env)).not.toHaveProperty('tenant');
    expect(parseMessage(JSON.parse(JSON.stringify(encodeMessage(env))), 'h1', 'acme')).toEqual(env);
    for (const body of [undefined, null, [], { ...encodeMessage(env), to: 'h3.b.7' }, { ...encodeMessage(env), seq: 0 }, { ...encodeMessage(env), seq: 1.5 }, { ...encodeMessage(env), data: [1] }]) {
      refused(() => parseMessage(body, 'h1', 'acme'), 'INVALID_REQUEST', /a message is/);
    }
    expect(parseCacheRead({ keys: ['default/k/a', 'default/k/b'] })).toEqual(['default/k/a', 'default/k/b']);
    expect(parseCacheRead({ keys: Array.from({ length: HOST_LIMITS.cacheReadKeys }, (_, i) => `k${i}`) })).toHaveLength(1000);
    for (const body of [undefined, {}, { keys: 'a' }, { keys: [1] }, { keys: Array.from({ length: 1001 }, () => 'k') }]) {
      refused(() => parseCacheRead(body), 'INVALID_REQUEST', /a cache read is \{"keys": \[up to 1000 strings\]\}/);
    }
    const value = counter.add(undefined, 'w', 3n);
    expect(parsePush(encodeFrame([{ key: 'default/k/c', value: encode(value) }]))).toEqual([{ key: 'default/k/c', value }]);
    expect(parsePush(new Uint8Array(0))).toEqual([]);
    refused(() => parsePush(encodeFrame([{ key: 'default/k/c', value: undefined }])), 'INVALID_REQUEST', /carries no value/);
    refused(() => parsePush(encodeFrame([{ key: 'default/k/c', value: encode(value) }]).subarray(0, 5)), 'INVALID_REQUEST', /malformed batch frame/);
    refused(() => parsePush(encodeFrame([{ key: 'default/k/c', value: encode(value).subarray(0, 3) }])), 'KV_BAD_VALUE');
  });

  it('internal DAG bodies: pins, snapshot requests, warm-ups', () => {
    const version = { v: 'c1.0.w', host: 'h1', url: 'http://127.0.0.1:1' };
    const inMemory = { version: 'c1.0.w', host: 'h1', url: 'http://127.0.0.1:1' };
    expect(parsePin({ rid: 'r', key: 'default/k/a', ...version })).toEqual({ rid: 'r', key: 'default/k/a', ...inMemory });
    refused(() => parsePin({ key: 'default/k/a', ...version }), 'INVALID_REQUEST', /a pin is/);
    refused(() => parsePin({ rid: 'r', key: 'default/k/a', v: 'c1.0.w', host: 'h1' }), 'INVALID_REQUEST', /a pin needs "v", "host" and "url"/);
    expect(parseReadVersion(version, 'an answer')).toEqual(inMemory);
    refused(() => parseReadVersion(null, 'the coordinator\'s answer'), 'INVALID_REQUEST', /the coordinator's answer needs/);
    expect(parseSnapshotRequest({ rid: 'r', key: 'k', v: '1' })).toEqual({ rid: 'r', key: 'k', v: '1' });
    for (const body of [undefined, { rid: 'r', key: 'k' }, { rid: 1, key: 'k', v: '1' }]) refused(() => parseSnapshotRequest(body), 'INVALID_REQUEST', /a snapshot request is/);
    expect(parseWarm({ tenant: 'acme', functions: ['m.f'] })).toEqual({ tenant: 'acme', functions: ['m.f'] });
    for (const body of [undefined, { functions: 'm.f' }, { functions: [1] }, { functions: Array.from({ length: 65 }, (_, i) => `m.f${i}`) }]) {
      refused(() => parseWarm(body), 'INVALID_REQUEST', /"functions" is an array of at most 64 function names/);
    }
    // A DAG message names its tenant, by the tenant-name rule.
    for (const tenant of [undefined, '', 'Acme', '../x', 'a/b', 7]) refused(() => parseWarm({ tenant, functions: ['m.f'] }), 'INVALID_REQUEST', /malformed internal DAG message: tenant/);
  });

  it('paths put names, keys and ids in one percent-encoded segment', () => {
    expect(hostPath.call('math.square')).toBe('/v1/functions/math.square/call');
    expect(hostPath.key('a/../b?#')).toBe('/v1/kv/a%2F..%2Fb%3F%23');
    expect(hostPath.dagCall('pipe')).toBe('/v1/dags/pipe/call');
    expect(hostPath.dagRequest('r 1')).toBe('/v1/internal/dag/requests/r%201');
  });
});

/** A concrete path for a route pattern: each `:param` or `*rest` filled in. */
function concrete(path: string): string {
  const fill: Record<string, string> = { module: 'nosuchmodule', fn: 'nosuch.fn', id: '0'.repeat(32), key: 'protocol-probe', name: 'nosuchdag', rid: 'nosuchrid', file: 'app.js' };
  return path.replace(/[:*](\w+)/g, (_, p: string) => fill[p]!);
}

describe('host protocol: the routes table is what a host serves', () => {
  let p: Platform;
  let registered: string[];

  beforeAll(async () => {
    // Observes the host's registrations (the calls go through to the real router).
    const on = vi.spyOn(Router.prototype, 'on');
    try {
      p = await startPlatform();
    } finally {
      // The platform's KV node registers its own routes with the same Router class: keep the
      // registrations of the router that took the host's first row.
      const { calls, contexts } = on.mock;
      const first = HOST_ROUTES[0]!;
      const host = contexts[calls.findIndex(([method, path]) => method === first.method && path === first.path)];
      registered = calls.filter((_, i) => contexts[i] === host).map(([method, path]) => `${method} ${path}`);
      on.mockRestore();
    }
  });
  afterAll(() => p.stop());

  it('every row of HOST_ROUTES is registered, once, and nothing else is', () => {
    const table = HOST_ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(new Set(table).size).toBe(table.length);
    expect(new Set(HOST_ROUTES.map((r) => r.name)).size).toBe(HOST_ROUTES.length);
    expect(registered).toEqual(table);
  });

  it('every row reaches a handler over HTTP, and a path allows exactly its rows\' methods', async () => {
    for (const r of HOST_ROUTES) {
      // Internal rows as another host sends them (signed), the others with the admin token.
      const target = concrete(r.path);
      const headers = r.access === 'internal' ? signRequest(p.clusterSecret!, r.method, target) : {};
      const res = await hostFetch(`${p.host.url}${target}`, { method: r.method, headers });
      const text = await res.text();
      const code = res.status >= 400 ? (JSON.parse(text) as { error: { code: string } }).error.code : undefined;
      expect(['UNKNOWN_ROUTE', 'METHOD_NOT_ALLOWED', 'INTERNAL'], `${r.method} ${r.path}: ${text}`).not.toContain(code);
    }
    for (const path of new Set(HOST_ROUTES.map((r) => r.path))) {
      const res = await hostFetch(`${p.host.url}${concrete(path)}`, { method: 'PATCH' });
      await res.text();
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow'), path).toBe(HOST_ROUTES.filter((r) => r.path === path).map((r) => r.method).join(', '));
    }
  });
});
