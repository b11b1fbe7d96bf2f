/**
 * Consistent hashing with virtual nodes. Each node owns `vnodes` points on a 32-bit circle
 * (murmur3 of `<id>#<i>`); a key's replicas are the first N distinct nodes met walking
 * clockwise from the key's own point. Pure and deterministic: every node and client that
 * holds the same membership computes the same placement, with no coordination.
 *
 * Virtual nodes smooth the load (one point per node would give arcs of very uneven length)
 * and make a join or leave move only ~1/n of the keys, spread over every other node.
 */
import { Buffer } from 'node:buffer';
import { keyToken, murmur3 } from './hash.ts';

/**
 * A node as placement sees it.
 *
 * @example
 * const m: RingMember = { id: 'kv-1', url: 'http://127.0.0.1:7100' };
 */
export interface RingMember {
  readonly id: string;
  readonly url: string;
}

/**
 * Options of `Ring`.
 *
 * @example
 * new Ring(members, { replication: 3, vnodes: 64 })
 */
export interface RingOptions {
  /** Replicas per key; defaults to `defaultReplication(members)`; capped at the member count. */
  readonly replication?: number;
  /** Points per node on the circle (default RING_VNODES). Must be equal everywhere. */
  readonly vnodes?: number;
}

/**
 * Points per node. Part of the placement protocol: nodes and clients must agree on it.
 *
 * @example
 * new Ring(members, { vnodes: RING_VNODES })
 */
export const RING_VNODES = 64;

/**
 * The replication factor when none is configured: 1 for one node, 2 for two, 3 from three on.
 *
 * @example
 * defaultReplication(5) // 3
 */
export function defaultReplication(memberCount: number): number {
  return Math.max(1, Math.min(3, memberCount));
}

/**
 * An immutable ring over a set of members.
 *
 * @example
 * const ring = new Ring([{ id: 'a', url: ua }, { id: 'b', url: ub }, { id: 'c', url: uc }]);
 * ring.replicasFor('default/k/x').map((m) => m.id) // e.g. ['b', 'c', 'a']
 */
export class Ring {
  /** The members, sorted by id. */
  readonly members: readonly RingMember[];
  /** Effective replicas per key: the configured factor capped at the member count. */
  readonly replication: number;
  readonly #ids: ReadonlyMap<string, number>;
  readonly #tokens: Uint32Array;
  readonly #owners: Uint32Array;

  constructor(members: readonly RingMember[], opts: RingOptions = {}) {
    const sorted = [...new Map(members.map((m) => [m.id, m])).values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.members = sorted;
    this.#ids = new Map(sorted.map((m, i) => [m.id, i]));
    const configured = opts.replication ?? defaultReplication(sorted.length);
    this.replication = Math.max(0, Math.min(Math.floor(configured), sorted.length));
    const vnodes = opts.vnodes ?? RING_VNODES;
    const points: { token: number; owner: number }[] = [];
    sorted.forEach((m, owner) => {
      for (let i = 0; i < vnodes; i++) points.push({ token: murmur3(Buffer.from(`${m.id}#${i}`, 'utf8')), owner });
    });
    // Ties on a token (rare) are broken by owner index, itself ordered by id: deterministic.
    points.sort((a, b) => a.token - b.token || a.owner - b.owner);
    this.#tokens = Uint32Array.from(points, (p) => p.token);
    this.#owners = Uint32Array.from(points, (p) => p.owner);
  }

  /** The points on the circle, ascending (each a member's; `ringShares` reads them). */
  get tokens(): Uint32Array {
    return this.#tokens;
  }

  /** Whether `id` is on the ring. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /**
   * The N distinct members clockwise from the key's point, primary first.
   *
   * @example
   * for (const m of ring.replicasFor(key)) send(m.url);
   */
  replicasFor(key: string, count: number = this.replication): RingMember[] {
    return this.replicasForToken(keyToken(key), count);
  }

  /**
   * `replicasFor` from a precomputed token (anti-entropy caches keys' tokens). `count` other
   * than N lists more nodes clockwise (a hot key's extra read replicas), capped at the members.
   */
  replicasForToken(token: number, count: number = this.replication): RingMember[] {
    const out: RingMember[] = [];
    const n = this.#tokens.length;
    const want = Math.min(count, this.members.length);
    if (n === 0 || want <= 0) return out;
    let i = lowerBound(this.#tokens, token);
    const seen = new Set<number>();
    for (let steps = 0; steps < n && out.length < want; steps++, i++) {
      const owner = this.#owners[i % n]!;
      if (seen.has(owner)) continue;
      seen.add(owner);
      out.push(this.members[owner]!);
    }
    return out;
  }

  /**
   * Whether `id` is one of the key's replicas (without building the list when it is not
   * on the ring at all).
   *
   * @example
   * if (!ring.isReplica(self, token)) refuse();
   */
  isReplica(id: string, token: number): boolean {
    if (!this.#ids.has(id)) return false;
    return this.replicasForToken(token).some((m) => m.id === id);
  }
}

// First index whose token is >= `token`, wrapping to 0 past the end.
function lowerBound(tokens: Uint32Array, token: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tokens[mid]! < token) lo = mid + 1;
    else hi = mid;
  }
  return lo === tokens.length ? 0 : lo;
}

/**
 * What share of the key space each member holds: `primary`, the fraction of the 32-bit circle
 * whose keys it is the first replica of (the shares add up to 1), and `replica`, the fraction
 * it holds a copy of (N copies per key: the shares add up to N). An operator's view of how even
 * the ring is (the dashboard, `GET /v1/overview`); placement itself never needs it.
 *
 * @example
 * ringShares(new Ring(members, { replication: 2 })).get('kv-1') // { primary: 0.31, replica: 0.66 }
 */
export function ringShares(ring: Ring): Map<string, { primary: number; replica: number }> {
  const shares = new Map(ring.members.map((m) => [m.id, { primary: 0, replica: 0 }]));
  const tokens = ring.tokens;
  const n = tokens.length;
  if (n === 0) return shares;
  const CIRCLE = 2 ** 32;
  for (let i = 0; i < n; i++) {
    // Keys on the arc (tokens[i-1], tokens[i]] go to the point i and the members clockwise of it
    // (the first arc wraps around from the last point).
    const arc = i === 0 ? tokens[0]! + CIRCLE - tokens[n - 1]! : tokens[i]! - tokens[i - 1]!;
    if (arc === 0) continue;
    const replicas = ring.replicasForToken(tokens[i]!);
    replicas.forEach((m, r) => {
      const s = shares.get(m.id)!;
      if (r === 0) s.primary += arc / CIRCLE;
      s.replica += arc / CIRCLE;
    });
  }
  return shares;
}
