/**
 * Sends a hostile case and judges the answer: a refusal in the documented shape, with a code
 * of the error table at its own status, among the codes the case allows, within 5 s.
 */
import { expect } from 'vitest';
import { Pool } from 'undici';
import { ERROR_CODES, isErrorCode, type ErrorCode } from '../../common/index.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import type { Case } from './cases.ts';
import type { Credential } from './credentials.ts';

/** The longest a refusal may take (the bound: never a hang over 5 s). */
export const ANSWER_WITHIN_MS = 5000;

export interface Answer {
  status: number | undefined;
  body: Buffer;
  /** A socket or client error instead of an answer. */
  error?: string;
}

/** A keep-alive client of one server, for the cases an HTTP client can send. */
export class Sender {
  readonly #pool: Pool;
  readonly #url: string;

  constructor(url: string) {
    this.#url = url;
    this.#pool = new Pool(url, { connections: 4, keepAliveTimeout: 30_000, headersTimeout: ANSWER_WITHIN_MS, bodyTimeout: ANSWER_WITHIN_MS });
  }

  async send(c: Case, cred: Credential): Promise<Answer> {
    const headers = { ...cred.headers(c.method, c.path), ...c.headers };
    if (c.raw) {
      const r = await rawRequest(this.#url, c.method, c.path, Buffer.from(c.body ?? ''), { headers, readMs: ANSWER_WITHIN_MS });
      return { status: r.status, body: r.body, ...(r.error === undefined && r.status !== undefined ? {} : { error: r.error ?? 'no answer' }) };
    }
    try {
      const res = await this.#pool.request({ method: c.method as 'GET', path: c.path, headers, body: c.body === undefined ? null : c.body });
      return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
    } catch (err) {
      return { status: undefined, body: Buffer.alloc(0), error: (err as Error).message };
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** What a case may be answered with under a credential. */
export function allowed(c: Case, cred: Credential): readonly ErrorCode[] {
  // A target over node:http's header limit (16 KiB with the headers) never reaches a route.
  if (c.path.length > 16 * 1024 - 512) return ['INVALID_REQUEST'];
  let codes = c.routing || cred.refusedWith === undefined ? c.expect : cred.refusedWith;
  // A body over the route's limit (64 KiB on the smallest) is refused before it is parsed.
  if (!c.routing && (c.body?.length ?? 0) > 64 * 1024) codes = [...codes, 'BODY_TOO_LARGE'];
  // A parameter that is not valid percent-encoded UTF-8 is refused by the router (common/router.ts).
  return undecodable(c.path) ? [...codes, 'INVALID_NAME'] : codes;
}

function undecodable(path: string): boolean {
  return path.split(/[/?]/).some((segment) => {
    try {
      decodeURIComponent(segment);
      return false;
    } catch {
      return true;
    }
  });
}

/** A short description of a case for a failure message (bodies cut). */
export function describeCase(c: Case, cred: Credential): string {
  const body = c.body === undefined ? '' : typeof c.body === 'string' ? c.body : `<${c.body.byteLength} bytes: ${Buffer.from(c.body.subarray(0, 32)).toString('hex')}>`;
  return `${c.method} ${c.path.slice(0, 300)} [${cred.label}] ${body.slice(0, 300)}`;
}

/** Parses an error body: `{"error": {"code", "message", ...}}`, nothing else at the top. */
function errorOf(body: Buffer): { code: unknown; message: unknown } | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).join() !== 'error') return undefined;
    const e = (v as { error: unknown }).error;
    return typeof e === 'object' && e !== null ? (e as { code: unknown; message: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks one answer: vitest's expect, so that fast-check reports the failing case (shrunk)
 * with the seed. `perEntry` cases (KV batches) may instead be 200 with every entry refused.
 */
export function checkRefusal(c: Case, cred: Credential, a: Answer, elapsedMs: number): void {
  const what = describeCase(c, cred);
  expect(a.error, `${what}: no answer`).toBeUndefined();
  expect(elapsedMs, `${what}: answered after ${elapsedMs} ms`).toBeLessThan(ANSWER_WITHIN_MS);
  const codes = allowed(c, cred);
  if (c.perEntry && a.status === 200) {
    const { results } = JSON.parse(a.body.toString()) as { results: ({ code: string; message: string } | null)[] };
    for (const r of results) {
      expect(r, `${what}: an entry was applied`).not.toBeNull();
      expect(codes, `${what}: entry refused with ${r!.code}`).toContain(r!.code);
      expect(typeof r!.message, what).toBe('string');
    }
    return;
  }
  const e = errorOf(a.body);
  expect(e, `${what}: answered ${a.status} with a body not of the shape {"error": {"code", "message"}}: ${a.body.toString('utf8').slice(0, 200)}`).toBeDefined();
  const code = e!.code;
  expect(isErrorCode(code), `${what}: ${String(code)} is not in the error table`).toBe(true);
  expect(typeof e!.message, `${what}: the message is not a string`).toBe('string');
  expect(a.status, `${what}: ${String(code)} answered with ${a.status}`).toBe(ERROR_CODES[code as ErrorCode].status);
  expect(codes, `${what}: answered ${a.status} ${String(code)}: ${String(e!.message).slice(0, 200)}`).toContain(code);
}
