/**
 * The membership lattice at run time: this node's view, merged with every gossip message
 * and ring response; a heartbeat that sends the view to every peer each `heartbeatMs`; and
 * the failure detector, local to this node: a peer not heard from (a gossip it sent us, or
 * an answer to ours) for `downAfterMs` is down in our view. Down is advisory (skip it for
 * reads, hint its writes); it never changes placement.
 *
 * The view is saved in `<dataDir>/membership-v1.json` so that a restarted node knows its
 * peers without seeds and bumps its incarnation above anything it announced before.
 */
import { Buffer } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudburstError } from '../../common/index.ts';
import { KV_CONTENT_TYPES, KV_HEADERS, KV_PATHS } from '../protocol.ts';
import { jsonOf, type Transport } from '../transport.ts';
import { Membership, parseMembers, type Member, type MemberState } from './membership.ts';

/** The view's file in the data folder; the version changes with its layout. */
export const MEMBERSHIP_FILE = 'membership-v1.json';

/**
 * Options of `Gossip`.
 *
 * @example
 * new Gossip({ self: { id, url }, dataDir, transport, heartbeatMs: 200, downAfterMs: 2500, clock: Date.now, log })
 */
export interface GossipOptions {
  readonly self: { readonly id: string; readonly url: string };
  readonly dataDir: string;
  readonly transport: Transport;
  readonly replication?: number | undefined;
  readonly writeQuorum?: number | undefined;
  readonly heartbeatMs: number;
  readonly downAfterMs: number;
  readonly clock: () => number;
  readonly log: (message: string, err: unknown) => void;
}

/** What `GET /kv/v1/ring` answers: the view, and the answering node's liveness opinion. */
export interface RingInfo {
  readonly node: string;
  readonly version: string;
  readonly replication: number;
  readonly writeQuorum: number;
  readonly members: Member[];
  readonly down: string[];
}

type Listener<A extends unknown[]> = (...args: A) => void;

/** The argument lists of each event. */
interface Events {
  change: [Membership, Membership];
  up: [string];
  down: [string];
  frozen: [number];
}

/**
 * @example
 * const gossip = new Gossip(opts);
 * gossip.onChange((view) => rebuild(view));
 * gossip.setState('up');
 * gossip.start();
 */
export class Gossip {
  readonly selfId: string;
  readonly #opts: GossipOptions;
  #view: Membership;
  readonly #lastHeard = new Map<string, number>();
  readonly #down = new Set<string>();
  readonly #inFlight = new Set<string>();
  readonly #listeners: { [K in keyof Events]: Set<Listener<Events[K]>> } = { change: new Set(), up: new Set(), down: new Set(), frozen: new Set() };
  #timer: NodeJS.Timeout | undefined;
  #lastTick: number | undefined;
  #closed = false;

  constructor(opts: GossipOptions) {
    this.#opts = opts;
    this.selfId = opts.self.id;
    this.#view = Membership.of(loadMembers(opts.dataDir, opts.log));
  }

  get view(): Membership {
    return this.#view;
  }

  /** This node's own entry, if it has announced one. */
  get self(): Member | undefined {
    return this.#view.get(this.selfId);
  }

  onChange(fn: Listener<[Membership, Membership]>): void {
    this.#listeners.change.add(fn);
  }
  onPeerUp(fn: Listener<[string]>): void {
    this.#listeners.up.add(fn);
  }
  onPeerDown(fn: Listener<[string]>): void {
    this.#listeners.down.add(fn);
  }
  /** The event loop stood still past `downAfterMs` (SIGSTOP, a VM pause): we may be stale. */
  onFrozen(fn: Listener<[number]>): void {
    this.#listeners.frozen.add(fn);
  }

  /** Moves this node to `state`, with a new incarnation above any it had. */
  setState(state: MemberState): Member {
    return this.#announce(state, state === 'up' || state === 'leaving' ? (this.self?.hot ?? []) : []);
  }

  /** Announces the keys this node finds hot (a new incarnation, same state). */
  announceHot(keys: readonly string[]): void {
    const me = this.self;
    if (!me || (me.state !== 'up' && me.state !== 'leaving')) return;
    this.#announce(me.state, keys);
  }

  #announce(state: MemberState, hot: readonly string[]): Member {
    const { replication, writeQuorum } = this.#opts;
    const me: Member = {
      id: this.selfId,
      url: this.#opts.self.url,
      state,
      incarnation: (this.self?.incarnation ?? 0) + 1,
      ...(replication !== undefined ? { replication } : {}),
      ...(writeQuorum !== undefined ? { writeQuorum } : {}),
      ...(hot.length > 0 ? { hot: [...hot].sort() } : {}),
    };
    this.#install(this.#view.with(me));
    return me;
  }

  /**
   * Operator action: marks another node `left` (its incarnation bumped), so that it leaves
   * the ring without handing anything over (it is dead: its replicas re-create its copies by
   * anti-entropy). Refused for this node (use leave) and, unless `force`, for a node this
   * node does not see as down. A removed node that comes back rejoins with a new incarnation.
   *
   * @throws CloudburstError `INVALID_REQUEST`
   */
  remove(id: string, force = false): Member {
    const m = this.#view.get(id);
    if (!m) throw new CloudburstError('INVALID_REQUEST', `no member ${JSON.stringify(id)} in the ring`);
    if (id === this.selfId) throw new CloudburstError('INVALID_REQUEST', 'a node cannot remove itself; ask it to leave');
    if (m.state === 'left') return m;
    if (!force && !this.#down.has(id)) {
      throw new CloudburstError('INVALID_REQUEST', `${id} is not down in this node's view; pass "force": true to remove a live node`);
    }
    const gone: Member = { ...m, state: 'left', incarnation: m.incarnation + 1 };
    this.#install(this.#view.with(gone));
    return gone;
  }

  /** Merges entries received from elsewhere; returns whether the view changed. */
  merge(members: readonly Member[]): boolean {
    const next = this.#view.merge(Membership.of(members));
    if (next === this.#view) return false;
    this.#install(next);
    return true;
  }

  /** Marks `id` as alive now. */
  heard(id: string): void {
    if (id === this.selfId) return;
    this.#lastHeard.set(id, this.#opts.clock());
    if (this.#down.delete(id)) this.#emit('up', id);
  }

  /** Whether `id` is down in this node's view (never true of itself). */
  isDown(id: string): boolean {
    if (id === this.selfId) return false;
    const m = this.#view.get(id);
    if (!m || m.state === 'left') return true;
    return this.#down.has(id);
  }

  /** Every other member that has not left. */
  peers(): Member[] {
    return this.#view.members().filter((m) => m.id !== this.selfId && m.state !== 'left');
  }

  /** The body of `GET /kv/v1/ring`. */
  info(): RingInfo {
    const view = this.#view;
    return {
      node: this.selfId,
      version: view.version,
      replication: view.placement.replication,
      writeQuorum: view.writeQuorum(),
      members: view.members(),
      down: [...this.#down].sort(),
    };
  }

  /** Starts the heartbeat. */
  start(): void {
    this.#lastTick = this.#opts.clock();
    this.#timer = setInterval(() => this.tick(), this.#opts.heartbeatMs);
  }

  /** One heartbeat: detect failures, then gossip to every peer without a gossip in flight. */
  tick(): void {
    const now = this.#opts.clock();
    if (this.#lastTick !== undefined && now - this.#lastTick > this.#opts.downAfterMs) this.#emit('frozen', now - this.#lastTick);
    this.#lastTick = now;
    for (const peer of this.peers()) {
      const heard = this.#lastHeard.get(peer.id);
      if (heard === undefined) this.#lastHeard.set(peer.id, now);
      else if (now - heard > this.#opts.downAfterMs && !this.#down.has(peer.id)) {
        this.#down.add(peer.id);
        this.#emit('down', peer.id);
      }
      if (!this.#inFlight.has(peer.id)) void this.exchange(peer.url, peer.id).catch(() => undefined);
    }
  }

  /** Gossips to every peer now and waits for the answers (a state change to announce). */
  async gossipNow(): Promise<void> {
    await Promise.allSettled(this.peers().map((p) => this.exchange(p.url, p.id)));
  }

  /**
   * Sends our view to `url` and merges its answer. `id`, when known, is marked alive on
   * success. Used for seeds too (their id is learned from the answer).
   *
   * @throws CloudburstError `KV_UNAVAILABLE`, `INVALID_REQUEST` (a malformed answer).
   */
  async exchange(url: string, id?: string): Promise<RingInfo> {
    if (id) this.#inFlight.add(id);
    try {
      const body = Buffer.from(JSON.stringify({ from: this.selfId, members: this.#view.members() }), 'utf8');
      const reply = await this.#opts.transport.request(url, {
        method: 'POST',
        path: KV_PATHS.gossip,
        body,
        contentType: KV_CONTENT_TYPES.json,
        headers: { [KV_HEADERS.from]: this.selfId },
        timeoutMs: Math.max(500, this.#opts.heartbeatMs * 5),
      });
      if (reply.status === 401) throw new CloudburstError('KV_UNAVAILABLE', `gossip to ${url} was refused (401 UNAUTHENTICATED): this node's cluster secret is not that node's`);
      if (reply.status !== 200) throw new CloudburstError('KV_UNAVAILABLE', `gossip to ${url} answered ${reply.status}`);
      const info = jsonOf(reply) as Partial<RingInfo>;
      if (this.#closed) return info as RingInfo;
      this.merge(parseMembers(info.members));
      if (typeof info.node === 'string') this.heard(info.node);
      return info as RingInfo;
    } finally {
      if (id) this.#inFlight.delete(id);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  #install(next: Membership): void {
    const prev = this.#view;
    this.#view = next;
    saveMembers(this.#opts.dataDir, next, this.#opts.log);
    if (prev.version !== next.version) this.#emit('change', next, prev);
  }

  #emit<K extends keyof Events>(kind: K, ...args: Events[K]): void {
    for (const fn of this.#listeners[kind] as Set<Listener<Events[K]>>) {
      try {
        fn(...args);
      } catch (err) {
        this.#opts.log(`kv: a membership ${kind} listener failed`, err);
      }
    }
  }
}

function loadMembers(dataDir: string, log: GossipOptions['log']): Member[] {
  try {
    const json = JSON.parse(readFileSync(join(dataDir, MEMBERSHIP_FILE), 'utf8')) as { members?: unknown };
    return parseMembers(json.members);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log('kv: ignoring an unreadable membership file', err);
    return [];
  }
}

// Write then rename: a crash mid-write leaves the previous file, never half of one.
function saveMembers(dataDir: string, view: Membership, log: GossipOptions['log']): void {
  const file = join(dataDir, MEMBERSHIP_FILE);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify({ members: view.members() }));
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    log('kv: could not save the membership', err);
  }
}
