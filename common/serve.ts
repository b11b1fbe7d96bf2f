/**
 * Putting a node:http (or node:https) server to work, the same way for the KV node and the host.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleExpectContinue } from './body.ts';
import { CloudburstError } from './errors.ts';
import { stringify } from './json.ts';
import { JSON_CONTENT_TYPE } from './respond.ts';
import { ServerDrain } from './server-drain.ts';
import type { AnyServer as Server } from './tls.ts';

/**
 * Sends every request, `Expect: 100-continue` ones included (see `handleExpectContinue`), to
 * `handle`, tracked for a graceful close by the returned drain.
 *
 * @example
 * const drain = serve(createServer(), router.handle);
 * await drain.close({ idleGraceMs: 500 });
 */
export function serve(server: Server, handle: (req: IncomingMessage, res: ServerResponse) => void): ServerDrain {
  const drain = new ServerDrain(server);
  const tracked = (req: IncomingMessage, res: ServerResponse): void => {
    drain.track(res);
    handle(req, res);
  };
  server.on('request', tracked);
  handleExpectContinue(server, tracked);
  server.on('clientError', refuseUnparsable);
  return drain;
}

/**
 * A request the HTTP parser refuses (an unknown method, a space or NUL in the target, a byte
 * a header may not hold, a bad Content-Length, headers over Node's limit) never reaches the
 * router: without this Node answers a bare `400 Bad Request` (or 431), outside the error
 * table and without the documented body. It gets 400 INVALID_REQUEST in the documented shape,
 * and the connection is closed (what follows on it cannot be framed).
 */
function refuseUnparsable(err: NodeJS.ErrnoException, socket: Socket): void {
  // Nothing to answer: the client is gone, or a response is already on its way.
  if (!socket.writable || (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  // What Node does by default for a client too slow to send its request.
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n');
    return;
  }
  const reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'the request headers are too large' : `the request is not valid HTTP/1.1 (${err.code})`;
  const body = stringify(new CloudburstError('INVALID_REQUEST', reason).toJSON());
  socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Listens on `host:port` (0 picks a free port); resolves with the port. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
