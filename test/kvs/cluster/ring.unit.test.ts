import { describe, expect, it } from 'vitest';
import { murmur3 } from '../../../kvs/cluster/hash.ts';
import { defaultReplication, Ring, ringShares, type RingMember } from '../../../kvs/cluster/ring.ts';

const te = new TextEncoder();
const members = (n: number, from = 0): RingMember[] =>
  Array.from({ length: n }, (_, i) => ({ id: `kv-${i + from}`, url: `http://127.0.0.1:${7100 + i + from}` }));
const keys = Array.from({ length: 20_000 }, (_, i) => `default/k/${i}`);
const ids = (ring: Ring, key: string) => ring.replicasFor(key).map((m) => m.id);

describe('ring', () => {
  it('ring: murmur3 matches the reference vectors', () => {
    expect(murmur3(new Uint8Array(0), 0)).toBe(0);
    expect(murmur3(new Uint8Array(0), 1)).toBe(0x514e28b7);
    expect(murmur3(te.encode('hello'), 0)).toBe(0x248bfa47);
    expect(murmur3(te.encode('Hello, world!'), 1234)).toBe(0xfaf6cdb3);
    expect(murmur3(te.encode('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd);
  });

  it('ring: the replication factor defaults to 1, 2, 3 and is capped at the member count', () => {
    expect([1, 2, 3, 7].map(defaultReplication)).toEqual([1, 2, 3, 3]);
    expect(new Ring(members(1)).replication).toBe(1);
    expect(new Ring(members(5)).replication).toBe(3);
    expect(new Ring(members(2), { replication: 3 }).replication).toBe(2);
    expect(new Ring(members(5), { replication: 4 }).replication).toBe(4);
    expect(new Ring([]).replicasFor('k')).toEqual([]);
  });

  it('ring: replicas are N distinct members, deterministic whatever the member order', () => {
    const a = new Ring(members(5));
    const b = new Ring([...members(5)].reverse());
    for (const key of keys.slice(0, 2000)) {
      const r = ids(a, key);
      expect(new Set(r).size).toBe(3);
      expect(ids(b, key)).toEqual(r);
    }
  });

  it('ring: load is balanced within 35% of the mean with 64 virtual nodes', () => {
    for (const n of [3, 5, 8]) {
      const ring = new Ring(members(n), { replication: 1 });
      const counts = new Map<string, number>();
      for (const key of keys) {
        const id = ids(ring, key)[0]!;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      const mean = keys.length / n;
      for (const c of counts.values()) expect(Math.abs(c - mean) / mean).toBeLessThan(0.35);
    }
  });

  it('ring: a join only adds the new node to replica sets, about N/n of them', () => {
    const before = new Ring(members(5));
    const after = new Ring(members(6));
    let changed = 0;
    for (const key of keys) {
      const old = ids(before, key);
      const now = ids(after, key);
      const added = now.filter((id) => !old.includes(id));
      const removed = old.filter((id) => !now.includes(id));
      expect(added.every((id) => id === 'kv-5')).toBe(true);
      expect(removed.length).toBeLessThanOrEqual(1);
      if (added.length > 0) changed++;
    }
    // With N = 3 the newcomer joins about 3/6 of the replica sets.
    expect(changed / keys.length).toBeGreaterThan(0.35);
    expect(changed / keys.length).toBeLessThan(0.65);
  });

  it('ring: a leave replaces the leaver by one other node and touches nothing else', () => {
    const before = new Ring(members(6));
    const after = new Ring(members(6).filter((m) => m.id !== 'kv-2'));
    for (const key of keys) {
      const old = ids(before, key);
      const now = ids(after, key);
      if (!old.includes('kv-2')) {
        expect(now).toEqual(old);
      } else {
        expect(now.filter((id) => !old.includes(id))).toHaveLength(1);
        expect(old.filter((id) => !now.includes(id))).toEqual(['kv-2']);
      }
    }
  });

  it('ring: isReplica agrees with replicasFor', () => {
    const ring = new Ring(members(4));
    for (const key of keys.slice(0, 500)) {
      const r = ids(ring, key);
      for (const m of members(5)) expect(ring.isReplica(m.id, murmur3(te.encode(key)))).toBe(r.includes(m.id));
    }
  });
});

describe('ringShares: what share of the key space each node holds', () => {
  const nodes = (n: number): RingMember[] => Array.from({ length: n }, (_, i) => ({ id: `kv-${i}`, url: `http://127.0.0.1:${7100 + i}` }));

  it('primaries add up to the whole circle, replicas to N of it', () => {
    for (const [n, replication] of [[1, 1], [3, 3], [5, 3], [4, 2]] as const) {
      const shares = ringShares(new Ring(nodes(n), { replication }));
      const sum = (k: 'primary' | 'replica'): number => [...shares.values()].reduce((a, s) => a + s[k], 0);
      expect(sum('primary')).toBeCloseTo(1, 9);
      expect(sum('replica')).toBeCloseTo(replication, 9);
      for (const s of shares.values()) expect(s.replica).toBeLessThanOrEqual(1 + 1e-9);
    }
  });

  it('agrees with where keys go', () => {
    const ring = new Ring(nodes(4), { replication: 2 });
    const shares = ringShares(ring);
    const counts = new Map<string, number>();
    const KEYS = 20_000;
    for (let i = 0; i < KEYS; i++) {
      const primary = ring.replicasFor(`default/k/key-${i}`)[0]!.id;
      counts.set(primary, (counts.get(primary) ?? 0) + 1);
    }
    // Sampled shares within a few points of the computed ones.
    for (const [id, s] of shares) expect(Math.abs((counts.get(id) ?? 0) / KEYS - s.primary)).toBeLessThan(0.03);
  });
});

