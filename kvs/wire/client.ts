/**
 * The client's side of the binary wire (frame.ts): a few upgraded sockets per KV node, each
 * carrying many requests at once, matched to their answers by id. `Transport` sends the
 * requests the wire can carry through here and the rest over HTTP.
 *
 * Failures are the HTTP path's: a node that cannot be reached, a socket that closes with
 * requests on it (a node killed mid-request), an answer later than the deadline, all reject
 * with KV_UNAVAILABLE, and the next request opens a new socket. A node that refuses the
 * upgrade (an older node, a node started with `CLOUDBURST_KV_WIRE=http`, a bad signature, a node
 * stopping) is spoken to over HTTP for `FALLBACK_MS`, then asked again; HTTP then gives the
 * same answers it always did (a bad signature's 401 included). Origins served over TLS stay
 * on HTTP.
 */
import { Buffer } from 'node:buffer';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { CloudburstError, signRequest } from '../../common/index.ts';
import { KV_HEADERS } from '../protocol.ts';
import { FrameReader, MAX_RESPONSE_LEN, requestHead, RESPONSE_HEAD, WIRE_PATH, WIRE_PROTOCOL, TurnCork, type WireOp } from './frame.ts';

/** Sockets per node: a few, as answers are multiplexed (one is busy parsing while another reads). */
export const WIRE_SOCKETS_PER_ORIGIN = 2;
/** How long an origin that refused the upgrade is spoken to over HTTP before it is asked again. */
export const FALLBACK_MS = 10_000;
/** Ids wrap here (u32). */
const MAX_ID = 0xffffffff;

/** An answer: status, ring version and node (the headers the HTTP answer would carry), body. */
export interface WireReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface WireChannelOptions {
  readonly secret: Buffer | undefined;
  readonly connectTimeoutMs: number;
  /** Extra deadline for the bytes an answer announces (Transport's allowance). */
  readonly allowanceMs: (bytes: number) => number;
}

/**
 * The wire to one origin.
 *
 * @example
 * const ch = new WireChannel('http://127.0.0.1:7100', opts);
 * const reply = await ch.request(WIRE_OPS.get, 'k', undefined, 1000); // undefined: use HTTP
 */
export class WireChannel {
  readonly #origin: string;
  readonly #opts: WireChannelOptions;
  readonly #sockets: (WireSocket | Promise<WireSocket | undefined>)[] = [];
  #refusedUntil = 0;
  #closed = false;

  constructor(origin: string, opts: WireChannelOptions) {
    this.#origin = origin;
    this.#opts = opts;
    if (!origin.startsWith('http://')) this.#refusedUntil = Infinity;
  }

  /** Whether requests go over HTTP for now (the origin refused the upgrade, or is TLS). */
  get refused(): boolean {
    return this.#closed || Date.now() < this.#refusedUntil;
  }

  /**
   * Sends one request; resolves with its answer, or undefined when the origin refused the
   * upgrade (send it over HTTP).
   *
   * @throws CloudburstError `KV_UNAVAILABLE` as Transport.request does.
   */
  async request(op: WireOp, arg: string, body: Uint8Array | undefined, timeoutMs: number): Promise<WireReply | undefined> {
    const started = Date.now();
    const socket = await this.#pick(timeoutMs);
    if (!socket) return undefined;
    return socket.send(op, arg, body, Math.max(1, timeoutMs - (Date.now() - started)));
  }

  /** Closes the sockets: at once with `force` (requests on them fail), else once their requests are answered. */
  async close(force: boolean): Promise<void> {
    this.#closed = true;
    const sockets = await Promise.all(this.#sockets.map((s) => Promise.resolve(s).catch(() => undefined)));
    this.#sockets.length = 0;
    await Promise.all(sockets.map((s) => s?.close(force)));
  }

  // A socket with nothing in flight, else a new one while there are fewer than the cap, else the least busy.
  #pick(timeoutMs: number): WireSocket | Promise<WireSocket | undefined> | undefined {
    let best: WireSocket | undefined;
    for (let i = 0; i < this.#sockets.length; i++) {
      const s = this.#sockets[i]!;
      if (!(s instanceof WireSocket)) continue;
      if (s.dead) {
        this.#sockets.splice(i--, 1);
        continue;
      }
      if (s.inFlight === 0) return s;
      if (!best || s.inFlight < best.inFlight) best = s;
    }
    if (this.#sockets.length < WIRE_SOCKETS_PER_ORIGIN) return this.#open(timeoutMs);
    return best ?? (this.#sockets[0] as Promise<WireSocket | undefined>);
  }

  #open(timeoutMs: number): Promise<WireSocket | undefined> {
    const opening = this.#connect(Math.min(timeoutMs, this.#opts.connectTimeoutMs)).then(
      (socket) => {
        const i = this.#sockets.indexOf(opening);
        if (socket && i !== -1 && !this.#closed) this.#sockets[i] = socket;
        else {
          if (i !== -1) this.#sockets.splice(i, 1);
          if (socket && this.#closed) void socket.close(true);
        }
        return this.#closed ? undefined : socket;
      },
      (err: unknown) => {
        const i = this.#sockets.indexOf(opening);
        if (i !== -1) this.#sockets.splice(i, 1);
        throw err;
      },
    );
    this.#sockets.push(opening);
    return opening;
  }

  #connect(timeoutMs: number): Promise<WireSocket | undefined> {
    const url = new URL(this.#origin);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const headers: Record<string, string> = { connection: 'Upgrade', upgrade: WIRE_PROTOCOL };
    if (this.#opts.secret) Object.assign(headers, signRequest(this.#opts.secret, 'GET', WIRE_PATH));
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host, port: Number(url.port || 80), path: WIRE_PATH, method: 'GET', headers, agent: false });
      const timer = setTimeout(() => req.destroy(new Error(`no answer to the upgrade within ${timeoutMs} ms`)), timeoutMs);
      req.on('upgrade', (res, socket, head) => {
        clearTimeout(timer);
        if (res.statusCode !== 101 || String(res.headers.upgrade ?? '').toLowerCase() !== WIRE_PROTOCOL) {
          socket.destroy();
          this.#refusedUntil = Date.now() + FALLBACK_MS;
          return resolve(undefined);
        }
        const node = res.headers[KV_HEADERS.node];
        resolve(new WireSocket(socket, this.#origin, typeof node === 'string' ? node : '', head, this.#opts));
      });
      req.on('response', (res) => {
        // Not upgraded (an older node, `CLOUDBURST_KV_WIRE=http`, a refusal): HTTP it is, for a while.
        clearTimeout(timer);
        res.resume();
        res.on('error', () => undefined);
        this.#refusedUntil = Date.now() + FALLBACK_MS;
        resolve(undefined);
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(new CloudburstError('KV_UNAVAILABLE', `the KV node at ${this.#origin} could not be reached: ${err.message}`, undefined, { cause: err }));
      });
      req.end();
    });
  }
}

interface Pending {
  readonly resolve: (reply: WireReply) => void;
  readonly reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
  readonly started: number;
  extended: boolean;
}

/** One upgraded socket: requests out, answers in by id. */
class WireSocket {
  readonly #socket: Socket;
  readonly #cork: TurnCork;
  readonly #origin: string;
  readonly #node: string;
  readonly #opts: WireChannelOptions;
  readonly #reader = new FrameReader();
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closing = false;
  dead = false;

  constructor(socket: Socket, origin: string, node: string, head: Buffer, opts: WireChannelOptions) {
    this.#socket = socket;
    this.#cork = new TurnCork(socket);
    this.#origin = origin;
    this.#node = node;
    this.#opts = opts;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.#fail(`the KV node at ${origin} could not be reached: the connection closed`));
    if (head.length > 0) this.#data(head);
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  send(op: WireOp, arg: string, body: Uint8Array | undefined, timeoutMs: number): Promise<WireReply> {
    if (this.dead) return Promise.reject(new CloudburstError('KV_UNAVAILABLE', `the KV node at ${this.#origin} could not be reached: the connection closed`));
    const id = this.#nextId;
    this.#nextId = id === MAX_ID ? 1 : id + 1;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject, timeoutMs, started: Date.now(), extended: false, timer: setTimeout(() => this.#timeout(id), timeoutMs) };
      this.#pending.set(id, p);
      // Requests sent in one turn go out in one write.
      this.#cork.cork();
      this.#socket.write(requestHead(id, op, arg, body?.byteLength ?? 0));
      if (body && body.byteLength > 0) this.#socket.write(body);
    });
  }

  close(force: boolean): Promise<void> {
    this.#closing = true;
    if (force || this.#pending.size === 0) this.#socket.destroy();
    if (this.dead) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once('close', () => resolve()));
  }

  #timeout(id: number): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    p.reject(new CloudburstError('KV_UNAVAILABLE', `the KV node at ${this.#origin} did not answer within ${p.timeoutMs} ms`));
    if (this.#closing && this.#pending.size === 0) this.#socket.destroy();
  }

  #data(chunk: Buffer): void {
    const r = this.#reader;
    r.push(chunk);
    while (!this.dead && r.buffered >= 4 + RESPONSE_HEAD) {
      const head = r.peek(4 + RESPONSE_HEAD);
      const len = head.readUInt32LE(0);
      if (len < RESPONSE_HEAD || len > MAX_RESPONSE_LEN) return this.#broken(`an answer frame of ${len} bytes`);
      const id = head.readUInt32LE(4);
      const ringLen = head[10]!;
      if (ringLen > len - RESPONSE_HEAD) return this.#broken('an answer frame shorter than its ring version');
      if (r.buffered < 4 + len) {
        this.#extend(id, len);
        return;
      }
      const frame = r.take(4 + len);
      const p = this.#pending.get(id);
      if (!p) continue; // its request timed out
      this.#pending.delete(id);
      clearTimeout(p.timer);
      const headers: Record<string, string> = { [KV_HEADERS.ringVersion]: frame.toString('latin1', 11, 11 + ringLen), [KV_HEADERS.node]: this.#node };
      p.resolve({ status: frame.readUInt16LE(8), headers, body: frame.subarray(11 + ringLen) });
    }
    if (this.#closing && this.#pending.size === 0) this.#socket.destroy();
  }

  // A large answer on its way: its deadline grows with its bytes, as over HTTP.
  #extend(id: number, len: number): void {
    const p = this.#pending.get(id);
    const extra = this.#opts.allowanceMs(len);
    if (!p || p.extended || extra === 0) return;
    p.extended = true;
    clearTimeout(p.timer);
    p.timeoutMs += extra;
    p.timer = setTimeout(() => this.#timeout(id), Math.max(0, p.timeoutMs - (Date.now() - p.started)));
  }

  #broken(what: string): void {
    this.#fail(`the KV node at ${this.#origin} sent ${what}`);
    this.#socket.destroy();
  }

  #fail(message: string): void {
    this.dead = true;
    this.#reader.clear();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new CloudburstError('KV_UNAVAILABLE', message));
    }
  }
}
