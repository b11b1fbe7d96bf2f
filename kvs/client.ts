/**
 * The client hosts use to talk to a KV node, over an undici Pool (keep-alive connections,
 * `pool.request`, no fetch overhead). Every failure is a CloudburstError: transport problems
 * and timeouts are KV_UNAVAILABLE, error responses carry the node's own code.
 */
import { Buffer } from 'node:buffer';
import { Pool } from 'undici';
import { CloudburstError, errorFromBody, type ErrorCode } from './errors.ts';
import { decode, encode } from './lattice/codec.ts';
import type { Lattice } from './lattice/registry.ts';
import { checkKey, decodeFrame, encodeFrame, KV_CONTENT_TYPES, KV_LIMITS, KV_PATHS, keyPath, type FrameEntry } from './protocol.ts';

/**
 * Options of `KvClient`.
 *
 * @example
 * const opts: KvClientOptions = { url: 'http://127.0.0.1:7100', timeoutMs: 2000 };
 */
export interface KvClientOptions {
  /** The node's origin, e.g. `http://127.0.0.1:7100`. */
  readonly url: string;
  /** Keep-alive connections to the node (default 16). */
  readonly connections?: number;
  /** Deadline of each request, queueing included (default 5000). */
  readonly timeoutMs?: number;
}

type Method = 'GET' | 'PUT' | 'POST';

interface Reply {
  readonly status: number;
  readonly body: Buffer;
}

function fallbackCode(status: number): ErrorCode {
  if (status === 503 || status === 502 || status === 504) return 'KV_UNAVAILABLE';
  if (status === 413) return 'BODY_TOO_LARGE';
  return 'INTERNAL';
}

function errorOf(reply: Reply): CloudburstError {
  let body: unknown;
  try {
    body = JSON.parse(reply.body.toString('utf8'));
  } catch {
    body = undefined;
  }
  const err = errorFromBody(body, fallbackCode(reply.status));
  return body === undefined ? new CloudburstError(err.code, `the KV node answered ${reply.status} without an error body`) : err;
}

/**
 * Talks to one KV node.
 *
 * @example
 * const kv = new KvClient({ url: node.url });
 * await kv.merge('k', counter.add(undefined, 'host-1', 1n));
 * const v = await kv.get('k');
 * await kv.close();
 */
export class KvClient {
  readonly url: string;
  readonly #pool: Pool;
  readonly #timeoutMs: number;

  constructor(opts: KvClientOptions) {
    this.url = opts.url;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#pool = new Pool(opts.url, {
      connections: opts.connections ?? 16,
      connectTimeout: this.#timeoutMs,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  /**
   * The value of `key`, or undefined when the node has none. Deleted keys come back as their
   * tombstone (see `isDeleted`).
   *
   * @example
   * const v = await kv.get('default/k/x');
   */
  async get(key: string): Promise<Lattice | undefined> {
    const bytes = await this.getEncoded(key);
    return bytes === undefined ? undefined : decode(bytes);
  }

  /**
   * The encoded value of `key`, or undefined.
   *
   * @example
   * const bytes = await kv.getEncoded('k');
   */
  async getEncoded(key: string): Promise<Uint8Array | undefined> {
    const reply = await this.#request('GET', keyPath(key));
    if (reply.status === 200) return reply.body;
    const err = errorOf(reply);
    if (err.code === 'KEY_NOT_FOUND') return undefined;
    throw err;
  }

  /**
   * Merges `value` into `key` on the node and returns the merged value, once the node has
   * made it durable.
   *
   * @example
   * const merged = await kv.merge('k', lww.write(bytes, hlc.now()));
   */
  async merge(key: string, value: Lattice): Promise<Lattice> {
    const path = keyPath(key);
    const body = encode(value);
    if (body.byteLength > KV_LIMITS.maxValueBytes) throw new CloudburstError('KV_VALUE_TOO_LARGE');
    const reply = await this.#request('PUT', path, body);
    if (reply.status !== 200) throw errorOf(reply);
    return decode(reply.body);
  }

  /**
   * Merges many entries; the node applies each frame in one transaction. Returns, aligned
   * with `entries`, null for a merged entry or the error that made it skip. Batches over the
   * frame limits are split into several requests, sent one after another; a transport failure
   * rejects the whole call (retrying is safe: merges are idempotent).
   *
   * @example
   * const errors = await kv.mergeBatch([{ key: 'a', value: x }, { key: 'b', value: y }]);
   */
  async mergeBatch(entries: readonly { key: string; value: Lattice }[]): Promise<(CloudburstError | null)[]> {
    const results: (CloudburstError | null)[] = new Array(entries.length).fill(null);
    let chunk: FrameEntry[] = [];
    let slots: number[] = [];
    let size = 0;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const sent = slots;
      const reply = await this.#request('POST', KV_PATHS.batchMerge, encodeFrame(chunk));
      chunk = [];
      slots = [];
      size = 0;
      if (reply.status !== 200) throw errorOf(reply);
      const remote = (JSON.parse(reply.body.toString('utf8')) as { results?: unknown }).results;
      if (!Array.isArray(remote) || remote.length !== sent.length) {
        throw new CloudburstError('INTERNAL', `the KV node answered a batch of ${sent.length} with a malformed result list`);
      }
      remote.forEach((r: unknown, j) => {
        if (r !== null) results[sent[j]!] = errorFromBody({ error: r });
      });
    };
    for (let i = 0; i < entries.length; i++) {
      const { key, value } = entries[i]!;
      let bytes: Uint8Array;
      try {
        checkKey(key);
        bytes = encode(value);
        if (bytes.byteLength > KV_LIMITS.maxValueBytes) throw new CloudburstError('KV_VALUE_TOO_LARGE');
      } catch (err) {
        if (!(err instanceof CloudburstError)) throw err;
        results[i] = err;
        continue;
      }
      const entrySize = 6 + Buffer.byteLength(key, 'utf8') + bytes.byteLength;
      if (chunk.length >= KV_LIMITS.maxBatchEntries || size + entrySize > KV_LIMITS.maxBodyBytes) await flush();
      chunk.push({ key, value: bytes });
      slots.push(i);
      size += entrySize;
    }
    await flush();
    return results;
  }

  /**
   * The values of `keys`, aligned with them (undefined where the node has none).
   *
   * @example
   * const [a, b] = await kv.getBatch(['a', 'b']);
   */
  async getBatch(keys: readonly string[]): Promise<(Lattice | undefined)[]> {
    for (const key of keys) checkKey(key);
    const out: (Lattice | undefined)[] = [];
    for (let start = 0; start < keys.length; start += KV_LIMITS.maxBatchEntries) {
      const part = keys.slice(start, start + KV_LIMITS.maxBatchEntries);
      const body = Buffer.from(JSON.stringify({ keys: part }), 'utf8');
      const reply = await this.#request('POST', KV_PATHS.batchGet, body, KV_CONTENT_TYPES.json);
      if (reply.status !== 200) throw errorOf(reply);
      const frame = decodeFrame(reply.body, part.length);
      if (frame.length !== part.length || frame.some((e, i) => e.key !== part[i])) {
        throw new CloudburstError('INTERNAL', 'the KV node answered a batch get with entries that do not match the keys');
      }
      for (const e of frame) out.push(e.value === undefined ? undefined : decode(e.value));
    }
    return out;
  }

  /**
   * Closes the connections (after in-flight requests finish).
   *
   * @example
   * await kv.close();
   */
  async close(): Promise<void> {
    if (!this.#pool.closed) await this.#pool.close();
  }

  async #request(method: Method, path: string, body?: Uint8Array, contentType: string = KV_CONTENT_TYPES.lattice): Promise<Reply> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    try {
      const res = await this.#pool.request({
        method,
        path,
        signal: abort.signal,
        ...(body ? { body, headers: { 'content-type': contentType } } : {}),
      });
      const data = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, body: data };
    } catch (err) {
      if (err instanceof CloudburstError) throw err;
      const message = abort.signal.aborted
        ? `the KV node at ${this.url} did not answer within ${this.#timeoutMs} ms`
        : `the KV node at ${this.url} could not be reached: ${(err as Error).message}`;
      throw new CloudburstError('KV_UNAVAILABLE', message, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
