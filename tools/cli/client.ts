import { Pool, type Dispatcher } from 'undici';
import { HOST_HEADERS } from '../../host/index.ts';
import { CloudburstError, connectOptions, errorFromBody, TENANT_HEADER, tlsFailure } from '../../common/index.ts';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Options of `HostClient`. */
export interface HostClientOptions {
  /** Keep-alive connections (default 16). */
  connections?: number;
  /** A bearer token (cloudburst token create), sent with every request; never printed. */
  token?: string | undefined;
  /** The tenant to act in (`x-cloudburst-tenant`): an admin token's choice. */
  tenant?: string | undefined;
  /** PEM CA certificate(s) trusted besides the system's: a host served over TLS with a private or self-signed certificate. */
  readonly ca?: Buffer | undefined;
}

/**
 * A small client of the host's HTTP API, for the CLI, benchmarks and tests. Error replies
 * become the CloudburstError of their body; a host that cannot be reached is
 * HOST_UNAVAILABLE (the CLI says how to start one).
 */
export class HostClient {
  readonly url: string;
  readonly #pool: Pool;
  /**
   * A client session token (host/README.md, "Client sessions"): when set, sent with every
   * request, and replaced by the one each answer carries, so that this client's calls read
   * its own writes and never go back, whichever hosts they run on. `''` starts a session.
   */
  session: string | undefined;

  /** Sent with every request: the bearer token, and the tenant an admin acts in. */
  readonly #auth: Record<string, string>;

  constructor(url: string, opts: HostClientOptions = {}) {
    this.url = url.replace(/\/$/, '');
    this.#pool = new Pool(this.url, { connections: opts.connections ?? 16, keepAliveTimeout: 30_000, ...connectOptions(opts.ca) });
    this.#auth = {
      ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
      ...(opts.tenant === undefined ? {} : { [TENANT_HEADER]: opts.tenant }),
    };
  }

  async request(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
    try {
      const sent = { ...this.#auth, ...(this.session ? { [HOST_HEADERS.session]: this.session } : {}), ...headers };
      const res = await this.#pool.request({ method, path, body: body ?? null, headers: sent, headersTimeout: 600_000, bodyTimeout: 600_000 });
      const data = Buffer.from(await res.body.arrayBuffer());
      const token = res.headers[HOST_HEADERS.session];
      if (typeof token === 'string' && this.session !== undefined) this.session = token;
      return { status: res.statusCode, headers: res.headers, body: data };
    } catch (err) {
      const tls = tlsFailure(err, this.url);
      if (tls !== undefined) throw new CloudburstError('HOST_UNAVAILABLE', `cannot talk to the host: ${tls}`, undefined, { cause: err });
      throw new CloudburstError('HOST_UNAVAILABLE', `cannot reach the host at ${this.url} (${(err as Error).message}); is \`cloudburst up\` running?`, undefined, { cause: err });
    }
  }

  /**
   * A GET whose answer is read as it comes (a log stream): the response, its body unread. No
   * answer within `idleMs` (headers, or between two chunks of the body) fails it: a stream
   * whose connection silently died is noticed (the host sends a heartbeat every 15 s).
   *
   * @throws CloudburstError `HOST_UNAVAILABLE` when the host cannot be reached
   */
  async stream(path: string, headers: Record<string, string>, signal: AbortSignal, idleMs: number): Promise<Dispatcher.ResponseData> {
    try {
      return await this.#pool.request({ method: 'GET', path, headers: { ...this.#auth, ...headers }, signal, headersTimeout: idleMs, bodyTimeout: idleMs });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new CloudburstError('HOST_UNAVAILABLE', `cannot reach the host at ${this.url} (${(err as Error).message}); is \`cloudburst up\` running?`, undefined, { cause: err });
    }
  }

  /** Sends a request and returns the parsed JSON body, or throws the error it carries. */
  async json<T = unknown>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, raw = false): Promise<T> {
    const payload = body === undefined ? undefined : raw ? (body as Uint8Array | string) : JSON.stringify(body);
    const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json' };
    const reply = await this.request(method, path, payload, headers);
    let parsed: unknown;
    try {
      parsed = JSON.parse(reply.body.toString('utf8'));
    } catch {
      throw new CloudburstError('INTERNAL', `the host answered ${reply.status} with a body that is not JSON`);
    }
    if (reply.status >= 400) throw errorFromBody(parsed);
    return parsed as T;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
