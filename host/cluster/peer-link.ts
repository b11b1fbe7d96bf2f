import { Client, Pool } from 'undici';
import { CloudburstError, connectOptions, errorFromBody, signRequest, stringify, TENANT_HEADER } from '../../common/index.ts';
import { HOST_PATHS } from '../protocol.ts';

/**
 * How long a peer whose liveness is in doubt has to answer a probe (`GET /healthz` on a new
 * connection) before the requests waiting on it are cut; as long as a DAG coordinator gives a
 * host of its run.
 */
export const PROBE_TIMEOUT_MS = 1000;

/**
 * HTTP between hosts (forwarded calls, DAG messages): one undici Pool per peer, JSON bodies.
 * A peer that cannot be reached, does not answer within `timeoutMs`, or is stopping is
 * HOST_UNAVAILABLE (the caller may try another host); any other error answer is the error
 * it carries. A request that acts for a tenant (a forwarded call, a message between functions,
 * a DAG message) says so with `tenant` (sent as TENANT_HEADER): the receiving host acts in it.
 *
 * Every request is signed with the cluster credential (common/cluster-auth.ts) when the link
 * has it: the internal routes of the receiving host accept only signed requests. A request
 * that names a tenant is signed for that tenant, so the receiver can trust which tenant it
 * acts for.
 *
 * A peer whose machine is cut off does not refuse: the requests on its open connections hang.
 * When the directory takes a peer for dead (`lost`), the requests waiting on it are cut at once
 * (HOST_UNAVAILABLE) unless it still answers a probe.
 */
export class PeerLink {
  readonly #pools = new Map<string, Pool>();
  /** Requests under way per peer URL. */
  readonly #inFlight = new Map<string, number>();
  readonly #connect: ReturnType<typeof connectOptions>;
  readonly #secret: Buffer | undefined;

  /**
   * `secret`: the cluster secret; without it requests go unsigned (an insecure cluster).
   * `ca`: PEM CA certificate(s) trusted besides the system's, for peers served over TLS.
   */
  constructor(opts: { readonly secret?: Buffer | undefined; readonly ca?: Buffer | undefined } = {}) {
    this.#connect = connectOptions(opts.ca);
    this.#secret = opts.secret;
  }

  #pool(url: string): Pool {
    let pool = this.#pools.get(url);
    if (!pool) {
      // A bounded connect: a peer whose machine vanished must not hold a run past its deadline.
      pool = new Pool(url, { connections: 32, keepAliveTimeout: 30_000, connectTimeout: 2000, ...this.#connect });
      this.#pools.set(url, pool);
    }
    return pool;
  }

  async send(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, timeoutMs: number, tenant?: string): Promise<unknown> {
    return (await this.request(url, method, path, body, timeoutMs, {}, tenant)).body;
  }

  /** Like `send`, with extra request headers, answering the response headers too. */
  async request(
    url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, timeoutMs: number, extra: Record<string, string> = {}, tenant?: string,
  ): Promise<{ body: unknown; headers: Record<string, string | string[] | undefined> }> {
    const headers = tenant === undefined ? extra : { ...extra, [TENANT_HEADER]: tenant };
    let status: number;
    let text: string;
    let replyHeaders: Record<string, string | string[] | undefined>;
    const sent = this.#secret ? { ...headers, ...signRequest(this.#secret, method, path, headers[TENANT_HEADER]) } : headers;
    this.#inFlight.set(url, (this.#inFlight.get(url) ?? 0) + 1);
    try {
      const res = await this.#pool(url).request({
        method, path,
        ...(body === undefined ? { headers: sent } : { body: stringify(body), headers: { 'content-type': 'application/json', ...sent } }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      replyHeaders = res.headers;
      text = await res.body.text();
    } catch (err) {
      throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} could not be reached: ${(err as Error).message}`);
    } finally {
      const n = this.#inFlight.get(url)! - 1;
      if (n === 0) this.#inFlight.delete(url);
      else this.#inFlight.set(url, n);
    }
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} answered ${status} with a body that is not JSON`);
    }
    if (status >= 400) {
      const err = errorFromBody(parsed);
      // A host that is stopping did not do the work: another may.
      if (err.code === 'SHUTTING_DOWN') throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} is stopping`);
      // The body is kept as the cause: what a caller reads beyond code and message (a failed forwarded call's logs).
      throw new CloudburstError(err.code, err.message, undefined, { cause: parsed });
    }
    return { body: parsed, headers: replyHeaders };
  }

  /**
   * The directory takes the peer at `url` for dead (`why`: its record went stale, or a request
   * to it failed). Its connections are dropped; requests still waiting on them fail at once
   * with HOST_UNAVAILABLE, so that their callers place them again, unless the peer answers a
   * probe within PROBE_TIMEOUT_MS (it is alive, only its record is late: its answers will
   * come). The next request opens new connections.
   */
  async lost(url: string, why: string): Promise<void> {
    const pool = this.#pools.get(url);
    if (!pool) return;
    if (this.#inFlight.has(url)) {
      if (await this.#answers(url)) return;
      if (this.#pools.get(url) !== pool) return;
      this.#pools.delete(url);
      await pool.destroy(new Error(`it left the directory (${why}) and did not answer a probe within ${PROBE_TIMEOUT_MS} ms`)).catch(() => undefined);
      return;
    }
    // Nothing waits on it: its idle connections, dead or not, are only closed.
    this.#pools.delete(url);
    await pool.close().catch(() => undefined);
  }

  /** Whether the peer at `url` answers GET /healthz on a connection of its own, in time. */
  async #answers(url: string): Promise<boolean> {
    const timeout = PROBE_TIMEOUT_MS;
    const client = new Client(url, { connectTimeout: timeout, headersTimeout: timeout, bodyTimeout: timeout, ...this.#connect });
    try {
      const res = await client.request({ method: 'GET', path: HOST_PATHS.healthz, signal: AbortSignal.timeout(timeout) });
      await res.body.dump();
      return true;
    } catch {
      return false;
    } finally {
      await client.destroy().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}
