// `cloudburst logs FN [--follow] [--since CURSOR] [--limit N] [--json]`: a function's log lines
// over every host (GET /v1/functions/{fn}/logs, host/README.md "Logs").
import { UsageError } from './exit.ts';
import { CloudburstError, errorFromBody } from '../../common/index.ts';
import { hostPath } from '../../host/index.ts';
import type { HostClient } from './client.ts';
import type { Parsed } from './flags.ts';

/** A log line as the host answers it (host/logs/log-line.ts). */
interface LogLine {
  time: number;
  host: string;
  callId: string;
  fn: string;
  level: string;
  message: string;
  code?: string;
}

/** The flags of `cloudburst logs` besides the client's (listed in FLAGS_BY_COMMAND.logs, flags.ts). */
export const LOGS_USAGE = 'cloudburst logs FN [--follow] [--since CURSOR] [--limit N] [--json]';

/** A stream silent this long (three missed heartbeats) is taken for dropped and opened again. */
const STREAM_IDLE_MS = 45_000;
/** Waits between attempts to open a dropped stream again: the first, and the longest. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;

/**
 * One line as a person reads it: time, host, level, message (and the error code of a failed call's line).
 *
 * @example
 * human({ time: 0, host: 'a1b2c3', level: 'info', message: 'hi', ... }) // '1970-01-01T00:00:00.000Z a1b2c3 info  hi'
 */
export function human(l: LogLine): string {
  return `${new Date(l.time).toISOString()} ${l.host} ${l.level.padEnd(5)} ${l.code ? `${l.code}: ` : ''}${l.message}`;
}

/**
 * Runs `cloudburst logs`: prints the function's lines oldest first (the newest `--limit`, or
 * those after `--since`), then the cursor to continue from on stderr (`next: ...`). With
 * `--follow`, keeps printing new lines until Ctrl-C, and opens the stream again from the last
 * line it printed when the connection drops. `--json`: one JSON object per line.
 */
export async function logsCommand(p: Parsed, client: HostClient): Promise<number> {
  const fn = p.positional[1];
  if (!fn || p.positional.length > 2) throw new UsageError(`usage: ${LOGS_USAGE}`);
  const flag = (f: string): string | undefined => p.flags.get(f)?.at(-1);
  const print = (l: LogLine): void => console.log(p.flags.has('json') ? JSON.stringify(l) : human(l));
  const query = (since: string | undefined, follow: boolean): string => {
    const q = new URLSearchParams();
    if (since !== undefined) q.set('since', since);
    const limit = flag('limit');
    if (limit !== undefined) q.set('limit', limit);
    if (follow) q.set('follow', '1');
    return `${hostPath.logs(fn)}${q.size > 0 ? `?${q}` : ''}`;
  };
  if (!p.flags.has('follow')) {
    const page = await client.json<{ lines: LogLine[]; next: string; missing?: string[] }>('GET', query(flag('since'), false));
    for (const l of page.lines) print(l);
    if (page.missing && page.missing.length > 0) console.error(`hosts that did not answer: ${page.missing.join(', ')}`);
    console.error(`next: ${page.next}`);
    return 0;
  }
  return follow(client, (since) => query(since, true), flag('since'), print);
}

/**
 * `cloudburst fn call FN ... --logs`: the call with `?logs=1`; its lines go to stderr, from its
 * answer or, when it failed, from its error (then the error is thrown, as `HostClient.json` does).
 */
export async function callWithLogs(client: HostClient, fn: string, body: Record<string, unknown>): Promise<{ result: unknown }> {
  const reply = await client.request('POST', `${hostPath.call(fn)}?logs=1`, JSON.stringify(body), { 'content-type': 'application/json' });
  let parsed: { result?: unknown; logs?: { level: number; message: string }[]; error?: { logs?: { level: number; message: string }[] } };
  try {
    parsed = JSON.parse(reply.body.toString('utf8')) as typeof parsed;
  } catch {
    throw new CloudburstError('INTERNAL', `the host answered ${reply.status} with a body that is not JSON`);
  }
  for (const l of parsed.logs ?? parsed.error?.logs ?? []) console.error(`[${fn}] ${l.message}`);
  if (reply.status >= 400) throw errorFromBody(parsed);
  return parsed as { result: unknown };
}

/** Follows a log stream until SIGINT, reopening it from the last cursor when it drops. */
async function follow(client: HostClient, path: (since: string | undefined) => string, since: string | undefined, print: (l: LogLine) => void): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let cursor = since;
  let connected = false;
  let wait = RECONNECT_FIRST_MS;
  try {
    while (!stop.signal.aborted) {
      try {
        const res = await client.stream(path(cursor), { accept: 'text/event-stream' }, stop.signal, STREAM_IDLE_MS);
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const err = errorFromBody(body);
          // Refused for good (a bad cursor, an unknown function, a token without the scope): stop.
          if (err.status < 500 || !connected) throw err;
          throw Object.assign(err, { retry: true });
        }
        if (connected) console.error('log stream: connected again');
        connected = true;
        wait = RECONNECT_FIRST_MS;
        for await (const e of events(res.body)) {
          if (e.event !== 'log' || e.data === undefined) continue;
          print(JSON.parse(e.data) as LogLine);
          if (e.id !== undefined) cursor = e.id;
        }
        if (stop.signal.aborted) break;
        console.error('log stream: the host ended it; connecting again');
      } catch (err) {
        if (stop.signal.aborted) break;
        // The first connection must work (a wrong URL is an error, not a wait); later, a host
        // that restarts or a cut connection is waited out.
        if (!connected || (err instanceof CloudburstError && err.code !== 'HOST_UNAVAILABLE' && !(err as { retry?: boolean }).retry)) throw err;
        console.error(`log stream: ${(err as Error).message}; connecting again in ${wait} ms`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
      wait = Math.min(RECONNECT_MAX_MS, wait * 2);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  return 0;
}

/** The server-sent events of a body, one `{id, event, data}` per event (comments skipped). */
async function* events(body: AsyncIterable<Buffer>): AsyncGenerator<{ id?: string; event?: string; data?: string }> {
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: { id?: string; event?: string; data?: string } = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id' || field === 'event') e[field] = value;
        else if (field === 'data') e.data = e.data === undefined ? value : `${e.data}\n${value}`;
      }
      if (e.event !== undefined || e.data !== undefined) yield e;
    }
  }
}
