import type { ExecutorPool } from '../executor/pool.ts';
import type { PeerView } from './directory.ts';

/** What a host's directory record says of its calls, at the moment it was made (cluster/presence.ts). */
export interface LoadRecord {
  /** Calls running, waiting for a worker, or about to ask for one. */
  active: number;
  /** The workers the host may grow to: `active / maxWorkers` is its load. */
  maxWorkers: number;
  /** Of `active`, the calls forwarded by each other host (by its id); hosts with none are left out. */
  forwardedIn: Record<string, number>;
}

/**
 * The load placement compares (cluster/scheduler.ts), in the units of utilization (calls per
 * worker the host may grow to).
 *
 * This host's is taken now, not the smoothed value it publishes (a second's average, and its
 * peers read it up to `publishIntervalMs` later): with that, a burst stayed here while this
 * host's published value had not yet risen, and once it had, went all to the one peer that
 * looked calm until that peer's next record.
 *
 * A peer's is estimated from its last record and the calls this host has forwarded to it: the
 * record's calls from everyone else, as they were when it was made, plus this host's calls
 * there now, counted here as each is sent and answered. So a burst spreads as it is placed,
 * and a peer that answered is seen calmer at once, without comparing clocks between hosts.
 * A record of a host without these fields (an older version, during a rolling update) is
 * read by its published utilization, as before.
 */
export class PlacementLoad {
  readonly #selfId: string;
  readonly #pool: Pick<ExecutorPool, 'stats'>;
  /** Calls placed here that have not reached the pool yet (a session catch-up, a reference fetch). */
  #starting = 0;
  /** Calls this host forwarded to each peer, not yet answered. */
  readonly #sent = new Map<string, number>();
  /** Calls other hosts forwarded here, by forwarder, not yet ended. */
  readonly #received = new Map<string, number>();

  /** `selfId`: this host's id, as its peers' records name it (`forwardedIn`). */
  constructor(selfId: string, pool: Pick<ExecutorPool, 'stats'>) {
    this.#selfId = selfId;
    this.#pool = pool;
  }

  /** This host's load now: busy, waiting and starting calls per worker it may grow to. */
  self(): number {
    const s = this.#pool.stats();
    return (s.busy + s.queued + this.#starting) / s.maxWorkers;
  }

  /** A peer's load now, as estimated here (see the class). */
  peer(p: PeerView): number {
    const mine = this.#sent.get(p.id) ?? 0;
    if (p.active === undefined || p.maxWorkers === undefined || p.maxWorkers <= 0) return p.utilization;
    const others = Math.max(0, p.active - (p.forwardedIn?.[this.#selfId] ?? 0));
    return (others + mine) / p.maxWorkers;
  }

  /** What this host's record says of its calls now. */
  record(): LoadRecord {
    const s = this.#pool.stats();
    return { active: s.busy + s.queued + this.#starting, maxWorkers: s.maxWorkers, forwardedIn: Object.fromEntries(this.#received) };
  }

  /** A call placed here is on its way to the pool: counted until the returned function is called. */
  starting(): () => void {
    this.#starting++;
    return once(() => this.#starting--);
  }

  /** A call is forwarded to `peer`: counted until the returned function is called (its answer, or its failure). */
  sent(peer: string): () => void {
    return count(this.#sent, peer);
  }

  /** A call forwarded by `from` runs here: counted until the returned function is called. */
  received(from: string): () => void {
    return count(this.#received, from);
  }
}

function count(map: Map<string, number>, key: string): () => void {
  map.set(key, (map.get(key) ?? 0) + 1);
  return once(() => {
    const n = (map.get(key) ?? 1) - 1;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  });
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}
