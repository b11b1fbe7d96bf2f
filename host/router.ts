import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloudburstError } from '../common/index.ts';
import { ClientGone } from '../kvs/index.ts';
import { sendError } from './http.ts';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  /** Path segments; `:name` captures one segment, `*name` the (decoded) rest of the path. */
  segments: string[];
  handler: Handler;
}

/**
 * A small table router. It also owns the one place where errors become responses: a
 * CloudburstError answers with its code's status; anything else is logged and becomes a
 * 500 INTERNAL, so no stack trace or internal message reaches a client. A client that left
 * mid-body (ClientGone) gets nothing: its connection is closed.
 */
export class Router {
  readonly #routes: Route[] = [];
  readonly #onResponse: ((method: string, status: number) => void) | undefined;
  /** Requests received and not yet answered. */
  inflight = 0;

  constructor(onResponse?: (method: string, status: number) => void) {
    this.#onResponse = onResponse;
  }

  on(method: string, path: string, handler: Handler): this {
    this.#routes.push({ method, segments: path.split('/').filter(Boolean), handler });
    return this;
  }

  #match(path: string): { route: Route; params: Record<string, string> }[] {
    const parts = path.split('/').filter(Boolean);
    const out: { route: Route; params: Record<string, string> }[] = [];
    for (const route of this.#routes) {
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < route.segments.length; i++) {
        const seg = route.segments[i]!;
        if (seg.startsWith('*')) {
          const rest = parts.slice(i).join('/');
          if (rest.length === 0) ok = false;
          else params[seg.slice(1)] = rest;
          break;
        }
        const part = parts[i];
        if (part === undefined) {
          ok = false;
          break;
        }
        if (seg.startsWith(':')) params[seg.slice(1)] = part;
        else if (seg !== part) {
          ok = false;
          break;
        }
        if (i === route.segments.length - 1 && parts.length !== route.segments.length) ok = false;
      }
      if (ok && (route.segments.length > 0 || parts.length === 0)) out.push({ route, params });
    }
    return out;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inflight++;
    res.once('close', () => {
      this.inflight--;
      this.#onResponse?.(req.method ?? '?', res.statusCode);
    });
    void this.#dispatch(req, res).catch((err: unknown) => {
      if (err instanceof ClientGone) {
        res.destroy();
        return;
      }
      if (err instanceof CloudburstError) {
        if (process.env.CLOUDBURST_DEBUG) console.error(`${req.method} ${req.url}:`, err);
        sendError(req, res, err);
        return;
      }
      console.error(`${req.method} ${req.url}: unexpected error`, err);
      sendError(req, res, new CloudburstError('INTERNAL'));
    });
  };

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://host');
    const matches = this.#match(url.pathname);
    if (matches.length === 0) throw new CloudburstError('UNKNOWN_ROUTE', `no route ${url.pathname}`);
    const hit = matches.find((m) => m.route.method === req.method);
    if (!hit) {
      const allowed = [...new Set(matches.map((m) => m.route.method))].join(', ');
      res.setHeader('allow', allowed);
      throw new CloudburstError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; use ${allowed}`);
    }
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(hit.params)) {
      try {
        params[k] = decodeURIComponent(v);
      } catch {
        throw new CloudburstError('INVALID_NAME', `the path segment ${JSON.stringify(v)} is not valid percent-encoding`);
      }
    }
    await hit.route.handler({ req, res, params, query: url.searchParams });
  }
}
