import type { PeerView } from './directory.ts';

export interface SchedulerOptions {
  /** Probability of a random placement, so hot data spreads (the paper used 0.2). */
  explore: number;
  /** Hosts busier than this are avoided unless no other caches the data (the paper: ~0.7). */
  maxUtilization: number;
  random?: () => number;
}

export interface SelfView {
  utilization: number;
  /** How many of these keys this host caches (exactly). */
  caches(keys: readonly string[]): number;
}

export type Placement = { kind: 'self' } | { kind: 'peer'; peer: PeerView };

interface Candidate {
  placement: Placement;
  score: number;
  utilization: number;
}

/**
 * Locality-aware placement (the paper's policy): run a call on the host that caches the most
 * of the keys its arguments reference, skip hosts above the utilization threshold unless
 * only they have the data, and now and then pick at random.
 */
export function place(refKeys: readonly string[], self: SelfView, peers: readonly PeerView[], opts: SchedulerOptions): Placement {
  if (peers.length === 0) return { kind: 'self' };
  const random = opts.random ?? Math.random;
  const candidates: Candidate[] = [
    { placement: { kind: 'self' }, score: refKeys.length === 0 ? 0 : self.caches(refKeys), utilization: self.utilization },
    ...peers.map((peer): Candidate => ({
      placement: { kind: 'peer', peer },
      score: refKeys.reduce((n, k) => n + (peer.bloom.has(k) ? 1 : 0), 0),
      utilization: peer.utilization,
    })),
  ];
  if (opts.explore > 0 && random() < opts.explore) {
    return candidates[Math.floor(random() * candidates.length)]!.placement;
  }
  const calm = candidates.filter((c) => c.utilization <= opts.maxUtilization);
  const best = (list: Candidate[]): Candidate | undefined =>
    list.reduce<Candidate | undefined>((a, c) => {
      if (!a) return c;
      if (c.score !== a.score) return c.score > a.score ? c : a;
      // Ties: stay here (no forwarding hop), else the less busy host.
      if (a.placement.kind === 'self') return a;
      if (c.placement.kind === 'self') return c;
      return c.utilization < a.utilization ? c : a;
    }, undefined);
  const calmBest = best(calm);
  const anyBest = best(candidates)!;
  // A busy host is used only when it alone has (more of) the data.
  if (calmBest && calmBest.score >= anyBest.score) return calmBest.placement;
  if (calmBest && anyBest.score === 0) return calmBest.placement;
  return anyBest.placement;
}
