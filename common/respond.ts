/**
 * Writing responses, for the KV node and the host alike: JSON, raw bytes, and errors (the
 * body every error response carries, `{"error": {"code", "message", ...}}`).
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { sendFinal } from './body.ts';
import type { CloudburstError } from './errors.ts';
import { stringify } from './json.ts';

/** The content type of every JSON body the platform sends. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** A JSON response (bigints as `stringify` writes them). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: OutgoingHttpHeaders): void {
  const text = stringify(body);
  res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A 200 with raw bytes. */
export function sendBytes(res: ServerResponse, bytes: Uint8Array, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': bytes.byteLength });
  res.end(bytes);
}

/**
 * An error response: the code's status and JSON body, with `Allow` for a 405 and `Retry-After`
 * for an error whose details say when to retry (`retryAfter`, seconds). A body still
 * on its way is read and dropped first when needed (`sendFinal`); a response already started
 * can only be cut.
 */
export function sendError(req: IncomingMessage, res: ServerResponse, err: CloudburstError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: OutgoingHttpHeaders = { 'content-type': JSON_CONTENT_TYPE };
  const allow = err.details?.['allow'];
  if (err.code === 'METHOD_NOT_ALLOWED' && typeof allow === 'string') headers['allow'] = allow;
  // When to try again, in seconds, where waiting helps (a quota's rate, a tenant's calls at once).
  const retryAfter = err.details?.['retryAfter'];
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter);
  sendFinal(req, res, err.status, headers, Buffer.from(stringify(err.toJSON()), 'utf8'));
}
