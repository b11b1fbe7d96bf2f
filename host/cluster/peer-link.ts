import { Pool } from 'undici';
import { CloudburstError, TENANT_HEADER, errorFromBody, stringify } from '../../common/index.ts';

/**
 * HTTP between hosts (forwarded calls, DAG messages): one undici Pool per peer, JSON bodies.
 * A peer that cannot be reached, does not answer within `timeoutMs`, or is stopping is
 * HOST_UNAVAILABLE (the caller may try another host); any other error answer is the error
 * it carries. A request that acts for a tenant (a forwarded call, a message between functions,
 * a DAG message) says so with `tenant` (sent as TENANT_HEADER): the receiving host acts in it.
 */
export class PeerLink {
  readonly #pools = new Map<string, Pool>();

  #pool(url: string): Pool {
    let pool = this.#pools.get(url);
    if (!pool) {
      // A bounded connect: a peer whose machine vanished must not hold a run past its deadline.
      pool = new Pool(url, { connections: 32, keepAliveTimeout: 30_000, connectTimeout: 2000 });
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
    try {
      const res = await this.#pool(url).request({
        method, path,
        ...(body === undefined ? { headers } : { body: stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
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
