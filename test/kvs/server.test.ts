import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client, Pool, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_MAX_DEPTH } from '../../common/index.ts';
import {
  counter,
  decode,
  type GSet,
  decodeFrame,
  encode,
  encodeFrame,
  equals,
  gset,
  KV_HEADERS,
  KV_LIMITS,
  KV_PATHS,
  keyPath,
  lww,
  max,
  startKvNode,
  type Counter,
  type KvNode,
} from '../../kvs/index.ts';
import { keepAliveLoad } from '../helpers/keep-alive-load.ts';
import { rawRequest, type RawReply } from '../helpers/raw-http.ts';
import { signedHeaders, signing, testSecret } from '../helpers/cluster-secret.ts';

const te = new TextEncoder();
const s = (ms: number) => ({ ms, c: 0, writer: 'w' });

let dir: string;
let node: KvNode;
let pool: Pool;
// Every node of this file runs with it; requests are signed (test/kvs/cluster-auth.test.ts checks the refusals).
const clusterSecret = testSecret();
const raw = (method: string, path: string, body: Buffer, opts: Parameters<typeof rawRequest>[4] = {}) =>
  rawRequest(node.url, method, path, body, { ...opts, headers: { ...opts.headers, ...signedHeaders(clusterSecret, method, path) } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-server-'));
  node = await startKvNode({ dataDir: dir, port: 0, nodeId: 'kv-test', clusterSecret });
  pool = signing(new Pool(node.url, { connections: 4 }), clusterSecret);
});

afterAll(async () => {
  await pool?.close();
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

type Body = Uint8Array | string | AsyncIterable<Uint8Array>;

async function call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: Body, headers: Record<string, string> = {}) {
  const opts: Dispatcher.RequestOptions = { method, path, headers };
  if (body !== undefined) opts.body = typeof body === 'string' || body instanceof Uint8Array ? body : Readable.from(body);
  const res = await pool.request(opts);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const json = () => JSON.parse(bytes.toString('utf8')) as { error: { code: string } } & Record<string, unknown>;
  return { status: res.statusCode, headers: res.headers, bytes, json };
}

async function expectError(p: ReturnType<typeof call>, status: number, code: string) {
  const r = await p;
  expect({ status: r.status, code: r.json().error.code }).toEqual({ status, code });
  return r;
}

/** Reads a key back through the node's store: what a failed request must not have changed. */
const stored = (key: string) => node.store.getEncoded(key);

describe('KV node', () => {
  it('KV node: healthz and stats answer', async () => {
    const health = await call('GET', KV_PATHS.healthz);
    expect(health.json()).toEqual({ ok: true, node: 'kv-test' });
    expect(health.headers[KV_HEADERS.node]).toBe('kv-test');
    await call('PUT', keyPath('stats/k'), encode(max.put(undefined, 1n)));
    const stats = (await call('GET', KV_PATHS.stats)).json();
    expect(stats['keys']).toBeGreaterThanOrEqual(1);
    expect(stats['node']).toBe('kv-test');
  });

  it('KV node: PUT merges and returns the merged value, GET returns it', async () => {
    const key = 'default/k/a b/ü/%/\u{1F600}';
    const first = await call('PUT', keyPath(key), encode(counter.add(undefined, 'w1', 2n)));
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/octet-stream');
    const merged = await call('PUT', keyPath(key), encode(counter.add(undefined, 'w2', 3n)));
    expect(counter.total(decode(merged.bytes) as Counter)).toBe(5n);
    const got = await call('GET', keyPath(key));
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.bytes, merged.bytes)).toBe(0);
  });

  it('KV node: GET of an absent key is 404 KEY_NOT_FOUND and keeps the connection', async () => {
    const r = await expectError(call('GET', keyPath('nope')), 404, 'KEY_NOT_FOUND');
    expect(r.headers['connection']).not.toBe('close');
  });

  it('KV node: batch merge applies every entry and reports per entry', async () => {
    await call('PUT', keyPath('b/typed'), encode(max.put(undefined, 1n)));
    const frame = encodeFrame([
      { key: 'b/1', value: encode(gset.add(undefined, te.encode('x'))) },
      { key: 'b/typed', value: encode(lww.write(te.encode('no'), s(1))) },
      { key: 'b/2', value: Uint8Array.of(1, 9) },
      { key: '', value: encode(max.put(undefined, 1n)) },
      { key: 'b/3', value: undefined },
      { key: 'b/1', value: encode(gset.add(undefined, te.encode('y'))) },
    ]);
    const r = await call('POST', KV_PATHS.batchMerge, frame);
    expect(r.status).toBe(200);
    const results = (r.json()['results'] as ({ code: string } | null)[]).map((x) => x?.code ?? null);
    expect(results).toEqual([null, 'KV_TYPE_MISMATCH', 'KV_UNKNOWN_TYPE', 'INVALID_KEY', 'KV_BAD_VALUE', null]);
    expect((decode(stored('b/1')!) as GSet).members).toHaveLength(2);
    expect(decode(stored('b/typed')!)).toMatchObject({ type: 'max', value: 1n });
    expect(stored('b/2')).toBeUndefined();
    expect(stored('b/3')).toBeUndefined();
  });

  it('KV node: batch get answers in request order, with missing keys marked', async () => {
    const v = lww.write(te.encode('v'), s(1));
    await call('PUT', keyPath('g/1'), encode(v));
    const r = await call('POST', KV_PATHS.batchGet, JSON.stringify({ keys: ['g/missing', 'g/1', 'g/1'] }));
    expect(r.status).toBe(200);
    const frame = decodeFrame(r.bytes);
    expect(frame.map((e) => e.key)).toEqual(['g/missing', 'g/1', 'g/1']);
    expect(frame[0]!.value).toBeUndefined();
    expect(equals(decode(frame[1]!.value!), v)).toBe(true);
  });
});

describe('KV node: a long stall', () => {
  it('KV node: a node alone in its ring still serves reads right after its event loop stood still (nobody to catch up with)', async () => {
    const d = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-stall-'));
    const alone = await startKvNode({ dataDir: d, port: 0, heartbeatMs: 50, downAfterMs: 200, clusterSecret });
    const p = signing(new Pool(alone.url, { connections: 1 }), clusterSecret);
    try {
      expect((await (await p.request({ method: 'PUT', path: keyPath('stall'), body: encode(lww.write(te.encode('v'), s(1))) })).body.arrayBuffer()).byteLength).toBeGreaterThan(0);
      // Hold the event loop well past downAfterMs, as merging a 64 MiB value on a loaded machine can.
      const until = Date.now() + 600;
      while (Date.now() < until);
      // Reads for a while after: the heartbeat that notices the stall comes first.
      const statuses = new Set<number>();
      for (const end = Date.now() + 400; Date.now() < end;) {
        const res = await p.request({ method: 'GET', path: keyPath('stall') });
        await res.body.arrayBuffer();
        statuses.add(res.statusCode);
      }
      expect([...statuses]).toEqual([200]);
    } finally {
      await p.close();
      await alone.close();
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('KV node: bad input changes nothing', () => {
  const key = 'bad/k';
  let before: Uint8Array;
  beforeAll(async () => {
    await call('PUT', keyPath(key), encode(counter.add(undefined, 'w', 7n)));
    before = stored(key)!;
  });
  const unchanged = () => expect(Buffer.compare(stored(key)!, before)).toBe(0);

  it('KV node: an unknown lattice type is 400 KV_UNKNOWN_TYPE', async () => {
    await expectError(call('PUT', keyPath(key), Uint8Array.of(1, 42, 0, 0)), 400, 'KV_UNKNOWN_TYPE');
    await expectError(call('PUT', keyPath('bad/new'), Uint8Array.of(1, 42)), 400, 'KV_UNKNOWN_TYPE');
    unchanged();
    expect(stored('bad/new')).toBeUndefined();
  });

  it('KV node: a type mismatch is 409 KV_TYPE_MISMATCH', async () => {
    await expectError(call('PUT', keyPath(key), encode(lww.write(te.encode('x'), s(1)))), 409, 'KV_TYPE_MISMATCH');
    unchanged();
  });

  it('KV node: a truncated or empty body is 400 KV_BAD_VALUE', async () => {
    const full = encode(counter.add(undefined, 'w2', 1n));
    await expectError(call('PUT', keyPath(key), full.subarray(0, full.length - 3)), 400, 'KV_BAD_VALUE');
    await expectError(call('PUT', keyPath(key), new Uint8Array(0)), 400, 'KV_BAD_VALUE');
    unchanged();
  });

  it('KV node: a malformed batch frame is 400 and merges nothing', async () => {
    const good = encodeFrame([
      { key: 'bad/f1', value: encode(max.put(undefined, 1n)) },
      { key, value: encode(counter.add(undefined, 'w3', 1n)) },
    ]);
    await expectError(call('POST', KV_PATHS.batchMerge, good.subarray(0, good.length - 1)), 400, 'INVALID_REQUEST');
    const badUtf8Key = Buffer.concat([good, Uint8Array.of(1, 0, 0xff, 0, 0, 0, 0)]);
    await expectError(call('POST', KV_PATHS.batchMerge, badUtf8Key), 400, 'INVALID_REQUEST');
    expect(stored('bad/f1')).toBeUndefined();
    unchanged();
  });

  it('KV node: invalid keys are 400 INVALID_KEY', async () => {
    const value = encode(max.put(undefined, 1n));
    await expectError(call('PUT', KV_PATHS.keys + 'x'.repeat(1025), value), 400, 'INVALID_KEY');
    await expectError(call('PUT', KV_PATHS.keys + '%E0%A4%A', value), 400, 'INVALID_KEY');
    await expectError(call('PUT', KV_PATHS.keys + '%ED%A0%80', value), 400, 'INVALID_KEY'); // a UTF-8 surrogate
    await expectError(call('GET', KV_PATHS.keys), 400, 'INVALID_KEY');
    await expectError(call('POST', KV_PATHS.batchGet, JSON.stringify({ keys: ['ok', ''] })), 400, 'INVALID_KEY');
    expect(stored('x'.repeat(1024))).toBeUndefined();
  });

  it('KV node: batch get with bad JSON or shape is 400', async () => {
    await expectError(call('POST', KV_PATHS.batchGet, '{"keys": ['), 400, 'MALFORMED_JSON');
    await expectError(call('POST', KV_PATHS.batchGet, '{"keys": "k"}'), 400, 'INVALID_REQUEST');
    await expectError(call('POST', KV_PATHS.batchGet, 'null'), 400, 'INVALID_REQUEST');
  });

  it(`KV node: a JSON body nested deeper than ${JSON_MAX_DEPTH} levels is 400 INVALID_REQUEST on every JSON route`, async () => {
    for (const depth of [JSON_MAX_DEPTH + 1, 20_000]) {
      const v = '['.repeat(depth) + ']'.repeat(depth);
      for (const [path, body] of [
        [KV_PATHS.batchGet, `{"keys": ${v}}`],
        [KV_PATHS.ringRemove, `{"id": ${v}}`],
        [KV_PATHS.subscriptions, `{"subscriber": "http://127.0.0.1:1", "keys": ${v}}`],
        [KV_PATHS.gossip, `{"from": "x", "members": ${v}}`],
        [KV_PATHS.digest, `{"from": "x", "digest": ${v}}`],
        [KV_PATHS.sync, `{"from": "x", "members": ${v}}`],
      ] as const) {
        const r = await call('POST', path, body);
        expect({ path, status: r.status, error: r.json().error }).toMatchObject({ path, status: 400, error: { code: 'INVALID_REQUEST', maxDepth: JSON_MAX_DEPTH } });
      }
    }
  });

  it('KV node: a JSON body that is not valid UTF-8 is 400 MALFORMED_JSON', async () => {
    const body = Buffer.concat([Buffer.from('{"keys": ["'), Buffer.from([0xff]), Buffer.from('"]}')]);
    const r = await expectError(call('POST', KV_PATHS.batchGet, body), 400, 'MALFORMED_JSON');
    expect(r.json().error).toMatchObject({ message: 'the body is not valid UTF-8' });
  });

  it('KV node: an oversized PUT is 413 while streaming, before the body ends', async () => {
    const chunk = new Uint8Array(1 << 20);
    let sent = 0;
    async function* body() {
      // 16 MiB past the limit: the server must answer without reading all of it.
      for (let i = 0; i < KV_LIMITS.maxValueBytes / chunk.length + 16; i++) {
        sent += chunk.length;
        yield chunk;
      }
    }
    const r = await expectError(call('PUT', keyPath(key), body()), 413, 'KV_VALUE_TOO_LARGE');
    expect(r.headers['connection']).toBe('close');
    expect(sent).toBeLessThan(KV_LIMITS.maxValueBytes + 16 * chunk.length);
    unchanged();
  });

  it('KV node: a declared Content-Length over the limit is refused at once', async () => {
    async function* body() {
      yield new Uint8Array(1024);
      await new Promise(() => {}); // never finishes: only the header can trigger the answer
    }
    const size = String(KV_LIMITS.maxBodyBytes + 1);
    await expectError(call('POST', KV_PATHS.batchMerge, body(), { 'content-length': size }), 413, 'BODY_TOO_LARGE');
    await expectError(call('PUT', keyPath(key), body(), { 'content-length': String(KV_LIMITS.maxValueBytes + 1) }), 413, 'KV_VALUE_TOO_LARGE');
    unchanged();
  });

  it('KV node: a client that writes a whole over-limit body before reading gets the 413 and its body, every time', async () => {
    const outcome = (r: RawReply) => ({ status: r.status, code: r.status === undefined ? undefined : JSON.parse(r.body.toString()).error?.code, error: r.error, connection: r.headers['connection'] });
    const tooLarge = (code: string) => ({ status: 413, code, error: undefined, connection: 'close' });
    const json = Buffer.alloc(8 * 1024 * 1024 + 1, 0x20); // the JSON routes' limit is 8 MiB
    const outcomes = [];
    const expected = [];
    for (let i = 0; i < 6; i++) {
      outcomes.push(outcome(await raw('POST', KV_PATHS.subscriptions, json)));
      outcomes.push(outcome(await raw('POST', KV_PATHS.subscriptions, json, { chunked: true })));
      expected.push(tooLarge('BODY_TOO_LARGE'), tooLarge('BODY_TOO_LARGE'));
    }
    const value = Buffer.alloc(KV_LIMITS.maxValueBytes + 1);
    for (let i = 0; i < 2; i++) {
      outcomes.push(outcome(await raw('PUT', keyPath(key), value)));
      expected.push(tooLarge('KV_VALUE_TOO_LARGE'));
    }
    expect(outcomes).toEqual(expected);
    unchanged();
  });

  it('KV node: Expect: 100-continue gets a 413 before the body is sent, and 100 Continue for a body within the limit', async () => {
    const r = await raw('PUT', keyPath(key), Buffer.alloc(KV_LIMITS.maxValueBytes + 1), { expectContinue: true });
    expect({ status: r.status, code: JSON.parse(r.body.toString()).error?.code, continued: r.continued, bodySent: r.bodySent, error: r.error })
      .toEqual({ status: 413, code: 'KV_VALUE_TOO_LARGE', continued: false, bodySent: 0, error: undefined });
    unchanged();
    const ok = await raw('PUT', keyPath('expect/ok'), Buffer.from(encode(max.put(undefined, 5n))), { expectContinue: true });
    expect({ status: ok.status, continued: ok.continued }).toEqual({ status: 200, continued: true });
    expect(decode(ok.body)).toMatchObject({ type: 'max', value: 5n });
  });

  it('KV node: a client that disconnects mid-body changes nothing and harms no one', async () => {
    const body = encode(counter.add(undefined, 'w9', 1n));
    const url = new URL(node.url);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    const auth = Object.entries(signedHeaders(clusterSecret, 'PUT', keyPath(key))).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`PUT ${keyPath(key)} HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n${auth}\r\n`);
    socket.write(body.subarray(0, 5));
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    unchanged();
    expect((await call('GET', KV_PATHS.healthz)).status).toBe(200);
  });

  it('KV node: unknown routes are 404, wrong methods 405 with Allow', async () => {
    await expectError(call('GET', '/kv/v1/nope'), 404, 'UNKNOWN_ROUTE');
    const r = await expectError(call('DELETE', keyPath(key)), 405, 'METHOD_NOT_ALLOWED');
    expect(r.headers['allow']).toBe('GET, PUT');
    unchanged();
  });
});

describe('KV node lifecycle', () => {
  it('KV node: close under keep-alive load answers every request sent on an open connection (200 or 503 SHUTTING_DOWN)', async () => {
    const d = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-drain-'));
    const n = await startKvNode({ dataDir: d, clusterSecret });
    // One connection each (pipelining 1); a request left unanswered fails after 15 s.
    const clients = Array.from({ length: 24 }, () => signing(new Client(n.url, { pipelining: 1, headersTimeout: 15_000, bodyTimeout: 15_000 }), clusterSecret));
    let load: Awaited<ReturnType<typeof keepAliveLoad>> | undefined;
    try {
      load = await keepAliveLoad(clients, [
        (i) => ({ method: 'PUT', path: keyPath(`drain/${i % 50}`), body: encode(counter.add(undefined, 'w', BigInt(i + 1))) }),
        () => ({ method: 'GET', path: KV_PATHS.healthz }),
        (i) => ({ method: 'POST', path: KV_PATHS.batchGet, body: JSON.stringify({ keys: [`drain/${i % 50}`] }) }),
      ]);
      const { tally } = load;
      load.mark();
      await n.close();
      await load.finished(30_000);
      const summary = JSON.stringify({ ...tally, socketErrors: tally.socketErrors.length });
      expect(tally.socketErrors, summary).toEqual([]);
      expect(tally.otherAnswers, summary).toEqual([]);
      expect(tally.answeredAfterMark, summary).toBeGreaterThan(0);
      expect(tally.refused, summary).toBe(clients.length);
    } finally {
      load?.stop();
      await Promise.all(clients.map((c) => c.destroy()));
      await n.close();
      await rm(d, { recursive: true, force: true });
    }
  });

  it('KV node: a request sent on an idle keep-alive connection after close() began is served', async () => {
    const d = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-idle-'));
    const n = await startKvNode({ dataDir: d, clusterSecret });
    const client = new Client(n.url, { pipelining: 1 });
    try {
      const first = await client.request({ method: 'GET', path: KV_PATHS.healthz });
      await first.body.dump();
      expect(first.headers['connection']).toBe('keep-alive');
      // The client cannot know yet that the node is closing: it reuses its idle connection.
      const closing = n.close();
      const late = await client.request({ method: 'GET', path: KV_PATHS.healthz });
      expect({ status: late.statusCode, body: await late.body.json() }).toEqual({ status: 200, body: { ok: true, node: n.nodeId } });
      // close() ends once the connection is closed (after the answer, or idle after the grace).
      await closing;
      await expect(client.request({ method: 'GET', path: KV_PATHS.healthz })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await client.destroy();
      await n.close();
      await rm(d, { recursive: true, force: true });
    }
  });

  it('KV node: close stops serving and closes the store', async () => {
    const d = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-close-'));
    try {
      const n = await startKvNode({ dataDir: d, clusterSecret });
      const p = new Pool(n.url);
      try {
        const res = await p.request({ method: 'GET', path: KV_PATHS.healthz });
        await res.body.dump();
        await n.close();
        await expect(p.request({ method: 'GET', path: KV_PATHS.healthz })).rejects.toThrow();
        expect(() => n.store.keyCount()).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
        // The node id is kept in the data folder across restarts.
        const again = await startKvNode({ dataDir: d, clusterSecret });
        expect(again.nodeId).toBe(n.nodeId);
        await again.close();
      } finally {
        await p.close();
      }
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
