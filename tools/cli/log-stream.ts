/**
 * Follows a function's log over server-sent events: `GET /v1/functions/{fn}/logs?follow=1`
 * (the logs API, host/README.md "Logs"), for `cloudburst dev`. Reconnects with the last event's
 * id as `since` when the stream ends (a host restarted), so no line is shown twice or lost
 * within what the host's ring still holds.
 */
import { Agent, request } from 'undici';
import { connectOptions } from '../../common/index.ts';
import { hostPath } from '../../host/index.ts';

/** One log line, as the logs API sends it (`data:` of an `event: log`). */
export interface LogLine {
  seq?: number;
  time: number;
  host?: string;
  callId?: string;
  fn: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  code?: string;
}

export interface FollowOptions {
  url: string;
  fn: string;
  token: string | undefined;
  ca?: Buffer | undefined;
  onLine: (line: LogLine) => void;
  /** The host has no logs API (404 UNKNOWN_ROUTE) or refused the stream: said once, not retried. */
  onUnavailable: (reason: string) => void;
}

/** The longest an event may be before the stream is dropped (and reconnected): bounds the buffer. */
const MAX_EVENT_BYTES = 1 << 20;
/** The wait before reconnecting a stream that ended or failed. */
const RECONNECT_MS = 1000;

/**
 * Follows `fn`'s log until `stop()` is called.
 *
 * @example
 * const f = followLog({ url, fn: 'hello.greet', token, onLine: (l) => console.log(l.message), onUnavailable: console.error });
 * await f.stop();
 */
export function followLog(opts: FollowOptions): { stop: () => Promise<void> } {
  const abort = new AbortController();
  const agent = new Agent(connectOptions(opts.ca));
  let since: string | undefined;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        const done = await streamOnce(opts, agent, abort.signal, since, (id) => { since = id; });
        if (done) return;
      } catch {
        // The host went away or the connection broke: try again shortly.
      }
      if (abort.signal.aborted) return;
      await new Promise((r) => setTimeout(r, RECONNECT_MS));
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      await loop;
      await agent.close();
    },
  };
}

/** One connection. Resolves true when following must stop for good (refused). */
async function streamOnce(opts: FollowOptions, agent: Agent, signal: AbortSignal, since: string | undefined, onId: (id: string) => void): Promise<boolean> {
  const query = `follow=1${since === undefined ? '' : `&since=${encodeURIComponent(since)}`}`;
  const res = await request(`${opts.url.replace(/\/$/, '')}${hostPath.logs(opts.fn)}?${query}`, {
    dispatcher: agent,
    signal,
    headers: { accept: 'text/event-stream', ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }) },
    bodyTimeout: 0,
  }).catch((err: unknown) => {
    if (signal.aborted) return undefined;
    throw err;
  });
  if (res === undefined) return true;
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    // A missing function (deleted meanwhile) or a host without the route: nothing to retry for.
    if (res.statusCode >= 400 && res.statusCode < 500) {
      opts.onUnavailable(`${res.statusCode} ${text.slice(0, 200)}`);
      return true;
    }
    return false;
  }
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      buffer += (chunk as Buffer).toString('utf8');
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const event = parseEvent(raw);
        if (event.id !== undefined) onId(event.id);
        if (event.event === 'log' && event.data !== undefined) {
          try {
            opts.onLine(JSON.parse(event.data) as LogLine);
          } catch {
            // A line that is not JSON is not ours to show.
          }
        }
      }
      if (buffer.length > MAX_EVENT_BYTES) return false;
    }
  } catch (err) {
    if (signal.aborted) return true;
    throw err;
  }
  return signal.aborted;
}

/** The fields of one server-sent event (comments, the heartbeats, have none). */
function parseEvent(raw: string): { event?: string; data?: string; id?: string } {
  const out: { event?: string; data?: string; id?: string } = {};
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') out.event = value;
    else if (field === 'id') out.id = value;
    else if (field === 'data') out.data = out.data === undefined ? value : `${out.data}\n${value}`;
  }
  return out;
}

/** How `cloudburst dev` shows a line: `12:00:01.250 [hello.greet] info greeted ada`. */
export function formatLogLine(line: LogLine): string {
  const time = new Date(line.time).toISOString().slice(11, 23);
  return `${time} [${line.fn}] ${line.level}${line.code === undefined ? '' : ` ${line.code}`}: ${line.message}`;
}
