import { describe, expect, it } from 'vitest';
import { Bloom } from '../../host/cluster/bloom.ts';
import type { PeerView } from '../../host/cluster/directory.ts';
import { place } from '../../host/cluster/scheduler.ts';

function peer(id: string, keys: string[], utilization = 0): PeerView {
  const bloom = Bloom.forCount(keys.length);
  for (const k of keys) bloom.add(k);
  return { id, url: `http://${id}`, utilization, queued: 0, keys: keys.length, summary: bloom.toBase64(), updatedAt: 0, bloom: Bloom.fromBase64(bloom.toBase64()) };
}

const self = (keys: string[], utilization = 0) => ({ utilization, caches: (ks: readonly string[]) => ks.filter((k) => keys.includes(k)).length });
const noExplore = { explore: 0, maxUtilization: 0.7 };

describe('bloom: key-set summaries', () => {
  it('has no false negatives and few false positives, across a base64 round trip', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `default/k/key-${i}`);
    const b = Bloom.forCount(keys.length);
    for (const k of keys) b.add(k);
    const copy = Bloom.fromBase64(b.toBase64());
    expect(keys.every((k) => copy.has(k))).toBe(true);
    const fp = Array.from({ length: 5000 }, (_, i) => `default/k/other-${i}`).filter((k) => copy.has(k)).length;
    expect(fp / 5000).toBeLessThan(0.03);
  });
});

describe('scheduler: placement by locality and load', () => {
  it('picks the host caching the most referenced keys', () => {
    const p = place(['a', 'b'], self([]), [peer('x', ['a']), peer('y', ['a', 'b'])], noExplore);
    expect(p).toMatchObject({ kind: 'peer', peer: { id: 'y' } });
  });

  it('stays on this host on a tie, and when no key is referenced', () => {
    expect(place(['a'], self(['a']), [peer('x', ['a'])], noExplore)).toEqual({ kind: 'self' });
    expect(place([], self([]), [peer('x', ['a'])], noExplore)).toEqual({ kind: 'self' });
  });

  it('avoids a busy host unless it alone has the data', () => {
    expect(place(['a'], self([]), [peer('busy', ['a'], 0.9), peer('calm', ['a'], 0.2)], noExplore)).toMatchObject({ peer: { id: 'calm' } });
    expect(place(['a'], self([]), [peer('busy', ['a'], 0.9)], noExplore)).toMatchObject({ peer: { id: 'busy' } });
  });

  it('explores: with probability `explore` the placement is random', () => {
    let r = 0;
    const seq = [0.05, 0.99];
    const p = place(['a'], self([]), [peer('x', ['a'])], { explore: 0.1, maxUtilization: 0.7, random: () => seq[r++ % 2]! });
    expect(p).toMatchObject({ kind: 'peer', peer: { id: 'x' } });
    r = 0;
    const q = place(['a'], self([]), [peer('x', ['a'])], { explore: 0.1, maxUtilization: 0.7, random: () => [0.05, 0.1][r++ % 2]! });
    expect(q).toEqual({ kind: 'self' });
  });
});

describe('scheduler: placement under load', () => {
  /** A seeded generator: the power of two choices draws, reproducibly. */
  const seeded = (seed: number) => (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const loaded = (loads: Map<string, number>) => ({ ...noExplore, loadOf: (p: PeerView) => loads.get(p.id)! });

  it('a calm host keeps the call; a busy one sends it to the least loaded calm peer', () => {
    const peers = [peer('x', []), peer('y', [])];
    const opts = loaded(new Map([['x', 0.5], ['y', 0.25]]));
    expect(place([], self([], 0.5), peers, opts)).toEqual({ kind: 'self' });
    expect(place([], self([], 1), peers, opts)).toMatchObject({ peer: { id: 'y' } });
  });

  it('when every host is over the threshold, the least loaded takes the call, and a tie stays here', () => {
    const peers = [peer('x', []), peer('y', [])];
    expect(place([], self([], 1), peers, loaded(new Map([['x', 1.5], ['y', 1.25]])))).toEqual({ kind: 'self' });
    expect(place([], self([], 2), peers, loaded(new Map([['x', 1.5], ['y', 1.25]])))).toMatchObject({ peer: { id: 'y' } });
    expect(place([], self([], 1.5), peers, loaded(new Map([['x', 1.5], ['y', 1.5]])))).toEqual({ kind: 'self' });
  });

  it('a burst through one host spreads evenly when each placement counts (as cluster/load.ts does)', () => {
    // Four hosts of one worker each, idle; 12 calls arrive at once at this host.
    const ids = ['x', 'y', 'z'];
    const peers = ids.map((id) => peer(id, []));
    const calls = new Map<string, number>([['self', 0], ...ids.map((id): [string, number] => [id, 0])]);
    const opts = { ...noExplore, random: seeded(7), loadOf: (p: PeerView) => calls.get(p.id)! };
    for (let i = 0; i < 12; i++) {
      const p = place([], self([], calls.get('self')!), peers, opts);
      const id = p.kind === 'self' ? 'self' : p.peer.id;
      calls.set(id, calls.get(id)! + 1);
    }
    const counts = [...calls.values()];
    expect(counts.reduce((a, b) => a + b)).toBe(12);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
  });

  it('judged by the peers\' published values alone (up to a record old), a burst that leaves this host all goes to one peer', () => {
    // What counting each placement prevents: two idle peers, their records not yet updated.
    const peers = [peer('x', []), peer('y', [])];
    const calls = new Map([['self', 0], ['x', 0], ['y', 0]]);
    for (let i = 0; i < 12; i++) {
      const p = place([], self([], calls.get('self')!), peers, noExplore);
      const id = p.kind === 'self' ? 'self' : p.peer.id;
      calls.set(id, calls.get(id)! + 1);
    }
    expect(Object.fromEntries(calls)).toEqual({ self: 1, x: 11, y: 0 });
  });

  it('beyond two peers, the power of two choices: never the most loaded, and not always the same one', () => {
    const peers = [peer('x', []), peer('y', []), peer('z', [])];
    const opts = { ...loaded(new Map([['x', 0.9], ['y', 1], ['z', 3]])), random: seeded(11) };
    const chosen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = place([], self([], 5), peers, opts);
      chosen.add(p.kind === 'self' ? 'self' : p.peer.id);
    }
    expect([...chosen].sort()).toEqual(['x', 'y']);
  });

  it('locality first: the calm host caching the data keeps it whatever the others\' load; off it only when it is over the threshold and a calm host caches it too', () => {
    expect(place(['a'], self(['a'], 0.5), [peer('x', [])], loaded(new Map([['x', 0]])))).toEqual({ kind: 'self' });
    expect(place(['a'], self([], 0), [peer('x', ['a']), peer('y', [])], loaded(new Map([['x', 0.6], ['y', 0]])))).toMatchObject({ peer: { id: 'x' } });
    expect(place(['a'], self(['a'], 1), [peer('x', ['a']), peer('y', [])], loaded(new Map([['x', 0.5], ['y', 0]])))).toMatchObject({ peer: { id: 'x' } });
    // Only busy hosts cache it: the less loaded of them (not a calm host without the data).
    expect(place(['a'], self(['a'], 2), [peer('x', ['a']), peer('y', [])], loaded(new Map([['x', 1], ['y', 0]])))).toMatchObject({ peer: { id: 'x' } });
    expect(place(['a'], self(['a'], 1), [peer('x', ['a']), peer('y', [])], loaded(new Map([['x', 1], ['y', 0]])))).toEqual({ kind: 'self' });
  });
});
