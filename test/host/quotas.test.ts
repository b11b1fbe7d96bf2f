import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestBytes, metric, startPlatform, tenantHeaders, tenantToken, type Platform } from '../helpers/platform.ts';
import { memoryMinimum, withMemoryLimits } from '../helpers/wasm-rewrite.ts';

// Per-tenant quotas, enforced where each request is accepted: at a quota a request is
// admitted; just over it, 429 QUOTA_EXCEEDED (with Retry-After where waiting helps), a
// message naming the quota and its limit, nothing changed, and a refusal counted in /metrics.

const JSON_BODY = { 'content-type': 'application/json' };

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { result?: unknown; future?: string; error?: { code: string; message: string; quota?: string; limit?: number } };
}

async function send(p: Platform, tenant: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Answer> {
  const raw = body instanceof Uint8Array;
  const payload = body === undefined ? undefined : raw ? body : JSON.stringify(body);
  const headers = { ...(await tenantHeaders(p, tenant)), ...(body === undefined ? {} : raw ? { 'content-type': 'application/octet-stream' } : JSON_BODY) };
  const reply = await p.client.request(method, path, payload, headers);
  const text = reply.body.toString();
  const retryAfter = reply.headers['retry-after'];
  return { status: reply.status, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body: text.length > 0 ? JSON.parse(text) : {} };
}

/** Deploys guests into each tenant (modules are per tenant). */
async function deployIn(p: Platform, tenants: string[], ...modules: string[]): Promise<void> {
  for (const t of tenants) {
    for (const m of modules) {
      const r = await send(p, t, 'PUT', `/v1/modules/${m}`, new Uint8Array(guestBytes(m)));
      if (r.status !== 200) throw new Error(`deploying ${m} in ${t}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }
}

const call = (p: Platform, tenant: string, fn: string, body: Record<string, unknown>) => send(p, tenant, 'POST', `/v1/functions/${fn}/call`, body);

/** `cloudburst_quota_refusals_total{quota="..."}` of the host. */
async function refusals(p: Platform, quota: string): Promise<number> {
  const text = (await p.client.request('GET', '/metrics')).body.toString();
  const m = new RegExp(`^cloudburst_quota_refusals_total\\{quota="${quota}"\\} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no refusals metric for ${quota}`);
  return Number(m[1]);
}

function expectRefused(a: Answer, quota: string, limit: number): void {
  expect(a.status).toBe(429);
  expect(a.body.error).toMatchObject({ code: 'QUOTA_EXCEEDED', quota, limit });
  expect(a.body.error!.message).toContain(String(limit));
}

describe('quotas: calls at once (concurrentCalls), per tenant and host', () => {
  let p: Platform;
  beforeAll(async () => {
    // Two calls of tenant a hold two workers for good; the third worker serves the rest.
    p = await startPlatform({ workers: 3, quotas: { concurrentCalls: 2 } });
    await deployIn(p, ['a', 'b', 'c'], 'math', 'hostile', 'kitchen');
  });
  afterAll(() => p.stop());

  it('the calls at the quota run; the next is refused with Retry-After and writes nothing; other tenants are not held up', async () => {
    // Asynchronous calls hold their place until they end: these never end (the host is
    // stopped under them).
    for (let i = 0; i < 2; i++) {
      const a = await call(p, 'a', 'hostile.spin', { async: true, timeoutMs: 300_000 });
      expect(a.status).toBe(202);
    }
    const before = await refusals(p, 'concurrentCalls');
    const over = await call(p, 'a', 'kitchen.putOnly', { args: ['conc-key', 'v'] });
    expectRefused(over, 'concurrentCalls', 2);
    expect(over.retryAfter).toBe('1');
    expect(await refusals(p, 'concurrentCalls')).toBe(before + 1);
    expect((await send(p, 'a', 'GET', '/v1/kv/conc-key')).status).toBe(404);
    // A DAG call counts too.
    await send(p, 'a', 'PUT', '/v1/dags/one', { functions: ['math.square'], edges: [] });
    expectRefused(await send(p, 'a', 'POST', '/v1/dags/one/call', { args: { 'math.square': [3] } }), 'concurrentCalls', 2);
    // Another tenant has its own count (and its own DAGs).
    expect(await call(p, 'b', 'math.square', { args: [7] })).toMatchObject({ status: 200, body: { result: 49 } });
    expect((await send(p, 'b', 'PUT', '/v1/dags/one', { functions: ['math.square'], edges: [] })).status).toBe(200);
    expect((await send(p, 'b', 'POST', '/v1/dags/one/call', { args: { 'math.square': [3] } })).body).toMatchObject({ result: 9 });
  });

  it('a call that ended gives its place back', async () => {
    for (let i = 0; i < 2; i++) expect((await call(p, 'c', 'math.square', { args: [i] })).status).toBe(200);
    const held = await call(p, 'c', 'math.square', { args: [4], async: true });
    expect(held.status).toBe(202);
    await expect.poll(async () => (await send(p, 'c', 'GET', `/v1/futures/${held.body.future}?wait=1000`)).status).toBe(200);
    const a = await call(p, 'c', 'hostile.trap', {});
    expect(a.body.error?.code).toBe('GUEST_TRAP');
    for (let i = 0; i < 2; i++) expect((await call(p, 'c', 'math.square', { args: [i] })).status).toBe(200);
  });
});

describe('quotas: calls per second (token bucket)', () => {
  let p: Platform;
  beforeAll(async () => {
    // A bucket of 2 refilled once in 1000 s: within the test, two calls and no more.
    p = await startPlatform({ quotas: { callsPerSecond: 0.001, burst: 2 } });
    await deployIn(p, ['a', 'b'], 'math', 'kitchen');
  });
  afterAll(() => p.stop());

  it('the burst is admitted, the next call refused until the bucket has a token again, and nothing of it runs', async () => {
    expect((await call(p, 'a', 'math.square', { args: [2] })).status).toBe(200);
    expect((await call(p, 'a', 'math.square', { args: [3] })).status).toBe(200);
    const over = await call(p, 'a', 'kitchen.putOnly', { args: ['rate-key', 'v'] });
    expectRefused(over, 'callsPerSecond', 0.001);
    // About 1000 s: when the bucket holds a whole token again.
    expect(Number(over.retryAfter)).toBeGreaterThan(900);
    expect(Number(over.retryAfter)).toBeLessThanOrEqual(1000);
    expect((await send(p, 'a', 'GET', '/v1/kv/rate-key')).status).toBe(404);
    expect(await refusals(p, 'callsPerSecond')).toBeGreaterThanOrEqual(1);
    expect((await call(p, 'b', 'math.square', { args: [5] })).body.result).toBe(25);
  });
});

describe('quotas: deadline ceiling (maxTimeoutMs)', () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform({ quotas: { maxTimeoutMs: 1000 } });
    await deployIn(p, ['a'], 'math');
    await send(p, 'a', 'PUT', '/v1/dags/sq', { functions: ['math.square'], edges: [] });
  });
  afterAll(() => p.stop());

  it('a call may ask for the ceiling, not a millisecond more; one that asks for nothing gets the ceiling', async () => {
    expect((await call(p, 'a', 'math.square', { args: [3], timeoutMs: 1000 })).body.result).toBe(9);
    expect((await call(p, 'a', 'math.square', { args: [3] })).body.result).toBe(9);
    const over = await call(p, 'a', 'math.square', { args: [3], timeoutMs: 1001 });
    expectRefused(over, 'maxTimeoutMs', 1000);
    expect(over.body.error!.message).toMatch(/at most 1000 ms/);
    // Waiting does not help.
    expect(over.retryAfter).toBeUndefined();
    expectRefused(await send(p, 'a', 'POST', '/v1/dags/sq/call', { args: { 'math.square': [3] }, timeoutMs: 1001 }), 'maxTimeoutMs', 1000);
    expect((await send(p, 'a', 'POST', '/v1/dags/sq/call', { args: { 'math.square': [3] }, timeoutMs: 1000 })).body).toMatchObject({ result: 9 });
  });
});

describe('quotas: modules, their bytes, and guest memory', () => {
  let p: Platform;
  const math = guestBytes('math');
  const kitchen = guestBytes('kitchen');
  beforeAll(async () => {
    p = await startPlatform({
      // Room for two modules: math and kitchen, to the byte.
      quotas: { modules: 2, moduleBytes: math.byteLength + kitchen.byteLength, guestMemoryMiB: 4 },
    });
  });
  afterAll(() => p.stop());

  it('modules up to the count and bytes are stored; one more is refused and nothing of it stored; replacing one is fine', async () => {
    expect((await send(p, 'a', 'PUT', '/v1/modules/m1', math)).status).toBe(200);
    expect((await send(p, 'a', 'PUT', '/v1/modules/m2', kitchen)).status).toBe(200);
    const third = await send(p, 'a', 'PUT', '/v1/modules/m3', math);
    expectRefused(third, 'modules', 2);
    expect((await send(p, 'a', 'GET', '/v1/modules/m3')).status).toBe(404);
    // Replacing m1 with itself keeps the count and the bytes.
    expect((await send(p, 'a', 'PUT', '/v1/modules/m1', math)).status).toBe(200);
    // Replacing m1 with kitchen would take the bytes one module over.
    expect(kitchen.byteLength).toBeGreaterThan(math.byteLength);
    const bigger = await send(p, 'a', 'PUT', '/v1/modules/m1', kitchen);
    expectRefused(bigger, 'moduleBytes', math.byteLength + kitchen.byteLength);
    expect((await send(p, 'a', 'GET', '/v1/modules/m1')).body).toMatchObject({ size: math.byteLength });
    await send(p, 'a', 'DELETE', '/v1/modules/m2');
    expect((await send(p, 'a', 'PUT', '/v1/modules/m3', math)).status).toBe(200);
  });

  it('a module needing more memory than the tenant\'s ceiling is refused at deploy; instances get the ceiling as their maximum', async () => {
    const hostile = guestBytes('hostile');
    const pages = (4 * 1024 * 1024) / 65536;
    // Clear the count for this test.
    for (const m of ['m1', 'm3']) await send(p, 'a', 'DELETE', `/v1/modules/${m}`);
    const greedy = withMemoryLimits(hostile, pages + 1, 4096);
    const refused = await send(p, 'a', 'PUT', '/v1/modules/greedy', greedy);
    expectRefused(refused, 'guestMemoryMiB', 4);
    expect((await send(p, 'a', 'GET', '/v1/modules/greedy')).status).toBe(404);
    expect(memoryMinimum(hostile)).toBeLessThanOrEqual(pages);
    expect((await send(p, 'a', 'PUT', '/v1/modules/hostile', hostile)).status).toBe(200);
    // The host allows 256 MiB; this tenant's instance stops at 4.
    const oom = await call(p, 'a', 'hostile.oom', {});
    expect(oom.body.error?.code).toBe('GUEST_OUT_OF_MEMORY');
    expect(oom.body.error?.message).toMatch(new RegExp(`of ${pages} pages`));
  });
});

describe('quotas: state bytes', () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform({ quotas: { stateBytes: 4000 } });
    await deployIn(p, ['a'], 'kitchen');
  });
  afterAll(() => p.stop());

  const put = (tenant: string, key: string, bytes: number) => send(p, tenant, 'PUT', `/v1/kv/${key}`, new Uint8Array(bytes).fill(97));

  it('PUT /v1/kv within the quota is written; over it, refused with nothing written; a delete frees room', async () => {
    expect((await put('a', 'small', 1000)).status).toBe(200);
    const before = await refusals(p, 'stateBytes');
    const over = await put('a', 'big', 3000);
    expectRefused(over, 'stateBytes', 4000);
    expect(over.retryAfter).toBeUndefined();
    expect(await refusals(p, 'stateBytes')).toBe(before + 1);
    expect((await send(p, 'a', 'GET', '/v1/kv/big?fresh=1')).status).toBe(404);
    expect((await send(p, 'a', 'DELETE', '/v1/kv/small')).status).toBe(200);
    expect((await put('a', 'big', 3000)).status).toBe(200);
  });

  it('a guest\'s commit that would go over fails with QUOTA_EXCEEDED and writes nothing of the call', async () => {
    // About 3000 bytes are in use from the test above: 2000 more is over.
    const over = await call(p, 'a', 'kitchen.putGet', { args: ['guest-key', 'x'.repeat(2000)] });
    expectRefused(over, 'stateBytes', 4000);
    expect((await send(p, 'a', 'GET', '/v1/kv/guest-key?fresh=1')).status).toBe(404);
    // Within what is left, the same call writes.
    expect((await call(p, 'a', 'kitchen.putGet', { args: ['guest-key', 'x'.repeat(100)] })).status).toBe(200);
    expect((await send(p, 'a', 'GET', '/v1/kv/guest-key')).status).toBe(200);
  });
});

describe('quotas: the state ledger of a tenant that never wrote', () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform({ quotas: { stateBytes: 4000 } });
    await deployIn(p, ['stateless'], 'math');
  });
  afterAll(() => p.stop());

  it('is asked of the KV tier at most once a second, not once per call (a stateless call costs no tier read)', async () => {
    // The counter counts: a fresh read of a key is one read of the tier.
    const first = await metric(p.client, 'cloudburst_tier_reads_total');
    expect((await send(p, 'stateless', 'GET', '/v1/kv/nothing-here?fresh=1')).status).toBe(404);
    const before = await metric(p.client, 'cloudburst_tier_reads_total');
    expect(before).toBeGreaterThanOrEqual(first + 1);
    const started = performance.now();
    const calls = 40;
    for (let i = 0; i < calls; i++) {
      const r = await call(p, 'stateless', 'math.square', { args: [i] });
      expect(r.status).toBe(200);
    }
    const seconds = (performance.now() - started) / 1000;
    const reads = (await metric(p.client, 'cloudburst_tier_reads_total')) - before;
    // At most one read of the tenant's ledger per second (the deploy's trial run may have asked
    // already), and nothing else: math.square has no state. Once per call it would be 40.
    expect(reads).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(reads).toBeLessThan(calls);
  });
});

describe('quotas: a tenant\'s own, from its record', () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform({ workers: 2 });
    // Tenant strict is created with its quotas before anything else names it.
    await tenantToken(p, 'strict', { quotas: { maxTimeoutMs: 500 } });
    await deployIn(p, ['strict', 'loose'], 'math');
  });
  afterAll(() => p.stop());

  it('the quotas given at `tenant create` bound that tenant\'s calls on top of the host\'s; other tenants keep the host\'s', async () => {
    const strict = await tenantToken(p, 'strict', { quotas: { maxTimeoutMs: 500 } });
    await tenantToken(p, 'loose');
    const asStrict = { authorization: `Bearer ${strict}`, 'content-type': 'application/json' };
    const over = await p.client.request('POST', '/v1/functions/math.square/call', JSON.stringify({ args: [3], timeoutMs: 501 }), asStrict);
    expect(over.status).toBe(429);
    expect(JSON.parse(over.body.toString()).error).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'maxTimeoutMs', limit: 500 });
    const at = await p.client.request('POST', '/v1/functions/math.square/call', JSON.stringify({ args: [3], timeoutMs: 500 }), asStrict);
    expect(at.status).not.toBe(429);
    // Tenant loose has the host's ceiling (5 min): its long deadline is admitted.
    expect((await call(p, 'loose', 'math.square', { args: [3], timeoutMs: 60_000 })).status).not.toBe(429);
  });

  it('quotas that are not valid are refused at `tenant create` (400, no tenant), by the parser the host enforces', async () => {
    for (const quotas of [{ concurrentCalls: -1 }, { nope: 1 }, { burst: 1.5 }, [1], 'x']) {
      const res = await p.client.request('POST', '/v1/tenants', JSON.stringify({ name: 'badquotas', quotas }), { 'content-type': 'application/json' });
      expect(res.status, JSON.stringify(quotas)).toBe(400);
      expect(JSON.parse(res.body.toString()).error.code).toBe('INVALID_REQUEST');
    }
    expect((await p.client.request('GET', '/v1/tenants/badquotas')).status).toBe(404);
  });
});
