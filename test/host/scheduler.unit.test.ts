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
