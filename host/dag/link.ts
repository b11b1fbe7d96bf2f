import { Pool } from 'undici';
import { CloudburstError, errorFromBody } from '../../kvs/index.ts';
import { stringify } from '../http.ts';

/**
 * HTTP between hosts for DAG requests: one undici Pool per peer, JSON bodies. Messages are
 * acknowledged on arrival (the work happens after the answer), so a slow step never holds a
 * connection. A peer that cannot be reached, or does not answer within `timeoutMs`, is
 * HOST_UNAVAILABLE; an error answer is the error it carries.
 */
export class DagLink {
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

  async send(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    let status: number;
    let text: string;
    try {
      const res = await this.#pool(url).request({
        method, path,
        ...(body === undefined ? {} : { body: stringify(body), headers: { 'content-type': 'application/json' } }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
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
      if (err.code === 'SHUTTING_DOWN') throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} is stopping`);
      throw err;
    }
    return parsed;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}
