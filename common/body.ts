/**
 * A request's body, for the KV node and the host alike: reading it within a limit,
 * `Expect: 100-continue`, and answering before it has arrived (a refused body, an error
 * found first) without the client losing the answer.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { CloudburstError, type ErrorCode } from './errors.ts';
import { parseJsonBody } from './json.ts';
import type { AnyServer as Server } from './tls.ts';

/** The client went away mid-request; there is nobody to answer. */
export class ClientGone extends Error {
  override readonly name = 'ClientGone';
}

/**
 * What a server reads and throws away of a body it refused (or did not need) before it closes
 * the connection: closing while the client is still sending makes the client's kernel drop
 * the answer (the close resets the connection) and the client see EPIPE instead of the 413.
 * Past these bounds the connection is closed anyway.
 */
export const DISCARD_LIMITS = { bytes: 256 * 1024 * 1024, ms: 10_000 } as const;

/** Bodies up to this size are read and dropped by node:http itself, which keeps the connection. */
const DRAIN_LIMIT = 64 * 1024;

/** Requests whose client waits for `100 Continue` before it sends the body, and their responses. */
const awaitingContinue = new WeakMap<IncomingMessage, ServerResponse>();

/**
 * Routes `Expect: 100-continue` requests to `handler` like any other, without node:http's
 * automatic `100 Continue`: `readBody` sends it once the declared length is within the
 * route's limit, so a client (curl sends Expect for large uploads) learns of a 413 before it
 * sends the body.
 */
export function handleExpectContinue(server: Server, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitingContinue.set(req, res);
    handler(req, res);
  });
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit
 * fails before reading anything (and before `100 Continue`); a streamed body fails as soon as
 * it passes the limit, so an oversized upload is never buffered whole. The error response
 * (`sendFinal`) then reads and drops the rest so that the client gets to read it.
 */
export function readBody(req: IncomingMessage, limit: number, tooLarge: ErrorCode = 'BODY_TOO_LARGE'): Promise<Buffer> {
  const tooLargeError = (): CloudburstError =>
    new CloudburstError(tooLarge, `the body is over the limit of ${limit} bytes for this route`, { limit });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLargeError());
  const waiting = awaitingContinue.get(req);
  if (waiting) {
    awaitingContinue.delete(req);
    waiting.writeContinue();
  }
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
        chunks.length = 0;
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

/**
 * Reads a JSON body of at most `limit` bytes (parsed by `parseJsonBody`); an empty body is
 * `undefined`, for routes whose body is optional.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  return body.length === 0 ? undefined : parseJsonBody(body);
}

/**
 * What is left of the request's body when the answer is ready: nothing (or little enough for
 * node:http to drop it and keep the connection), a body the client holds back until
 * `100 Continue` (which it will not get now), or a body still to come.
 */
function unreadBody(req: IncomingMessage): 'none' | 'held' | 'coming' {
  if (awaitingContinue.delete(req)) return 'held';
  // At handler time `req.complete` is false even for a bodiless GET: look at the framing.
  if (req.complete) return 'none';
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > DRAIN_LIMIT || req.listenerCount('data') > 0 ? 'coming' : 'none';
  return req.headers['transfer-encoding'] !== undefined ? 'coming' : 'none';
}

/** Reads and drops the rest of a body, within DISCARD_LIMITS; resolves when it ended, the client left, or a bound was hit. */
function discardBody(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let left: number = DISCARD_LIMITS.bytes;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      left -= chunk.length;
      if (left < 0) done();
    };
    const timer = setTimeout(done, DISCARD_LIMITS.ms);
    timer.unref();
    if (req.complete || req.destroyed) {
      done();
      return;
    }
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

/**
 * Sends a whole response, also when the request's body has not been read (a refused body, an
 * error found before reading it). Then the connection is closed (`Connection: close`), but only
 * after the client has finished sending: the answer goes out at once, the rest of the body is
 * read and dropped (within DISCARD_LIMITS), and only then does the response end, which closes
 * the connection. A body held back for `100 Continue` is never asked for.
 */
export function sendFinal(req: IncomingMessage, res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
  const unread = unreadBody(req);
  if (unread === 'none') {
    res.writeHead(status, { ...headers, 'content-length': body.byteLength });
    res.end(body);
    return;
  }
  res.writeHead(status, { ...headers, 'content-length': body.byteLength, connection: 'close' });
  if (unread === 'held') {
    res.end(body);
    return;
  }
  res.write(body);
  void discardBody(req).then(() => res.end());
}
