/**
 * The cluster credential in tests: a fresh secret per platform or cluster, and signing for the
 * requests a test sends straight to a KV node (whose routes, but healthz, want a signature).
 */
import type { Dispatcher } from 'undici';
import { newClusterSecret, signRequest } from '../../common/index.ts';

/** A new cluster secret (the text `cloudburst up` would write, as bytes). */
export function testSecret(): Buffer {
  return Buffer.from(newClusterSecret());
}

/** The headers that sign one request to a KV node (or a host's internal route). */
export function signedHeaders(secret: Buffer, method: string, path: string, tenant?: string): Record<string, string> {
  return signRequest(secret, method, path, tenant);
}

/** `fetch` of `${base}${path}`, signed for its method and path. */
export function signedFetch(secret: Buffer, base: string, path: string, init: RequestInit = {}): Promise<Response> {
  const method = init.method ?? 'GET';
  return fetch(`${base}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...signRequest(secret, method, path) } });
}

/**
 * An undici Pool or Client that signs every request it sends (`.request`, `.stream`...);
 * closing it closes the one it wraps.
 *
 * @example
 * const pool = signing(new Pool(node.url), secret);
 */
export function signing<D extends Dispatcher>(dispatcher: D, secret: Buffer): D {
  return dispatcher.compose((dispatch) => (opts, handler) => {
    if (opts.headers !== undefined && opts.headers !== null && (Array.isArray(opts.headers) || typeof opts.headers !== 'object' || Symbol.iterator in opts.headers)) {
      throw new Error('signing(): give request headers as a plain object');
    }
    const headers = { ...(opts.headers as Record<string, string> | undefined), ...signRequest(secret, opts.method, opts.path) };
    return dispatch({ ...opts, headers }, handler);
  }) as unknown as D;
}
