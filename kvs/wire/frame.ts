/**
 * The binary wire of a KV node (kvs/README.md, "Binary wire"): after an HTTP/1.1 Upgrade on the
 * node's own port, a socket carries length-prefixed frames instead of HTTP requests, so that
 * the hot operations (get, merge, batch merge and get, replica push) skip HTTP's parsing and
 * headers. Requests are pipelined and multiplexed by id; answers may come in any order.
 *
 * ```
 * request  := len u32 | id u32 | op u8 | flags u8 (0) | argLen u16 | arg | body
 * response := len u32 | id u32 | status u16 | ringLen u8 | ring version | body
 * ```
 *
 * All integers little-endian; `len` counts the bytes after itself. `arg` is what the HTTP
 * route has outside its body: the key as it goes in the path (percent-encoded) for `get` and
 * `merge`, the `x-cloudburst-kv-origin` header for `batchMerge`, `x-cloudburst-kv-from` for
 * `push`. `body` is the HTTP body, byte for byte (a lattice encoding, a batch frame, JSON); an
 * answer's status and body are what the HTTP route answers (an error is its JSON error body).
 * No second value encoding exists: only the envelope is new.
 */
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { KV_LIMITS, KV_PATHS } from '../protocol.ts';

/** The path of the upgrade request, and the protocol token of its `Upgrade` header. */
export const WIRE_PATH = '/kv/v1/wire';
export const WIRE_PROTOCOL = 'cloudburst-kv/1';

/**
 * The operations, each the binary twin of one HTTP route.
 *
 * @example
 * WIRE_OPS.get // 1: GET /kv/v1/keys/<key>
 */
export const WIRE_OPS = { get: 1, merge: 2, batchMerge: 3, batchGet: 4, push: 5 } as const;
export type WireOp = (typeof WIRE_OPS)[keyof typeof WIRE_OPS];

/** Bytes of a request header after `len` (id, op, flags, argLen), and of a response's (id, status, ringLen). */
export const REQUEST_HEAD = 8;
export const RESPONSE_HEAD = 7;
/** The most bytes an `arg` may have: a 1024-byte key percent-encoded is at most 3072; an origin URL fits. */
export const MAX_ARG_BYTES = 8192;

/**
 * The largest body each op accepts: the HTTP route's limit (a body over it gets the same
 * error code as over HTTP). `get` takes none.
 */
export const BODY_LIMITS: Record<WireOp, { bytes: number; code: 'KV_VALUE_TOO_LARGE' | 'BODY_TOO_LARGE' }> = {
  [WIRE_OPS.get]: { bytes: 0, code: 'BODY_TOO_LARGE' },
  [WIRE_OPS.merge]: { bytes: KV_LIMITS.maxValueBytes, code: 'KV_VALUE_TOO_LARGE' },
  [WIRE_OPS.batchMerge]: { bytes: KV_LIMITS.maxBodyBytes, code: 'BODY_TOO_LARGE' },
  [WIRE_OPS.batchGet]: { bytes: KV_LIMITS.maxBodyBytes, code: 'BODY_TOO_LARGE' },
  [WIRE_OPS.push]: { bytes: KV_LIMITS.maxBodyBytes, code: 'BODY_TOO_LARGE' },
};

/** The largest request `len` of any op, and of any response (a batch get's frame, a ring version, the head). */
export const MAX_REQUEST_LEN = REQUEST_HEAD + MAX_ARG_BYTES + KV_LIMITS.maxBodyBytes;
export const MAX_RESPONSE_LEN = RESPONSE_HEAD + 255 + KV_LIMITS.maxBodyBytes;

export function isWireOp(op: number): op is WireOp {
  return op >= WIRE_OPS.get && op <= WIRE_OPS.push;
}

/**
 * The op and arg of an HTTP request the wire can carry, or undefined (it goes over HTTP).
 *
 * @example
 * wireOpOf('GET', '/kv/v1/keys/a%2Fb') // { op: 1, arg: 'a%2Fb' }
 */
export function wireOpOf(method: string, path: string, headers: Record<string, string> | undefined): { op: WireOp; arg: string } | undefined {
  if (path.startsWith(KV_PATHS.keys)) {
    const arg = path.slice(KV_PATHS.keys.length);
    if (arg.includes('?') || arg.length === 0) return undefined;
    if (method === 'GET') return { op: WIRE_OPS.get, arg };
    if (method === 'PUT') return { op: WIRE_OPS.merge, arg };
    return undefined;
  }
  if (method !== 'POST') return undefined;
  if (path === KV_PATHS.batchMerge) return { op: WIRE_OPS.batchMerge, arg: headers?.['x-cloudburst-kv-origin'] ?? '' };
  if (path === KV_PATHS.batchGet) return { op: WIRE_OPS.batchGet, arg: '' };
  if (path === KV_PATHS.push) return { op: WIRE_OPS.push, arg: headers?.['x-cloudburst-kv-from'] ?? '' };
  return undefined;
}

/**
 * The bytes of one request: a head buffer, then the body (sent as is, not copied when large).
 *
 * @example
 * socket.write(requestHead(7, WIRE_OPS.get, 'k', 0));
 */
export function requestHead(id: number, op: WireOp, arg: string, bodyBytes: number): Buffer {
  const argBytes = Buffer.byteLength(arg, 'utf8');
  const head = Buffer.allocUnsafe(4 + REQUEST_HEAD + argBytes);
  head.writeUInt32LE(REQUEST_HEAD + argBytes + bodyBytes, 0);
  head.writeUInt32LE(id, 4);
  head[8] = op;
  head[9] = 0;
  head.writeUInt16LE(argBytes, 10);
  head.write(arg, 12, 'utf8');
  return head;
}

/** The bytes of one response (head and body in one buffer when the body is small). */
export function responseFrame(id: number, status: number, ring: string, body: Uint8Array): Buffer[] {
  const ringBytes = Math.min(255, Buffer.byteLength(ring, 'latin1'));
  const small = body.byteLength <= 16 * 1024;
  const head = Buffer.allocUnsafe(4 + RESPONSE_HEAD + ringBytes + (small ? body.byteLength : 0));
  head.writeUInt32LE(RESPONSE_HEAD + ringBytes + body.byteLength, 0);
  head.writeUInt32LE(id, 4);
  head.writeUInt16LE(status, 8);
  head[10] = ringBytes;
  head.write(ring, 11, ringBytes, 'latin1');
  if (small) {
    head.set(body, 11 + ringBytes);
    return [head];
  }
  return [head, Buffer.from(body.buffer, body.byteOffset, body.byteLength)];
}

/**
 * Collects a socket's chunks and cuts them into frames by their `len`. `peek` lets the caller
 * look at a frame's head (and refuse it) before its body has arrived, so a forged length is
 * refused before anything is buffered for it.
 *
 * @example
 * reader.push(chunk);
 * for (let f; (f = reader.next()); ) handle(f);
 */
/**
 * What is left of `buf` after its first `n` bytes. A view would keep the whole of `buf` alive
 * for as long as the rest waits (a 50 MB frame's buffer, behind the few bytes of the next
 * frame's head): past RETAIN_BYTES of buffer per byte kept, the rest is copied out instead.
 */
function rest(buf: Buffer, n: number): Buffer {
  const left = buf.length - n;
  return buf.length > RETAIN_BYTES && left * 4 < buf.length ? Buffer.from(buf.subarray(n)) : buf.subarray(n);
}

/** A buffer up to this size may stay alive behind a view of its rest (socket chunks are 64 KiB). */
const RETAIN_BYTES = 256 * 1024;

export class FrameReader {
  #chunks: Buffer[] = [];
  #bytes = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.#bytes;
  }

  /**
   * The first `n` bytes (n ≤ buffered), copied only when they span chunks: only the chunks
   * that hold them are joined, not a large frame's body arriving behind its head.
   */
  peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    let count = 0;
    let bytes = 0;
    while (bytes < n) bytes += this.#chunks[count++]!.length;
    const joined = Buffer.concat(this.#chunks.slice(0, count), bytes);
    this.#chunks.splice(0, count, joined);
    return joined.subarray(0, n);
  }

  /** Takes `n` bytes (n ≤ buffered) as one buffer. */
  take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = rest(first, n);
    } else {
      const joined = Buffer.concat(this.#chunks, this.#bytes);
      out = joined.subarray(0, n);
      this.#chunks = n < joined.length ? [rest(joined, n)] : [];
    }
    this.#bytes -= n;
    return out;
  }

  /** Drops everything (a socket being closed). */
  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }
}

/**
 * Corks a socket for the rest of the turn at its first write, so that the frames written in
 * one turn (requests sent together, answers completed together) go out in one write.
 *
 * @example
 * const out = new TurnCork(socket);
 * out.cork(); socket.write(head); socket.write(body);
 */
export class TurnCork {
  readonly #socket: Socket;
  #corked = false;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.#socket.uncork();
    });
  }
}
