import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startHostCluster, type ClusterHost, type HostCluster } from '../helpers/cluster.ts';
import { bearer, guestBytes, hostFetch, tokenOf } from '../helpers/platform.ts';
import { readEvents, type SseEvent } from '../helpers/sse.ts';
import { decodeCursor } from '../../host/logs/cursor.ts';
import type { ErrorEntry, LogLine } from '../../host/logs/log-line.ts';

// Two host processes: a function's lines from both merge in one read through either host, the
// cursor carries a place per host, a stream through one host receives what the other logs,
// recent failures are merged, and a failed call forwarded to the other host answers its logs.

interface Page {
  lines: LogLine[];
  next: string;
  missing: string[];
}

describe('logs over a cluster of host processes', () => {
  let cluster: HostCluster;
  let a: ClusterHost;
  let b: ClusterHost;

  beforeAll(async () => {
    // No random placements: a call without references runs where it arrives.
    cluster = await startHostCluster({ prefix: 'cb-logs-', hosts: 2, hostArgs: ['--explore', '0'], modules: ['logger'] });
    [a, b] = cluster.hosts as [ClusterHost, ClusterHost];
  });
  afterAll(() => cluster?.stop());

  const say = async (host: ClusterHost, msg: string): Promise<void> => {
    const r = await json<{ result: string }>(`${host.url}/v1/functions/logger.say/call`, 'POST', { args: [msg] });
    expect([r.status, r.host]).toEqual([200, host.id]);
  };
  const logs = async (host: ClusterHost, fn: string, query = ''): Promise<Page> => {
    const r = await json<Page>(`${host.url}/v1/functions/${fn}/logs${query}`);
    expect(r.status).toBe(200);
    return r.body;
  };

  it('lines logged on both hosts are read, merged, through either; since gives only the newer ones, wherever they ran', async () => {
    await say(a, 'one on A');
    await say(b, 'two on B');
    for (const via of [a, b]) {
      const page = await logs(via, 'logger.say');
      expect(page.missing).toEqual([]);
      // Oldest first (two lines of the same millisecond may come in either order).
      expect(page.lines.map((l) => [l.host, l.message]).sort()).toEqual([[a.id, 'one on A'], [b.id, 'two on B']].sort());
      expect(page.lines[0]!.time).toBeLessThanOrEqual(page.lines[1]!.time);
      expect(Object.keys(decodeCursor(page.next)).sort()).toEqual([a.id, b.id].sort());
    }
    const first = await logs(a, 'logger.say');
    await say(b, 'three on B');
    await say(a, 'four on A');
    const after = await logs(a, 'logger.say', `?since=${first.next}`);
    expect(after.lines.map((l) => l.message).sort()).toEqual(['four on A', 'three on B']);
    // Through the other host, from the same cursor: the same lines.
    expect((await logs(b, 'logger.say', `?since=${first.next}`)).lines).toEqual(after.lines);
    expect((await logs(b, 'logger.say', `?since=${after.next}`)).lines).toEqual([]);
  });

  it('a stream through host A receives a line logged on host B after it connected', async () => {
    const start = await logs(a, 'logger.say');
    const stop = new AbortController();
    const res = await fetch(`${a.url}/v1/functions/logger.say/logs?follow=1&since=${start.next}`, {
      headers: { ...bearer(tokenOf(a.url)), accept: 'text/event-stream' }, signal: stop.signal,
    });
    expect(res.status).toBe(200);
    const events: SseEvent[] = [];
    const reading = readEvents(res, (e) => events.push(e)).catch(() => undefined);
    try {
      await expect.poll(() => events.some((e) => e.comment?.startsWith('following'))).toBe(true);
      await say(b, 'live from B');
      await expect.poll(() => events.filter((e) => e.event === 'log').map((e) => JSON.parse(e.data!) as LogLine).map((l) => [l.host, l.message]))
        .toEqual([[b.id, 'live from B']]);
      const id = events.find((e) => e.event === 'log')!.id!;
      expect(decodeCursor(id)[b.id]).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await reading;
    }
  });

  it('GET /v1/errors merges both hosts\' failures, newest first, with their lines', async () => {
    for (const [host, msg] of [[a, 'fails on A'], [b, 'fails on B']] as const) {
      const r = await json<{ error: { code: string } }>(`${host.url}/v1/functions/logger.sayThenFail/call`, 'POST', { args: [msg] });
      expect(r.body.error.code).toBe('GUEST_ABORT');
    }
    const { body } = await json<{ errors: ErrorEntry[]; missing: string[] }>(`${a.url}/v1/errors`);
    expect(body.missing).toEqual([]);
    expect(body.errors.slice(0, 2).map((e) => [e.host, e.fn, e.logs[0]!.message])).toEqual([
      [b.id, 'logger.sayThenFail', 'fails on B'], [a.id, 'logger.sayThenFail', 'fails on A'],
    ]);
  });

  it('deleting a module through one host forgets its lines on every host', async () => {
    await say(b, 'kept on B until the delete');
    expect((await logs(a, 'logger.say')).lines.some((l) => l.host === b.id)).toBe(true);
    expect((await json(`${a.url}/v1/modules/logger`, 'DELETE')).status).toBe(200);
    expect((await hostFetch(`${a.url}/v1/modules/logger`, { method: 'PUT', body: new Uint8Array(guestBytes('logger')) })).status).toBe(200);
    await expect.poll(async () => (await logs(a, 'logger.say')).lines).toEqual([]);
    expect((await json<{ errors: ErrorEntry[] }>(`${b.url}/v1/errors`)).body.errors.filter((e) => e.fn.startsWith('logger.'))).toEqual([]);
  });

  it('a failed call that ran on the other host (its reference is cached there) answers its logs when asked', async () => {
    expect((await hostFetch(`${b.url}/v1/kv/logs-on-b`, { method: 'PUT', body: 'by reference' })).status).toBe(200);
    // Wait until A has B's summary with the key in it: then A places the call on B.
    await expect.poll(async () => (await json<{ peers: { id: string; keys: number }[] }>(`${a.url}/v1/cluster`)).body.peers.find((p) => p.id === b.id)?.keys ?? 0)
      .toBeGreaterThanOrEqual(1);
    const r = await json<{ error: { code: string; callId: string; logs: { message: string }[] } }>(`${a.url}/v1/functions/logger.sayThenFail/call?logs=1`, 'POST', { args: [{ ref: 'logs-on-b' }] });
    expect(r.body.error.code).toBe('GUEST_ABORT');
    expect(r.body.error.callId.startsWith(`${b.id}.`)).toBe(true);
    expect(r.body.error.logs.map((l) => l.message)).toEqual(['by reference']);
    const ok = await fetch(`${a.url}/v1/functions/logger.say/call`, {
      method: 'POST', headers: { ...bearer(tokenOf(a.url)), 'content-type': 'application/json' }, body: JSON.stringify({ args: [{ ref: 'logs-on-b' }], logs: true }),
    });
    expect(ok.headers.get('x-cloudburst-host')).toBe(b.id);
    expect(ok.headers.get('x-cloudburst-call-id')?.startsWith(`${b.id}.`)).toBe(true);
    expect(await ok.json()).toMatchObject({ result: 'by reference', logs: [{ level: 1, message: 'by reference' }] });
  });
});
