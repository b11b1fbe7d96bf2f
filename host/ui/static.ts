/**
 * The dashboard's files (`GET /ui`, `GET /ui/{file}`), served from `dist/ui/`, where
 * `tools/bundle.js` puts what esbuild made of `host/ui/app/`. They are public and hold no
 * secret: the page asks for a token and sends it only with its data requests.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { CloudburstError, distPath } from '../../common/index.ts';

/**
 * What the page may load: its own scripts, styles and data, nothing inline, nothing from
 * elsewhere, never framed. A value that slipped past the page's escaping could not run.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/** The names `GET /ui/{file}` serves: one segment, lowercase, with a known extension. */
const ASSET = /^[a-z0-9][a-z0-9-]*\.(js|css|svg)$/;

/** dist/ui, when the dashboard is built (common/dist-files.ts). */
function uiDir(): string | undefined {
  const index = distPath('ui', 'index.html');
  return index === undefined ? undefined : dirname(index);
}

/**
 * Sends one of the dashboard's files (`index.html` for `/ui`), read from disk at each request
 * (they are small, and a rebuild shows at the next reload).
 * @throws CloudburstError `UNKNOWN_ROUTE` for a name that is not one of its files, or when dist/ui is not built.
 */
export function sendUiFile(res: ServerResponse, name: string): void {
  if (name !== 'index.html' && !ASSET.test(name)) throw new CloudburstError('UNKNOWN_ROUTE', `the dashboard has no file ${JSON.stringify(name)}`);
  const dir = uiDir();
  if (dir === undefined) throw new CloudburstError('UNKNOWN_ROUTE', 'the dashboard is not built (dist/ui/ is missing): run `npm run build`');
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, name));
  } catch {
    throw new CloudburstError('UNKNOWN_ROUTE', `the dashboard has no file ${JSON.stringify(name)}`);
  }
  res.writeHead(200, {
    'content-type': TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
    'content-length': bytes.byteLength,
    'content-security-policy': UI_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  });
  res.end(bytes);
}
