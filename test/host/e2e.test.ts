import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient, counter, encode, encodeFrame, lww } from '../../kvs/index.ts';
import { guestBytes, startPlatform, type Platform } from '../helpers/platform.ts';
import { memoryMinimum, withMemoryLimits } from '../helpers/wasm-rewrite.ts';

describe('host: end to end over HTTP', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
    for (const m of ['math', 'counter', 'arrays']) await p.deploy(m);
  });
  afterAll(() => p.stop());

  it('deploy: answers with every typed export and its types', async () => {
    const out = await p.deploy('math');
    expect(out).toMatchObject({
      module: 'math',
      functions: [
        { name: 'math.increment', params: [{ name: 'x', type: 'i64' }], result: 'i64' },
        { name: 'math.square', params: [{ name: 'x', type: 'i64' }], result: 'i64' },
      ],
    });
  });

  it('functions: list and show', async () => {
    const { functions } = await p.client.json<{ functions: { name: string }[] }>('GET', '/v1/functions');
    expect(functions.map((f) => f.name)).toEqual(['arrays.sum', 'arrays.sum10', 'counter.get', 'counter.incr', 'math.increment', 'math.square']);
    expect(await p.client.json('GET', '/v1/functions/counter.incr')).toEqual({
      name: 'counter.incr', module: 'counter', export: 'incr',
      params: [{ name: 'key', type: 'string' }, { name: 'by', type: 'i64' }], result: 'i64',
    });
  });

  it('math: returns correct results, including 64-bit values beyond 2^53', async () => {
    for (const x of [0, 1, 7, -12, 94906265]) {
      expect(await p.call('math.square', [x])).toBe(x * x);
      expect(await p.call('math.increment', [x])).toBe(x + 1);
    }
    expect(await p.call('math.increment', ['9007199254740993'])).toBe('9007199254740994');
    expect(await p.call('math.square', [3037000499])).toBe('9223372030926249001');
  });

  it('counter: state written by one call is read by the next', async () => {
    expect(await p.call('counter.incr', ['hits', 5])).toBe(5);
    expect(await p.call('counter.incr', ['hits', 5])).toBe(10);
    expect(await p.call('counter.get', ['hits'])).toBe(10);
    expect(await p.client.json('GET', '/v1/kv/hits')).toMatchObject({ type: 'counter', value: 10 });
  });

  it('counter: 200 concurrent increments end with the exact total', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => p.call('counter.incr', ['concurrent', i + 1])));
    expect(await p.call('counter.get', ['concurrent'])).toBe((200 * 201) / 2);
  });

  it('arrays: sums a Float64Array passed inline and by reference', async () => {
    expect(await p.call('arrays.sum', [[1.5, 2.5, 3]])).toBe(7);
    const values = Float64Array.from({ length: 1000 }, (_, i) => i * 0.5);
    await p.client.request('PUT', '/v1/kv/big-array', new Uint8Array(values.buffer), { 'content-type': 'application/octet-stream' });
    expect(await p.call('arrays.sum', [{ ref: 'big-array' }])).toBe(values.reduce((a, b) => a + b, 0));
  });

  it('kv: a PUT or DELETE replaces a value stamped ahead of this host\'s clock (another host\'s, or a worker\'s)', async () => {
    const kv = new KvClient({ url: p.kv.url, clusterSecret: p.clusterSecret });
    const ahead = (text: string, key: string) => kv.merge(`default/k/${key}`, lww.write(Buffer.from(text), { ms: Date.now() + 60_000, c: 0, writer: 'h-fast/w0' }));
    try {
      await ahead('from the future', 'skewed-put');
      expect(await p.client.json('PUT', '/v1/kv/skewed-put', 'now', true)).toMatchObject({ bytes: 3 });
      expect(await p.client.json('GET', '/v1/kv/skewed-put?fresh=1')).toMatchObject({ value: 'now' });
      await ahead('from the future', 'skewed-delete');
      expect(await p.client.json('DELETE', '/v1/kv/skewed-delete')).toEqual({ deleted: 'skewed-delete' });
      await expect(p.client.json('GET', '/v1/kv/skewed-delete?fresh=1')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    } finally {
      await kv.close();
    }
  });

  it('kv: put, get and delete each lattice type through HTTP', async () => {
    // The answer to a write does not repeat the value: its size, and a set's member count.
    expect(await p.client.json('PUT', '/v1/kv/greeting', 'hello', true)).toEqual({ key: 'greeting', type: 'lww', bytes: 5, updatedAt: expect.any(String) });
    expect(await p.client.json('GET', '/v1/kv/greeting')).toMatchObject({ key: 'greeting', type: 'lww', value: 'hello' });
    const raw = await p.client.request('GET', '/v1/kv/greeting', undefined, { accept: 'application/octet-stream' });
    expect(raw.body.toString()).toBe('hello');
    await p.client.json('PUT', '/v1/kv/visits?type=counter', '3', true);
    expect(await p.client.json('PUT', '/v1/kv/visits?type=counter', '{"add": 4}', true)).toMatchObject({ value: 7 });
    expect(await p.client.json('PUT', '/v1/kv/tags?type=set', '["b","a","b"]', true)).toEqual({ key: 'tags', type: 'set', members: 2 });
    expect(await p.client.json('GET', '/v1/kv/tags')).toMatchObject({ type: 'set', value: ['a', 'b'] });
    expect(await p.client.json('PUT', '/v1/kv/best?type=max', '12', true)).toMatchObject({ value: 12 });
    expect(await p.client.json('PUT', '/v1/kv/best?type=max', '5', true)).toMatchObject({ value: 12 });
    expect(await p.client.json('PUT', '/v1/kv/users/alice', 'nested/key', true)).toMatchObject({ key: 'users/alice' });
    await p.client.json('DELETE', '/v1/kv/greeting');
    await expect(p.client.json('GET', '/v1/kv/greeting')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    await p.client.json('DELETE', '/v1/kv/visits');
    await expect(p.client.json('GET', '/v1/kv/visits')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
  });

  it('kv: a write is acknowledged only once the KV node has it', async () => {
    await p.client.json('PUT', '/v1/kv/acked', 'yes', true);
    const stored = await p.kv.store.get('default/k/acked');
    expect(stored?.type === 'lww' && Buffer.from(stored.value).toString()).toBe('yes');
  });

  it('calls: puts from guests reach the KV node through the outbox', async () => {
    await p.call('counter.incr', ['flushed', 2]);
    await expect.poll(() => {
      const v = p.kv.store.get('default/k/flushed');
      return v?.type === 'counter' ? [...v.entries.values()].reduce((a, e) => a + e.p - e.n, 0n) : undefined;
    }, { timeout: 5000 }).toBe(2n);
  });

  it('push: a change the KV tier pushes lands in the cache, where calls see it', async () => {
    await p.call('counter.incr', ['pushed', 1]);
    // Another host's increment, as the tier would push it after merging it.
    const remote = counter.add(undefined, 'h-other/w0', 41n);
    const frame = encodeFrame([{ key: 'default/k/pushed', value: encode(remote) }]);
    const res = await p.internal.request('POST', '/v1/internal/kv/push', frame, { 'content-type': 'application/octet-stream' });
    expect(res.status).toBe(204);
    expect(await p.call('counter.get', ['pushed'])).toBe(42);
  });

  it('push: a malformed frame is refused and changes nothing', async () => {
    const res = await p.internal.request('POST', '/v1/internal/kv/push', Buffer.from([0, 5, 1]), { 'content-type': 'application/octet-stream' });
    expect(res.status).toBe(400);
    expect(await p.call('counter.get', ['pushed'])).toBe(42);
  });

  it('modules: deleting a module removes its functions', async () => {
    await p.deploy('scratch', 'math');
    expect(await p.call('scratch.square', [3])).toBe(9);
    await p.client.json('DELETE', '/v1/modules/scratch');
    await expect(p.call('scratch.square', [3])).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
    await expect(p.client.json('DELETE', '/v1/modules/scratch')).rejects.toMatchObject({ code: 'UNKNOWN_MODULE' });
  });

  it('health and metrics: liveness, call counts, errors and latency histograms', async () => {
    expect(await p.client.json('GET', '/healthz')).toMatchObject({ ok: true });
    await p.call('math.square', [2]);
    await p.call('math.square', ['x']).catch(() => undefined);
    const text = (await p.client.request('GET', '/metrics')).body.toString();
    expect(text).toMatch(/cloudburst_calls_total\{function="math.square",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/cloudburst_call_duration_seconds_count\{function="math.square"\} [1-9]/);
    expect(text).toContain('cloudburst_outbox_keys');
  });
});

describe('host: restarts', () => {
  it('a module loaded from the KV tier keeps the memory maximum it declares', async () => {
    // After a restart (or on another host) the module comes from the tier, not from the upload.
    const bytes = guestBytes('math');
    const min = memoryMinimum(bytes);
    const first = await startPlatform();
    await first.client.json('PUT', '/v1/modules/small', withMemoryLimits(bytes, min, min + 16), true);
    expect(await first.call('small.square', [6])).toBe(36);
    await first.stop(true);
    const second = await startPlatform({ dataDir: first.dataDir });
    try {
      expect(await second.call('small.square', [7])).toBe(49);
    } finally {
      await second.stop();
    }
  });

  it('keeps functions and state across a clean restart', async () => {
    const first = await startPlatform();
    await first.deploy('counter');
    await first.call('counter.incr', ['persist', 41]);
    await first.stop(true);
    const second = await startPlatform({ dataDir: first.dataDir });
    try {
      expect(await second.call('counter.incr', ['persist', 1])).toBe(42);
    } finally {
      await second.stop();
    }
  });
});
