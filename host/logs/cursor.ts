import { CloudburstError } from '../../common/index.ts';
import type { LogLine } from './log-line.ts';
import type { HostLines } from './log-store.ts';

/**
 * Where a reader of a function's logs is, on every host: the last seq it has of each host
 * (each host numbers its lines with one sequence, log-store.ts). On the wire it is base64url
 * of that JSON object, opaque to clients: `next` of an answer, given back as `since`.
 *
 * @example
 * encodeCursor({ a1b2c3d4e5f6: 42 }) // 'eyJhMWIyYzNkNGU1ZjYiOjQyfQ'
 */
export type Cursor = Record<string, number>;

/** The most hosts a cursor may name (a cluster's live hosts; hosts gone drop out of `next`). */
export const MAX_CURSOR_HOSTS = 256;
/** The longest `since` accepted, in characters. */
export const MAX_CURSOR_CHARS = 16 * 1024;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

const HOST_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A `since` as a client sent it back.
 *
 * @throws CloudburstError `INVALID_REQUEST` for anything `encodeCursor` did not write
 */
export function decodeCursor(text: string): Cursor {
  const bad = (): CloudburstError => new CloudburstError('INVALID_REQUEST', 'since must be a cursor the logs route answered (its "next"), unchanged');
  if (text.length === 0 || text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad();
  const entries = Object.entries(parsed);
  if (entries.length > MAX_CURSOR_HOSTS) throw bad();
  const out: Cursor = {};
  for (const [host, seq] of entries) {
    if (!HOST_ID.test(host) || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw bad();
    out[host] = seq;
  }
  return out;
}

/** The most lines one answer of the logs route carries, and how many when `limit` is not given. */
export const MAX_LOG_LIMIT = 1000;
export const DEFAULT_LOG_LIMIT = 100;

/**
 * A `limit` query parameter: absent (`fallback`), or the decimal digits of an integer from 1
 * to `max`.
 *
 * @throws CloudburstError `INVALID_REQUEST`
 */
export function parseLimit(text: string | null, fallback: number, max: number): number {
  if (text === null) return fallback;
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new CloudburstError('INVALID_REQUEST', `limit must be an integer from 1 to ${max}, not ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** What the logs route answers: lines oldest first, the cursor after them, and what it could not read. */
export interface MergedLines {
  lines: LogLine[];
  next: string;
  /** Lines of the function the hosts that answered dropped by their bounds (host/README.md, "Logs"). */
  dropped: number;
  /** Hosts that did not answer (their lines are left out; `next` keeps their place). */
  missing: string[];
}

const byTime = (a: LogLine, b: LogLine): number => a.time - b.time || (a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq);

/**
 * Merges the hosts' answers for one function into one page of at most `limit` lines.
 *
 * Without `since` (a tail), each host answered its newest lines: the newest `limit` of them all,
 * and a cursor at every host's head (older lines are skipped on purpose). With `since`, each
 * host answered its oldest lines after its place: they are taken oldest first by time, each
 * host's lines in their order, so what one host gives is always a prefix of what it has; the
 * cursor moves each host to its last line taken, or to its head when all its lines were, so
 * the next page starts exactly after: no line twice, none skipped while it is in a buffer.
 * Hosts that did not answer keep their place in the cursor.
 */
export function mergeLines(answers: readonly HostLines[], since: Cursor | undefined, limit: number, missing: readonly string[] = []): MergedLines {
  const next: Cursor = {};
  for (const host of missing) if (since?.[host] !== undefined) next[host] = since[host]!;
  const dropped = answers.reduce((n, a) => n + a.dropped, 0);
  if (since === undefined) {
    const lines = answers.flatMap((a) => a.lines).sort(byTime).slice(-limit);
    for (const a of answers) next[a.host] = a.head;
    return { lines, next: encodeCursor(next), dropped, missing: [...missing] };
  }
  const lines: LogLine[] = [];
  const at = answers.map(() => 0);
  while (lines.length < limit) {
    let best = -1;
    answers.forEach((a, i) => {
      const line = a.lines[at[i]!];
      if (line !== undefined && (best < 0 || byTime(line, answers[best]!.lines[at[best]!]!) < 0)) best = i;
    });
    if (best < 0) break;
    lines.push(answers[best]!.lines[at[best]!++]!);
  }
  answers.forEach((a, i) => {
    const taken = at[i]!;
    if (taken === a.lines.length && !a.more) next[a.host] = a.head;
    else if (taken > 0) next[a.host] = a.lines[taken - 1]!.seq;
    else next[a.host] = since[a.host] ?? 0;
  });
  return { lines, next: encodeCursor(next), dropped, missing: [...missing] };
}
