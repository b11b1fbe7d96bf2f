import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HostClient } from '../../tools/cli/client.ts';
import { guestBytes, startPlatform, type Platform } from '../helpers/platform.ts';
import { leaveMidBody } from '../helpers/raw-http.ts';

/** Requests with this method that the host saw end (answered or cut), whatever their status. */
async function requestsEnded(client: HostClient, method: string): Promise<number> {
  const text = (await client.request('GET', '/metrics')).body.toString();
  let n = 0;
  for (const m of text.matchAll(/^cloudburst_http_requests_total\{([^}]*)\} (\S+)$/gm)) {
    if (m[1]!.includes(`method="${method}"`)) n += Number(m[2]);
  }
  return n;
}

describe('host: a client that goes away mid-body', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('counter');
  });
  afterAll(() => p.stop());

  it('host: an upload, a call and a KV write cut mid-body change nothing, log nothing and harm no one', async () => {
    const logged = vi.spyOn(console, 'error');
    try {
      const put = await requestsEnded(p.client, 'PUT');
      const post = await requestsEnded(p.client, 'POST');
      await leaveMidBody(p.host.url, 'PUT', '/v1/modules/cut', guestBytes('counter'));
      await leaveMidBody(p.host.url, 'POST', '/v1/functions/counter.incr/call', Buffer.from(JSON.stringify({ args: ['cut/calls', 1] })));
      await leaveMidBody(p.host.url, 'PUT', '/v1/kv/cut/value', Buffer.from('a value that never arrives whole'));
      // Each request ends on the host's side once the router has seen its client go.
      await expect.poll(() => requestsEnded(p.client, 'PUT'), { timeout: 30_000 }).toBe(put + 2);
      await expect.poll(() => requestsEnded(p.client, 'POST'), { timeout: 30_000 }).toBe(post + 1);
      expect(logged.mock.calls).toEqual([]);
    } finally {
      logged.mockRestore();
    }
    await expect(p.client.json('GET', '/v1/modules/cut')).rejects.toMatchObject({ code: 'UNKNOWN_MODULE' });
    await expect(p.client.json('GET', '/v1/kv/cut/value')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    await expect(p.client.json('GET', '/v1/kv/cut/calls')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    expect(await p.call('counter.incr', ['cut/calls', 2])).toBe(2);
    expect(await p.client.json('GET', '/v1/kv/cut/calls')).toMatchObject({ value: 2 });
  });
});
