/**
 * A generator of requests that must be refused for every row of HOST_ROUTES (host/protocol.ts).
 * The map is keyed by route name, so a new route does not compile until it has a generator
 * (and `http-routes.test.ts` checks the map against the table at run time too). Each case says
 * which codes the route documents for it (host/README.md); the world it aims at (modules, a
 * DAG, keys, a future) is set up by `world.ts`.
 */
import fc from 'fast-check';
import type { ErrorCode } from '../../common/index.ts';
import { encodeFrame } from '../../kvs/index.ts';
import { HOST_LIMITS, HOST_PATHS, HOST_ROUTES, type HostRoute, type HostRouteName } from '../../host/protocol.ts';
import { adminGenerators } from './admin-routes.ts';
import {
  badName, deepJson, enc, hostileNumberText, hostileString, jsonBodies, malformedJson, missingName, named, traversal, wrongJson,
  type Case, type CaseArb,
} from './cases.ts';

/** What exists before the cases run (world.ts): the names the cases aim at. */
export interface World {
  /** Deployed modules: counter, arrays, math, kitchen. */
  readonly modules: readonly string[];
  /** A DAG math.square -> math.increment. */
  readonly dag: string;
  /** Keys holding a counter, an lww register and a set. */
  readonly keys: { readonly counter: string; readonly lww: string; readonly set: string };
  /** A finished future. */
  readonly future: string;
  readonly hostId: string;
  /** Tenants besides `default`: one that exists (`other`, with tokens) and one deleted (`gone`). */
  readonly tenants: { readonly other: string; readonly gone: string };
  /** Names of tokens: held by active tokens (NAME_TAKEN), and one whose only token is revoked. */
  readonly tokenNames: { readonly active: readonly string[]; readonly revoked: string };
}

const json = (v: unknown): string => JSON.stringify(v);
/** i64 arguments no i64 holds, as JSON text (some not JSON at all). */
const I64_OUT_OF_RANGE = [
  '9223372036854775808', '-9223372036854775809', '18446744073709551616', '340282366920938463463374607431768211456', '1.5', '0.0000001', '1e309', '-1e309',
  '"9223372036854775808"', '"1.5"', '"0x10"', '"NaN"', '"1e3"', '" 1"', '""', 'NaN', 'Infinity', '0x10', 'true', 'null',
];
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** The route's path with its parameters filled in with names of the world. */
function samplePath(r: HostRoute, w: World): string {
  return r.path
    .replace(':module', w.modules[0]!)
    .replace(':fn', `${w.modules[0]}.get`)
    .replace(':id', w.future)
    .replace('*key', enc(w.keys.counter))
    .replace(':name', w.dag)
    .replace(':rid', 'r1')
    .replace(':file', 'app.js');
}

/** A method the route's path does not serve: METHOD_NOT_ALLOWED, whatever the credential. */
function wrongMethod(r: HostRoute, w: World): CaseArb {
  const allowed = new Set(HOST_ROUTES.filter((x) => x.path === r.path).map((x) => x.method as string));
  const others = METHODS.filter((m) => !allowed.has(m));
  return fc.constantFrom(...others).map((method): Case => ({ route: r.name, method, path: samplePath(r, w), expect: ['METHOD_NOT_ALLOWED'], routing: true }));
}

/** A name parameter that is not a name, or names nothing (module and DAG names by default). */
function nameParam(route: HostRouteName, method: string, prefix: string, missing: ErrorCode, suffix = '', body?: string, names: { bad: fc.Arbitrary<string>; missing: fc.Arbitrary<string> } = { bad: badName, missing: missingName }): CaseArb {
  return fc.oneof(
    names.bad.map((n): Case => ({ route, method, path: named(prefix, n, suffix), expect: ['INVALID_NAME', missing], ...(body === undefined ? {} : { body }) })),
    names.missing.map((n): Case => ({ route, method, path: named(prefix, n, suffix), expect: [missing], ...(body === undefined ? {} : { body }) })),
    traversal(prefix).map(({ path, raw, escapes }): Case => ({
      route, method, path: path + (escapes ? '' : suffix), raw, expect: escapes ? ['UNKNOWN_ROUTE'] : ['INVALID_NAME', missing], routing: escapes,
      ...(body === undefined ? {} : { body }),
    })),
  );
}

/** Keys that are not keys (INVALID_KEY), and keys nothing is stored under. */
const badKey = hostileString.filter((k) => k !== '' && k !== '.' && k !== '..' && !isKey(k));
function isKey(k: string): boolean {
  return Buffer.byteLength(k) <= 512 && !/[\p{Cc}\uFFFD\uD800-\uDFFF]/u.test(k) && k.isWellFormed();
}
const missingKey = fc.oneof(missingName, hostileString.filter((k) => k !== '' && k !== '.' && k !== '..' && isKey(k)).map((k) => `zz-missing/${k}`).filter(isKey));

/** A call of `fn` whose body, arguments or options must be refused. */
function badCall(w: World): fc.Arbitrary<{ fn: string; body: Uint8Array | string; expect: readonly ErrorCode[] }> {
  const known = fc.constantFrom('counter.incr', 'arrays.sum', 'kitchen.echoI8', 'kitchen.echoU64', 'kitchen.echoF32', 'kitchen.concat', 'math.square');
  const options = fc.record({ async: fc.boolean() }, { requiredKeys: [] });
  // Arguments as JSON text, so that numbers JSON cannot hold exactly reach the host as sent.
  const withOptions = (args: readonly unknown[] | string, expect: readonly ErrorCode[]) =>
    options.map((o) => ({ body: `{"args": ${typeof args === 'string' ? args : json(args)}${o.async === undefined ? '' : `, "async": ${o.async}`}}`, expect }));
  // Arguments the function's signature refuses.
  const wrongArgs = fc.oneof(
    fc.constant({ fn: 'counter.incr', args: [w.keys.counter] }),
    fc.constant({ fn: 'counter.incr', args: [w.keys.counter, 1, 2] }),
    fc.constant({ fn: 'counter.incr', args: [5, w.keys.counter] }),
    fc.constantFrom(...I64_OUT_OF_RANGE).map((n) => ({ fn: 'counter.incr', args: `[${json(w.keys.counter)}, ${n}]` })),
    fc.constantFrom(128, -129, 1.5, -0.5, 1e20, '127', true, null, [], {}).map((x) => ({ fn: 'kitchen.echoI8', args: [x] })),
    fc.constantFrom(-1, '-1', '18446744073709551616', 1.5, '1e3', '0x10', ' 1').map((x) => ({ fn: 'kitchen.echoU64', args: [x] })),
    fc.constantFrom('nan', 'inf', '1e309x', true, null, [1]).map((x) => ({ fn: 'kitchen.echoF32', args: [x] })),
    fc.constantFrom([1, 'x'], ['1'], [null], [[1]], 'abc', { base64: 1 }, 3).map((x) => ({ fn: 'arrays.sum', args: [x] })),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 6 }).filter((a) => a.length !== 1).map((args) => ({ fn: 'math.square', args })),
    fc.constantFrom(1, null, [], {}, true).map((x) => ({ fn: 'kitchen.concat', args: ['a', x] })),
  ).chain(({ fn, args }) => withOptions(args, typeof args === 'string' ? ['INVALID_ARGUMENTS', 'MALFORMED_JSON', 'INVALID_REQUEST'] : ['INVALID_ARGUMENTS']).map((b) => ({ fn, ...b })));
  // References and futures that resolve to nothing, or are not references.
  const refs = fc.oneof(
    missingKey.map((k) => ({ fn: 'arrays.sum', args: [{ ref: k }], expect: ['REF_NOT_FOUND'] as const })),
    missingKey.map((k) => ({ fn: 'counter.get', args: [{ ref: k }], expect: ['REF_NOT_FOUND'] as const })),
    badKey.map((k) => ({ fn: 'arrays.sum', args: [{ ref: k }], expect: ['INVALID_KEY', 'INVALID_ARGUMENTS'] as const })),
    fc.constantFrom({ ref: w.keys.counter, extra: 1 }, { ref: 1 }, { ref: null }, { future: 1 }, { ref: 'a', future: 'b' }).map((a) => ({ fn: 'arrays.sum', args: [a], expect: ['INVALID_ARGUMENTS', 'INVALID_KEY'] as const })),
    fc.constant({ fn: 'arrays.sum', args: [{ ref: w.keys.counter }], expect: ['INVALID_ARGUMENTS'] as const }),
    fc.stringMatching(/^[0-9a-f]{32}$/).filter((id) => id !== w.future).map((id) => ({ fn: 'math.square', args: [{ future: id }], expect: ['FUTURE_NOT_FOUND'] as const })),
    hostileString.map((id) => ({ fn: 'math.square', args: [{ future: id }], expect: ['FUTURE_NOT_FOUND', 'INVALID_ARGUMENTS'] as const })),
  // An asynchronous call is refused for them too, before its future exists (host/README.md, "Asynchronous calls").
  ).chain(({ fn, args, expect }) => options.map((o) => ({ fn, body: json({ args, ...o }), expect })));
  // Options and body shapes parseCall refuses (before the function is looked at).
  const badOptions = fc.oneof(
    fc.constantFrom('0', '-0', '1e-400', '-1', '1.5', '300001', '1e309', '"1e309"', '"soon"', 'true', '[]', 'NaN').map((t) => `{"args": [3], "timeoutMs": ${t}}`),
    fc.constantFrom(1, 'yes', null, []).map((a) => json({ args: [3], async: a })),
    fc.constantFrom('LWW', 'strong', 1, '', 'causal ').map((c) => json({ args: [3], consistency: c })),
    fc.constantFrom(1, '', '!!!', 'x'.repeat(100), [], {}).map((s) => json({ args: [3], session: s })),
    fc.constantFrom('[1]', '"args"', '3', 'null', 'true'),
  ).map((body) => ({ fn: 'math.square', body, expect: ['INVALID_REQUEST', 'MALFORMED_JSON'] as const }));
  const unknownFn = fc.oneof(missingName.map((n) => `${n}.fn`), fc.constantFrom('counter.nope', 'nodot', 'math.', '.square', 'math.square.x', 'math.__new', 'math.memory'), hostileString.filter((s) => s !== '' && s !== '.' && s !== '..'))
    .map((fn) => ({ fn, body: json({ args: [3] }), expect: ['UNKNOWN_FUNCTION', 'INVALID_NAME'] as const }));
  const badBody = fc.tuple(known, jsonBodies(fc.constant('[]'), ['INVALID_REQUEST'])).map(([fn, b]) => ({ fn, ...b }));
  return fc.oneof(wrongArgs, refs, badOptions, unknownFn, badBody);
}

/** A DAG definition the host must refuse, with its codes. */
function badDag(w: World): fc.Arbitrary<{ body: Uint8Array | string; expect: readonly ErrorCode[] }> {
  const fns = ['math.square', 'math.increment', 'counter.incr', 'kitchen.addI32', 'kitchen.concat'];
  return fc.oneof(
    // Cycles over functions that exist (self edges too): DAG_CYCLE.
    fc.integer({ min: 2, max: 4 }).map((n) => {
      const f = fns.slice(0, n);
      return { body: json({ functions: f, edges: f.map((x, i) => [x, f[(i + 1) % n]]) }), expect: ['DAG_CYCLE'] as const };
    }),
    fc.constantFrom(...fns).map((f) => ({ body: json({ functions: [f], edges: [[f, f]] }), expect: ['DAG_CYCLE'] as const })),
    // Two sinks, two groups.
    fc.constant({ body: json({ functions: ['math.square', 'math.increment', 'kitchen.echoI8'], edges: [['math.square', 'math.increment'], ['math.square', 'kitchen.echoI8']] }), expect: ['DAG_SINKS'] as const }),
    fc.constant({ body: json({ functions: ['math.square', 'math.increment'], edges: [] }), expect: ['DAG_DISCONNECTED'] as const }),
    // Large fan-out: over the limits, or of functions that do not exist.
    fc.integer({ min: 65, max: 2000 }).map((n) => ({ body: json({ functions: Array.from({ length: n }, (_, i) => `m${i}.f`) }), expect: ['INVALID_REQUEST'] as const })),
    fc.integer({ min: 2, max: 63 }).map((n) => {
      const f = Array.from({ length: n }, (_, i) => `zz${i}.f`);
      return { body: json({ functions: ['math.square', ...f.slice(1)], edges: f.slice(1).map((x) => ['math.square', x]) }), expect: ['DAG_SINKS', 'UNKNOWN_FUNCTION'] as const };
    }),
    fc.integer({ min: 1, max: 63 }).map((n) => {
      const f = Array.from({ length: n }, (_, i) => `zz${i}.f`);
      return { body: json({ functions: [...f, 'math.square'], edges: f.map((x) => [x, 'math.square']) }), expect: ['UNKNOWN_FUNCTION'] as const };
    }),
    // Shapes.
    fc.constantFrom(
      { functions: [] }, { functions: 'math.square' }, { functions: ['math.square', 'math.square'] },
      { functions: ['math.square'], edges: [['math.square']] }, { functions: ['math.square'], edges: [['math.square', 'zz.f']] },
      { functions: ['math.square'], edges: 'x' }, { functions: ['x'.repeat(300) + '.f'] }, { functions: [1] },
      { functions: ['math.square', 'math.increment'], edges: [['math.square', 'math.increment'], ['math.square', 'math.increment']] },
    ).map((b) => ({ body: json(b), expect: ['INVALID_REQUEST'] as const })),
    // Not a function id: no function has it.
    fc.constantFrom('nodot', '.f', 'm.', 'a.b.c').map((f) => ({ body: json({ functions: [f] }), expect: ['INVALID_REQUEST', 'UNKNOWN_FUNCTION'] as const })),
    // Each function takes fewer parameters than it has predecessors; a void predecessor.
    fc.constant({ body: json({ functions: ['math.square', 'math.increment', 'kitchen.echoI8'], edges: [['math.square', 'kitchen.echoI8'], ['math.increment', 'kitchen.echoI8']] }), expect: ['INVALID_REQUEST'] as const }),
    fc.constant({ body: json({ functions: ['kitchen.noop', 'math.square'], edges: [['kitchen.noop', 'math.square']] }), expect: ['INVALID_REQUEST'] as const }),
    jsonBodies(wrongJson, ['INVALID_REQUEST']),
  );
}

/** A DAG call that must be refused. */
function badDagCall(w: World): fc.Arbitrary<{ body: Uint8Array | string; expect: readonly ErrorCode[] }> {
  return fc.oneof(
    fc.constantFrom<unknown>(['x'], [1.5], [1, 2], [{ ref: 'zz-missing' }], [{ future: '0'.repeat(32) }]).map((a) => ({
      body: json({ args: { 'math.square': a } }),
      expect: ['INVALID_ARGUMENTS', 'REF_NOT_FOUND', 'FUTURE_NOT_FOUND'] as const,
    })),
    fc.constantFrom({ 'zz.f': [] }, { 'counter.incr': ['a', 1] }).map((args) => ({ body: json({ args }), expect: ['INVALID_REQUEST'] as const })),
    fc.constantFrom<unknown>({ 'math.square': 'no-such-host' }, { 'zz.f': w.hostId }, { 'math.square': 1 }, 'x', []).map((placement) => ({
      body: json({ args: { 'math.square': [2] }, placement }),
      expect: ['INVALID_REQUEST'] as const,
    })),
    fc.constantFrom<unknown>({ args: [] }, { args: 'x' }, { timeoutMs: 0 }, { timeoutMs: 1e6 }, { async: 'yes' }, { consistency: 'strong' }, { session: 5 })
      .map((b) => ({ body: json(b), expect: ['INVALID_REQUEST'] as const })),
    jsonBodies(fc.constantFrom('[]', '3', '"x"'), ['INVALID_REQUEST']),
  );
}

/** Batch frames a host's push route must refuse as a whole (nothing applied). */
const badPushFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  // Truncated: a key length past the end, a value length past the end, one stray byte.
  fc.constantFrom(Uint8Array.from([5, 0, 97]), Uint8Array.from([1, 0, 97, 9, 0, 0, 0, 1]), Uint8Array.from([7])),
  // A missing value (a push always carries one).
  fc.constant(encodeFrame([{ key: 'default/k/zz-push', value: undefined }])),
  // Values that are not lattices, after zero or more good-looking entries with garbage too.
  fc.array(fc.uint8Array({ minLength: 0, maxLength: 24 }), { minLength: 1, maxLength: 4 })
    .map((values) => encodeFrame(values.map((v, i) => ({ key: `default/k/zz-push-${i}`, value: Uint8Array.from([0xee, ...v]) })))),
  // Invalid UTF-8 in a key.
  fc.constant(Uint8Array.from([2, 0, 0xc3, 0x28, 1, 0, 0, 0, 1])),
);

/**
 * The generators, keyed by route name. Every route also gets wrong methods (`forRoute`).
 */
export function hostGenerators(w: World): Record<HostRouteName, CaseArb | undefined> {
  const P = HOST_PATHS;
  const call = badCall(w);
  return {
    // Nothing to refuse in a GET of these but the method (and, later, the credential).
    healthz: undefined, readyz: undefined, cluster: undefined, metrics: undefined, listModules: undefined, listFunctions: undefined,
    dagList: undefined, listRejected: undefined, dagSnapshots: undefined, dagStatus: undefined, dagCancel: undefined,
    ui: undefined, overview: undefined,

    // The dashboard serves only its own files: no other name, no way out of dist/ui.
    uiFile: fc.oneof(
      fc.oneof(hostileString, fc.constantFrom('index.html.bak', '.env', 'app.js.map', 'APP.JS', 'package.json', 'cli.js', 'app.js ', '%00app.js'))
        .filter((n) => n !== '' && n !== '.' && n !== '..' && !/^[a-z0-9][a-z0-9-]*\.(js|css|svg)$/.test(n))
        .map((n): Case => ({ route: 'uiFile', method: 'GET', path: named(P.ui, n), expect: ['UNKNOWN_ROUTE', 'INVALID_NAME'] })),
      traversal(P.ui).map(({ path, raw, escapes }): Case => ({ route: 'uiFile', method: 'GET', path, raw, expect: ['UNKNOWN_ROUTE'], routing: escapes })),
    ),

    putModule: fc.oneof(
      fc.tuple(badName, fc.uint8Array({ maxLength: 64 })).map(([n, b]): Case => ({ route: 'putModule', method: 'PUT', path: named(P.modules, n), body: b, expect: ['INVALID_NAME', 'INVALID_WASM'] })),
      // Garbage over a module that exists: refused, and the module stays.
      fc.tuple(fc.constantFrom(...w.modules), fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.constant(Uint8Array.from([0, 97, 115, 109, 2, 0, 0, 0])), fc.constant(new Uint8Array(0))))
        .map(([n, b]): Case => ({ route: 'putModule', method: 'PUT', path: named(P.modules, n), body: b, expect: ['INVALID_WASM'] })),
    ),
    getModule: nameParam('getModule', 'GET', P.modules, 'UNKNOWN_MODULE'),
    deleteModule: nameParam('deleteModule', 'DELETE', P.modules, 'UNKNOWN_MODULE'),
    getFunction: fc.oneof(missingName.map((n) => `${n}.f`), hostileString.filter((s) => s !== '' && s !== '.' && s !== '..'), fc.constantFrom('counter.nope', 'nodot', 'counter.'))
      .map((fn): Case => ({ route: 'getFunction', method: 'GET', path: named(P.functions, fn), expect: ['UNKNOWN_FUNCTION', 'INVALID_NAME'] })),
    callFunction: call.map(({ fn, body, expect }): Case => ({ route: 'callFunction', method: 'POST', path: named(P.functions, fn, '/call'), body, headers: { 'content-type': 'application/json' }, expect })),
    // Never follow=1 with a function and query that are good: that is a stream, not a refusal.
    functionLogs: fc.oneof(
      fc.oneof(missingName.map((n) => `${n}.f`), fc.constantFrom('counter.nope', 'nodot', 'counter.'))
        .map((fn): Case => ({ route: 'functionLogs', method: 'GET', path: named(P.functions, fn, '/logs'), expect: ['UNKNOWN_FUNCTION', 'INVALID_NAME'] })),
      fc.constantFrom('since=', 'since=x', `since=${Buffer.from('{"a":1.5}').toString('base64url')}`, `since=${Buffer.from('{"a":-1}').toString('base64url')}`, `since=${Buffer.from('[1]').toString('base64url')}`, 'since=%2F%2F', 'limit=0', 'limit=1001', 'limit=-1', 'limit=1.5', 'limit=', 'follow=2', 'follow=yes', 'follow=1&limit=0', 'follow=1&since=zz')
        .map((q): Case => ({ route: 'functionLogs', method: 'GET', path: `${named(P.functions, 'counter.incr', '/logs')}?${q}`, expect: ['INVALID_REQUEST'] })),
    ),
    errors: fc.constantFrom('limit=0', 'limit=201', 'limit=x', 'limit=')
      .map((q): Case => ({ route: 'errors', method: 'GET', path: `${P.errors}?${q}`, expect: ['INVALID_REQUEST'] })),
    logsRead: fc.constantFrom('', 'fn=', `fn=${'f'.repeat(513)}`, 'fn=a.b&after=x', 'fn=a.b&after=-1', 'fn=a.b&limit=0', 'fn=a.b&limit=5000')
      .map((q): Case => ({ route: 'logsRead', method: 'GET', path: `${P.logsRead}?${q}`, expect: ['INVALID_REQUEST'] })),
    logsForget: internalJson('logsForget', P.logsForget, [{}, { module: 1 }, { module: '' }, { module: '../x' }, { module: 'a'.repeat(65) }, { module: null }]),
    errorsRead: fc.constantFrom('limit=0', 'limit=x', 'limit=9999')
      .map((q): Case => ({ route: 'errorsRead', method: 'GET', path: `${P.errorsRead}?${q}`, expect: ['INVALID_REQUEST'] })),
    getFuture: fc.oneof(
      fc.oneof(hostileString, fc.stringMatching(/^[0-9a-f]{32}$/)).filter((id) => id !== w.future && id !== '' && id !== '.' && id !== '..')
        .map((id): Case => ({ route: 'getFuture', method: 'GET', path: named(P.futures, id), expect: ['FUTURE_NOT_FOUND'] })),
      fc.constantFrom('1e9', '-1', '1.5', '0x10', '', '60001', '999999', ' 1', 'NaN', '1e309', '-0')
        .map((wait): Case => ({ route: 'getFuture', method: 'GET', path: `${named(P.futures, w.future)}?wait=${enc(wait)}`, expect: ['INVALID_REQUEST'] })),
    ),
    getKey: fc.oneof(
      badKey.map((k): Case => ({ route: 'getKey', method: 'GET', path: named(P.kv, k), expect: ['INVALID_KEY'] })),
      missingKey.map((k): Case => ({ route: 'getKey', method: 'GET', path: named(P.kv, k), expect: ['KEY_NOT_FOUND'] })),
      traversal(P.kv).map(({ path, raw, escapes }): Case => ({ route: 'getKey', method: 'GET', path, raw, expect: escapes ? ['UNKNOWN_ROUTE'] : ['KEY_NOT_FOUND'], routing: escapes })),
    ),
    putKey: fc.oneof(
      fc.tuple(badKey, fc.string({ maxLength: 8 })).map(([k, v]): Case => ({ route: 'putKey', method: 'PUT', path: named(P.kv, k), body: v, expect: ['INVALID_KEY'] })),
      // Another type over each existing key.
      fc.constantFrom(
        [w.keys.counter, 'lww', 'text'], [w.keys.counter, 'set', '"m"'], [w.keys.counter, 'max', '3'],
        [w.keys.lww, 'counter', '1'], [w.keys.lww, 'set', '["a"]'], [w.keys.set, 'counter', '{"add": 2}'], [w.keys.set, 'lww', 'x'],
      ).map(([k, t, v]): Case => ({ route: 'putKey', method: 'PUT', path: `${named(P.kv, k!)}${t === 'lww' ? '' : `?type=${t}`}`, body: v!, expect: ['KV_TYPE_MISMATCH'] })),
      fc.tuple(missingKey, fc.constantFrom('bogus', 'LWW', 'Counter', '', 'set ', 'causal', '__proto__')).map(([k, t]): Case => ({ route: 'putKey', method: 'PUT', path: `${named(P.kv, k)}?type=${enc(t)}`, body: '1', expect: ['KV_UNKNOWN_TYPE'] })),
      // Values of the right type that are not values: numbers out of range, wrong shapes, not JSON.
      fc.tuple(missingKey, fc.constantFrom('counter', 'max'), fc.oneof(hostileNumberText.filter((n) => !/^-?\d{1,18}$/.test(n) && !['1e3', '-0', '1e-400'].includes(n)), fc.constantFrom('{"add": 1.5}', '{"add": "9223372036854775808"}', '{"sub": 1}', '"x"', '[]', 'null', '{"add": "1e3"}'))).map(([k, t, v]): Case => ({
        route: 'putKey', method: 'PUT', path: `${named(P.kv, k)}?type=${t}`, body: v, expect: ['INVALID_REQUEST', 'MALFORMED_JSON'],
      })),
      fc.tuple(missingKey, fc.constantFrom('[]', '[1]', '[null]', '{}', '1', 'null', '["a", 2]')).map(([k, v]): Case => ({ route: 'putKey', method: 'PUT', path: `${named(P.kv, k)}?type=set`, body: v, expect: ['INVALID_REQUEST'] })),
      fc.tuple(missingKey, fc.constantFrom('counter', 'set', 'max'), fc.oneof(malformedJson, deepJson)).map(([k, t, body]): Case => ({ route: 'putKey', method: 'PUT', path: `${named(P.kv, k)}?type=${t}`, body, expect: ['MALFORMED_JSON', 'INVALID_REQUEST'] })),
    ),
    deleteKey: fc.oneof(
      badKey.map((k): Case => ({ route: 'deleteKey', method: 'DELETE', path: named(P.kv, k), expect: ['INVALID_KEY'] })),
      missingKey.map((k): Case => ({ route: 'deleteKey', method: 'DELETE', path: named(P.kv, k), expect: ['KEY_NOT_FOUND'] })),
    ),
    getRejected: fc.oneof(hostileString, missingKey).filter((k) => k !== '' && k !== '.' && k !== '..')
      .map((k): Case => ({ route: 'getRejected', method: 'GET', path: named(P.rejected, k), expect: ['KEY_NOT_FOUND'] })),
    forgetRejected: fc.oneof(hostileString, missingKey, fc.constant(`default/k/${w.keys.counter}`)).filter((k) => k !== '' && k !== '.' && k !== '..')
      .map((k): Case => ({ route: 'forgetRejected', method: 'DELETE', path: named(P.rejected, k), expect: ['KEY_NOT_FOUND'] })),

    dagPut: fc.oneof(
      badName.map((n): Case => ({ route: 'dagPut', method: 'PUT', path: named(P.dags, n), body: json({ functions: ['math.square'] }), expect: ['INVALID_NAME'] })),
      fc.tuple(fc.constantFrom(w.dag, 'zz-new-dag'), badDag(w)).map(([n, { body, expect }]): Case => ({ route: 'dagPut', method: 'PUT', path: named(P.dags, n), body, expect })),
    ),
    dagGet: nameParam('dagGet', 'GET', P.dags, 'UNKNOWN_DAG'),
    dagDelete: nameParam('dagDelete', 'DELETE', P.dags, 'UNKNOWN_DAG'),
    dagCall: fc.oneof(
      nameParam('dagCall', 'POST', P.dags, 'UNKNOWN_DAG', '/call', json({ args: {} })),
      badDagCall(w).map(({ body, expect }): Case => ({ route: 'dagCall', method: 'POST', path: named(P.dags, w.dag, '/call'), body, expect })),
    ),

    // Cluster-internal routes: malformed messages only (a well-formed one is work a peer asks for).
    kvPush: badPushFrame.map((body): Case => ({ route: 'kvPush', method: 'POST', path: P.kvPush, body, expect: ['INVALID_REQUEST', 'KV_BAD_VALUE'] })),
    message: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(
      json({ to: 'otherhost.f.1', from: 'a', seq: 1, data: '' }), json({ to: `${w.hostId}.f`, from: 'a', seq: 0, data: '' }),
      json({ to: `${w.hostId}.f`, from: 'a', seq: 1.5, data: '' }), json({ to: `${w.hostId}.f`, from: 'a', seq: 9007199254740993, data: '' }),
      json({ to: `${w.hostId}.f`, from: 1, seq: 1, data: '' }), json({ to: `${w.hostId}.f`, from: 'a', seq: 1, data: 5 }),
    )), ['INVALID_REQUEST']).map(({ body, expect }): Case => ({ route: 'message', method: 'POST', path: P.messages, body, expect })),
    cacheRead: jsonBodies(fc.oneof(wrongJson, fc.constantFrom(
      json({ keys: Array.from({ length: HOST_LIMITS.cacheReadKeys + 1 }, (_, i) => `default/k/${i}`) }), json({ keys: [1] }), json({ keys: 'a' }), json({ keys: [null] }),
    )), ['INVALID_REQUEST']).map(({ body, expect }): Case => ({ route: 'cacheRead', method: 'POST', path: P.cacheRead, body, expect })),
    dagSchedule: internalJson('dagSchedule', P.dagSchedule, [{ rid: 'r', dag: 'd' }, { rid: 'r', dag: 'd', steps: [{ fn: 'math.square' }] }, { rid: 1, dag: 'd', steps: [] },
      { rid: 'r', dag: 'd', steps: [{ fn: 'f', args: [], inputs: 0, succs: [{ fn: 'g' }] }] }]),
    dagTrigger: internalJson('dagTrigger', P.dagTrigger, [{ rid: 'r', from: 'a', to: 'b' }, { rid: 'r', from: 'a', to: 'b', slot: '0' }, { rid: null }]),
    dagDone: internalJson('dagDone', P.dagDone, [{ rid: 'r', ok: false, step: 's', host: 'h', error: { code: 'X' } }, { rid: 'r' }, { rid: 'r', step: 1, host: 'h' }]),
    dagSnapshot: internalJson('dagSnapshot', P.dagSnapshot, [{ rid: 'r', key: 'k' }, { rid: 'r', key: 1, v: 'x' }, { key: 'k', v: 'v' }]),
    dagPin: internalJson('dagPin', P.dagPin, [{ rid: 'r' }, { rid: 'r', key: 'k', v: 'x' }, { rid: 'r', key: 'k', v: 1, host: 'h', url: 'u' }]),
    dagWarm: internalJson('dagWarm', P.dagWarm, [{ functions: 'math.square' }, { functions: [1] }, { functions: Array.from({ length: 65 }, (_, i) => `m.f${i}`) }, { functions: [null] }]),

    ...adminGenerators(w, (route, method, prefix, missing, names) => nameParam(route, method, prefix, missing, '', undefined, names)),
  };
}

function internalJson(route: HostRouteName, path: string, shapes: unknown[]): CaseArb {
  return jsonBodies(fc.oneof(wrongJson, fc.constantFrom(...shapes.map(json))), ['INVALID_REQUEST'])
    .map(({ body, expect }): Case => ({ route, method: 'POST', path, body, headers: { 'content-type': 'application/json' }, expect }));
}

/** Paths no route has: UNKNOWN_ROUTE. */
export const unknownRoute: CaseArb = fc.oneof(
  fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.constantFrom('/v2/kv/a', '/v1', '/v1/', '/v1/kvx/a', '/v1/modules/a/b', '/v1/functions/a/b/c', '/v1/internal', '/v1/internal/dag', '/kv/v1/keys/a', '/%00', '/v1/%2e%2e/healthz2', '/healthz/x'))
    .map(([method, path]): Case => ({ route: 'unknown', method, path, expect: ['UNKNOWN_ROUTE'], routing: true })),
  fc.tuple(fc.constantFrom('GET', 'POST'), hostileString).map(([method, s]): Case => ({ route: 'unknown', method, path: `/zz/${enc(s)}`, expect: ['UNKNOWN_ROUTE'], routing: true })),
);

/**
 * Requests no HTTP client would send, written byte for byte: raw spaces, NUL, UTF-8 and invalid
 * UTF-8 in the target, an unknown method, a header with a byte headers may not hold. Refused
 * by the HTTP parser (answered as INVALID_REQUEST), or read as a name or key that is refused.
 */
export const rawRequests: CaseArb = fc.oneof(
  fc.constantFrom('/v1/kv/a b', '/v1/kv/\0', '/v1/kv/\u00c3\u00a9', '/v1/kv/\u00ff', '/v1/kv/a\tb', '/v1/modules/\u007f', '/v1/functions/\u0001.f/call', '*', 'v1/kv/a', '/v1/kv/a?\u0000')
    .map((path): Case => ({ route: 'raw', method: 'GET', path, raw: true, expect: ['INVALID_REQUEST', 'KEY_NOT_FOUND', 'INVALID_KEY', 'UNKNOWN_MODULE', 'UNKNOWN_FUNCTION', 'UNKNOWN_ROUTE', 'METHOD_NOT_ALLOWED', 'INVALID_NAME'], routing: true })),
  fc.constantFrom('BREW', 'get', 'G\u00c9T', 'PUT /x').map((method): Case => ({ route: 'raw', method, path: '/healthz', raw: true, expect: ['INVALID_REQUEST', 'METHOD_NOT_ALLOWED'], routing: true })),
  // (A tenant header that is no tenant name is the credentials' dimension: credentials.ts.)
  fc.constantFrom({ 'x-a': 'b\u0000c' }, { 'x\u0000': 'b' }, { 'bad header': 'x' }, { 'content-length': '-1' }, { 'content-length': '1, 2' })
    .map((headers): Case => ({ route: 'raw', method: 'GET', path: '/v1/modules', headers, raw: true, expect: ['INVALID_REQUEST'], routing: true })),
);

/**
 * With a good credential of a second tenant: requests that name the first tenant's modules,
 * functions, DAGs, keys and future, each of which must find nothing there. Only run when the
 * credential plan has `otherTenant` (tenants isolated).
 */
export function crossTenant(w: World): CaseArb {
  const P = HOST_PATHS;
  return fc.oneof(
    fc.constantFrom(...w.modules).chain((m) => fc.constantFrom<Case>(
      { route: 'getModule', method: 'GET', path: named(P.modules, m), expect: ['UNKNOWN_MODULE'] },
      { route: 'deleteModule', method: 'DELETE', path: named(P.modules, m), expect: ['UNKNOWN_MODULE'] },
      { route: 'getFunction', method: 'GET', path: named(P.functions, `${m}.get`), expect: ['UNKNOWN_FUNCTION'] },
    )),
    fc.constantFrom<Case>(
      { route: 'callFunction', method: 'POST', path: named(P.functions, 'math.square', '/call'), body: json({ args: [3] }), expect: ['UNKNOWN_FUNCTION'] },
      { route: 'callFunction', method: 'POST', path: named(P.functions, 'counter.incr', '/call'), body: json({ args: [w.keys.counter, 1] }), expect: ['UNKNOWN_FUNCTION'] },
      { route: 'dagGet', method: 'GET', path: named(P.dags, w.dag), expect: ['UNKNOWN_DAG'] },
      { route: 'dagDelete', method: 'DELETE', path: named(P.dags, w.dag), expect: ['UNKNOWN_DAG'] },
      { route: 'dagCall', method: 'POST', path: named(P.dags, w.dag, '/call'), body: json({ args: {} }), expect: ['UNKNOWN_DAG'] },
      { route: 'getFuture', method: 'GET', path: named(P.futures, w.future), expect: ['FUTURE_NOT_FOUND'] },
    ),
    fc.constantFrom(w.keys.counter, w.keys.lww, w.keys.set).chain((k) => fc.constantFrom<Case>(
      { route: 'getKey', method: 'GET', path: named(P.kv, k), expect: ['KEY_NOT_FOUND'] },
      { route: 'deleteKey', method: 'DELETE', path: named(P.kv, k), expect: ['KEY_NOT_FOUND'] },
      { route: 'callFunction', method: 'POST', path: named(P.functions, 'arrays.sum', '/call'), body: json({ args: [{ ref: k }] }), expect: ['REF_NOT_FOUND', 'UNKNOWN_FUNCTION'] },
    )),
  );
}

/** Every route's cases: its own generator (if any) and wrong methods on its path. */
export function forRoute(r: HostRoute, w: World, own: CaseArb | undefined): CaseArb {
  return own === undefined ? wrongMethod(r, w) : fc.oneof({ weight: 4, arbitrary: own }, { weight: 1, arbitrary: wrongMethod(r, w) });
}

export { deepJson };
