import type { PeerView } from './directory.ts';

export interface SchedulerOptions {
  /** Probability of a random placement, so hot data spreads (the paper used 0.2). */
  explore: number;
  /** Hosts busier than this are avoided unless no other caches the data (the paper: ~0.7). */
  maxUtilization: number;
  random?: () => number;
  /**
   * A peer's load as placement compares it (cluster/load.ts: its last record and the calls this
   * host sent it since); absent, its published utilization.
   */
  loadOf?: (peer: PeerView) => number;
}

export interface SelfView {
  /** This host's load now (cluster/load.ts): busy, waiting and starting calls per worker it may grow to. */
  utilization: number;
  /** How many of these keys this host caches (exactly). */
  caches(keys: readonly string[]): number;
}

export type Placement = { kind: 'self' } | { kind: 'peer'; peer: PeerView };

interface Candidate {
  placement: Placement;
  score: number;
  load: number;
}

/**
 * Locality-aware placement (the paper's policy): run a call on the host that caches the most
 * of the keys its arguments reference, skip hosts above the utilization threshold unless
 * only they have the data, and now and then pick at random.
 *
 * Among the hosts that qualify, this host keeps the call while it is calm (no forwarding hop);
 * otherwise the call goes to the least loaded of them (of two picked at random when there are
 * more than two: the power of two choices, which keeps hosts that place calls at the same time
 * from all choosing the same one). When every host with the data is over the threshold, this
 * host keeps the call unless a peer is less loaded: a host that receives all the calls shares
 * them out in proportion to what each host can take, rather than keeping them because
 * everyone is busy.
 */
export function place(refKeys: readonly string[], self: SelfView, peers: readonly PeerView[], opts: SchedulerOptions): Placement {
  if (peers.length === 0) return { kind: 'self' };
  const random = opts.random ?? Math.random;
  const loadOf = opts.loadOf ?? ((p: PeerView) => p.utilization);
  const candidates: Candidate[] = [
    { placement: { kind: 'self' }, score: refKeys.length === 0 ? 0 : self.caches(refKeys), load: self.utilization },
    ...peers.map((peer): Candidate => ({
      placement: { kind: 'peer', peer },
      score: refKeys.reduce((n, k) => n + (peer.bloom.has(k) ? 1 : 0), 0),
      load: loadOf(peer),
    })),
  ];
  if (opts.explore > 0 && random() < opts.explore) {
    return candidates[Math.floor(random() * candidates.length)]!.placement;
  }
  const top = Math.max(...candidates.map((c) => c.score));
  const calm = candidates.filter((c) => c.load <= opts.maxUtilization);
  // A calm host with the most data, if there is one; else (a busy host is used only when it
  // alone has (more of) the data) the hosts with the most data.
  const qualified = calm.some((c) => c.score === top) ? calm : candidates;
  return choose(qualified.filter((c) => c.score === top), opts.maxUtilization, random).placement;
}

/** This host while it is calm, else the least loaded (power of two choices beyond two peers); ties stay here. */
function choose(list: Candidate[], maxUtilization: number, random: () => number): Candidate {
  const here = list.find((c) => c.placement.kind === 'self');
  const peers = list.filter((c) => c !== here);
  if (here && (here.load <= maxUtilization || peers.length === 0)) return here;
  let sample = peers;
  if (peers.length > 2) {
    const i = Math.floor(random() * peers.length);
    const j = Math.floor(random() * (peers.length - 1));
    sample = [peers[i]!, peers[j >= i ? j + 1 : j]!];
  }
  const peer = sample.reduce((a, c) => (c.load < a.load ? c : a));
  return here && here.load <= peer.load ? here : peer;
}
