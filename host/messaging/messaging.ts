import { CloudburstError } from '../../common/index.ts';
import { gset, merge, type GSet, type KvClient, type Lattice } from '../../kvs/index.ts';
import type { PeerView } from '../cluster/directory.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import { SPACES, storageKey } from '../keys.ts';
import { counterFrom, type MetricsRegistry } from '../metrics.ts';
import { HOST_LIMITS, HOST_PATHS, encodeMessage } from '../protocol.ts';

/**
 * One message as it travels: the tenant it is sent in (the sender's), who sent it, the
 * sender's sequence number towards this receiver, the bytes.
 */
export interface Envelope {
  tenant: string;
  to: string;
  from: string;
  seq: number;
  data: Uint8Array;
}

interface Mailbox {
  tenant: string;
  /** The receiving call's id. */
  id: string;
  /** Messages in order, ready for `recv`. */
  ready: Envelope[];
  /** Per sender: the sequence number due next (the first is 1). */
  next: Map<string, number>;
  /** Per sender: messages that overtook an earlier one (an HTTP retry, a detour through the KV tier). */
  early: Map<string, Map<number, Envelope>>;
  /** Wakes a waiting `recv`. */
  waiter: (() => void) | undefined;
  /** Last arrival or recv (ms): an idle mailbox is parked in the KV tier by the sweeper. */
  touched: number;
  /** Last read of the KV inbox (ms). */
  polledAt: number;
}

export interface MessagingOptions {
  hostId: string;
  kv: KvClient;
  link: PeerLink;
  peers: () => PeerView[];
  markUnreachable: (id: string, url?: string) => void;
  /** How long messages nobody receives stay in memory before they are parked in the KV tier. Default 30 s. */
  holdMs?: number;
  /** How often a waiting `recv` reads the KV inbox. Default 50 ms. */
  pollMs?: number;
  /** Timeout of a direct delivery to another host. Default 2 s. */
  directTimeoutMs?: number;
}

const ID = /^([0-9a-f]{1,32})\.([0-9a-z]{1,12})\.(\d{1,15})$/;

/** KV key of the inbox of function `id` in `tenant`: a grow-only set of encoded envelopes. */
export function inboxKey(tenant: string, id: string): string {
  return storageKey(tenant, SPACES.message, id);
}

/** Mailboxes are per tenant: a call reads only the box of its own tenant (ids hold no `/`). */
const boxKey = (tenant: string, id: string): string => `${tenant}/${id}`;

export function encodeEnvelope(e: Envelope): Uint8Array {
  // Field order is fixed, so the same message always encodes to the same set member.
  return Buffer.from(JSON.stringify({ from: e.from, seq: e.seq, data: Buffer.from(e.data).toString('base64') }));
}

export function decodeEnvelope(tenant: string, to: string, bytes: Uint8Array): Envelope {
  const o = JSON.parse(Buffer.from(bytes).toString('utf8')) as { from: string; seq: number; data: string };
  return { tenant, to, from: o.from, seq: o.seq, data: new Uint8Array(Buffer.from(o.data, 'base64')) };
}

function leftIn(box: Mailbox): Envelope[] {
  return [...box.ready, ...[...box.early.values()].flatMap((m) => [...m.values()])];
}

/**
 * Messages between running functions (see host/README.md, "Messaging").
 *
 * Every call gets an id `{hostId}.{boot}.{seq}` (boot tells restarts of one host apart), so a
 * sender finds the receiver's host from the id alone. `send` delivers in-process when the
 * receiver's host is this one, else by `POST /v1/internal/messages` to that host; when that
 * fails (host unknown, unreachable, refusing) the message goes to the receiver's inbox in the
 * KV tier, which a receiving `recv` reads whenever it finds nothing local. Per-sender sequence
 * numbers put messages back in order whatever path each took, and drop duplicates.
 *
 * Messages are per tenant: a message is sent in its sender's tenant, travels with it, and
 * lands in the mailbox (or KV inbox, `{tenant}/msg/{id}`) of the receiver id in that tenant.
 * A call reads only its own tenant's mailbox, so a message to a call of another tenant is
 * never read by it: it waits in the sender's tenant's inbox of that id.
 *
 * Nothing here runs for a call that does not use messaging, apart from `nextId` and a size
 * check in `finished`.
 */
export class Messaging {
  readonly #hostId: string;
  readonly #kv: KvClient;
  readonly #link: PeerLink;
  readonly #peers: MessagingOptions['peers'];
  readonly #markUnreachable: MessagingOptions['markUnreachable'];
  readonly #holdMs: number;
  readonly #pollMs: number;
  readonly #directTimeoutMs: number;
  readonly #boot = Date.now().toString(36);
  #seq = 0;
  readonly #boxes = new Map<string, Mailbox>();
  /** Per sender (a running call of this host), per receiver: the last sequence number used. */
  readonly #sent = new Map<string, Map<string, number>>();
  /** Calls of this host that used messaging and ended (box key -> when): late messages for them are parked at once. */
  readonly #ended = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout;
  readonly stats = { sent: 0, local: 0, direct: 0, fallback: 0, received: 0, unread: 0 };

  constructor(opts: MessagingOptions) {
    this.#hostId = opts.hostId;
    this.#kv = opts.kv;
    this.#link = opts.link;
    this.#peers = opts.peers;
    this.#markUnreachable = opts.markUnreachable;
    this.#holdMs = opts.holdMs ?? 30_000;
    this.#pollMs = opts.pollMs ?? 50;
    this.#directTimeoutMs = opts.directTimeoutMs ?? 2000;
    this.#sweeper = setInterval(() => void this.#sweep(), Math.min(1000, this.#holdMs));
    this.#sweeper.unref();
  }

  /** The id of a call about to start. */
  nextId(): string {
    return `${this.#hostId}.${this.#boot}.${++this.#seq}`;
  }

  /** Whether `id` names a call of this host process that has not started yet. */
  #notStarted(id: string): boolean {
    const m = ID.exec(id);
    return m !== null && m[1] === this.#hostId && m[2] === this.#boot && Number(m[3]) > this.#seq;
  }

  async send(tenant: string, from: string, to: string, data: Uint8Array): Promise<void> {
    const m = ID.exec(to);
    if (m === null) throw new CloudburstError('INVALID_ARGUMENTS', `${JSON.stringify(to.slice(0, 64))} is not a function id (see id())`);
    // A message is one HTTP body, or one member of the inbox set.
    if (data.byteLength > HOST_LIMITS.messageBytes) throw new CloudburstError('INVALID_ARGUMENTS', `a message may be at most ${HOST_LIMITS.messageBytes} bytes, not ${data.byteLength}`);
    let byTarget = this.#sent.get(from);
    if (!byTarget) this.#sent.set(from, (byTarget = new Map()));
    const seq = (byTarget.get(to) ?? 0) + 1;
    byTarget.set(to, seq);
    const env: Envelope = { tenant, to, from, seq, data };
    this.stats.sent++;
    const host = m[1]!;
    if (host === this.#hostId) {
      this.stats.local++;
      this.accept(env);
      return;
    }
    const peer = this.#peers().find((p) => p.id === host);
    if (peer) {
      try {
        // The sender waits for the answer: its next message cannot overtake this one.
        await this.#link.send(peer.url, 'POST', HOST_PATHS.messages, encodeMessage(env), this.#directTimeoutMs, tenant);
        this.stats.direct++;
        return;
      } catch (err) {
        if (err instanceof CloudburstError && err.code === 'HOST_UNAVAILABLE') this.#markUnreachable(host, peer.url);
      }
    }
    this.stats.fallback++;
    await this.#park(tenant, to, [env]);
  }

  /** A message arrived for a function of this host (sent locally, over HTTP, or read from the inbox). */
  accept(env: Envelope): void {
    if (this.#ended.has(boxKey(env.tenant, env.to))) {
      void this.#parkUnread(env.tenant, env.to, [env]);
      return;
    }
    const box = this.#box(env.tenant, env.to);
    box.touched = Date.now();
    this.#enqueue(box, env);
  }

  #enqueue(box: Mailbox, env: Envelope): void {
    let due = box.next.get(env.from) ?? 1;
    if (env.seq < due) return; // a duplicate (delivered directly and also read from the inbox)
    if (env.seq > due) {
      let early = box.early.get(env.from);
      if (!early) box.early.set(env.from, (early = new Map()));
      early.set(env.seq, env);
      return;
    }
    box.ready.push(env);
    due++;
    const early = box.early.get(env.from);
    for (let e = early?.get(due); e !== undefined; e = early!.get(due)) {
      early!.delete(due);
      box.ready.push(e);
      due++;
    }
    if (early?.size === 0) box.early.delete(env.from);
    box.next.set(env.from, due);
    const wake = box.waiter;
    box.waiter = undefined;
    wake?.();
  }

  #box(tenant: string, id: string): Mailbox {
    const key = boxKey(tenant, id);
    let box = this.#boxes.get(key);
    if (!box) this.#boxes.set(key, (box = { tenant, id, ready: [], next: new Map(), early: new Map(), waiter: undefined, touched: Date.now(), polledAt: 0 }));
    return box;
  }

  /**
   * The next message for the running call `id` of `tenant`, waiting up to `timeoutMs` for one. When
   * nothing is queued here, the call's KV inbox is read (at most every `pollMs`): that is
   * where messages wait whose direct delivery failed.
   */
  async recv(tenant: string, id: string, timeoutMs: number): Promise<Uint8Array | null> {
    const box = this.#box(tenant, id);
    const end = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      box.touched = Date.now();
      const next = box.ready.shift();
      if (next) {
        this.stats.received++;
        return next.data;
      }
      if (Date.now() - box.polledAt >= this.#pollMs) {
        box.polledAt = Date.now();
        await this.#poll(box);
        continue;
      }
      const remaining = end - Date.now();
      if (remaining <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          box.waiter = undefined;
          resolve();
        }, Math.min(remaining, this.#pollMs));
        box.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async #poll(box: Mailbox): Promise<void> {
    let inbox: Lattice | undefined;
    try {
      inbox = await this.#kv.get(inboxKey(box.tenant, box.id));
    } catch {
      return; // the tier is unreachable: direct messages still arrive
    }
    if (inbox?.type !== 'set') return;
    const envs = inbox.members.map((m) => decodeEnvelope(box.tenant, box.id, m)).sort((a, b) => a.seq - b.seq);
    for (const env of envs) this.#enqueue(box, env);
  }

  /** Adds messages to the KV inbox of `to` in `tenant`. */
  async #park(tenant: string, to: string, envs: Envelope[]): Promise<void> {
    let value: GSet | undefined;
    for (const e of envs) {
      const one = gset.add(undefined, encodeEnvelope(e));
      value = value === undefined ? one : (merge(value, one) as GSet);
    }
    if (value === undefined) return;
    const [err] = await this.#kv.mergeBatch([{ key: inboxKey(tenant, to), value }]);
    if (err) throw err;
  }

  /**
   * A call of this host ended. Messages it did not read are not dropped: they go to its KV
   * inbox (where they can be read, e.g. by an operator) and count in
   * `cloudburst_messages_unread_total`.
   */
  finished(tenant: string, id: string): void {
    if (this.#boxes.size === 0 && this.#sent.size === 0) return;
    this.#sent.delete(id);
    const key = boxKey(tenant, id);
    const box = this.#boxes.get(key);
    if (!box) return;
    this.#boxes.delete(key);
    this.#ended.set(key, Date.now());
    void this.#parkUnread(tenant, id, leftIn(box));
  }

  async #parkUnread(tenant: string, id: string, left: Envelope[]): Promise<void> {
    if (left.length === 0) return;
    this.stats.unread += left.length;
    await this.#park(tenant, id, left).catch((err: unknown) => {
      console.error(`messaging: ${left.length} unread messages of ${id} could not be parked in the KV tier: ${(err as Error).message}`);
    });
  }

  /**
   * Mailboxes nobody reads from (the receiver finished before they arrived, or never came)
   * are parked in the KV tier after `holdMs`; those of calls that have not started yet wait.
   * A running receiver loses nothing either way: its `recv` reads the inbox.
   */
  async #sweep(): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.#ended) if (now - at > 10 * this.#holdMs) this.#ended.delete(id);
    for (const [key, box] of this.#boxes) {
      if (box.waiter !== undefined || now - box.touched < this.#holdMs) continue;
      if (this.#notStarted(box.id) && now - box.touched < 10 * this.#holdMs) continue;
      this.#boxes.delete(key);
      await this.#parkUnread(box.tenant, box.id, leftIn(box));
    }
  }

  registerMetrics(registry: MetricsRegistry): void {
    const help: Record<keyof Messaging['stats'], string> = {
      sent: 'Messages sent by functions of this host.',
      local: 'Messages sent to a function of this host.',
      direct: 'Messages delivered to another host over HTTP.',
      fallback: 'Messages parked in the KV inbox of their receiver (its host was unknown or did not answer).',
      received: 'Messages read by functions of this host.',
      unread: 'Messages left unread when their receiver ended, parked in its KV inbox.',
    };
    for (const [stat, text] of Object.entries(help) as [keyof Messaging['stats'], string][]) {
      counterFrom(registry, `cloudburst_messages_${stat}_total`, text, () => this.stats[stat]);
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}
