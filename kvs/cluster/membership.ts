/**
 * Cluster membership as a lattice. Each node owns one entry (id, url, state, incarnation)
 * and only that node ever changes it, bumping its incarnation. Merge keeps, per id, the
 * entry with the higher incarnation (then the later state, then a deterministic tie-break),
 * so gossip in any order, with repeats and losses, converges every node and client on the
 * same membership, hence the same ring.
 *
 * Two rings are derived from it:
 * - **placement** (`up` and `leaving` members): where clients send reads and writes;
 * - **future** (`joining` and `up` members): where data must be before a state change.
 * A joining node is in the future ring only: replicas push it every change of its ranges
 * while it pulls the rest, and only then does it go `up`. A leaving node is in the placement
 * ring only: it keeps serving while it hands every key to its future replicas, then goes
 * `left`. Liveness (heartbeats) is local to each node and never changes placement: a dead
 * replica is covered by the quorum, hints and anti-entropy, not by moving data.
 */
import { CloudburstError } from '../../common/index.ts';
import { checkKey } from '../protocol.ts';
import { fmix32, murmur3 } from './hash.ts';
import { defaultReplication, Ring, type RingMember } from './ring.ts';

/**
 * A member's lifecycle: joining -> up -> leaving -> left (a restarted node that had left
 * joins again with a higher incarnation).
 *
 * @example
 * const s: MemberState = 'up';
 */
export type MemberState = 'joining' | 'up' | 'leaving' | 'left';

export const MEMBER_STATES: readonly MemberState[] = ['joining', 'up', 'leaving', 'left'];

/**
 * One node's entry. `replication` and `writeQuorum` are what the node was configured with;
 * the cluster uses the largest announced values.
 *
 * @example
 * const m: Member = { id: 'kv-1', url: 'http://127.0.0.1:7100', state: 'up', incarnation: 3 };
 */
export interface Member {
  readonly id: string;
  readonly url: string;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly replication?: number;
  readonly writeQuorum?: number;
  /** Keys this node found hot (read far above the mean); they get extra read replicas. */
  readonly hot?: readonly string[];
}

/**
 * Selective replication: a hot key is also readable from this many extra nodes (the next
 * distinct nodes clockwise after its N replicas), capped at the member count.
 *
 * @example
 * view.readReplicasFor(key).length // N + HOT_EXTRA_REPLICAS when hot
 */
export const HOT_EXTRA_REPLICAS = 2;

/** Bounds on untrusted membership JSON (gossip bodies, ring responses). */
const LIMITS = { members: 1024, idBytes: 256, urlLength: 2048, factor: 64, hotKeys: 64 } as const;

function rank(state: MemberState): number {
  return MEMBER_STATES.indexOf(state);
}

function canonical(m: Member): string {
  return `${m.id}\u0000${m.url}\u0000${m.state}\u0000${m.incarnation}\u0000${m.replication ?? ''}\u0000${m.writeQuorum ?? ''}\u0000${(m.hot ?? []).join('\u0001')}`;
}

/**
 * The join of two entries for the same id: higher incarnation, then later state, then the
 * larger canonical form (only reachable with forged input; keeps merge commutative).
 *
 * @example
 * mergeMember(a, b) === mergeMember(b, a)
 */
export function mergeMember(a: Member, b: Member): Member {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation ? a : b;
  if (a.state !== b.state) return rank(a.state) > rank(b.state) ? a : b;
  return canonical(a) >= canonical(b) ? a : b;
}

/**
 * An immutable membership value.
 *
 * @example
 * const view = Membership.of([self]).merge(Membership.of(parseMembers(body.members)));
 * view.placement.replicasFor(key);
 */
export class Membership {
  readonly #byId: ReadonlyMap<string, Member>;
  #version: string | undefined;
  #placement: Ring | undefined;
  #future: Ring | undefined;
  #hot: ReadonlySet<string> | undefined;

  private constructor(byId: ReadonlyMap<string, Member>) {
    this.#byId = byId;
  }

  /** A membership from entries (duplicates merged). */
  static of(members: Iterable<Member>): Membership {
    const byId = new Map<string, Member>();
    for (const m of members) {
      const cur = byId.get(m.id);
      byId.set(m.id, cur ? mergeMember(cur, m) : m);
    }
    return new Membership(byId);
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Member | undefined {
    return this.#byId.get(id);
  }

  /** Every entry, sorted by id. */
  members(): Member[] {
    return [...this.#byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * The join: per id, `mergeMember`. Returns `this` when `other` adds nothing, so callers
   * can tell a change by identity.
   */
  merge(other: Membership): Membership {
    let next: Map<string, Member> | undefined;
    for (const m of other.#byId.values()) {
      const cur = this.#byId.get(m.id);
      const joined = cur ? mergeMember(cur, m) : m;
      if (joined === cur || (cur && canonical(joined) === canonical(cur))) continue;
      next ??= new Map(this.#byId);
      next.set(m.id, joined);
    }
    return next ? new Membership(next) : this;
  }

  /** This membership with `member` as its own entry (the caller bumps the incarnation). */
  with(member: Member): Membership {
    const next = new Map(this.#byId);
    next.set(member.id, member);
    return new Membership(next);
  }

  /**
   * The ring version: the sum of incarnations (it only grows under merge) and a digest of
   * the entries, which tells apart two memberships with equal sums.
   *
   * @example
   * res.setHeader(KV_HEADERS.ringVersion, view.version) // '7-1f2e3d4c'
   */
  get version(): string {
    if (this.#version === undefined) {
      let sum = 0;
      let digest = 0;
      for (const m of this.members()) {
        sum += m.incarnation;
        digest = fmix32(digest ^ murmur3(new TextEncoder().encode(canonical(m)), digest));
      }
      this.#version = `${sum}-${digest.toString(16).padStart(8, '0')}`;
    }
    return this.#version;
  }

  /** Members in `up` or `leaving`: where reads and writes go. */
  get placement(): Ring {
    return (this.#placement ??= this.#ring(['up', 'leaving']));
  }

  /** Members in `joining` or `up`: where data must be before a state change completes. */
  get future(): Ring {
    return (this.#future ??= this.#ring(['joining', 'up']));
  }

  /** Keys some serving (up or leaving) member announced hot. */
  get hot(): ReadonlySet<string> {
    if (!this.#hot) {
      const hot = new Set<string>();
      for (const m of this.#byId.values()) if (m.state === 'up' || m.state === 'leaving') for (const k of m.hot ?? []) hot.add(k);
      this.#hot = hot;
    }
    return this.#hot;
  }

  /**
   * Where `key` may be read: its placement replicas, plus HOT_EXTRA_REPLICAS more nodes when
   * it is hot (the first N of the list are always the placement replicas).
   *
   * @example
   * const readable = view.readReplicasFor(key);
   */
  readReplicasFor(key: string): RingMember[] {
    const ring = this.placement;
    if (!this.hot.has(key)) return ring.replicasFor(key);
    return ring.replicasFor(key, ring.replication + HOT_EXTRA_REPLICAS);
  }

  /**
   * The configured replication factor: the largest announced, else 0 (each ring then uses
   * `defaultReplication` of its own size, so a future ring already has the N it will have).
   */
  get replication(): number {
    return Math.max(0, ...this.#live().map((m) => m.replication ?? 0));
  }

  /** Acknowledgements a write needs: the largest announced, else a majority; at most N. */
  writeQuorum(n: number = this.placement.replication): number {
    const max = Math.max(0, ...this.#live().map((m) => m.writeQuorum ?? 0));
    return Math.max(1, Math.min(n, max > 0 ? max : Math.floor(n / 2) + 1));
  }

  toJSON(): Member[] {
    return this.members();
  }

  #live(): Member[] {
    return [...this.#byId.values()].filter((m) => m.state !== 'left');
  }

  #ring(states: readonly MemberState[]): Ring {
    const members: RingMember[] = this.members()
      .filter((m) => states.includes(m.state))
      .map((m) => ({ id: m.id, url: m.url }));
    const configured = this.replication;
    return new Ring(members, { replication: configured > 0 ? configured : defaultReplication(members.length) });
  }
}

function bad(message: string): CloudburstError {
  return new CloudburstError('INVALID_REQUEST', `malformed membership: ${message}`);
}

function optionalFactor(x: unknown, name: string): number | undefined {
  if (x === undefined || x === null) return undefined;
  if (!Number.isInteger(x) || (x as number) < 1 || (x as number) > LIMITS.factor) throw bad(`${name} must be an integer in 1..${LIMITS.factor}`);
  return x as number;
}

/**
 * Validates untrusted membership JSON (a gossip body, a ring response).
 *
 * @throws CloudburstError `INVALID_REQUEST`
 * @example
 * const view = Membership.of(parseMembers(body.members));
 */
export function parseMembers(json: unknown): Member[] {
  if (!Array.isArray(json)) throw bad('expected an array of members');
  if (json.length > LIMITS.members) throw bad(`more than ${LIMITS.members} members`);
  return json.map((raw: unknown, i): Member => {
    const m = raw as Partial<Record<keyof Member, unknown>> | null;
    if (typeof m !== 'object' || m === null) throw bad(`members[${i}] is not an object`);
    const { id, url, state, incarnation } = m;
    if (typeof id !== 'string' || id.length === 0 || id.length > LIMITS.idBytes) throw bad(`members[${i}].id`);
    if (typeof url !== 'string' || url.length > LIMITS.urlLength || !/^https?:\/\/[^/\s]+$/.test(url)) throw bad(`members[${i}].url must be an http origin`);
    if (!MEMBER_STATES.includes(state as MemberState)) throw bad(`members[${i}].state`);
    if (!Number.isSafeInteger(incarnation) || (incarnation as number) < 0) throw bad(`members[${i}].incarnation`);
    const replication = optionalFactor(m.replication, `members[${i}].replication`);
    const writeQuorum = optionalFactor(m.writeQuorum, `members[${i}].writeQuorum`);
    const hot = m.hot;
    if (hot !== undefined && (!Array.isArray(hot) || hot.length > LIMITS.hotKeys || hot.some((k) => !isKey(k)))) {
      throw bad(`members[${i}].hot must be at most ${LIMITS.hotKeys} keys`);
    }
    return {
      id,
      url,
      state: state as MemberState,
      incarnation: incarnation as number,
      ...(replication !== undefined ? { replication } : {}),
      ...(writeQuorum !== undefined ? { writeQuorum } : {}),
      ...(hot !== undefined && hot.length > 0 ? { hot: hot as string[] } : {}),
    };
  });
}

function isKey(k: unknown): boolean {
  try {
    checkKey(k);
    return true;
  } catch {
    return false;
  }
}
