/**
 * The node's side of the binary wire (frame.ts): takes the HTTP/1.1 Upgrade on the node's own
 * port once the request is signed like any cluster route (kvs/auth.ts), then reads frames
 * from the socket and answers each through `handle`, the same code the HTTP routes run.
 *
 * Hostile input: a frame's head is checked before its body is buffered. A length below the
 * head closes the socket (no id to answer to); an unknown op, a bad arg length or a body over
 * its op's limit gets an error answer (the code the HTTP route gives: UNKNOWN_ROUTE,
 * INVALID_REQUEST, KV_VALUE_TOO_LARGE / BODY_TOO_LARGE) and then the socket is closed, as
 * what follows cannot be trusted. A frame whose content is bad (a key, a value) gets its
 * error answer and the socket goes on. Only that socket is affected.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { CloudburstError, stringify } from '../../common/index.ts';
import { checkAccess, type KvCredential } from '../auth.ts';
import { KV_HEADERS } from '../protocol.ts';
import { BODY_LIMITS, FrameReader, isWireOp, MAX_ARG_BYTES, REQUEST_HEAD, responseFrame, WIRE_PATH, WIRE_PROTOCOL, TurnCork, type WireOp } from './frame.ts';

/** Requests one socket may have in flight before the node stops reading it (back-pressure). */
export const WIRE_MAX_IN_FLIGHT = 1024;

/** Answers one request: its body, or throws (a CloudburstError is answered with its code). */
export type WireHandle = (op: WireOp, arg: string, body: Buffer) => Uint8Array | Promise<Uint8Array>;

export interface WireServerOptions {
  readonly credential: KvCredential;
  readonly nodeId: string;
  /** The ring version every answer carries (KV_HEADERS.ringVersion over HTTP). */
  readonly ringVersion: () => string;
  readonly handle: WireHandle;
  /** Told of every error answered (counts) and of unexpected ones (logged, answered INTERNAL). */
  readonly onError: (err: unknown, unexpected: boolean) => void;
}

/** What `close` needs. */
export interface WireServer {
  /** Refuses new upgrades, lets running requests answer (at most `maxWaitMs`), then closes every socket. */
  close(maxWaitMs: number): Promise<void>;
  /** Sockets open now, and upgrades taken since the start (`GET /kv/v1/stats`, `wire`). */
  stats(): { sockets: number; upgrades: number };
}

function httpRefusal(err: CloudburstError): string {
  const body = stringify(err.toJSON());
  return `HTTP/1.1 ${err.status} ${err.code}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * Serves the wire on `server`'s upgrades.
 *
 * @example
 * const wire = acceptWire(server, { credential, nodeId, ringVersion: () => cluster.version, handle, onError });
 * await wire.close(2000);
 */
export function acceptWire(server: Server, opts: WireServerOptions): WireServer {
  const conns = new Set<WireConnection>();
  let closing = false;
  let upgrades = 0;
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      if (closing) throw new CloudburstError('SHUTTING_DOWN', 'the KV node is stopping');
      if ((req.url ?? '') !== WIRE_PATH || String(req.headers.upgrade ?? '').toLowerCase() !== WIRE_PROTOCOL) {
        throw new CloudburstError('UNKNOWN_ROUTE', `a KV node upgrades only ${WIRE_PATH} to ${WIRE_PROTOCOL}`);
      }
      checkAccess(opts.credential, 'cluster', req);
    } catch (err) {
      const e = err instanceof CloudburstError ? err : new CloudburstError('INTERNAL');
      opts.onError(e, false);
      socket.end(httpRefusal(e));
      return;
    }
    upgrades++;
    socket.setNoDelay(true);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${WIRE_PROTOCOL}\r\nconnection: Upgrade\r\n${KV_HEADERS.node}: ${opts.nodeId}\r\n\r\n`);
    const conn = new WireConnection(socket, opts, () => conns.delete(conn));
    conns.add(conn);
    if (head.length > 0) conn.data(head);
  });
  return {
    stats: () => ({ sockets: conns.size, upgrades }),
    async close(maxWaitMs) {
      closing = true;
      await Promise.all([...conns].map((c) => c.close(maxWaitMs)));
    },
  };
}

/** One upgraded socket: its frames in, its answers out. */
class WireConnection {
  readonly #socket: Socket;
  readonly #cork: TurnCork;
  readonly #opts: WireServerOptions;
  readonly #reader = new FrameReader();
  #inFlight = 0;
  #dead = false;
  #idle: (() => void) | undefined;
  readonly #closed: Promise<void>;

  constructor(socket: Socket, opts: WireServerOptions, onClose: () => void) {
    this.#socket = socket;
    this.#cork = new TurnCork(socket);
    this.#opts = opts;
    this.#closed = new Promise((resolve) => socket.once('close', () => {
      this.#dead = true;
      this.#reader.clear();
      onClose();
      resolve();
    }));
    socket.on('data', (chunk: Buffer) => this.data(chunk));
  }

  data(chunk: Buffer): void {
    if (this.#dead) return;
    const r = this.#reader;
    r.push(chunk);
    while (!this.#dead && r.buffered >= 4 + REQUEST_HEAD) {
      const head = r.peek(4 + REQUEST_HEAD);
      const len = head.readUInt32LE(0);
      if (len < REQUEST_HEAD) return this.#kill();
      const id = head.readUInt32LE(4);
      const op = head[8]!;
      const argLen = head.readUInt16LE(10);
      if (!isWireOp(op)) return this.#refuse(id, new CloudburstError('UNKNOWN_ROUTE', `no wire op ${op}`));
      if (argLen > MAX_ARG_BYTES || argLen > len - REQUEST_HEAD) {
        return this.#refuse(id, new CloudburstError('INVALID_REQUEST', `malformed wire frame: an arg of ${argLen} bytes in a frame of ${len}`));
      }
      const limit = BODY_LIMITS[op];
      if (len - REQUEST_HEAD - argLen > limit.bytes) {
        return this.#refuse(id, new CloudburstError(limit.code, `the body is over ${limit.bytes} bytes`));
      }
      if (r.buffered < 4 + len) return;
      const frame = r.take(4 + len);
      this.#dispatch(id, op, frame.toString('utf8', 4 + REQUEST_HEAD, 4 + REQUEST_HEAD + argLen), frame.subarray(4 + REQUEST_HEAD + argLen));
    }
  }

  close(maxWaitMs: number): Promise<void> {
    if (this.#inFlight === 0) this.#socket.end();
    else this.#idle = () => this.#socket.end();
    const cut = setTimeout(() => this.#socket.destroy(), maxWaitMs);
    return this.#closed.finally(() => clearTimeout(cut));
  }

  #dispatch(id: number, op: WireOp, arg: string, body: Buffer): void {
    this.#inFlight++;
    if (this.#inFlight >= WIRE_MAX_IN_FLIGHT) this.#socket.pause();
    let result: Uint8Array | Promise<Uint8Array>;
    try {
      result = this.#opts.handle(op, arg, body);
    } catch (err) {
      return this.#done(id, undefined, err);
    }
    if (result instanceof Uint8Array) return this.#done(id, result, undefined);
    result.then((bytes) => this.#done(id, bytes, undefined), (err: unknown) => this.#done(id, undefined, err));
  }

  #done(id: number, bytes: Uint8Array | undefined, err: unknown): void {
    this.#inFlight--;
    if (bytes) this.#send(id, 200, bytes);
    else this.#send(id, ...this.#errorAnswer(err));
    if (this.#inFlight === WIRE_MAX_IN_FLIGHT - 1) this.#socket.resume();
    if (this.#inFlight === 0 && this.#idle) this.#idle();
  }

  #errorAnswer(err: unknown): [number, Uint8Array] {
    const unexpected = !(err instanceof CloudburstError);
    this.#opts.onError(err, unexpected);
    const e = unexpected ? new CloudburstError('INTERNAL') : err;
    return [e.status, Buffer.from(stringify(e.toJSON()), 'utf8')];
  }

  #send(id: number, status: number, body: Uint8Array): void {
    if (this.#dead || this.#socket.destroyed) return;
    // Answers completed in one turn go out in one write.
    this.#cork.cork();
    for (const b of responseFrame(id, status, this.#opts.ringVersion(), body)) this.#socket.write(b);
  }

  // A frame that cannot be trusted: answer it, then close this socket (and only this one).
  #refuse(id: number, err: CloudburstError): void {
    this.#send(id, ...this.#errorAnswer(err));
    this.#stop();
  }

  #kill(): void {
    this.#opts.onError(new CloudburstError('INVALID_REQUEST', 'a wire frame shorter than its head'), false);
    this.#stop();
  }

  #stop(): void {
    this.#dead = true;
    this.#reader.clear();
    this.#socket.end();
  }
}
