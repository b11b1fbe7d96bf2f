/**
 * HTTP to other processes (KV nodes, subscribers) over undici Pools, one per origin:
 * keep-alive connections and `pool.request` without fetch's overhead. Every failure is a
 * CloudburstError: transport problems and timeouts are KV_UNAVAILABLE, and `errorOf` turns
 * an error response into the node's own code. The client and the node's cluster layer
 * (gossip, pushes, anti-entropy, subscription pushes) share it, and it is the one place that
 * signs their requests with the cluster credential.
 */
import { Buffer } from 'node:buffer';
import { Pool } from 'undici';
import { CloudburstError, connectOptions, errorFromBody, signRequest, TENANT_HEADER, type ErrorCode } from '../common/index.ts';
import { KV_CONTENT_TYPES } from './protocol.ts';
import { WireChannel } from './wire/client.ts';
import { wireOpOf } from './wire/frame.ts';
import { defaultWire, type WireMode } from './wire/mode.ts';

/** A response, read whole. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One request. `timeoutMs` covers queueing, connecting, headers and body. */
export interface RequestSpec {
  readonly method: 'GET' | 'PUT' | 'POST';
  readonly path: string;
  readonly body?: Uint8Array;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

function fallbackCode(status: number): ErrorCode {
  if (status === 503 || status === 502 || status === 504) return 'KV_UNAVAILABLE';
  if (status === 413) return 'BODY_TOO_LARGE';
  return 'INTERNAL';
}

/**
 * The CloudburstError an error reply carries (a non-JSON body gets a code from its status).
 *
 * @example
 * if (reply.status !== 200) throw errorOf(reply);
 */
export function errorOf(reply: Reply): CloudburstError {
  let body: unknown;
  try {
    body = JSON.parse(reply.body.toString('utf8'));
  } catch {
    body = undefined;
  }
  const err = errorFromBody(body, fallbackCode(reply.status));
  if (body === undefined) return new CloudburstError(err.code, `the KV node answered ${reply.status} without an error body`);
  const details = (body as { error?: Record<string, unknown> }).error;
  return details ? new CloudburstError(err.code, err.message, details) : err;
}

/**
 * Parses a JSON reply body.
 *
 * @throws CloudburstError `INTERNAL` for a body that is not JSON.
 */
export function jsonOf(reply: Reply): unknown {
  try {
    return JSON.parse(reply.body.toString('utf8'));
  } catch (err) {
    throw new CloudburstError('INTERNAL', `the KV node answered ${reply.status} with a body that is not JSON`, undefined, { cause: err });
  }
}

/**
 * Options of `Transport`.
 *
 * @example
 * new Transport({ connections: 8, timeoutMs: 1000 })
 */
export interface TransportOptions {
  /** Keep-alive connections per origin (default 16). */
  readonly connections?: number;
  /** Default deadline per request (default 5000). */
  readonly timeoutMs?: number;
  /** PEM CA certificate(s) trusted besides the system's, for origins served over TLS (hosts a node pushes to). */
  readonly ca?: Buffer | undefined;
  /**
   * The cluster credential (common/cluster-auth.ts): every request is signed with it, for its
   * method and path (and the tenant, when its headers name one). Without it requests go
   * unsigned, which only a node started with `insecure` accepts.
   */
  readonly clusterSecret?: Buffer | undefined;
  /**
   * `binary` (the default, or CLOUDBURST_KV_WIRE): the KV data operations (get, merge, batch
   * merge and get, replica push) go over the binary wire (kvs/wire/) where the node takes it,
   * everything else over HTTP; `http`: everything over HTTP.
   */
  readonly wire?: WireMode | undefined;
}

/**
 * Pools per origin, created on first use.
 *
 * @example
 * const t = new Transport();
 * const reply = await t.request('http://127.0.0.1:7100', { method: 'GET', path: '/kv/v1/ring' });
 * await t.close();
 */
export class Transport {
  readonly timeoutMs: number;
  readonly #connections: number;
  readonly #secret: Buffer | undefined;
  readonly #pools = new Map<string, Pool>();
  readonly #wire: WireMode;
  readonly #channels = new Map<string, WireChannel>();
  readonly #connect: ReturnType<typeof connectOptions>;
  #closed = false;

  constructor(opts: TransportOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.#connections = opts.connections ?? 16;
    this.#connect = connectOptions(opts.ca);
    this.#secret = opts.clusterSecret;
    this.#wire = opts.wire ?? defaultWire();
  }

  /**
   * Sends one request and reads the whole response.
   *
   * @throws CloudburstError `KV_UNAVAILABLE` when the origin cannot be reached or does not
   *   answer within the deadline (the message names both).
   */
  async request(origin: string, spec: RequestSpec): Promise<Reply> {
    // The deadline grows with the bytes a request carries, and again with the bytes its answer
    // announces: a 64 MiB value takes seconds to move and merge on a loaded machine, and a
    // fixed deadline would refuse a legitimate write or read that is making progress.
    let timeoutMs = (spec.timeoutMs ?? this.timeoutMs) + allowanceMs(spec.body?.byteLength ?? 0);
    if (this.#wire === 'binary') {
      const route = wireOpOf(spec.method, spec.path, spec.headers);
      const channel = route && this.#channel(origin);
      if (channel && !channel.refused) {
        const reply = await channel.request(route.op, route.arg, spec.body, timeoutMs);
        if (reply) return reply;
      }
    }
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const headers: Record<string, string> = { ...spec.headers };
      if (spec.body) headers['content-type'] = spec.contentType ?? KV_CONTENT_TYPES.lattice;
      if (this.#secret) Object.assign(headers, signRequest(this.#secret, spec.method, spec.path, headers[TENANT_HEADER]));
      const started = Date.now();
      const res = await this.#pool(origin).request({
        method: spec.method,
        path: spec.path,
        signal: abort.signal,
        headers,
        ...(spec.body ? { body: spec.body } : {}),
      });
      const announced = Number(res.headers['content-length'] ?? 0);
      if (announced > 0) {
        clearTimeout(timer);
        timeoutMs += allowanceMs(announced);
        timer = setTimeout(() => abort.abort(), Math.max(0, timeoutMs - (Date.now() - started)));
      }
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    } catch (err) {
      if (err instanceof CloudburstError) throw err;
      const message = abort.signal.aborted
        ? `the KV node at ${origin} did not answer within ${timeoutMs} ms`
        : `the KV node at ${origin} could not be reached: ${(err as Error).message}`;
      throw new CloudburstError('KV_UNAVAILABLE', message, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes one origin's connections (a subscriber that went away). */
  async forget(origin: string): Promise<void> {
    const pool = this.#pools.get(origin);
    this.#pools.delete(origin);
    const channel = this.#channels.get(origin);
    this.#channels.delete(origin);
    await channel?.close(true);
    if (pool && !pool.closed) await pool.destroy();
  }

  /**
   * Closes every pool: gracefully (running requests finish or hit their deadline), or with
   * `force` at once (running requests fail).
   */
  async close(opts: { force?: boolean } = {}): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    await Promise.all([
      ...pools.map((p) => (p.closed ? undefined : opts.force ? p.destroy() : p.close())),
      ...channels.map((c) => c.close(opts.force === true)),
    ]);
  }

  #channel(origin: string): WireChannel {
    if (this.#closed) throw new CloudburstError('SHUTTING_DOWN', 'the transport is closed');
    let channel = this.#channels.get(origin);
    if (!channel) {
      channel = new WireChannel(origin, { secret: this.#secret, connectTimeoutMs: this.timeoutMs, allowanceMs });
      this.#channels.set(origin, channel);
    }
    return channel;
  }

  #pool(origin: string): Pool {
    if (this.#closed) throw new CloudburstError('SHUTTING_DOWN', 'the transport is closed');
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#connections,
        connectTimeout: this.timeoutMs,
        headersTimeout: 0,
        bodyTimeout: 0,
        ...this.#connect,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }
}

/** 2 MB/s: the time a request's deadline adds for the bytes it moves (a loaded machine moves 64 MiB slowly). */
export const TRANSFER_BYTES_PER_MS = 2_000;

const allowanceMs = (bytes: number): number => (Number.isFinite(bytes) && bytes > 0 ? Math.ceil(bytes / TRANSFER_BYTES_PER_MS) : 0);
