/**
 * A generator of requests that must be refused for every row of KV_ROUTES (kvs/protocol.ts),
 * keyed by route name like host-routes.ts. Writes that are well-formed would be applied (the
 * node has no credential check yet), so only malformed ones are generated: bad keys, bytes
 * that are not lattices, broken frames and JSON of the wrong shape.
 */
import fc from 'fast-check';
import { encodeFrame, KV_LIMITS, KV_PATHS, KV_ROUTES, type KvRoute, type KvRouteName } from '../../kvs/index.ts';
import { hostileString, jsonBodies, wrongJson, type Case, type CaseArb } from './cases.ts';

const enc = encodeURIComponent;
const json = (v: unknown): string => JSON.stringify(v);

/** Keys checkKey refuses: empty, over 1024 bytes, lone surrogates (as bad percent-encoding). */
const badKeyPath = fc.oneof(
  fc.constantFrom('', 'x'.repeat(1025), '\u00e9'.repeat(513)).map(enc),
  fc.constantFrom('%ED%A0%80', '%FF', '%C3%28', '%', '%zz', 'a%2', '%E0%80%AF'),
);
/** A stored value's bytes that are no lattice (the first byte is the type tag). */
const notLattice = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Uint8Array.from([0xf0 | (b[0]! & 0x0f), ...b.subarray(1)])),
  // A known tag with a truncated body.
  fc.integer({ min: 1, max: 5 }).map((tag) => Uint8Array.from([tag])),
);
/** Frames broken as a whole: nothing in them is applied. */
const brokenFrame = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(Uint8Array.from([5, 0, 97]), Uint8Array.from([1, 0, 97, 9, 0, 0, 0, 1]), Uint8Array.from([7]), Uint8Array.from([2, 0, 0xc3, 0x28, 0, 0, 0, 0])) },
  // Over the entries of a batch (costly: rarely).
  { weight: 1, arbitrary: fc.constant(encodeFrame(Array.from({ length: KV_LIMITS.maxBatchEntries + 1 }, (_, i) => ({ key: `zz-${i}`, value: Uint8Array.from([0xff]) })))) },
);
/** Frames whose every entry is refused (a bad key or a value that is no lattice). */
const refusedEntries = fc.array(fc.oneof(
  notLattice.map((value) => ({ key: 'default/k/zz-frame', value })),
  fc.constantFrom('', 'x'.repeat(1025)).map((key) => ({ key, value: Uint8Array.from([0xff]) })),
), { minLength: 1, maxLength: 5 }).map(encodeFrame);

function wrongMethod(r: KvRoute): CaseArb {
  const allowed = new Set(KV_ROUTES.filter((x) => x.path === r.path).map((x) => x.method as string));
  const path = r.path.replace('*key', 'default%2Fk%2Fzz');
  return fc.constantFrom(...['GET', 'PUT', 'POST', 'DELETE', 'PATCH'].filter((m) => !allowed.has(m)))
    .map((method): Case => ({ route: r.name, method, path, expect: ['METHOD_NOT_ALLOWED'], routing: true }));
}

const post = (route: KvRouteName, path: string) => ({ body, expect }: { body: Uint8Array | string; expect: Case['expect'] }): Case => ({ route, method: 'POST', path, body, expect });

export function kvGenerators(): Record<KvRouteName, CaseArb | undefined> {
  const P = KV_PATHS;
  return {
    healthz: undefined, readyz: undefined, stats: undefined, ring: undefined,
    getKey: fc.oneof(
      badKeyPath.map((k): Case => ({ route: 'getKey', method: 'GET', path: P.keys + k, expect: ['INVALID_KEY', 'UNKNOWN_ROUTE'] })),
      hostileString.filter((k) => k.length > 0 && k.isWellFormed() && Buffer.byteLength(k) <= 1024).map((k): Case => ({ route: 'getKey', method: 'GET', path: P.keys + enc(`zz-missing/${k}`), expect: ['KEY_NOT_FOUND', 'INVALID_KEY'] })),
    ),
    mergeKey: fc.oneof(
      badKeyPath.map((k): Case => ({ route: 'mergeKey', method: 'PUT', path: P.keys + k, body: Uint8Array.from([1]), expect: ['INVALID_KEY', 'UNKNOWN_ROUTE'] })),
      notLattice.map((body): Case => ({ route: 'mergeKey', method: 'PUT', path: P.keys + enc('default/k/zz-merge'), body, expect: ['KV_BAD_VALUE'] })),
    ),
    batchMerge: fc.oneof(
      brokenFrame.map((body): Case => ({ route: 'batchMerge', method: 'POST', path: P.batchMerge, body, expect: ['INVALID_REQUEST'] })),
      refusedEntries.map((body): Case => ({ route: 'batchMerge', method: 'POST', path: P.batchMerge, body, expect: ['KV_BAD_VALUE', 'INVALID_KEY', 'INVALID_REQUEST'], perEntry: true })),
    ),
    batchGet: jsonBodies(fc.oneof({ weight: 10, arbitrary: wrongJson }, { weight: 10, arbitrary: fc.constantFrom(
      json({ keys: 'a' }), json({ keys: [1] }), json({ keys: [''] }), json({ keys: ['x'.repeat(1025)] }),
    ) }, { weight: 1, arbitrary: fc.constant(json({ keys: Array.from({ length: KV_LIMITS.maxBatchEntries + 1 }, (_, i) => `k${i}`) })) }), ['INVALID_REQUEST', 'INVALID_KEY']).map(post('batchGet', P.batchGet)),
    ringRemove: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(json({ id: 1 }), json({ id: 'x', force: 'yes' }), json({}))), ['INVALID_REQUEST'])
      .filter(({ body }) => !/"id":"/.test(String(body))).map(post('ringRemove', P.ringRemove)),
    subscriptions: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(
      json({ subscriber: 'ftp://x', keys: [] }), json({ subscriber: 'http://127.0.0.1:1', keys: 'a' }), json({ subscriber: 'http://127.0.0.1:1', keys: [''] }),
      json({ subscriber: 'http://127.0.0.1:1', keys: ['a'], ttlMs: 1.5 }), json({ subscriber: 'http://127.0.0.1:1', keys: ['a'], unsubscribe: 'yes' }),
      json({ subscriber: 'http://127.0.0.1:1', keys: ['a'], ttlMs: 1e12 }), json({ subscriber: `http://${'x'.repeat(3000)}`, keys: [] }),
    )), ['INVALID_REQUEST', 'INVALID_KEY']).map(post('subscriptions', P.subscriptions)),
    gossip: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(
      json({ from: 'n', members: [{ id: 'x', url: 'javascript:1', state: 'up', incarnation: 0 }] }), json({ from: 'n', members: [{ id: '', url: 'http://a', state: 'up', incarnation: 0 }] }),
      json({ from: 'n', members: [{ id: 'x', url: 'http://a', state: 'zombie', incarnation: 0 }] }), json({ from: 'n', members: [{ id: 'x', url: 'http://a', state: 'up', incarnation: -1 }] }),
      json({ members: [] }), json({ from: 1, members: [] }),
    )), ['INVALID_REQUEST']).map(post('gossip', P.gossip)),
    push: fc.oneof(
      // A push takes more entries than a client batch (anti-entropy's limit): the long frame's entries are refused one by one.
      brokenFrame.map((body): Case => ({ route: 'push', method: 'POST', path: P.push, body, expect: ['INVALID_REQUEST', 'KV_BAD_VALUE'], perEntry: true })),
      refusedEntries.map((body): Case => ({ route: 'push', method: 'POST', path: P.push, body, expect: ['KV_BAD_VALUE', 'INVALID_KEY', 'INVALID_REQUEST'], perEntry: true })),
    ),
    digest: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(json({ from: 'n' }), json({ from: 'n', ring: 'nope', digest: {} }), json({ ring: 1 }))), ['INVALID_REQUEST', 'KV_RING_VERSION']).map(post('digest', P.digest)),
    repair: fc.oneof(
      fc.uint8Array({ maxLength: 32 }).map((body): Case => ({ route: 'repair', method: 'POST', path: P.repair, body, expect: ['KV_RING_VERSION'] })),
      fc.uint8Array({ maxLength: 32 }).map((body): Case => ({ route: 'repair', method: 'POST', path: P.repair, body, headers: { 'x-cloudburst-ring-version': 'zz' }, expect: ['KV_RING_VERSION'] })),
    ),
    sync: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(json({ from: 'n' }), json({ members: [] }), json({ from: 1, members: [] }))), ['INVALID_REQUEST']).map(post('sync', P.sync)),
  };
}

export function forKvRoute(r: KvRoute, own: CaseArb | undefined): CaseArb {
  return own === undefined ? wrongMethod(r) : fc.oneof({ weight: 4, arbitrary: own }, { weight: 1, arbitrary: wrongMethod(r) });
}
