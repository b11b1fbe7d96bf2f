/**
 * Where a server listens, and the URL it announces. A host and a KV node give others a URL to
 * reach them (the hosts' directory, a KV node's membership, `cluster.json`); listening on every
 * interface (`0.0.0.0`, `::`) says nothing of which address the others can reach, so the URL to
 * announce is then given (`--advertise URL`: a pod's IP from the downward API, a Service's
 * name), and deriving it from a wildcard is refused before anything opens.
 *
 * @example
 * checkAddresses({ listen: '0.0.0.0', advertise: 'http://10.0.0.5:7070' }, 'cloudburst host');
 * advertisedUrl({ listen: '::1', port: 7070, scheme: 'http' }); // 'http://[::1]:7070'
 */
import { isIP } from 'node:net';
import { CloudburstError } from './errors.ts';

/** The default listen address: this machine only. */
export const DEFAULT_LISTEN = '127.0.0.1';

/** Whether `address` means every interface (nobody can be told to connect to it). */
export function isWildcard(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '');
  if (a === '' || a === '0.0.0.0') return true;
  return isIP(a) === 6 && /^[0:]+$/.test(a);
}

/** `address` as the host part of a URL: an IPv6 literal in brackets. */
export function urlHost(address: string): string {
  const a = address.replace(/^\[|\]$/g, '');
  return isIP(a) === 6 ? `[${a}]` : a;
}

/** `address` without the brackets of an IPv6 literal, as `server.listen` takes it. */
export function bareHost(address: string): string {
  return address.replace(/^\[|\]$/g, '');
}

/**
 * Checks a listen address and an advertised URL (either may be left out), before a server
 * opens anything. `what` names the process in the message (`cloudburst host`, `a KV node`).
 *
 * @throws CloudburstError `INVALID_REQUEST` for an advertised URL that is not an http(s) origin
 *   (a path, a query or credentials in it), one whose scheme is not `scheme` when given, or a
 *   wildcard listen address without an advertised URL.
 */
export function checkAddresses(given: { listen?: string | undefined; advertise?: string | undefined; scheme?: 'http' | 'https' }, what: string): void {
  const listen = given.listen ?? DEFAULT_LISTEN;
  if (given.advertise !== undefined) {
    let url: URL;
    try {
      url = new URL(given.advertise);
    } catch {
      throw new CloudburstError('INVALID_REQUEST', `${what}: the advertised URL ${JSON.stringify(given.advertise)} is not a URL (e.g. http://10.0.0.5:7070)`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
      throw new CloudburstError('INVALID_REQUEST', `${what}: the advertised URL ${JSON.stringify(given.advertise)} must be an origin, http(s)://HOST:PORT, without a path`);
    }
    if (isWildcard(url.hostname)) throw new CloudburstError('INVALID_REQUEST', `${what}: the advertised URL ${given.advertise} names every interface; announce an address others can reach`);
    if (given.scheme !== undefined && url.protocol !== `${given.scheme}:`) {
      throw new CloudburstError('INVALID_REQUEST', `${what} serves ${given.scheme}: its advertised URL ${given.advertise} must start with ${given.scheme}://`);
    }
    return;
  }
  if (isWildcard(listen)) {
    throw new CloudburstError('INVALID_REQUEST', `--listen ${listen} needs --advertise URL: ${what} listens on every interface, and would announce ${JSON.stringify(listen)}, which no other process can reach; give the URL others reach it at (e.g. --advertise http://10.0.0.5:PORT, or CLOUDBURST_ADVERTISE from a pod's IP)`);
  }
}

/**
 * The URL to announce: `advertise` (without a trailing slash), else `scheme://listen:port` with
 * the port actually bound (a server told port 0 knows it only after listening).
 */
export function advertisedUrl(given: { listen?: string | undefined; advertise?: string | undefined; port: number; scheme: 'http' | 'https' }): string {
  if (given.advertise !== undefined) return given.advertise.replace(/\/+$/, '');
  return `${given.scheme}://${urlHost(given.listen ?? DEFAULT_LISTEN)}:${given.port}`;
}
