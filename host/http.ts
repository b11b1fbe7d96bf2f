import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CloudburstError } from '../common/index.ts';
import { parseJsonBody, readBody as readBodyOf, sendFinal } from '../kvs/index.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Reads a request body of at most `limit` bytes (the KV node's reader: a declared length over
 * the limit is refused before reading, and before `100 Continue`).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readBodyOf(req, limit, 'BODY_TOO_LARGE');
}

/** Reads a JSON body (see `parseJsonBody`); an empty body is `undefined`. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  return body.length === 0 ? undefined : parseJsonBody(body);
}

/** Serializes JSON, writing bigints as numbers when exact and as strings otherwise. */
export function stringify(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) =>
    typeof v === 'bigint' ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = stringify(body);
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An error response; a body still on its way is read and dropped first when needed (`sendFinal`). */
export function sendError(req: IncomingMessage, res: ServerResponse, err: CloudburstError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendFinal(req, res, err.status, { 'content-type': JSON_TYPE }, Buffer.from(stringify(err.toJSON()), 'utf8'));
}
