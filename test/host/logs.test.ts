import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestBytes, metric, startPlatform, tenantHeaders, tenantToken, type Platform } from '../helpers/platform.ts';
import { tenantClient } from '../helpers/tenant.ts';
import { readEvents, type SseEvent } from '../helpers/sse.ts';
import type { ErrorEntry, LogLine } from '../../host/logs/log-line.ts';

// One host: the logs of a function (guest lines with call id, level and time; a failed call's
// lines and its error line), the cursor, the bounds, tenants, module deletion, the recent errors,
// a failed call's logs in its error answer, and the log stream.

interface Page {
  lines: LogLine[];
  next: string;
  dropped: number;
  missing: string[];
}

const RING = 20;

describe('logs: one host', () => {
  let p: Platform;
  let as: ReturnType<typeof tenantClient>;

  beforeAll(async () => {
    p = await startPlatform({ logBounds: { linesPerFunction: RING }, logFollow: { maxPerTenant: 1 } });
    as = tenantClient(p, p.host.url, 'default');
    await p.deploy('logger');
  }, 60_000);
  afterAll(() => p?.stop());

  const call = (fn: string, args: unknown[], query = '', extra: Record<string, unknown> = {}) => as('POST', `/v1/functions/${fn}/call${query}`, { args, ...extra });
  const logs = async (fn: string, query = '', client = as): Promise<Page> => {
    const r = await client<Page>('GET', `/v1/functions/${fn}/logs${query}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };

  it('a call: its lines carry its id (the answer says it), its level, its time and host', async () => {
    const before = Date.now();
    const r = await call('logger.say', ['hello logs']);
    const after = Date.now();
    expect(r.status).toBe(200);
    const callId = r.headers.get('x-cloudburst-call-id');
    expect(callId).toMatch(new RegExp(`^${p.host.id}\\.`));
    const { lines } = await logs('logger.say');
    const line = lines.find((l) => l.callId === callId);
    expect(line).toMatchObject({ fn: 'logger.say', level: 'info', message: 'hello logs', host: p.host.id, callId });
    expect(line!.time).toBeGreaterThanOrEqual(before);
    expect(line!.time).toBeLessThanOrEqual(after);
    expect(line).not.toHaveProperty('code');
  });

  it('a failed call: its lines and an error line with its code, and GET /v1/errors lists it with them', async () => {
    const r = await call('logger.sayThenFail', ['about to fail']);
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ error: { code: 'GUEST_ABORT' } });
    // Not asked for: the error body has no logs.
    expect((r.body as { error: Record<string, unknown> }).error).not.toHaveProperty('logs');
    const { lines } = await logs('logger.sayThenFail');
    const mine = lines.slice(-2);
    expect(mine.map((l) => [l.level, l.code])).toEqual([['warn', undefined], ['error', 'GUEST_ABORT']]);
    expect(mine[0]!.message).toBe('about to fail');
    expect(mine[1]!.message).toContain('logger: failed after about to fail');
    expect(mine[0]!.callId).toBe(mine[1]!.callId);
    const errors = (await as<{ errors: ErrorEntry[]; missing: string[] }>('GET', '/v1/errors')).body;
    expect(errors.missing).toEqual([]);
    expect(errors.errors[0]).toMatchObject({ fn: 'logger.sayThenFail', code: 'GUEST_ABORT', callId: mine[0]!.callId, host: p.host.id });
    expect(errors.errors[0]!.logs.map((l) => l.message)).toEqual([mine[0]!.message, mine[1]!.message]);
  });

  it('a failed call answers its logs with its error when asked: ?logs=1, or "logs": true in the body', async () => {
    for (const [query, extra] of [['?logs=1', {}], ['', { logs: true }]] as const) {
      const r = await call('logger.sayThenFail', [`asked ${query}`], query, extra);
      expect(r.status).toBe(500);
      const error = (r.body as { error: { code: string; callId: string; logs: { level: number; message: string }[] } }).error;
      expect(error.code).toBe('GUEST_ABORT');
      expect(error.logs.map((l) => [l.level, l.message])).toEqual([[2, `asked ${query}`]]);
      const { lines } = await logs('logger.sayThenFail');
      expect(lines.filter((l) => l.callId === error.callId).map((l) => l.level)).toEqual(['warn', 'error']);
    }
    // A successful call answers them with its result, as before.
    const ok = await call('logger.say', ['ok'], '', { logs: true });
    expect(ok.body).toMatchObject({ result: 'ok', logs: [{ level: 1, message: 'ok' }] });
  });

  it('since: the next page has exactly the lines written after the one before, and none again', async () => {
    await call('logger.sayMany', ['first', 3]);
    const a = await logs('logger.sayMany');
    expect(a.lines.map((l) => l.message)).toEqual(['first #0', 'first #1', 'first #2']);
    const empty = await logs('logger.sayMany', `?since=${a.next}`);
    expect(empty.lines).toEqual([]);
    await call('logger.sayMany', ['second', 2]);
    await call('logger.say', ['another function']);
    const b = await logs('logger.sayMany', `?since=${empty.next}`);
    expect(b.lines.map((l) => l.message)).toEqual(['second #0', 'second #1']);
    // limit pages through them with no gap and no repeat.
    await call('logger.sayMany', ['third', 5]);
    const seen: string[] = [];
    let cursor = b.next;
    for (let i = 0; i < 3; i++) {
      const page = await logs('logger.sayMany', `?since=${cursor}&limit=2`);
      seen.push(...page.lines.map((l) => l.message));
      cursor = page.next;
    }
    expect(seen).toEqual(['third #0', 'third #1', 'third #2', 'third #3', 'third #4']);
    // Without since: the newest lines (a tail), up to limit.
    expect((await logs('logger.sayMany', '?limit=2')).lines.map((l) => l.message)).toEqual(['third #3', 'third #4']);
  });

  it('the ring keeps the newest lines of a function within its bound, and counts what it dropped', async () => {
    const droppedBefore = await metric(p.client, 'cloudburst_log_lines_dropped_total');
    await call('logger.sayMany', ['flood', RING + 15]);
    const page = await logs('logger.sayMany', '?limit=1000');
    expect(page.lines).toHaveLength(RING);
    expect(page.lines.at(-1)!.message).toBe(`flood #${RING + 14}`);
    expect(page.lines[0]!.message).toBe('flood #15');
    expect(page.dropped).toBeGreaterThanOrEqual(15);
    expect(await metric(p.client, 'cloudburst_log_lines_dropped_total')).toBeGreaterThanOrEqual(droppedBefore + 15);
  });

  it('tenants: each sees only its own lines and failures, also of a module of the same name', async () => {
    const acme = tenantClient(p, p.host.url, 'acme');
    expect((await acme('PUT', '/v1/modules/logger', guestBytes('logger'), true)).status).toBe(200);
    await call('logger.say', ['default secret']);
    expect((await acme('POST', '/v1/functions/logger.say/call', { args: ['acme line'] })).status).toBe(200);
    expect((await acme('POST', '/v1/functions/logger.sayThenFail/call', { args: ['acme failure'] })).status).toBe(500);
    const mine = await logs('logger.say', '?limit=1000', acme);
    expect(mine.lines.map((l) => l.message)).toEqual(['acme line']);
    expect((await logs('logger.say', '?limit=1000')).lines.map((l) => l.message)).not.toContain('acme line');
    const errors = (await acme<{ errors: ErrorEntry[] }>('GET', '/v1/errors')).body.errors;
    expect(errors.map((e) => e.logs[0]!.message)).toEqual(['acme failure']);
    const theirs = (await as<{ errors: ErrorEntry[] }>('GET', '/v1/errors?limit=200')).body.errors;
    expect(theirs.flatMap((e) => e.logs.map((l) => l.message))).not.toContain('acme failure');
    // A token without read or deploy cannot read logs.
    const invokeOnly = await tenantToken(p, 'acme', { scopes: ['invoke'] });
    const refused = await fetch(`${p.host.url}/v1/functions/logger.say/logs`, { headers: { authorization: `Bearer ${invokeOnly}` } });
    expect(refused.status).toBe(403);
    await refused.body?.cancel();
  });

  it('deleting a module forgets its lines: 404 until deployed again, then empty', async () => {
    const headers = await tenantHeaders(p, 'acme');
    const acme = tenantClient(p, p.host.url, 'acme');
    expect((await acme('DELETE', '/v1/modules/logger')).status).toBe(200);
    const gone = await fetch(`${p.host.url}/v1/functions/logger.say/logs`, { headers });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: 'UNKNOWN_FUNCTION' } });
    expect((await acme('PUT', '/v1/modules/logger', guestBytes('logger'), true)).status).toBe(200);
    expect((await logs('logger.say', '', acme)).lines).toEqual([]);
    expect((await acme<{ errors: ErrorEntry[] }>('GET', '/v1/errors')).body.errors).toEqual([]);
  });

  it('bad queries are INVALID_REQUEST; an unknown function is UNKNOWN_FUNCTION', async () => {
    for (const q of ['since=x', 'since=', 'limit=0', 'limit=1001', 'follow=maybe']) {
      const r = await as('GET', `/v1/functions/logger.say/logs?${q}`);
      expect([q, r.status, (r.body as { error: { code: string } }).error.code]).toEqual([q, 400, 'INVALID_REQUEST']);
    }
    expect((await as('GET', '/v1/errors?limit=0')).status).toBe(400);
    expect((await as('GET', '/v1/functions/logger.nope/logs')).status).toBe(404);
  });

  it('follow: server-sent events with the lines written after it connected, their cursor as id; one stream per tenant here', async () => {
    const headers = { ...p.headers, accept: 'text/event-stream' };
    const start = await logs('logger.say');
    const stop = new AbortController();
    const res = await fetch(`${p.host.url}/v1/functions/logger.say/logs?follow=1&since=${start.next}`, { headers, signal: stop.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: SseEvent[] = [];
    const reading = readEvents(res, (e) => events.push(e));
    // A second stream of the same tenant is over this platform's bound (1).
    const second = await as('GET', '/v1/functions/logger.say/logs?follow=1');
    expect(second.status).toBe(503);
    expect(second.body).toMatchObject({ error: { code: 'OVERLOADED' } });
    await expect.poll(() => events.some((e) => e.comment?.startsWith('following'))).toBe(true);
    expect(await metric(p.client, 'cloudburst_log_streams')).toBe(1);
    const r = await call('logger.say', ['live line']);
    const callId = r.headers.get('x-cloudburst-call-id');
    await expect.poll(() => events.filter((e) => e.event === 'log').length).toBe(1);
    const got = events.find((e) => e.event === 'log')!;
    expect(JSON.parse(got.data!)).toMatchObject({ message: 'live line', callId, level: 'info' });
    // Its id is a cursor: read from it, nothing is repeated.
    expect((await logs('logger.say', `?since=${got.id}`)).lines).toEqual([]);
    stop.abort();
    await reading.catch(() => undefined);
    // The host noticed the client went: a new stream of the tenant is accepted again.
    await expect.poll(async () => {
      const again = new AbortController();
      const r2 = await fetch(`${p.host.url}/v1/functions/logger.say/logs?follow=1`, { headers, signal: again.signal });
      again.abort();
      await r2.body?.cancel().catch(() => undefined);
      return r2.status;
    }).toBe(200);
  });
});

describe('logs: a stream and the host stopping', () => {
  it('a stream gets a heartbeat comment while nothing is logged; drain() ends it and finishes', async () => {
    const p = await startPlatform({ logFollow: { heartbeatMs: 100 } });
    try {
      await p.deploy('logger');
      const res = await fetch(`${p.host.url}/v1/functions/logger.say/logs?follow=1`, { headers: { ...p.headers, accept: 'text/event-stream' } });
      const events: SseEvent[] = [];
      const ended = readEvents(res, (e) => events.push(e));
      await expect.poll(() => events.filter((e) => e.comment === 'keep-alive').length).toBeGreaterThanOrEqual(2);
      await p.host.drain({ timeoutMs: 20_000 });
      await expect(ended).resolves.toBeUndefined();
    } finally {
      await p.stop();
    }
  }, 60_000);

  it('close() ends every log stream and does not wait for them', async () => {
    const p = await startPlatform();
    try {
      await p.deploy('logger');
      const res = await fetch(`${p.host.url}/v1/functions/logger.say/logs?follow=1`, { headers: { ...p.headers, accept: 'text/event-stream' } });
      expect(res.status).toBe(200);
      const ended = readEvents(res, () => undefined);
      await p.host.close();
      // The stream ended from the server's side (the reader finished without an abort).
      await expect(ended).resolves.toBeUndefined();
    } finally {
      await p.stop();
    }
  }, 60_000);
});
