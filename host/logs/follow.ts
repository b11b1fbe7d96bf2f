import type { ServerResponse } from 'node:http';
import type { Registry as PromRegistry } from 'prom-client';
import { gaugeFrom } from '../metrics.ts';
import { CloudburstError } from '../../common/index.ts';
import type { ClusterLogs, LogPeer } from './cluster-logs.ts';
import { encodeCursor, type Cursor } from './cursor.ts';
import type { LogLine } from './log-line.ts';
import type { LogStore } from './log-store.ts';

/** Bounds and rhythm of log streams (host/README.md, "Logs"). */
export interface FollowOptions {
  /** Streams one host serves at once. Default 64. */
  maxFollowers: number;
  /** Streams one tenant may hold on one host. Default 16. */
  maxPerTenant: number;
  /** How often other hosts are asked for new lines, in ms. Default 500. */
  pollMs: number;
  /** How often a comment keeps an idle stream (and the proxies on its way) open, in ms. Default 15 s. */
  heartbeatMs: number;
}

export const DEFAULT_FOLLOW: FollowOptions = { maxFollowers: 64, maxPerTenant: 16, pollMs: 500, heartbeatMs: 15_000 };

/** Bytes a stream may have waiting in its socket (a client that does not read): over it, the stream ends (the client reconnects with its last id). */
const MAX_PENDING_BYTES = 1024 * 1024;

/** The SSE event of one line: its id is the cursor just after it (what `Last-Event-ID` or `since` resumes from). */
export function logEvent(line: LogLine, cursor: string): string {
  return `id: ${cursor}\nevent: log\ndata: ${JSON.stringify(line)}\n\n`;
}

interface Stream {
  tenant: string;
  end: () => void;
}

/**
 * The log streams (`GET /v1/functions/{fn}/logs?follow=1`) a host serves: server-sent events,
 * first the page a plain read would answer, then each new line. Lines of this host are pushed
 * as they are recorded (LogStore.subscribe); other hosts are asked every `pollMs` from the
 * stream's cursor. A stream ends when its client goes away, when it does not read what it is
 * sent, and when the host stops (`endAll`, before the server drains: a stream never holds a
 * stop up).
 */
export class LogFollowers {
  readonly #store: LogStore;
  readonly #cluster: ClusterLogs;
  readonly #o: FollowOptions;
  readonly #streams = new Set<Stream>();
  #ended = false;

  constructor(store: LogStore, cluster: ClusterLogs, o: Partial<FollowOptions> = {}) {
    this.#store = store;
    this.#cluster = cluster;
    this.#o = { ...DEFAULT_FOLLOW, ...o };
  }

  get size(): number {
    return this.#streams.size;
  }

  /**
   * Serves one stream until it ends.
   *
   * @throws CloudburstError `OVERLOADED` when the host or the tenant has as many streams as it allows,
   *   `SHUTTING_DOWN` when the host is stopping
   */
  async follow(res: ServerResponse, tenant: string, fn: string, since: Cursor | undefined, limit: number): Promise<void> {
    if (this.#ended) throw new CloudburstError('SHUTTING_DOWN', 'the host is stopping: follow the logs through another host');
    const mine = [...this.#streams].filter((s) => s.tenant === tenant).length;
    if (this.#streams.size >= this.#o.maxFollowers || mine >= this.#o.maxPerTenant) {
      const which = mine >= this.#o.maxPerTenant ? `tenant ${tenant} has ${mine} log streams on this host, the most it may` : `this host serves ${this.#streams.size} log streams, the most it may`;
      throw new CloudburstError('OVERLOADED', `${which}: close one, or read without follow`, { retryAfter: 5 });
    }
    const self = this.#cluster.selfId;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = (): void => undefined;
    let closed = false;
    const stream: Stream = {
      tenant,
      end: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        for (const t of timers) clearTimeout(t);
        this.#streams.delete(stream);
        if (!res.writableEnded) res.end();
        done();
      },
    };
    this.#streams.add(stream);
    // The response closes when it ended, and when its connection did (the client went away).
    res.once('close', stream.end);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.flushHeaders();

    const cursor: Cursor = {};
    const send = (lines: readonly LogLine[]): void => {
      for (const line of lines) {
        if (closed) return;
        cursor[line.host] = line.seq;
        res.write(logEvent(line, encodeCursor(cursor)));
      }
      if (res.writableLength > MAX_PENDING_BYTES) stream.end();
    };

    // The first page (as a plain read answers it), then this host's lines as they come.
    let pumping = false;
    const pumpLocal = (): void => {
      if (pumping || closed) return;
      pumping = true;
      queueMicrotask(() => {
        pumping = false;
        for (;;) {
          const page = this.#store.read(tenant, fn, cursor[self] ?? 0, 1000);
          send(page.lines);
          if (!page.more || closed) break;
        }
      });
    };
    const first = await this.#cluster.lines(tenant, fn, since, limit);
    if (closed) return finished;
    send(first.lines);
    // Every host the first page saw starts where it left off; hosts it missed, from the cursor the client gave.
    Object.assign(cursor, since ?? {}, JSON.parse(Buffer.from(first.next, 'base64url').toString('utf8')) as Cursor);
    res.write(`: following ${fn}${first.missing.length > 0 ? `; hosts that did not answer: ${first.missing.join(', ')}` : ''}\n\n`);
    unsubscribe = this.#store.subscribe(tenant, fn, pumpLocal);
    pumpLocal();

    // Other hosts, polled in turn (a poll never overlaps the one before).
    const poll = async (): Promise<void> => {
      const peers = this.#cluster.peers;
      const answers = await Promise.all(peers.map((p: LogPeer) => this.#cluster.peerLines(p, tenant, fn, cursor[p.id] ?? 0, 1000)));
      if (closed) return;
      for (const a of answers) {
        if (!a) continue;
        send(a.lines);
        if (!a.more && (cursor[a.host] ?? 0) < a.head) cursor[a.host] = a.head;
      }
      if (!closed) timers[0] = setTimeout(() => void poll(), this.#o.pollMs);
    };
    timers[0] = setTimeout(() => void poll(), this.#o.pollMs);
    const beat = (): void => {
      if (closed) return;
      res.write(': keep-alive\n\n');
      timers[1] = setTimeout(beat, this.#o.heartbeatMs);
    };
    timers[1] = setTimeout(beat, this.#o.heartbeatMs);
    return finished;
  }

  registerMetrics(registry: PromRegistry): void {
    gaugeFrom(registry, 'cloudburst_log_streams', 'Log streams (GET /v1/functions/{fn}/logs?follow=1) this host serves now', () => this.#streams.size);
  }

  /** Ends every stream, and refuses new ones: the host is stopping. */
  endAll(): void {
    this.#ended = true;
    for (const s of [...this.#streams]) s.end();
  }
}
