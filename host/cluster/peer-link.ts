import { Pool } from 'undici';
import { CloudburstError, connectOptions, errorFromBody, signRequest, stringify, TENANT_HEADER } from '../../common/index.ts';

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
 */
export class PeerLink {
  readonly #pools = new Map<string, Pool>();
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
      throw err;
    }
    return { body: parsed, headers: replyHeaders };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}
