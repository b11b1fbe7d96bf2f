import { SESSION_HEADER, decodeSession, encodeSession, type ClientSession } from '../consistency/client-session.ts';
import type { HistoryEvent } from '../consistency/history.ts';
import { checkKeyName } from '../keys.ts';
import { PeerLink } from './peer-link.ts';

export const FORWARDED_HEADER = 'x-cloudburst-forwarded';
export const HOST_HEADER = 'x-cloudburst-host';

/**
 * Sends calls to other hosts (the scheduler placed them there). A host that cannot be reached
 * is HOST_UNAVAILABLE, which the caller retries elsewhere; any answer from the host, error or
 * not, is the call's outcome.
 */
export class Forwarder {
  readonly #link: PeerLink;
  readonly #selfId: string;

  constructor(selfId: string, link: PeerLink) {
    this.#selfId = selfId;
    this.#link = link;
  }

  async call(
    url: string, fn: string, body: { args: unknown; timeoutMs: number; consistency?: string }, history = false, client?: ClientSession,
  ): Promise<{ result: unknown; host: string; history?: HistoryEvent[]; client?: ClientSession }> {
    const path = `/v1/functions/${encodeURIComponent(fn)}/call${history ? '?history=1' : ''}`;
    const reply = await this.#link.request(url, 'POST', path, body, body.timeoutMs + 5000, {
      [FORWARDED_HEADER]: this.#selfId,
      ...(client && client.length > 0 ? { [SESSION_HEADER]: encodeSession(client) } : {}),
    });
    const got = reply.body as { result: unknown; history?: HistoryEvent[] };
    const token = reply.headers[SESSION_HEADER];
    return {
      result: got.result, host: String(reply.headers[HOST_HEADER] ?? ''),
      ...(got.history ? { history: got.history } : {}),
      ...(typeof token === 'string' ? { client: decodeSession(token, checkKeyName) } : {}),
    };
  }
}
