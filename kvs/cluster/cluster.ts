/**
 * One KV node's part in the cluster: membership and gossip, replica push with hints,
 * anti-entropy, handoff and subscriptions, wired to the node's store and timers. The
 * server asks it two things on the hot path (`owns`, `catchingUp`) and hands it the
 * cluster routes; everything else runs in the background.
 *
 * Life of a node: `start()` joins (or rejoins) through seeds or the saved membership;
 * `leave()` hands everything over and leaves the ring; `close()` stops (a crash, as far as
 * the others can tell: they keep it in the ring, hint its writes and repair it on return).
 */
import { CloudburstError } from '../../common/index.ts';
import type { LatticeStore } from '../store.ts';
import { Transport } from '../transport.ts';
import type { WireMode } from '../wire/mode.ts';
import { AntiEntropy } from './anti-entropy.ts';
import { DigestIndex } from './digest.ts';
import { Gossip, type RingInfo } from './gossip.ts';
import { Handoff } from './handoff.ts';
import { keyToken } from './hash.ts';
import { Hints } from './hints.ts';
import { DEFAULT_HOT_KEYS, HotKeys, type HotKeyOptions } from './hot-keys.ts';
import type { Member } from './membership.ts';
import { Replicator } from './replicator.ts';
import { Subscriptions } from './subscriptions.ts';
import { SEED_RESOLVE_MS, type Seeds } from '../seeds.ts';

/**
 * Timings and cluster settings of a node (all optional in `startKvNode`).
 *
 * @example
 * const t: ClusterTimings = { heartbeatMs: 200, downAfterMs: 2500, antiEntropyMs: 1000 };
 */
export interface ClusterTimings {
  /** Gossip period (default 200 ms). */
  readonly heartbeatMs: number;
  /** A peer not heard from for this long is down in our view (default 2500 ms). */
  readonly downAfterMs: number;
  /** Anti-entropy period per peer (default 1000 ms). */
  readonly antiEntropyMs: number;
  /** Replica push batching window (default 10 ms). */
  readonly pushDelayMs: number;
  /** Subscription push batching window (default 5 ms). */
  readonly subscriptionPushMs: number;
  /** How long `start()` tries the seeds before giving up on a first join (default 15 s). */
  readonly joinTimeoutMs: number;
}

export const DEFAULT_TIMINGS: ClusterTimings = {
  heartbeatMs: 200,
  downAfterMs: 2500,
  antiEntropyMs: 1000,
  pushDelayMs: 2,
  subscriptionPushMs: 2,
  joinTimeoutMs: 15_000,
};

/**
 * Options of `Cluster`.
 *
 * @example
 * new Cluster({ self: { id, url }, dataDir, store, seeds: new Seeds([]), timings: DEFAULT_TIMINGS, log })
 */
export interface ClusterOptions {
  readonly self: { readonly id: string; readonly url: string };
  readonly dataDir: string;
  readonly store: LatticeStore;
  /** Any node(s) of the cluster, names resolved to every address (kvs/seeds.ts). */
  readonly seeds: Seeds;
  readonly replication?: number | undefined;
  readonly writeQuorum?: number | undefined;
  readonly timings: ClusterTimings;
  readonly log: (message: string, err: unknown) => void;
  readonly clock?: () => number;
  /** Selective replication of hot keys; `false` turns it off. */
  readonly hotKeys?: Partial<HotKeyOptions> | false | undefined;
  /** PEM CA certificate(s) trusted besides the system's: subscribers (hosts) served over TLS. */
  readonly ca?: Buffer | undefined;
  /** Signs every request to peers and subscribers (undefined: an insecure node, unsigned). */
  readonly clusterSecret?: Buffer | undefined;
  /** The wire the node speaks to its peers for pushes (kvs/wire/mode.ts; default binary). */
  readonly wire?: WireMode | undefined;
  /** How often seeds given by name are looked up again (default 10 s). */
  readonly seedResolveMs?: number | undefined;
}

/**
 * @example
 * const cluster = new Cluster(opts);
 * await cluster.start();
 * if (!cluster.owns(key)) throw cluster.ringMismatch();
 */
export class Cluster {
  readonly gossip: Gossip;
  readonly index: DigestIndex;
  readonly hints: Hints;
  readonly replicator: Replicator;
  readonly antiEntropy: AntiEntropy;
  readonly handoff: Handoff;
  readonly subscriptions: Subscriptions;
  readonly hotKeys: HotKeys | undefined;
  readonly #opts: ClusterOptions;
  readonly #transport: Transport;
  readonly #timers: NodeJS.Timeout[] = [];
  #catchingUp = false;
  #ringChangedAt = 0;
  #ticks = 0;
  #shedClean: string | undefined;
  #closed = false;

  constructor(opts: ClusterOptions) {
    this.#opts = opts;
    const clock = opts.clock ?? Date.now;
    const { store, log, timings } = opts;
    this.#transport = new Transport({ connections: 4, timeoutMs: 3000, ca: opts.ca, clusterSecret: opts.clusterSecret, wire: opts.wire });
    const transport = this.#transport;
    this.gossip = new Gossip({ self: opts.self, dataDir: opts.dataDir, transport, replication: opts.replication, writeQuorum: opts.writeQuorum, heartbeatMs: timings.heartbeatMs, downAfterMs: timings.downAfterMs, clock, log });
    const gossip = this.gossip;
    this.index = new DigestIndex(store);
    this.hints = new Hints(store);
    this.replicator = new Replicator({ store, gossip, hints: this.hints, transport, delayMs: timings.pushDelayMs, log });
    this.antiEntropy = new AntiEntropy({ store, index: this.index, gossip, transport, log });
    this.handoff = new Handoff({ store, index: this.index, gossip, transport, log });
    this.subscriptions = new Subscriptions({ store, transport, nodeId: opts.self.id, pushDelayMs: timings.subscriptionPushMs, clock, log, ringVersion: () => gossip.view.version });

    this.hotKeys = opts.hotKeys === false ? undefined : new HotKeys({ ...DEFAULT_HOT_KEYS, ...opts.hotKeys }, (keys) => gossip.announceHot(keys), gossip.self?.hot);
    gossip.onChange((view, prev) => {
      this.#ringChangedAt = clock();
      // A key that just became hot: its home replicas copy it to its extra read replicas.
      for (const key of view.hot) {
        if (prev.hot.has(key) || !view.placement.replicasFor(key).some((m) => m.id === gossip.selfId)) continue;
        if (store.getEncoded(key) !== undefined) this.replicator.fanOut(key);
      }
    });
    // A peer back from the dead gets what it missed at once: hints, then a digest round.
    gossip.onPeerUp((id) => {
      void this.replicator.deliverHints(id);
      const peer = gossip.view.get(id);
      if (peer && (peer.state === 'up' || peer.state === 'leaving')) void this.antiEntropy.exchange(peer).catch(() => undefined);
    });
    // We were paused past the failure timeout: our values may be stale; serve reads again
    // once we have compared with everyone.
    gossip.onFrozen(() => void this.#catchUp());
  }

  /** The ring version every response carries. */
  get version(): string {
    return this.gossip.view.version;
  }

  /** True while the node refuses reads because its data may be stale (after a restart or pause). */
  get catchingUp(): boolean {
    return this.#catchingUp;
  }

  /** Counts a read served (hot-key detection). */
  recordRead(key: string): void {
    this.hotKeys?.record(key);
  }

  /** Whether this node replicates `key` in the placement or future ring. */
  owns(key: string): boolean {
    const view = this.gossip.view;
    if (view.placement.members.length === 1 && view.future.members.length <= 1 && view.placement.has(this.gossip.selfId)) return true;
    const token = keyToken(key);
    return view.placement.isReplica(this.gossip.selfId, token) || view.future.isReplica(this.gossip.selfId, token);
  }

  /** The 409 for a key this node does not replicate, with the ring in its body. */
  notOwned(key: string): CloudburstError {
    return new CloudburstError('KV_RING_VERSION', `this node does not replicate ${JSON.stringify(key)} under ring ${this.version}; refresh the ring`, {
      ring: this.gossip.info(),
    });
  }

  /** The body of `GET /kv/v1/ring`. */
  info(): RingInfo & { catchingUp: boolean } {
    return { ...this.gossip.info(), catchingUp: this.#catchingUp };
  }

  /**
   * Joins: alone (no seeds, nothing saved) the node is up at once. Otherwise it contacts the
   * seeds or saved peers; a node that was a member comes back `up` and catches up by
   * anti-entropy; a new one (or one that had left) goes `joining`, pulls its ranges, then `up`.
   *
   * @throws CloudburstError `KV_UNAVAILABLE` when a new node reaches no seed in time.
   */
  async start(): Promise<void> {
    const { gossip } = this;
    const before = gossip.self;
    const saved = gossip.peers().map((p) => p.url);
    const contactsNow = async (fresh: boolean): Promise<string[]> =>
      [...new Set([...(await this.#opts.seeds.urls({ fresh })), ...saved])].filter((u) => u !== this.#opts.self.url);
    let contacts = await contactsNow(false);
    const wasMember = before !== undefined && before.state !== 'left' && before.state !== 'joining';
    let reached = contacts.length === 0;
    const deadline = Date.now() + this.#opts.timings.joinTimeoutMs;
    let why = '';
    for (let round = 0; !reached && !this.#closed; round++) {
      // A seed given by name: its addresses looked up again now and then while nobody answers.
      if (round > 0 && round % 8 === 0) contacts = await contactsNow(true);
      const answers = await Promise.allSettled(contacts.map((url) => gossip.exchange(url)));
      reached = answers.some((a) => a.status === 'fulfilled');
      if (reached || wasMember) break;
      for (const a of answers) if (a.status === 'rejected') why = `: ${(a.reason as Error).message}`;
      if (Date.now() > deadline) {
        throw new CloudburstError('KV_UNAVAILABLE', `no seed answered within ${this.#opts.timings.joinTimeoutMs} ms (${contacts.join(', ')})${why}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const me = gossip.self; // possibly newer than `before`: peers remember us
    const others = gossip.view.placement.members.filter((m) => m.id !== gossip.selfId);
    if (me && (me.state === 'up' || me.state === 'leaving')) {
      gossip.setState('up');
      this.#catchingUp = others.length > 0;
    } else if (others.length === 0) {
      gossip.setState('up');
    } else {
      gossip.setState('joining');
      await gossip.gossipNow();
      const sources = gossip.peers().filter((p) => p.state === 'up' || p.state === 'leaving');
      try {
        await this.handoff.pull(sources);
      } catch (err) {
        // Do not linger as `joining`: peers would push and hint to us forever.
        gossip.setState('left');
        await gossip.gossipNow();
        throw err;
      }
      gossip.setState('up');
    }
    if (!this.hotKeys && gossip.self?.hot?.length) gossip.announceHot([]); // turned off since
    await gossip.gossipNow();
    gossip.start();
    this.#every(this.#opts.timings.antiEntropyMs, () => this.#tick());
    // Hints go out soon after a peer answers again, whatever the anti-entropy period.
    this.#every(Math.max(250, 2 * this.#opts.timings.heartbeatMs), () => {
      for (const id of this.hints.peers()) {
        const member = gossip.view.get(id);
        if (!member || member.state === 'left') this.hints.clear(id); // removed or left: nobody to deliver to
        else if (!gossip.isDown(id)) void this.replicator.deliverHints(id);
      }
    });
    this.#every(5000, () => this.subscriptions.sweep());
    // Seeds given by name (a headless Service): nodes that came since are found without a restart.
    if (this.#opts.seeds.hasNames) this.#every(this.#opts.seedResolveMs ?? SEED_RESOLVE_MS, () => void this.#lookForSeeds());
    const hot = this.hotKeys;
    if (hot) {
      this.#every(hotWindowMs(this.#opts), () => {
        // Extra replicas need more nodes than N; otherwise counting is wasted.
        const view = gossip.view;
        if (view.placement.members.length > view.placement.replication || hot.current.length > 0) hot.roll();
      });
    }
    if (this.#catchingUp) void this.#catchUp();
  }

  /**
   * Graceful leave: `leaving` (still serving), every key handed to its future replicas,
   * then `left`. Resolves once the peers know.
   *
   * @throws CloudburstError `KV_UNAVAILABLE` when there is no other node or some key could not
   *   be handed over (the node then stays `leaving` and keeps serving; call again or close).
   */
  async leave(): Promise<void> {
    const { gossip } = this;
    if (gossip.peers().filter((p) => p.state === 'up' || p.state === 'joining').length === 0) {
      throw new CloudburstError('KV_UNAVAILABLE', 'this is the last node of the cluster: there is nobody to hand its keys to');
    }
    if (gossip.self?.state !== 'leaving') gossip.setState('leaving');
    await gossip.gossipNow();
    await this.handoff.handOverAll();
    await this.replicator.idle();
    gossip.setState('left');
    await gossip.gossipNow();
  }

  /** Stops every timer and outgoing connection. The store is the server's to close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.gossip.close();
    this.replicator.close();
    this.subscriptions.close();
    this.hints.close();
    await this.#transport.close({ force: true });
  }

  #every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    this.#timers.push(t);
  }

  // Each period: a digest round with every live peer (skipping one already running), and a
  // shed of ranges we lost once the ring has settled.
  #tick(): void {
    if (this.#closed) return;
    this.#ticks++;
    for (const peer of this.#livePlacementPeers()) {
      if (!this.antiEntropy.busy(peer.id)) void this.antiEntropy.exchange(peer).catch(() => undefined);
    }
    // Keys become unowned when the ring changes (rarely otherwise: a push from a peer with a
    // stale ring), so once a shed under this ring found nothing, look again only now and then.
    const version = this.gossip.view.version;
    const settled = Date.now() - this.#ringChangedAt > 2 * this.#opts.timings.antiEntropyMs;
    if (this.gossip.view.size > 1 && settled && (this.#shedClean !== version || this.#ticks % 30 === 0)) {
      void this.handoff.shedUnowned().then(
        (found) => {
          if (found === 0) this.#shedClean = version;
        },
        (err: unknown) => {
          if (!this.#closed) this.#opts.log('kv: shedding keys failed', err);
        },
      );
    }
  }

  /** seed URL -> the id of the node that answered there. */
  readonly #seedIds = new Map<string, string>();

  /**
   * Looks the seeds' names up again and gossips with every address that is not a known member
   * (nor this node): a node that started at the same time as this one, and found nobody, joins
   * this one's ring by it (membership is a lattice: the two views merge).
   */
  async #lookForSeeds(): Promise<void> {
    const { gossip } = this;
    const urls = await this.#opts.seeds.urls({ fresh: true });
    const known = new Set(gossip.peers().filter((p) => p.state !== 'left').map((p) => p.url));
    await Promise.allSettled(urls.filter((u) => u !== this.#opts.self.url && !known.has(u)).map(async (u) => {
      const id = this.#seedIds.get(u);
      if (id !== undefined && (id === gossip.selfId || (gossip.view.get(id) !== undefined && gossip.view.get(id)!.state !== 'left'))) return;
      if (this.#closed) return;
      const info = await gossip.exchange(u);
      if (typeof info.node === 'string') this.#seedIds.set(u, info.node);
    }));
  }

  #livePlacementPeers(): Member[] {
    const { gossip } = this;
    return gossip.peers().filter((p) => (p.state === 'up' || p.state === 'leaving') && !gossip.isDown(p.id));
  }

  // Refuse reads until one digest round with every live peer succeeded (or 10 s passed).
  async #catchUp(): Promise<void> {
    // Alone in the ring there is nobody to catch up with (a long stall of a single node, say
    // while it merged a 64 MiB value, must not make it refuse reads).
    if (this.gossip.view.placement.members.every((m) => m.id === this.gossip.selfId)) return;
    this.#catchingUp = true;
    const until = Date.now() + 10_000;
    while (!this.#closed && Date.now() < until) {
      // Give the failure detector a heartbeat to hear from everyone after a pause.
      await new Promise((r) => setTimeout(r, this.#opts.timings.heartbeatMs));
      const all = this.gossip.peers().filter((p) => p.state === 'up' || p.state === 'leaving');
      const peers = this.#livePlacementPeers();
      if (all.length > 0 && peers.length === 0) continue;
      const results = await Promise.allSettled(peers.map((p) => this.antiEntropy.exchange(p)));
      if (results.every((r) => r.status === 'fulfilled')) break;
    }
    this.#catchingUp = false;
  }
}

function hotWindowMs(opts: ClusterOptions): number {
  return (opts.hotKeys === false ? undefined : opts.hotKeys?.windowMs) ?? DEFAULT_HOT_KEYS.windowMs;
}
