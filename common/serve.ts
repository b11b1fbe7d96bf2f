/**
 * Putting a node:http (or node:https) server to work, the same way for the KV node and the host.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleExpectContinue } from './body.ts';
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
  return drain;
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
