import { Pool } from 'undici';
import { CloudburstError, errorFromBody } from '../../kvs/index.ts';

export const FORWARDED_HEADER = 'x-cloudburst-forwarded';
export const HOST_HEADER = 'x-cloudburst-host';

/**
 * Sends calls to other hosts (the scheduler placed them there), over one undici Pool per host.
 * A host that cannot be reached is HOST_UNAVAILABLE, which the caller retries elsewhere; any
 * answer from the host, error or not, is the call's outcome.
 */
export class Forwarder {
  readonly #pools = new Map<string, Pool>();
  readonly #selfId: string;

  constructor(selfId: string) {
    this.#selfId = selfId;
  }

  #pool(url: string): Pool {
    let pool = this.#pools.get(url);
    if (!pool) {
      pool = new Pool(url, { connections: 32, keepAliveTimeout: 30_000 });
      this.#pools.set(url, pool);
    }
    return pool;
  }

  async call(url: string, fn: string, body: { args: unknown; timeoutMs: number }): Promise<{ result: unknown; host: string }> {
    let status: number;
    let text: string;
    let host: string;
    try {
      const res = await this.#pool(url).request({
        method: 'POST',
        path: `/v1/functions/${encodeURIComponent(fn)}/call`,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', [FORWARDED_HEADER]: this.#selfId },
        headersTimeout: body.timeoutMs + 5000,
        bodyTimeout: body.timeoutMs + 5000,
      });
      status = res.statusCode;
      host = String(res.headers[HOST_HEADER] ?? '');
      text = await res.body.text();
    } catch (err) {
      throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} could not be reached: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} answered ${status} with a body that is not JSON`);
    }
    if (status >= 400) {
      const err = errorFromBody(parsed);
      // A host that is stopping did not run the call: another may.
      if (err.code === 'SHUTTING_DOWN') throw new CloudburstError('HOST_UNAVAILABLE', `host ${url} is stopping`);
      throw err;
    }
    return { result: (parsed as { result: unknown }).result, host };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}
