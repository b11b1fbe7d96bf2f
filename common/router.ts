/**
 * The router of both servers (the host's API and the KV node's), and the one place where
 * errors become responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientGone } from './body.ts';
import { CloudburstError } from './errors.ts';
import { splitTarget } from './request-target.ts';
import { sendError } from './respond.ts';

/** What a handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path's parameters (`:name`, `*name`), decoded or as sent (see `RouterOptions.paths`). */
  readonly params: Readonly<Record<string, string>>;
  /** The query string (parsed on first use). */
  readonly query: URLSearchParams;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

export interface RouterOptions {
  /**
   * How a request's target becomes the path that is matched.
   * - `url` (the host): parsed as a URL (dot segments resolved, as every client does anyway),
   *   empty segments dropped (`/v1//kv/a/` is `/v1/kv/a`); parameters are percent-decoded
   *   before the handler runs, and one that cannot be is 400 `INVALID_NAME`.
   * - `raw` (the KV node): the target as sent, up to `?`; parameters as sent, for the handler to
   *   decode by its own rules (a key may hold `//` and trailing slashes).
   */
  readonly paths: 'url' | 'raw';
  /** Called once per request when its response is closed (sent, or cut). */
  readonly onResponse?: (method: string, status: number) => void;
  /** Called with every error that ends a request, before it becomes a response. */
  readonly onError?: (err: unknown) => void;
  /** Where unexpected errors (not CloudburstErrors) go. Default: console.error. */
  readonly log?: (message: string, err: unknown) => void;
}

type Segment = { readonly kind: 'static'; readonly text: string } | { readonly kind: 'param' | 'rest'; readonly name: string };

interface PatternRoute {
  readonly method: string;
  readonly segments: readonly Segment[];
  readonly handler: Handler;
}

/**
 * Routes are `method` + path. A path segment `:name` matches one non-empty segment; a last
 * segment `*name` matches the rest of the path, slashes included (empty in `raw` mode for a
 * path that ends at the slash before it). Paths without parameters are found in a map; the
 * others are tried in the order they were added, segment by segment, without regular
 * expressions. A path without parameters wins over one with.
 *
 * A CloudburstError thrown (or rejected) by a handler answers with its code's status; anything
 * else is logged and answers 500 `INTERNAL`, so no stack trace or internal message reaches a
 * client. A client that left mid-body (ClientGone) gets nothing: its connection is closed.
 *
 * @example
 * const router = new Router({ paths: 'url' });
 * router.on('GET', '/v1/kv/*key', ({ res, params }) => sendJson(res, 200, { key: params.key }));
 * server.on('request', router.handle);
 */
export class Router {
  readonly #exact = new Map<string, Map<string, Handler>>();
  readonly #patterns: PatternRoute[] = [];
  readonly #o: RouterOptions;
  /** Requests received and not yet answered. */
  inflight = 0;

  constructor(o: RouterOptions) {
    this.#o = o;
  }

  on(method: string, path: string, handler: Handler): this {
    const segments = parsePattern(path);
    if (segments.every((s) => s.kind === 'static')) {
      let byMethod = this.#exact.get(path);
      if (!byMethod) this.#exact.set(path, (byMethod = new Map()));
      if (byMethod.has(method)) throw new Error(`route ${method} ${path} defined twice`);
      byMethod.set(method, handler);
    } else {
      if (this.#patterns.some((r) => r.method === method && samePattern(r.segments, segments))) throw new Error(`route ${method} ${path} defined twice`);
      this.#patterns.push({ method, segments, handler });
    }
    return this;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inflight++;
    res.once('close', () => {
      this.inflight--;
      this.#o.onResponse?.(req.method ?? '?', res.statusCode);
    });
    try {
      const pending = this.#dispatch(req, res);
      if (pending) pending.catch((err: unknown) => this.fail(req, res, err));
    } catch (err) {
      this.fail(req, res, err);
    }
  };

  /** Answers a request with an error (see the class comment); for checks made before routing. */
  fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.#o.onError?.(err);
    if (err instanceof ClientGone) {
      res.destroy();
      return;
    }
    const log = this.#o.log ?? ((message: string, e: unknown) => console.error(message, e));
    let error: CloudburstError;
    if (err instanceof CloudburstError) {
      if (process.env['CLOUDBURST_DEBUG']) log(`${req.method} ${req.url}:`, err);
      error = err;
    } else {
      log(`${req.method} ${req.url}: unexpected error`, err);
      error = new CloudburstError('INTERNAL');
    }
    sendError(req, res, error);
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    let path: string;
    let search: string;
    if (this.#o.paths === 'url') {
      ({ path, search } = splitTarget(target));
    } else {
      const q = target.indexOf('?');
      path = q === -1 ? target : target.slice(0, q);
      search = q === -1 ? '' : target.slice(q);
    }
    const { handler, params } = this.#match(method, path);
    if (this.#o.paths === 'url') {
      for (const [name, raw] of Object.entries(params)) {
        if (!raw.includes('%')) continue; // nothing to decode
        try {
          params[name] = decodeURIComponent(raw);
        } catch {
          throw new CloudburstError('INVALID_NAME', `the path segment ${JSON.stringify(raw)} is not valid percent-encoding`);
        }
      }
    }
    let query: URLSearchParams | undefined;
    return handler({
      req,
      res,
      params,
      get query() {
        return (query ??= new URLSearchParams(search));
      },
    });
  }

  /** @throws CloudburstError `UNKNOWN_ROUTE`, or `METHOD_NOT_ALLOWED` with `details.allow`. */
  #match(method: string, path: string): { handler: Handler; params: Record<string, string> } {
    const exact = this.#exact.get(path);
    const handler = exact?.get(method);
    if (handler) return { handler, params: {} };
    const allowed = new Set(exact?.keys());
    for (const route of this.#patterns) {
      const params = matchPattern(route.segments, path);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params };
      allowed.add(route.method);
    }
    if (allowed.size === 0) throw new CloudburstError('UNKNOWN_ROUTE', `no route for ${path}`);
    const allow = [...allowed].join(', ');
    throw new CloudburstError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allow}`, { allow });
  }
}

function parsePattern(path: string): Segment[] {
  if (!path.startsWith('/')) throw new Error(`route path ${path} does not start with /`);
  const parts = path.slice(1).split('/');
  return parts.map((part, i): Segment => {
    if (part.startsWith(':')) return { kind: 'param', name: part.slice(1) };
    if (part.startsWith('*')) {
      if (i !== parts.length - 1) throw new Error(`route path ${path}: *${part.slice(1)} must be the last segment`);
      return { kind: 'rest', name: part.slice(1) };
    }
    return { kind: 'static', text: part };
  });
}

function samePattern(a: readonly Segment[], b: readonly Segment[]): boolean {
  return a.length === b.length && a.every((s, i) => {
    const t = b[i]!;
    return s.kind === t.kind && (s.kind === 'static' ? s.text === (t as typeof s).text : true);
  });
}

/** The parameters of `path` if it matches `segments`, else undefined. */
function matchPattern(segments: readonly Segment[], path: string): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let pos = 0;
  for (const seg of segments) {
    if (path.charCodeAt(pos) !== 0x2f) return undefined;
    pos++;
    if (seg.kind === 'static') {
      if (!path.startsWith(seg.text, pos)) return undefined;
      pos += seg.text.length;
      if (pos < path.length && path.charCodeAt(pos) !== 0x2f) return undefined;
    } else if (seg.kind === 'param') {
      let end = path.indexOf('/', pos);
      if (end === -1) end = path.length;
      if (end === pos) return undefined;
      params[seg.name] = path.slice(pos, end);
      pos = end;
    } else {
      params[seg.name] = path.slice(pos);
      pos = path.length;
    }
  }
  return pos === path.length ? params : undefined;
}
