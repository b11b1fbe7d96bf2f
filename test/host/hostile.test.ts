import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError, JSON_MAX_DEPTH } from '../../common/index.ts';
import { checkKeyName, guestKeyName } from '../../host/keys.ts';
import { guestBytes, metric, startPlatform, type Platform } from '../helpers/platform.ts';

/** Everything a failed request could have touched: the function list and some state. */
async function snapshot(p: Platform): Promise<unknown> {
  const functions = await p.client.json('GET', '/v1/functions');
  const counter = await p.call('counter.get', ['guarded']);
  const kv = await p.client.json('GET', '/v1/kv/guarded');
  return { functions, counter, kv };
}

describe('host: hostile guests', () => {
  let p: Platform;

  beforeAll(async () => {
    // A small memory limit, so that running out of it is quick.
    p = await startPlatform({ guestMemoryMiB: 4 });
    await p.deploy('hostile');
    await p.deploy('math');
  });
  afterAll(() => p.stop());

  it('spin: an infinite loop is stopped at its deadline and the host goes on', async () => {
    const started = Date.now();
    await expect(p.call('hostile.spin', [], { timeoutMs: 300 })).rejects.toMatchObject({ code: 'CALL_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await p.call('math.square', [9])).toBe(81);
    // The replaced worker serves calls too: more calls than workers, all fine.
    const results = await Promise.all([1, 2, 3, 4].map((x) => p.call('math.square', [x])));
    expect(results).toEqual([1, 4, 9, 16]);
  });

  it('oom: allocating past the memory maximum fails cleanly, and the next call works', async () => {
    await expect(p.call('hostile.oom', [])).rejects.toMatchObject({ code: 'GUEST_OUT_OF_MEMORY' });
    expect(await p.call('hostile.divide', [10, 2])).toBe(5);
  });

  it('trap: unreachable and division by zero are GUEST_TRAP', async () => {
    await expect(p.call('hostile.trap', [])).rejects.toMatchObject({ code: 'GUEST_TRAP' });
    await expect(p.call('hostile.divide', [1, 0])).rejects.toMatchObject({ code: 'GUEST_TRAP' });
  });

  it('abort: a thrown error is GUEST_ABORT with its message', async () => {
    const err = await p.call('hostile.fail', []).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'GUEST_ABORT' });
    expect((err as Error).message.length).toBeGreaterThan(5);
  });
});

describe('host: hostile requests change nothing', () => {
  let p: Platform;
  let before: unknown;

  beforeAll(async () => {
    p = await startPlatform({ maxBodyBytes: 64 * 1024, maxModuleBytes: 1024 * 1024 });
    await p.deploy('counter');
    await p.deploy('arrays');
    await p.call('counter.incr', ['guarded', 3]);
    before = await snapshot(p);
  });
  afterAll(async () => {
    expect(await snapshot(p)).toEqual(before);
    await p.stop();
  });

  const upload = (name: string, body: Uint8Array) => p.client.json('PUT', `/v1/modules/${name}`, body, true);

  it('upload: a module importing what we do not provide is FORBIDDEN_IMPORT', async () => {
    await expect(upload('evil', guestBytes('bad-import'))).rejects.toMatchObject({ code: 'FORBIDDEN_IMPORT' });
  });

  it('upload: garbage and truncated wasm are INVALID_WASM', async () => {
    await expect(upload('junk', Buffer.from('definitely not wasm'))).rejects.toMatchObject({ code: 'INVALID_WASM' });
    const wasm = guestBytes('counter');
    await expect(upload('counter', wasm.subarray(0, wasm.length - 7))).rejects.toMatchObject({ code: 'INVALID_WASM' });
    await expect(upload('counter', new Uint8Array(0))).rejects.toMatchObject({ code: 'INVALID_WASM' });
  });

  it('upload: a module without the types section is MISSING_TYPES', async () => {
    // The smallest valid module that imports its memory, built by hand.
    const bare = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 2, 15, 1, 3, 101, 110, 118, 6, 109, 101, 109, 111, 114, 121, 2, 0, 1]);
    await expect(upload('bare', bare)).rejects.toMatchObject({ code: 'MISSING_TYPES' });
  });

  it('upload: a module with its own memory is MEMORY_LIMIT', async () => {
    const ownMemory = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1]);
    await expect(upload('mem', ownMemory)).rejects.toMatchObject({ code: 'MEMORY_LIMIT' });
  });

  it('upload: a bad module name is INVALID_NAME, an oversized one BODY_TOO_LARGE', async () => {
    await expect(upload('no%20spaces', guestBytes('math'))).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await expect(upload('huge', new Uint8Array(2 * 1024 * 1024))).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' });
  });

  it('call: wrong argument count and types are INVALID_ARGUMENTS', async () => {
    await expect(p.call('counter.incr', ['guarded'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.call('counter.incr', [5, 'guarded'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.call('counter.incr', ['guarded', 1.5])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.call('counter.incr', ['guarded', '99999999999999999999'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.call('arrays.sum', [[1, 'x']])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.call('arrays.sum', [{ ref: 'guarded', extra: 1 }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.client.json('POST', '/v1/functions/counter.incr/call', { args: 'guarded' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.client.json('POST', '/v1/functions/counter.incr/call', [1])).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('call: a reference to a missing key is REF_NOT_FOUND; to a key of the wrong type INVALID_ARGUMENTS', async () => {
    await expect(p.call('arrays.sum', [{ ref: 'no-such-key' }])).rejects.toMatchObject({ code: 'REF_NOT_FOUND' });
    await expect(p.call('arrays.sum', [{ ref: 'guarded' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
  });

  it('call: unknown functions, malformed JSON and oversized bodies', async () => {
    await expect(p.call('counter.nope', [])).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
    await expect(p.call('nope.nope', [])).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
    await expect(p.call('nodot', [])).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
    const bad = await p.client.request('POST', '/v1/functions/counter.incr/call', '{"args": [', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString())).toMatchObject({ error: { code: 'MALFORMED_JSON' } });
    const big = await p.client.request('POST', '/v1/functions/counter.incr/call', JSON.stringify({ args: ['guarded', 1], pad: 'x'.repeat(100_000) }));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body.toString())).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  });

  it('kv: type mismatches, unknown types and bad keys are refused', async () => {
    await expect(p.client.json('PUT', '/v1/kv/guarded', 'text', true)).rejects.toMatchObject({ code: 'KV_TYPE_MISMATCH' });
    await expect(p.client.json('PUT', '/v1/kv/guarded?type=bogus', '1', true)).rejects.toMatchObject({ code: 'KV_UNKNOWN_TYPE' });
    await expect(p.client.json('PUT', '/v1/kv/guarded?type=counter', 'not json', true)).rejects.toMatchObject({ code: 'MALFORMED_JSON' });
    await expect(p.client.json('PUT', '/v1/kv/guarded?type=counter', '"1.5"', true)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(p.client.json('PUT', `/v1/kv/${'k'.repeat(600)}`, 'x', true)).rejects.toMatchObject({ code: 'INVALID_KEY' });
    await expect(p.client.json('GET', '/v1/kv/missing')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
  });

  it(`json: a body nested deeper than ${JSON_MAX_DEPTH} levels (20,000 included) is 400 INVALID_REQUEST on every JSON route`, async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const over = '['.repeat(JSON_MAX_DEPTH + 1) + ']'.repeat(JSON_MAX_DEPTH + 1);
    const bodies: [string, string, string][] = [];
    for (const v of [deep, over]) {
      bodies.push(
        ['PUT', '/v1/dags/deep', `{"functions": [${v}]}`],
        ['PUT', '/v1/dags/deep', `{"functions": ["counter.incr"], "edges": [${v}]}`],
        ['POST', '/v1/dags/deep/call', `{"args": {"counter.incr": [${v}]}}`],
        ['POST', '/v1/functions/counter.incr/call', `{"args": ["guarded", ${v}]}`],
        ['PUT', '/v1/kv/guarded?type=counter', `{"add": ${v}}`],
        ['PUT', '/v1/kv/deep-set?type=set', v],
        ['PUT', '/v1/kv/deep-max?type=max', v],
        ['POST', '/v1/internal/dag/schedule', `{"rid": "r", "dag": "d", "steps": [${v}]}`],
        ['POST', '/v1/internal/dag/trigger', `{"rid": "r", "from": "a", "to": "b", "slot": 0, "value": ${v}}`],
        ['POST', '/v1/internal/dag/done', `{"rid": "r", "ok": true, "step": "s", "host": "h", "result": ${v}}`],
        ['POST', '/v1/internal/dag/snapshot', `{"rid": ${v}}`],
        ['POST', '/v1/internal/dag/pin', `{"rid": ${v}}`],
        ['POST', '/v1/internal/dag/warm', `{"functions": ${v}}`],
        ['POST', '/v1/internal/messages', `{"to": ${v}}`],
        ['POST', '/v1/internal/cache/read', `{"keys": ${v}}`],
      );
    }
    for (const [method, path, body] of bodies) {
      const r = await (path.startsWith('/v1/internal/') ? p.internal : p.client).request(method as 'PUT' | 'POST', path, body, { 'content-type': 'application/json' });
      expect({ route: `${method} ${path}`, status: r.status, error: JSON.parse(r.body.toString()).error })
        .toMatchObject({ status: 400, error: { code: 'INVALID_REQUEST', maxDepth: JSON_MAX_DEPTH } });
    }
    // At the limit (the object, "functions" and 62 more levels), the body gets through to the route's own checks.
    const atLimit = '['.repeat(JSON_MAX_DEPTH - 2) + ']'.repeat(JSON_MAX_DEPTH - 2);
    await expect(p.client.json('PUT', '/v1/dags/deep', JSON.parse(`{"functions": [${atLimit}]}`))).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('module.fn') });
    await expect(p.client.json('GET', '/v1/dags/deep')).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
    await expect(p.client.json('GET', '/v1/kv/deep-set')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
  });

  it('json: a body that is not valid UTF-8 is 400 MALFORMED_JSON, never stored with U+FFFD', async () => {
    const invalid = Buffer.concat([Buffer.from('["ok", "'), Buffer.from([0xff, 0xfe]), Buffer.from('"]')]);
    const r = await p.client.request('PUT', '/v1/kv/utf8-set?type=set', invalid);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error).toEqual({ code: 'MALFORMED_JSON', message: 'the body is not valid UTF-8' });
    await expect(p.client.json('GET', '/v1/kv/utf8-set')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    const call = await p.client.request('POST', '/v1/functions/counter.incr/call', Buffer.concat([Buffer.from('{"args": ["guarded'), Buffer.from([0xc3]), Buffer.from('", 1]}')]));
    expect(call.status).toBe(400);
    expect(JSON.parse(call.body.toString()).error.code).toBe('MALFORMED_JSON');
    const dag = await p.client.request('PUT', '/v1/dags/utf8', Buffer.from([...Buffer.from('{"functions": ["counter.incr'), 0xed, 0xa0, 0x80, ...Buffer.from('"]}')]));
    expect(JSON.parse(dag.body.toString()).error.code).toBe('MALFORMED_JSON');
  });

  it('routes: unknown routes and wrong methods', async () => {
    await expect(p.client.json('GET', '/v2/anything')).rejects.toMatchObject({ code: 'UNKNOWN_ROUTE' });
    await expect(p.client.json('POST', '/v1/functions')).rejects.toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });
});

/** The HTTP API's verdict on a key: the error code, or undefined when accepted. */
function httpVerdict(key: string): string | undefined {
  try {
    checkKeyName(key);
    return undefined;
  } catch (err) {
    if (err instanceof CloudburstError) return err.code;
    throw err;
  }
}

/** Pieces that URLs, percent-encoding and UTF-8 treat specially. */
const PIECES = ['a', 'Z', '0', '-', '.', '..', '/', '//', '%', '%2F', '%2e', '%zz', '?', '#', ' ', '+', '&', '=', '\\', ':', '@', '~', "'", '"', '<', '!', '*',
  'é', '日本', '😀', '\uFEFF', '\u00A0', '\u200B', '\u0001', '\u001f', '\n', '\t', '\u007f', '\u0085', '\uFFFD'];
const keys = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.constantFrom('.', '..', '...', '/', '/a', 'a/', 'a/../b', './a', 'x'.repeat(512), 'x'.repeat(513), 'é'.repeat(256), 'é'.repeat(257)),
);

describe('keys: one rule for guests and the HTTP API', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('kitchen');
    await p.deploy('counter');
  });
  afterAll(() => p.stop());

  const kvPath = (key: string): string => `/v1/kv/${encodeURIComponent(key)}`;

  it('a control character in a guest\'s key is INVALID_KEY, as over HTTP, and writes nothing', async () => {
    await expect(p.call('counter.incr', ['ctl\u0001key', 1])).rejects.toMatchObject({ code: 'INVALID_KEY' });
    await expect(p.call('kitchen.putGet', ['del\u007fkey', 'v'])).rejects.toMatchObject({ code: 'INVALID_KEY' });
    await expect(p.client.json('GET', kvPath('ctl\u0001key'))).rejects.toMatchObject({ code: 'INVALID_KEY' });
    await expect(p.client.json('PUT', kvPath('ctl\u0001key'), 'x', true)).rejects.toMatchObject({ code: 'INVALID_KEY' });
    // A failed call commits nothing: the key is nowhere (the outbox is empty once flushed).
    await expect.poll(() => metric(p.client, 'cloudburst_outbox_keys'), { timeout: 10_000 }).toBe(0);
    expect(p.kv.store.get('default/k/ctl\u0001key')).toBeUndefined();
  });

  it('keys URLs treat specially, written by a guest, are read and deleted over /v1/kv', async () => {
    for (const key of ['a/../b', '/lead', 'trail/', 'a//b', '%', '100%25', 'q?x=1', 'h#frag', 'sp ace', 'ünï😀', '...', '.a', 'a.', '\\\\x', '+']) {
      expect(await p.call('kitchen.putGet', [key, 'v']), key).toBe('v');
      expect(await p.client.json('GET', kvPath(key)), key).toMatchObject({ key, type: 'lww', value: 'v' });
      expect(await p.client.json('DELETE', kvPath(key)), key).toEqual({ deleted: key });
      await expect(p.client.json('GET', kvPath(key)), key).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    }
    // Dot segments cannot be in a URL path (clients and the router remove them): refused to all.
    for (const key of ['.', '..']) {
      await expect(p.call('counter.incr', [key, 1]), key).rejects.toMatchObject({ code: 'INVALID_KEY' });
      await expect(p.call('kitchen.putGet', [key, 'v']), key).rejects.toMatchObject({ code: 'INVALID_KEY' });
      expect(httpVerdict(key)).toBe('INVALID_KEY');
    }
  });

  it('property: the guest and the HTTP API accept the same keys, and what a guest writes HTTP reads and deletes', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(keys, async (key) => {
      const verdict = httpVerdict(key);
      const res = await p.client.request('POST', '/v1/functions/kitchen.putGet/call', JSON.stringify({ args: [key, `v${++n}`] }));
      const body = JSON.parse(res.body.toString()) as { result?: string; error?: { code: string } };
      if (verdict !== undefined) {
        expect(body.error?.code, JSON.stringify(key)).toBe(verdict);
        return;
      }
      expect(body, JSON.stringify(key)).toEqual({ result: `v${n}` });
      expect(await p.client.json('GET', kvPath(key))).toMatchObject({ key, type: 'lww', value: `v${n}` });
      expect(await p.client.json('DELETE', kvPath(key))).toEqual({ deleted: key });
      await expect(p.client.json('GET', kvPath(key))).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    }), { numRuns: 300, interruptAfterTimeLimit: 40_000 });
  }, 60_000);

  it('property: the guest\'s bytes are a key exactly when they are UTF-8 of a key the HTTP API accepts', () => {
    const bytes = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 24 }), keys.map((k) => new Uint8Array(Buffer.from(k, 'utf8'))));
    fc.assert(fc.property(bytes, (b) => {
      const text = Buffer.from(b).toString('utf8');
      const utf8 = Buffer.from(text, 'utf8').equals(b);
      let guest: string | undefined;
      try {
        guest = guestKeyName(b);
      } catch (err) {
        expect(err).toMatchObject({ code: 'INVALID_KEY' });
      }
      if (utf8 && b.length > 0 && httpVerdict(text) === undefined) expect(guest).toBe(text);
      else expect(guest).toBeUndefined();
    }), { numRuns: 2000 });
  });
});
