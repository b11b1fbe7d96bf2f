/**
 * Closing a node:http (or node:https) server without dropping a request: the KV node's and the host's.
 */
import type { ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { AnyServer as Server } from './tls.ts';

export interface DrainOptions {
  /**
   * How long nothing must have been in flight before the idle keep-alive connections are
   * closed. A client may be about to reuse one (it wrote a request we have not read yet);
   * the grace gives such a request time to arrive, be answered and close its connection.
   */
  readonly idleGraceMs: number;
  /** Connections still busy this long after close() began are cut. Default: wait for them. */
  readonly maxWaitMs?: number;
}

/**
 * Tracks a server's requests and closes it gracefully:
 * 1. it stops accepting connections (a new one is refused; one the kernel completed before is
 *    accepted first), but leaves the open ones alone;
 * 2. every response from then on carries `Connection: close`, those of requests already in
 *    flight included, so a client sends nothing more on a connection once it has its answer
 *    (and cannot open a new one), and the connection closes after that answer;
 * 3. requests in flight finish, and requests that arrive on open connections meanwhile are
 *    served like any other;
 * 4. once nothing has been in flight for `idleGraceMs` (counted from the listener's close at
 *    the earliest), and whatever has reached the sockets has been read, the idle keep-alive
 *    connections are closed, then anything still open once things are quiet again (a client
 *    that never finished sending its request, or its TLS handshake).
 * HTTP/1.1 leaves one race: a client that writes a request on an idle connection just as it
 * is closed sees a socket error. Waiting for quiet before closing idle connections narrows it
 * to clients that stayed silent for the whole grace and spoke in its last instant.
 *
 * @example
 * const drain = new ServerDrain(server);
 * server.on('request', (req, res) => { drain.track(res); handle(req, res); });
 * await drain.close({ idleGraceMs: 500 });
 */
export class ServerDrain {
  readonly #server: Server;
  readonly #inflight = new Set<ServerResponse>();
  /**
   * Every open connection as accepted. node:http's `closeAllConnections` knows only those it
   * parses HTTP on; under node:https that leaves a connection whose TLS handshake has not
   * finished (a client that connected and said nothing), or whose plain HTTP request was
   * refused, open, and the close would wait for it (for up to the 120 s handshake timeout).
   */
  readonly #sockets = new Set<Socket>();
  #closing = false;
  /** performance.now() of the last request that started or ended. */
  #lastActivity = 0;
  #onActivity: (() => void) | undefined;
  #closed: Promise<void> | undefined;

  constructor(server: Server) {
    this.#server = server;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Call first for every request, before the response is written. */
  track(res: ServerResponse): void {
    this.#inflight.add(res);
    this.#activity();
    if (this.#closing) res.setHeader('connection', 'close');
    res.once('close', () => {
      this.#inflight.delete(res);
      this.#activity();
    });
  }

  #activity(): void {
    // Only close() looks at activity (and counts from its own start).
    if (!this.#closing) return;
    this.#lastActivity = performance.now();
    this.#onActivity?.();
  }

  /** Resolves when every connection is closed (see the class comment). Once: later calls get the same promise. */
  close(o: DrainOptions): Promise<void> {
    return (this.#closed ??= this.#close(o));
  }

  async #close(o: DrainOptions): Promise<void> {
    // Connections the kernel has completed but the event loop has not accepted yet are reset
    // when the listener closes, though their clients may have sent a request: let the event
    // loop poll once more first (a full turn: from the check phase through the next poll).
    // Answers meanwhile still keep their connections, so no client opens a new one now.
    for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    // http.Server#close would also destroy the connections idle at this moment, and a client
    // may just have written its next request on one of them: stop listening only.
    let stopped = false;
    const closed = new Promise<void>((resolve) => {
      NetServer.prototype.close.call(this.#server, () => {
        stopped = true;
        resolve();
      });
    });
    this.#closing = true;
    for (const res of this.#inflight) if (!res.headersSent) res.setHeader('connection', 'close');
    // The grace counts from now too: a client whose request is on its way on a connection that
    // looks idle has this long for it to arrive.
    this.#activity();
    const deadline = performance.now() + (o.maxWaitMs ?? Number.POSITIVE_INFINITY);
    const quiet = await this.#quiet(o.idleGraceMs, deadline, closed);
    // Now http.Server#close: it closes the idle connections and stops node:http's timers.
    this.#server.close(() => undefined);
    if (quiet) await this.#quiet(o.idleGraceMs, deadline, closed);
    // Past the deadline, or a client that never finished sending its request or its handshake.
    if (!stopped) {
      this.#server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    }
    await closed;
  }

  /**
   * Waits until nothing has been in flight for `graceMs` (true), the deadline passes (false)
   * or `closed` resolves (true).
   */
  async #quiet(graceMs: number, deadline: number, closed: Promise<void>): Promise<boolean> {
    let done = false;
    void closed.then(() => {
      done = true;
      this.#onActivity?.();
    });
    try {
      for (;;) {
        if (done) return true;
        const now = performance.now();
        if (now >= deadline) return false;
        const quietFor = now - this.#lastActivity;
        if (this.#inflight.size === 0 && quietFor >= graceMs) {
          // This runs in a timer, and after a stall (a loaded machine) timers run before the
          // sockets are read: first let the event loop read what has arrived, whose requests
          // would otherwise be on connections that look idle.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (done || (this.#inflight.size === 0 && performance.now() - this.#lastActivity >= graceMs)) return true;
          continue;
        }
        // Wake up at the next moment the answer can change: activity, the end of the grace, the deadline.
        const wait = Math.min(deadline - now, this.#inflight.size === 0 ? graceMs - quietFor : Number.POSITIVE_INFINITY);
        await new Promise<void>((resolve) => {
          const timer = Number.isFinite(wait) ? setTimeout(resolve, Math.max(1, wait)) : undefined;
          this.#onActivity = () => {
            if (timer) clearTimeout(timer);
            resolve();
          };
        });
        this.#onActivity = undefined;
      }
    } finally {
      this.#onActivity = undefined;
    }
  }
}
