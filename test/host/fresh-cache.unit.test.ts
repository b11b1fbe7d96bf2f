import { describe, expect, it } from 'vitest';
import { FreshCache } from '../../host/auth/fresh-cache.ts';

function setup(maxEntries = 10) {
  let now = 1000;
  let reads = 0;
  let fail = false;
  let value = 'v1';
  const cache = new FreshCache<string>({ maxEntries, maxAgeMs: 1000, maxStaleMs: 60_000, now: () => now });
  const read = async (): Promise<string> => {
    reads++;
    if (fail) throw new Error('tier down');
    return value;
  };
  return {
    cache, read,
    get reads() { return reads; },
    advance: (ms: number) => (now += ms),
    set fail(f: boolean) { fail = f; },
    set value(v: string) { value = v; },
  };
}

describe('FreshCache: values used at most maxAgeMs after their read began', () => {
  it('reuses a value for less than 1 s after its read began, then reads again and sees the change', async () => {
    const t = setup();
    expect(await t.cache.get('k', t.read)).toBe('v1');
    t.value = 'revoked';
    t.advance(999);
    expect(await t.cache.get('k', t.read)).toBe('v1');
    t.advance(1);
    expect(await t.cache.get('k', t.read)).toBe('revoked');
    expect(t.reads).toBe(2);
  });

  it('concurrent lookups share one read; forget makes the next lookup read', async () => {
    const t = setup();
    const [a, b] = await Promise.all([t.cache.get('k', t.read), t.cache.get('k', t.read)]);
    expect([a, b, t.reads]).toEqual(['v1', 'v1', 1]);
    t.cache.forget('k');
    t.value = 'v2';
    expect(await t.cache.get('k', t.read)).toBe('v2');
  });

  it('a failed read with nothing read before fails and is not kept', async () => {
    const t = setup();
    t.fail = true;
    await expect(t.cache.get('k', t.read)).rejects.toThrow('tier down');
    t.fail = false;
    expect(await t.cache.get('k', t.read)).toBe('v1');
  });

  it('a failed read falls back to the last good value while it is under maxStaleMs old, then fails', async () => {
    const t = setup();
    expect(await t.cache.get('k', t.read)).toBe('v1');
    t.fail = true;
    t.advance(1000);
    expect(await t.cache.get('k', t.read)).toBe('v1');
    // Within a second of the failure, no new read.
    const reads = t.reads;
    expect(await t.cache.get('k', t.read)).toBe('v1');
    expect(t.reads).toBe(reads);
    t.advance(60_000);
    await expect(t.cache.get('k', t.read)).rejects.toThrow('tier down');
  });

  it('a read that hangs: after patienceMs the lookup gets the last value, and once the read ends the next lookups see what it read', async () => {
    let now = 1000;
    const cache = new FreshCache<string>({ maxEntries: 10, maxAgeMs: 1000, maxStaleMs: 60_000, patienceMs: 20, now: () => now });
    expect(await cache.get('k', async () => 'v1')).toBe('v1');
    now += 1000;
    let finish!: (v: string) => void;
    const hanging = new Promise<string>((resolve) => (finish = resolve));
    // Nothing read before: no fallback, the lookup waits for the read.
    let first: string | undefined;
    void cache.get('other', () => hanging).then((v) => (first = v));
    expect(await cache.get('k', () => hanging)).toBe('v1');
    expect(first).toBeUndefined();
    finish('revoked');
    await hanging;
    expect(await cache.get('other', async () => 'unused')).toBe('revoked');
    // Past the entry's age a lookup reads again, and a read that answers in time is used.
    now += 1000;
    expect(await cache.get('k', async () => 'revoked')).toBe('revoked');
  });

  it('a hung read past maxStaleMs since the last good one is waited for', async () => {
    let now = 1000;
    const cache = new FreshCache<string>({ maxEntries: 10, maxAgeMs: 1000, maxStaleMs: 5000, patienceMs: 10, now: () => now });
    expect(await cache.get('k', async () => 'v1')).toBe('v1');
    now += 10_000;
    let finish!: (v: string) => void;
    const read = cache.get('k', () => new Promise<string>((resolve) => (finish = resolve)));
    await new Promise((r) => setTimeout(r, 50));
    finish('v2');
    expect(await read).toBe('v2');
  });

  it('holds at most maxEntries, dropping the least recently used', async () => {
    const t = setup(2);
    await t.cache.get('a', t.read);
    await t.cache.get('b', t.read);
    await t.cache.get('a', t.read);
    await t.cache.get('c', t.read);
    expect(t.cache.size).toBe(2);
    const before = t.reads;
    await t.cache.get('a', t.read);
    expect(t.reads).toBe(before);
    await t.cache.get('b', t.read);
    expect(t.reads).toBe(before + 1);
  });
  it('fresh answers without reading only what get would answer from a read that began under maxAgeMs ago and succeeded', async () => {
    const t = setup();
    expect(t.cache.fresh('k')).toBeUndefined();
    const reading = t.cache.get('k', t.read);
    // A read under way is not at hand.
    expect(t.cache.fresh('k')).toBeUndefined();
    expect(await reading).toBe('v1');
    t.advance(999);
    expect(t.cache.fresh('k')).toBe('v1');
    t.advance(1);
    expect(t.cache.fresh('k')).toBeUndefined();
    // A failed read's fallback to the last good value is get's to give, not fresh's.
    t.fail = true;
    expect(await t.cache.get('k', t.read)).toBe('v1');
    expect(t.cache.fresh('k')).toBeUndefined();
    t.fail = false;
    t.advance(1000);
    expect(await t.cache.get('k', t.read)).toBe('v1');
    expect(t.cache.fresh('k')).toBe('v1');
    t.cache.forget('k');
    expect(t.cache.fresh('k')).toBeUndefined();
    expect(t.reads).toBe(3);
  });
});
