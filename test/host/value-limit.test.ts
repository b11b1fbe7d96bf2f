import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KV_LIMITS, KvClient, counter } from '../../kvs/index.ts';
import type { HostClient } from '../../tools/cli/client.ts';
import { metric, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';

const MAX = KV_LIMITS.maxRegisterBytes;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const filled = (size: number, fill: number): Buffer => Buffer.alloc(size, fill);

/** The raw bytes of an LWW key, or the error code. */
async function raw(client: HostClient, key: string, fresh = false): Promise<Buffer | string> {
  const res = await client.request('GET', `/v1/kv/${key}${fresh ? '?fresh=1' : ''}`, undefined, { accept: 'application/octet-stream' });
  if (res.status !== 200) return (JSON.parse(res.body.toString()) as { error: { code: string } }).error.code;
  return res.body;
}

/**
 * The sha256 of an LWW key's bytes as the KV tier holds them. Moving 64 MiB takes seconds on
 * a loaded machine: a read that ran out of time (KV_UNAVAILABLE) is tried again.
 */
async function tierSha(client: HostClient, key: string): Promise<string> {
  const got = await waitFor(() => raw(client, key, true), (r) => r !== 'KV_UNAVAILABLE', 60_000, `a read of ${key} from the tier`);
  return typeof got === 'string' ? got : sha(got);
}

async function putRaw(client: HostClient, key: string, body: Buffer): Promise<{ status: number; code?: string }> {
  const res = await client.request('PUT', `/v1/kv/${key}`, body);
  const json = JSON.parse(res.body.toString()) as { error?: { code: string } };
  return { status: res.status, ...(json.error ? { code: json.error.code } : {}) };
}

const outboxEmpty = (p: Platform) => waitFor(() => metric(p.client, 'cloudburst_outbox_keys'), (n) => n === 0, 60_000, 'the outbox to empty');

/**
 * One limit for a value, enforced where a write is accepted: a register's bytes may be at most
 * KV_LIMITS.maxRegisterBytes, and a key's encoded value at most KV_LIMITS.maxValueBytes. The
 * host used to acknowledge larger values that the KV tier then refused, and the flusher
 * dropped them: the old value came back.
 */
describe('host: the value limit', () => {
  let p: Platform;

  // Room in the guest for values over the limit (a 70 MB array and its copies).
  const options = { guestMemoryMiB: 512 };

  beforeAll(async () => {
    p = await startPlatform(options);
    await p.deploy('writer');
  }, 120_000);
  afterAll(() => p.stop());

  it('PUT /v1/kv at, just below and just above the limit: acknowledged is readable after the flush and a restart; refused changes nothing', async () => {
    expect(await putRaw(p.client, 'big', Buffer.from('old'))).toEqual({ status: 200 });
    const accepted = { 'at-limit': filled(MAX, 1), 'below-limit': filled(MAX - 1, 2) };
    for (const [key, body] of Object.entries(accepted)) expect(await putRaw(p.client, key, body), key).toEqual({ status: 200 });
    for (const size of [MAX + 1, 64 * 1024 * 1024]) {
      expect(await putRaw(p.client, 'big', filled(size, 3)), `${size} bytes`).toEqual({ status: 413, code: 'KV_VALUE_TOO_LARGE' });
    }
    expect(String(await raw(p.client, 'big'))).toBe('old');

    await outboxEmpty(p);
    expect(await metric(p.client, 'cloudburst_outbox_rejected_total')).toBe(0);
    for (const [key, body] of Object.entries(accepted)) expect(await tierSha(p.client, key), `${key} in the tier`).toBe(sha(body));
    expect(await tierSha(p.client, 'big')).toBe(sha(Buffer.from('old')));

    await p.stop(true);
    p = await startPlatform({ ...options, dataDir: p.dataDir });
    for (const [key, body] of Object.entries(accepted)) expect(sha(await raw(p.client, key) as Buffer), `${key} after a restart`).toBe(sha(body));
    expect(String(await raw(p.client, 'big'))).toBe('old');
  }, 180_000);

  it('a guest put at, just below and just above the limit: acknowledged is readable after the flush; refused fails the call with KV_VALUE_TOO_LARGE and changes nothing', async () => {
    expect(await p.call('writer.big', ['g-big', 3, 9])).toBe(3);
    expect(await p.call('writer.big', ['g-at', MAX, 4], { timeoutMs: 120_000 })).toBe(MAX);
    expect(await p.call('writer.bigDurable', ['g-below', MAX - 1, 5], { timeoutMs: 120_000 })).toBe(MAX - 1);
    for (const [fn, size] of [['writer.big', MAX + 1], ['writer.bigDurable', MAX + 1], ['writer.big', 70_000_000]] as const) {
      await expect(p.call(fn, ['g-big', size, 6], { timeoutMs: 120_000 }), `${fn} of ${size} bytes`).rejects.toMatchObject({ code: 'KV_VALUE_TOO_LARGE' });
    }
    expect(sha(await raw(p.client, 'g-big') as Buffer)).toBe(sha(filled(3, 9)));

    await outboxEmpty(p);
    expect(await tierSha(p.client, 'g-at')).toBe(sha(filled(MAX, 4)));
    expect(await tierSha(p.client, 'g-below')).toBe(sha(filled(MAX - 1, 5)));
    expect(await tierSha(p.client, 'g-big')).toBe(sha(filled(3, 9)));
  }, 180_000);

  it('a call holds at most 100,000 keys and 256 MiB of uncommitted writes (GUEST_OUT_OF_MEMORY past them; nothing written)', async () => {
    expect(await p.call('writer.many', ['cap-ok-', 100_000, 1], { timeoutMs: 120_000 })).toBe(100_000);
    await expect(p.call('writer.many', ['cap-keys-', 100_001, 1], { timeoutMs: 120_000 })).rejects.toMatchObject({ code: 'GUEST_OUT_OF_MEMORY' });
    // Five 60 MB values: 300 MB in the overlay at once.
    await expect(p.call('writer.many', ['cap-bytes-', 5, 60_000_000], { timeoutMs: 120_000 })).rejects.toMatchObject({ code: 'GUEST_OUT_OF_MEMORY' });
    for (const key of ['cap-keys-0', 'cap-bytes-0']) await expect(p.client.json('GET', `/v1/kv/${key}`)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    expect(await p.client.json('GET', '/v1/kv/cap-ok-99999')).toMatchObject({ type: 'lww' });
  }, 240_000);

  it('an asynchronous call whose result is over the value limit: its future fails with KV_VALUE_TOO_LARGE instead of staying pending', async () => {
    // 17 million elements of 100: about 68 MB of JSON.
    const { future } = await p.client.json<{ future: string }>('POST', '/v1/functions/writer.bytes/call', { args: [17_000_000, 100], async: true, timeoutMs: 120_000 });
    const record = await waitFor(
      () => p.client.json<{ status: string; error?: { code: string } }>('GET', `/v1/futures/${future}?wait=10000`),
      (r) => r.status !== 'pending', 180_000, 'the future to finish',
    );
    expect(record).toMatchObject({ status: 'failed', error: { code: 'KV_VALUE_TOO_LARGE' } });
  }, 240_000);

  it('a write the KV tier refuses for good after the host acknowledged it is kept with its reason, durably, and counted', async () => {
    // Another writer made `clash` a counter in the tier; this host has never seen it, so the
    // guest's blind put is acknowledged, and the tier refuses it at flush time.
    const kv = new KvClient({ url: p.kv.url, clusterSecret: p.clusterSecret });
    await kv.merge('default/k/clash', counter.add(undefined, 'elsewhere', 5n));
    await kv.close();
    expect(await p.call('writer.big', ['clash', 10, 7])).toBe(10);

    await waitFor(() => metric(p.client, 'cloudburst_outbox_rejected_keys'), (n) => n === 1, 30_000, 'the refusal to be recorded');
    expect(await metric(p.client, 'cloudburst_outbox_rejected_total')).toBe(1);
    expect(await p.client.json('GET', '/v1/outbox/rejected')).toEqual({
      rejected: [expect.objectContaining({ key: 'default/k/clash', code: 'KV_TYPE_MISMATCH', bytes: expect.any(Number) })],
    });
    // The tier's value is what the key reads now; the refused one is kept aside.
    expect(await p.client.json('GET', '/v1/kv/clash')).toMatchObject({ type: 'counter', value: 5 });

    await p.stop(true);
    p = await startPlatform({ ...options, dataDir: p.dataDir });
    const kept = await p.client.json<{ code: string; value: { type: string; base64?: string; value?: string } }>('GET', '/v1/outbox/rejected/default/k/clash');
    expect(kept).toMatchObject({ key: 'default/k/clash', code: 'KV_TYPE_MISMATCH', value: { type: 'lww' } });
    expect(await metric(p.client, 'cloudburst_outbox_rejected_keys')).toBe(1);
    expect(await p.client.json('DELETE', '/v1/outbox/rejected/default/k/clash')).toEqual({ deleted: 'default/k/clash' });
    expect(await p.client.json('GET', '/v1/outbox/rejected')).toEqual({ rejected: [] });
  }, 120_000);
});
