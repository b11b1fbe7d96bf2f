import { decodeSession, type ClientSession } from '../consistency/client-session.ts';
import type { HistoryEvent } from '../consistency/history.ts';
import { checkKeyName } from '../keys.ts';
import { HOST_HEADERS, forwardCall, type CallRequest } from '../protocol.ts';
import { PeerLink } from './peer-link.ts';
import type { GuestLog } from '../executor/protocol.ts';
import { withCallLogs } from '../logs/call-logs.ts';

/**
 * How long after a forwarded call's deadline its answer is still waited for: the host running
 * it stops it at that deadline, then answers (a commit under way at the deadline finishes
 * first, as on this host).
 */
export const FORWARD_GRACE_MS = 1000;

/**
 * Sends calls to other hosts (the scheduler placed them there). A host that cannot be reached,
 * or does not answer within the call's deadline (`timeoutMs`, which the other host runs it
 * with) and FORWARD_GRACE_MS, is HOST_UNAVAILABLE; any answer from the host, error or not, is
 * the call's outcome.
 */
export class Forwarder {
  readonly #link: PeerLink;
  readonly #selfId: string;

  constructor(selfId: string, link: PeerLink) {
    this.#selfId = selfId;
    this.#link = link;
  }

  /**
   * Sends a call of `tenant` checked here (`call`, as parsed on arrival) to run on the host at
   * `url`, which runs it in that tenant.
   */
  async call(url: string, tenant: string, fn: string, call: CallRequest): Promise<{ result: unknown; host: string; callId?: string; logs?: GuestLog[]; history?: HistoryEvent[]; client?: ClientSession }> {
    const { path, body, headers } = forwardCall(fn, call, this.#selfId);
    let reply: Awaited<ReturnType<PeerLink['request']>>;
    try {
      reply = await this.#link.request(url, 'POST', path, body, call.timeoutMs + FORWARD_GRACE_MS, headers, tenant);
    } catch (err) {
      // A failed call asked for its logs: the host that ran it answered them with its error.
      const e = (err as { cause?: { error?: { callId?: unknown; logs?: unknown } } }).cause?.error;
      if (call.logs && typeof e?.callId === 'string' && Array.isArray(e.logs)) withCallLogs(err as Error, { callId: e.callId, logs: e.logs as GuestLog[] });
      throw err;
    }
    const got = reply.body as { result: unknown; history?: HistoryEvent[]; logs?: GuestLog[] };
    const token = reply.headers[HOST_HEADERS.session];
    const callId = reply.headers[HOST_HEADERS.callId];
    return {
      result: got.result, host: String(reply.headers[HOST_HEADERS.host] ?? ''),
      ...(typeof callId === 'string' ? { callId } : {}),
      ...(Array.isArray(got.logs) ? { logs: got.logs } : {}),
      ...(got.history ? { history: got.history } : {}),
      ...(typeof token === 'string' ? { client: decodeSession(token, checkKeyName) } : {}),
    };
  }
}
