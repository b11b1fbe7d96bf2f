import { connect } from 'node:net';
import { bearer, tokenOf } from './platform.ts';

export interface RawReply {
  /** Final status, or undefined when no complete final response arrived. */
  status: number | undefined;
  headers: Record<string, string>;
  body: Buffer;
  /** The server sent `100 Continue`. */
  continued: boolean;
  /** Bytes of the request body written to the socket. */
  bodySent: number;
  /** A socket error (EPIPE, ECONNRESET...) the client saw, if any. */
  error: string | undefined;
}

function parseReplies(bytes: Buffer, closed = false): { continued: boolean; final?: { status: number; headers: Record<string, string>; body: Buffer } } {
  let continued = false;
  let at = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end === -1) return { continued };
    const [statusLine, ...lines] = bytes.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    at = end + 4;
    if (status === 100) {
      continued = true;
      continue;
    }
    // No length: a 204 has no body, and a body without one (or chunked) ends when the server closes.
    const length = status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? (closed ? bytes.length - at : Number.NaN));
    if (!Number.isInteger(length) || bytes.length < at + length) return { continued };
    return { continued, final: { status, headers, body: bytes.subarray(at, at + length) } };
  }
}

/**
 * One request on a fresh connection, the way curl sends an upload: with `expectContinue`, the
 * headers with `Expect: 100-continue`, then the body only if `100 Continue` comes; without,
 * the headers and the WHOLE body, reading nothing until it is all written. Then it reads the
 * final response (until the server closes, or `readMs` passes, at most). `chunked` sends the
 * body without a Content-Length. The request line and headers go as latin1, one byte per
 * character, so that a test can send bytes no client would (raw UTF-8, NUL, invalid UTF-8).
 */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  body: Buffer,
  opts: { expectContinue?: boolean; chunked?: boolean; headers?: Record<string, string>; readMs?: number } = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const received: Buffer[] = [];
  let bodySent = 0;
  let error: string | undefined;
  const framing = opts.chunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${body.length}\r\n`;
  // The admin token of the platform the URL belongs to (platform.ts, tokenOf), unless the test sends its own.
  const extra = Object.entries({ ...bearer(tokenOf(url)), ...opts.headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const head = `${method} ${path} HTTP/1.1\r\nhost: ${hostname}\r\n${framing}${extra}${opts.expectContinue ? 'expect: 100-continue\r\n' : ''}\r\n`;
  const payload = opts.chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;

  return new Promise((resolve) => {
    let sentBody = false;
    const sendBody = (then: () => void): void => {
      sentBody = true;
      socket.write(payload, (err) => {
        if (err) error ??= (err as NodeJS.ErrnoException).code ?? err.message;
        else bodySent = body.length;
        then();
      });
    };
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const { continued, final } = parseReplies(Buffer.concat(received), true);
      resolve({ status: final?.status, headers: final?.headers ?? {}, body: final?.body ?? Buffer.alloc(0), continued, bodySent, error });
    };
    const timer = setTimeout(finish, opts.readMs ?? 30_000);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= err.code ?? err.message;
    });
    socket.on('close', finish);
    socket.on('data', (d: Buffer) => {
      received.push(d);
      const { continued, final } = parseReplies(Buffer.concat(received));
      if (final) finish();
      else if (opts.expectContinue && continued && !sentBody) sendBody(() => undefined);
    });
    socket.once('connect', () => {
      if (opts.expectContinue) {
        socket.write(Buffer.from(head, 'latin1'));
        return;
      }
      // Read nothing before the whole body is written, as a client busy uploading does.
      socket.pause();
      socket.write(Buffer.from(head, 'latin1'));
      sendBody(() => socket.resume());
    });
  });
}

/**
 * A client that goes away mid-body: sends the headers with `Expect: 100-continue` and, once the
 * server asks for the body (so the route's handler is reading it), half of the body; then
 * destroys the socket. Rejects if the server answers before asking for the body.
 */
export async function leaveMidBody(url: string, method: string, path: string, body: Buffer): Promise<void> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  try {
    await new Promise<void>((resolve, reject) => {
      let received = '';
      socket.once('error', reject);
      socket.on('data', (d: Buffer) => {
        received += d.toString('latin1');
        if (received.startsWith('HTTP/1.1 100 ')) resolve();
        else if (received.includes('\r\n')) reject(new Error(`answered before the body was asked for: ${received.split('\r\n')[0]}`));
      });
      socket.once('connect', () => {
        const auth = Object.entries(bearer(tokenOf(url))).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`${method} ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-length: ${body.length}\r\n${auth}expect: 100-continue\r\n\r\n`);
      });
    });
    await new Promise<void>((resolve, reject) => socket.write(body.subarray(0, body.length >> 1), (err) => (err ? reject(err) : resolve())));
  } finally {
    socket.destroy();
  }
}
