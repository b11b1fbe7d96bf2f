import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloudburstError, parseJsonBody } from '../kvs/index.ts';

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is
 * refused before reading; a chunked body is refused as soon as it passes the limit.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    return Promise.reject(new CloudburstError('BODY_TOO_LARGE', `the body is ${declared} bytes; the limit of this route is ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new CloudburstError('BODY_TOO_LARGE', `the body is over the limit of this route (${limit} bytes)`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', (err) => reject(new CloudburstError('INVALID_REQUEST', `the body could not be read: ${err.message}`)));
  });
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
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: CloudburstError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // After a refused oversized body the rest of it is still on the wire: close the connection.
  const headers: Record<string, string> = err.code === 'BODY_TOO_LARGE' ? { connection: 'close' } : {};
  sendJson(res, err.status, err.toJSON(), headers);
}
