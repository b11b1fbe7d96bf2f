/**
 * The page's requests to the host that served it, with the token the user gave: pasted into
 * the page, or in the URL as `#token=cb_...` (a fragment never reaches a server or a log; the
 * page takes it out of the address bar at once). It is kept in sessionStorage: gone when the
 * tab closes, never in a cookie (so no other site's page can make this browser use it).
 */

const TOKEN_KEY = 'cloudburst-token';

/** Takes `#token=...` out of the URL into sessionStorage; returns the token the page has, if any. */
export function takeToken(): string | undefined {
  const hash = new URLSearchParams(location.hash.slice(1));
  const given = hash.get('token');
  if (given !== null) {
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(null, '', `${location.pathname}${location.search}${rest === '' ? '' : `#${rest}`}`);
    if (given.trim() !== '') sessionStorage.setItem(TOKEN_KEY, given.trim());
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A refused or failed request: the platform's error code (`UNAUTHENTICATED`, ...) or `NETWORK`. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** GET of a JSON route of this host. */
export async function getJson<T>(path: string, token: string | undefined): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch (err) {
    throw new ApiError('NETWORK', 0, `the host did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('INTERNAL', res.status, `${path} answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(e?.code ?? String(res.status), res.status, e?.message ?? `${path} answered ${res.status}`);
  }
  return body as T;
}
