/**
 * Matches a request line against a routes table (KV_ROUTES): exact paths through a map,
 * prefix routes (a key in the path) by `startsWith`. No regular expressions on the hot path.
 */
import { CloudburstError } from '../common/index.ts';

export interface RouteDef {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly prefix: boolean;
}

/** A matched route and, for a prefix route, the raw (still URL-encoded) rest of the path. */
export interface RouteMatch<R extends RouteDef> {
  readonly route: R;
  readonly rest: string;
}

/**
 * @example
 * const router = new Router(KV_ROUTES);
 * const { route, rest } = router.match('GET', '/kv/v1/keys/a%2Fb?x=1'); // getKey, 'a%2Fb'
 */
export class Router<R extends RouteDef> {
  readonly #exact = new Map<string, Map<string, R>>();
  readonly #prefixes = new Map<string, Map<string, R>>();

  constructor(routes: readonly R[]) {
    for (const route of routes) {
      const table = route.prefix ? this.#prefixes : this.#exact;
      let byMethod = table.get(route.path);
      if (!byMethod) table.set(route.path, (byMethod = new Map()));
      if (byMethod.has(route.method)) throw new Error(`route ${route.method} ${route.path} defined twice`);
      byMethod.set(route.method, route);
    }
  }

  /**
   * @throws CloudburstError `UNKNOWN_ROUTE`, or `METHOD_NOT_ALLOWED` with `details.allow`.
   */
  match(method: string, url: string): RouteMatch<R> {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const exact = this.#exact.get(path);
    if (exact) return { route: pick(exact, method, path), rest: '' };
    for (const [prefix, byMethod] of this.#prefixes) {
      if (path.startsWith(prefix)) return { route: pick(byMethod, method, path), rest: path.slice(prefix.length) };
    }
    throw new CloudburstError('UNKNOWN_ROUTE', `no route for ${path}`);
  }
}

function pick<R extends RouteDef>(byMethod: Map<string, R>, method: string, path: string): R {
  const route = byMethod.get(method);
  if (route) return route;
  const allow = [...byMethod.keys()].join(', ');
  throw new CloudburstError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allow}`, { allow });
}
