import { gset, lww, type Hlc, type KvClient } from '../../kvs/index.ts';
import { DEFAULT_TENANT, SPACES, storageKey } from '../keys.ts';
import { Bloom } from './bloom.ts';

/** What a host publishes about itself, every `intervalMs`, in the KV tier. */
export interface HostRecord {
  id: string;
  url: string;
  /** Busy and waiting calls per worker the host may grow to, smoothed (cluster/presence.ts). */
  utilization: number;
  /** Calls waiting for a worker. */
  queued: number;
  /**
   * Calls running, waiting or starting, the workers the host may grow to, and the calls each
   * other host forwarded among them, when the record was made (cluster/load.ts: what a peer's
   * placement estimates this host's load from). Absent in records of older versions.
   */
  active?: number;
  maxWorkers?: number;
  forwardedIn?: Record<string, number>;
  /** Number of user keys in the summary. */
  keys: number;
  /** Bloom filter of the user keys this host caches, every tenant's, as storage keys (base64). */
  summary: string;
  updatedAt: number;
  stopped?: boolean;
}

export interface PeerView extends HostRecord {
  bloom: Bloom;
}

export interface DirectoryOptions {
  kv: KvClient;
  hlc: Hlc;
  /** Builds this host's current record; `hasPeers`: whether a live peer will read it (cluster/presence.ts). */
  self: (hasPeers: boolean) => Omit<HostRecord, 'updatedAt'>;
  intervalMs?: number;
  /** A host whose record is older than this is taken for dead. */
  staleMs?: number;
  /** Called after each beat that published this host's record and read the others'. */
  onPublished?: () => void;
  /**
   * Called when a peer that was live is taken for dead: its record went stale, or a request to
   * it failed (`why` says which). Not for a peer whose record says it stopped: that one drains,
   * and answers the work it has. Nor for one whose URL a live peer now has (it restarted there).
   */
  onLost?: (peer: { id: string; url: string }, why: string) => void;
  clock?: () => number;
}

// Platform records: hosts serve every tenant, so their records live in one place.
const HOSTS_SET = storageKey(DEFAULT_TENANT, SPACES.system, 'hosts');
const recordKey = (id: string): string => storageKey(DEFAULT_TENANT, SPACES.system, `host/${id}`);

/**
 * The cluster's view of its function hosts: who is there, what each caches (a Bloom filter
 * of its keys) and how busy it is. Each host publishes its record to the KV tier and reads
 * everyone else's on the same beat; a host that stops publishing drops out of scheduling
 * after `staleMs`, and one that a forward could not reach drops out at once until it
 * publishes again.
 */
export class Directory {
  readonly #kv: KvClient;
  readonly #hlc: Hlc;
  readonly #self: DirectoryOptions['self'];
  readonly #intervalMs: number;
  readonly #staleMs: number;
  readonly #clock: () => number;
  readonly #onPublished: (() => void) | undefined;
  readonly #onLost: DirectoryOptions['onLost'];
  #peers = new Map<string, PeerView>();
  /** The peers live at the last look (id to URL), to tell which were lost since. */
  #live = new Map<string, string>();
  /** Hosts a forward failed to reach, with the record time at which that happened. */
  readonly #unreachable = new Map<string, number>();
  /** Hosts whose record says they stopped: not read again. */
  readonly #gone = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> | undefined;

  constructor(opts: DirectoryOptions) {
    this.#kv = opts.kv;
    this.#hlc = opts.hlc;
    this.#self = opts.self;
    this.#intervalMs = opts.intervalMs ?? 500;
    this.#staleMs = opts.staleMs ?? 3000;
    this.#clock = opts.clock ?? Date.now;
    this.#onPublished = opts.onPublished;
    this.#onLost = opts.onLost;
  }

  start(): void {
    const tick = (): void => {
      this.#beat ??= this.refresh().then(() => this.#onPublished?.(), () => undefined).finally(() => (this.#beat = undefined));
    };
    this.#timer = setInterval(tick, this.#intervalMs);
    this.#timer.unref();
    tick();
  }

  /** Publishes this host's record and reads every other host's. */
  async refresh(): Promise<void> {
    const me = { ...this.#self(this.peers().length > 0), updatedAt: this.#clock() };
    await this.#kv.mergeBatch([
      { key: recordKey(me.id), value: lww.write(Buffer.from(JSON.stringify(me)), this.#hlc.now()) },
      { key: HOSTS_SET, value: gset.add(undefined, Buffer.from(me.id)) },
    ]);
    const set = await this.#kv.get(HOSTS_SET);
    if (set?.type !== 'set') return;
    // A stopped record is final (an id is one incarnation's): read once, then skipped, so that
    // the hosts of past incarnations, which stay in the set, cost one read each per host.
    const ids = set.members.map((m) => Buffer.from(m).toString('utf8')).filter((id) => id !== me.id && !this.#gone.has(id));
    const records = await this.#kv.getBatch(ids.map(recordKey));
    const peers = new Map<string, PeerView>();
    records.forEach((v) => {
      if (v?.type !== 'lww' || v.tombstone) return;
      const r = JSON.parse(Buffer.from(v.value).toString('utf8')) as HostRecord;
      if (r.stopped) this.#gone.add(r.id);
      const old = this.#peers.get(r.id);
      // (A stopped record may carry the time of the last one: close() right after a beat.)
      peers.set(r.id, old && old.updatedAt === r.updatedAt && old.stopped === r.stopped ? old : { ...r, bloom: Bloom.fromBase64(r.summary) });
    });
    // Stopped hosts stay known (absence() says why they are not live).
    for (const id of this.#gone) {
      const old = this.#peers.get(id);
      if (old && !peers.has(id)) peers.set(id, old);
    }
    this.#peers = peers;
    this.#noteLost();
  }

  /**
   * Calls `onLost` for each peer live at the last look and taken for dead now. Looked at after
   * a beat that read the directory (one that could not read it judges nobody: this host may be
   * the one cut off) and when a request fails.
   */
  #noteLost(): void {
    const live = new Map(this.peers().map((p) => [p.id, p.url]));
    const urls = new Set(live.values());
    for (const [id, url] of this.#live) {
      if (live.has(id) || urls.has(url)) continue;
      const p = this.#peers.get(id);
      if (p?.stopped) continue;
      this.#onLost?.({ id, url }, this.absence(id) ?? 'its record is gone');
    }
    this.#live = live;
  }

  /** Live peers: fresh records, not stopped, not found unreachable since their last record. */
  peers(): PeerView[] {
    const now = this.#clock();
    return [...this.#peers.values()].filter((p) => this.#absence(p, now) === undefined);
  }

  /**
   * Why `id` is not among `peers()` now: undefined when it is, null when this host has read no
   * record of it (it never joined the cluster), else the reason, for error messages.
   */
  absence(id: string): string | null | undefined {
    const p = this.#peers.get(id);
    return p === undefined ? null : this.#absence(p, this.#clock());
  }

  #absence(p: PeerView, now: number): string | undefined {
    if (p.stopped) return 'it stopped';
    const age = now - p.updatedAt;
    if (age > this.#staleMs) return `its last record is ${age} ms old (a host is taken for dead after ${this.#staleMs} ms)`;
    if ((this.#unreachable.get(p.id) ?? -1) >= p.updatedAt) return 'a request to it failed after its last record';
    return undefined;
  }

  /**
   * Takes a peer out of the view until its next record. `url` is the address that failed: a
   * peer that restarted meanwhile at another address is not the one that failed, and stays.
   */
  markUnreachable(id: string, url?: string): void {
    const p = this.#peers.get(id);
    if (p && (url === undefined || p.url === url)) this.#unreachable.set(id, p.updatedAt);
    this.#noteLost();
  }

  /**
   * Tells the others this host is gone (its record `stopped`: no peer places work on it from
   * the next time it reads the directory, within `intervalMs`) and stops publishing. A host
   * id is one incarnation's (host.ts), so a stopped record is final.
   */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#beat;
    const me = { ...this.#self(this.peers().length > 0), updatedAt: this.#clock(), stopped: true };
    await this.#kv.mergeBatch([{ key: recordKey(me.id), value: lww.write(Buffer.from(JSON.stringify(me)), this.#hlc.now()) }]).catch(() => undefined);
  }
}

/**
 * Every host record in the directory, as a reader outside the hosts sees them (the local
 * autoscaler, `cloudburst cluster status`): live, stopped and stale ones alike; the reader
 * judges by `stopped` and `updatedAt`.
 */
export async function readHostRecords(kv: Pick<KvClient, 'get' | 'getBatch'>): Promise<HostRecord[]> {
  const set = await kv.get(HOSTS_SET);
  if (set?.type !== 'set') return [];
  const ids = set.members.map((m) => Buffer.from(m).toString('utf8'));
  const records = await kv.getBatch(ids.map(recordKey));
  return records.flatMap((v) => (v?.type === 'lww' && !v.tombstone ? [JSON.parse(Buffer.from(v.value).toString('utf8')) as HostRecord] : []));
}
