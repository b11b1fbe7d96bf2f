import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { encode, lww, type Lattice } from '../../kvs/index.ts';
import { CacheBudget } from '../../host/cache/budget.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { CallAdmission } from '../../host/quotas/call-admission.ts';
import { StateLedger, isStateBytesKey, isUserKey, stateBytesKey, stateBytesOf } from '../../host/quotas/state-ledger.ts';
import { QUOTA_NAMES, defaultQuotas, parseQuotas, type TenantQuotas } from '../../host/quotas/tenant-quotas.ts';
import { TokenBucket } from '../../host/quotas/token-bucket.ts';

const base = defaultQuotas({ guestMemoryMiB: 256, maxTimeoutMs: 300_000 });

/** The error `fn` throws (fails the test when it throws none). */
function thrown(fn: () => unknown): CloudburstError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CloudburstError) return err;
    throw err;
  }
  throw new Error('nothing was thrown');
}

describe('parseQuotas: the one parser of a tenant\'s quotas', () => {
  it('takes any of the quotas and leaves the others at their base', () => {
    const q = parseQuotas({ concurrentCalls: 3, callsPerSecond: 0.5, stateBytes: 0 }, base);
    expect(q).toEqual({ ...base, concurrentCalls: 3, callsPerSecond: 0.5, stateBytes: 0 });
    expect(parseQuotas({}, base)).toEqual(base);
  });

  it('the defaults: generous, the ceilings the host\'s own limits', () => {
    expect(base.guestMemoryMiB).toBe(256);
    expect(base.maxTimeoutMs).toBe(300_000);
    expect(base.concurrentCalls).toBeGreaterThanOrEqual(10_000);
    expect(Object.keys(base).sort()).toEqual([...QUOTA_NAMES].sort());
  });

  it.each<[string, unknown]>([
    ['not an object', 5],
    ['null', null],
    ['an array', [1]],
    ['an unknown quota', { calls: 1 }],
    ['a string', { modules: '3' }],
    ['a negative count', { modules: -1 }],
    ['a fraction where a whole number is due', { concurrentCalls: 1.5 }],
    ['an empty bucket', { burst: 0 }],
    ['no memory at all', { guestMemoryMiB: 0 }],
    ['a zero deadline', { maxTimeoutMs: 0 }],
    ['infinity', { callsPerSecond: Infinity }],
    ['NaN', { stateBytes: Number.NaN }],
    ['beyond a safe integer', { moduleBytes: 2 ** 60 }],
  ])('refuses %s with INVALID_REQUEST', (_, json) => {
    expect(thrown(() => parseQuotas(json, base)).code).toBe('INVALID_REQUEST');
  });

  it('names the quota and the rule in its message', () => {
    expect(thrown(() => parseQuotas({ burst: 0.5 }, base)).message).toMatch(/burst must be an integer from 1/);
    expect(thrown(() => parseQuotas({ nope: 1 }, base)).message).toMatch(/unknown quota "nope".*concurrentCalls/);
  });
});

describe('TokenBucket', () => {
  it('gives its capacity at once, then one token per 1/rate seconds, and says how long to wait', () => {
    const b = new TokenBucket(2, 0);
    expect(b.take(1, 2, 0)).toBe(0);
    expect(b.take(1, 2, 0)).toBe(0);
    expect(b.take(1, 2, 0)).toBeCloseTo(1);
    expect(b.take(1, 2, 400)).toBeCloseTo(0.6);
    expect(b.take(1, 2, 1000)).toBe(0);
    // Never more than its capacity, however long it rested.
    expect(b.full(1, 2, 1_000_000)).toBe(true);
    expect(b.take(1, 2, 1_000_000)).toBe(0);
    expect(b.take(1, 2, 1_000_000)).toBe(0);
    expect(b.take(1, 2, 1_000_000)).toBeGreaterThan(0);
    expect(b.take(0, 2, 2_000_000)).toBe(Infinity);
  });
});

describe('CallAdmission: calls at once and their rate, per tenant', () => {
  const q = (over: Partial<TenantQuotas>): TenantQuotas => ({ ...base, ...over });

  it('admits up to concurrentCalls at once, refuses the next with Retry-After 1 s, and admits again once one ended', () => {
    const a = new CallAdmission();
    const quotas = q({ concurrentCalls: 2 });
    const r1 = a.admit('a', quotas, 0);
    a.admit('a', quotas, 0);
    const err = thrown(() => a.admit('a', quotas, 0));
    expect(err.code).toBe('QUOTA_EXCEEDED');
    expect(err.details).toMatchObject({ quota: 'concurrentCalls', limit: 2, retryAfter: 1 });
    // Another tenant has its own count.
    a.admit('b', quotas, 0);
    r1();
    r1(); // a second release changes nothing
    expect(a.running('a')).toBe(1);
    a.admit('a', quotas, 0);
    expect(thrown(() => a.admit('a', quotas, 0)).code).toBe('QUOTA_EXCEEDED');
  });

  it('admits a burst, then refuses with Retry-After until the bucket has a token again', () => {
    const a = new CallAdmission();
    const quotas = q({ callsPerSecond: 0.25, burst: 2 });
    a.admit('a', quotas, 0)();
    a.admit('a', quotas, 0)();
    const err = thrown(() => a.admit('a', quotas, 0));
    expect(err.details).toMatchObject({ quota: 'callsPerSecond', limit: 0.25, retryAfter: 4 });
    expect(err.message).toMatch(/0.25 calls per second/);
    expect(thrown(() => a.admit('a', quotas, 3000)).details).toMatchObject({ retryAfter: 1 });
    a.admit('a', quotas, 4000)();
    // A refusal of the rate does not hold a place among the calls at once.
    expect(a.running('a')).toBe(0);
  });
});

describe('StateLedger: a tenant\'s state bytes, settled in the commit', () => {
  let dir: string;
  let cache: HostCache;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-ledger-'));
    cache = HostCache.open({ path: dir });
  });
  afterEach(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  const stamp = (ms: number) => ({ ms, c: 0, writer: 'h-test/w0' });
  const value = (n: number, ms = 1): Lattice => lww.write(new Uint8Array(n), stamp(ms));
  /** What a new key costs: its name and its encoded value. */
  const cost = (key: string, v: Lattice): number => Buffer.byteLength(key) + encode(v).byteLength;
  const used = (tenant: string): number => stateBytesOf(cache.get(stateBytesKey(tenant)));

  it('counts user keys only', () => {
    expect(isUserKey('t1/k/a')).toBe(true);
    expect(isUserKey('t1/sys/state-bytes')).toBe(false);
    expect(isUserKey('t1/mod/k/x')).toBe(false);
    expect(isUserKey('/k/x')).toBe(false);
  });

  it('a commit exactly at the limit passes; one byte over is refused and writes nothing, its count included', () => {
    const a = value(100);
    const b = value(50, 2);
    const limit = cost('t1/k/a', a) + cost('t1/k/b', b);
    cache.commit(new Map([['t1/k/a', a]]), new StateLedger('t1', 'h-test/w0', limit));
    expect(used('t1')).toBe(cost('t1/k/a', a));
    // One more byte than is left: refused, nothing written.
    const over = value(51, 2);
    const err = thrown(() => cache.commit(new Map([['t1/k/b', over]]), new StateLedger('t1', 'h-test/w0', limit)));
    expect(err.code).toBe('QUOTA_EXCEEDED');
    expect(err.details).toMatchObject({ quota: 'stateBytes', limit });
    expect(err.details?.['retryAfter']).toBeUndefined();
    expect(cache.get('t1/k/b')).toBeUndefined();
    expect(used('t1')).toBe(cost('t1/k/a', a));
    expect(cache.dirty(10).keys).not.toContain('t1/k/b');
    // Exactly what is left: written, and counted.
    cache.commit(new Map([['t1/k/b', b]]), new StateLedger('t1', 'h-test/w0', limit));
    expect(used('t1')).toBe(limit);
    // The count goes to the tier with the writes (it is in the outbox).
    expect(cache.dirty(10).keys).toContain(stateBytesKey('t1'));
  });

  it('a write that replaces a value counts the difference; a delete frees bytes, even over the quota', () => {
    const ledger = (limit: number) => new StateLedger('t1', 'h-test/w0', limit);
    cache.commit(new Map([['t1/k/a', value(1000)]]), ledger(10_000));
    const before = used('t1');
    cache.commit(new Map([['t1/k/a', value(10, 2)]]), ledger(10_000));
    expect(used('t1')).toBe(before - 990);
    // A quota lowered below the usage still lets a commit that shrinks state through.
    cache.commit(new Map([['t1/k/a', lww.tombstone(stamp(3))]]), ledger(1));
    expect(used('t1')).toBeLessThan(before - 990);
    expect(thrown(() => cache.commit(new Map([['t1/k/c', value(1)]]), ledger(1))).code).toBe('QUOTA_EXCEEDED');
  });

  it('each thread adds under its own writer, and the total is every writer\'s', () => {
    const a = value(10);
    const b = value(20);
    cache.commit(new Map([['t1/k/a', a]]), new StateLedger('t1', 'h-test/w0', 10_000));
    cache.commit(new Map([['t1/k/b', b]]), new StateLedger('t1', 'h-test/main', 10_000));
    expect(used('t1')).toBe(cost('t1/k/a', a) + cost('t1/k/b', b));
    // Tenants are counted apart.
    expect(used('t2')).toBe(0);
  });

  it('the cache budget never evicts a ledger (this host\'s entry would restart from 0), and evicts the state it counts', () => {
    expect(isStateBytesKey(stateBytesKey('t1'))).toBe(true);
    expect(isStateBytesKey('t1/k/sys/state-bytes')).toBe(false);
    expect(isStateBytesKey('t1/sys/state-bytes-x')).toBe(false);
    const budget = new CacheBudget(cache, { maxBytes: 1, intervalMs: 60_000, keep: isStateBytesKey });
    try {
      cache.commit(new Map([['t1/k/a', value(100)]]), new StateLedger('t1', 'h-test/w0', 10_000));
      const counted = used('t1');
      expect(counted).toBeGreaterThan(0);
      // Both keys clean (the tier acknowledged them), and the cache far over its budget.
      cache.clean(cache.dirty(10));
      budget.evict();
      expect(cache.get('t1/k/a')).toBeUndefined();
      expect(used('t1')).toBe(counted);
    } finally {
      budget.close();
    }
  });
});
