/**
 * node:http plumbing for the KV node: bounded body reading and the one place where errors
 * become responses.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloudburstError, type ErrorCode } from './errors.ts';
import { KV_CONTENT_TYPES } from './protocol.ts';

/** The client went away mid-request; there is nobody to answer. */
export class ClientGone extends Error {
  override readonly name = 'ClientGone';
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit
 * fails before reading anything; a streamed body fails as soon as it passes the limit, so
 * an oversized upload is never buffered whole.
 */
export function readBody(req: IncomingMessage, limit: number, tooLarge: ErrorCode): Promise<Buffer> {
  const tooLargeError = (): CloudburstError =>
    new CloudburstError(tooLarge, `the body is over the limit of ${limit} bytes for this route`, { limit });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop reading; the error response closes the connection (see sendError).
        req.pause();
        reject(tooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new ClientGone('the request failed while its body was read', { cause: err }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ClientGone('the client closed the connection before the body ended'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Bodies up to this size are drained by node:http to keep the connection; larger ones close it. */
const DRAIN_LIMIT = 64 * 1024;

// At handler time `req.complete` is false even for a bodiless GET, so look at the framing:
// keeping the connection after refusing a large (or unbounded, chunked) upload would make us
// read all of it.
function hasLargeUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > DRAIN_LIMIT || req.readableFlowing === false;
  return req.headers['transfer-encoding'] !== undefined;
}

/** A 200 with raw bytes. */
export function sendBytes(res: ServerResponse, bytes: Uint8Array, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': bytes.byteLength });
  res.end(bytes);
}

/** A JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, { 'content-type': KV_CONTENT_TYPES.json, 'content-length': text.byteLength });
  res.end(text);
}

/**
 * Turns any error into a response: a CloudburstError gets its table status and JSON body;
 * anything else is logged and becomes a 500 INTERNAL with a stable message.
 */
export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown, log: (message: string, err: unknown) => void): void {
  if (err instanceof ClientGone) {
    res.destroy();
    return;
  }
  let error: CloudburstError;
  if (err instanceof CloudburstError) {
    error = err;
  } else {
    log(`kv: ${req.method} ${req.url} failed`, err);
    error = new CloudburstError('INTERNAL', 'an unexpected error; the server log has details');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (hasLargeUnreadBody(req)) res.setHeader('connection', 'close');
  if (error.code === 'METHOD_NOT_ALLOWED' && typeof error.details?.['allow'] === 'string') {
    res.setHeader('allow', error.details['allow']);
  }
  sendJson(res, error.status, error.toJSON());
}
