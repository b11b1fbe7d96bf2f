/**
 * What `cloudburst up` prints once it is up: the real URL of the host API (the port actually
 * bound, so `--port 0` shows the one it got; https with TLS) and the lines that point another
 * terminal's CLI at it, which otherwise assumes http://127.0.0.1:7070 and ./.cloudburst.
 */
import { join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../../host/index.ts';
import { DEFAULT_DATA_DIR, DEFAULT_URL } from './auth.ts';

export interface BannerFacts {
  /** The first host's URL, as it announces itself. */
  url: string;
  /** The data folder (absolute). */
  dataDir: string;
  /** The certificate the host serves, with TLS (clients trust it with --ca). */
  cert?: string | undefined;
  /** Whether an admin token was written (not with --insecure). */
  token: boolean;
}

/**
 * The lines for another terminal: `export CLOUDBURST_URL=...` always (a copy-paste that is right
 * whatever the port), `CLOUDBURST_CA` with TLS, `CLOUDBURST_TOKEN` when the data folder is not
 * the `.cloudburst` the CLI looks in by itself; then the first call to try.
 *
 * @example
 * bannerLines({ url: 'http://127.0.0.1:40123', dataDir: '/home/me/.cloudburst', token: true }, '/home/me')
 * // ['export CLOUDBURST_URL=http://127.0.0.1:40123   (for the CLI in another terminal)', 'try:  npx cloudburst fn call math.square 7']
 */
export function bannerLines(f: BannerFacts, cwd = process.cwd()): string[] {
  const lines: string[] = [];
  const exports = [`export CLOUDBURST_URL=${f.url}`];
  if (f.cert !== undefined) exports.push(`export CLOUDBURST_CA=${resolve(f.cert)}`);
  if (f.token && resolve(cwd, DEFAULT_DATA_DIR) !== f.dataDir) exports.push(`export CLOUDBURST_TOKEN=$(cat ${join(f.dataDir, ADMIN_TOKEN_FILE)})`);
  const defaultPlace = f.url === DEFAULT_URL && exports.length === 1;
  lines.push(`${exports.join('; ')}   (for the CLI in another terminal${defaultPlace ? ': the default, so not needed here' : ''})`);
  lines.push(f.cert !== undefined ? `try:  npx cloudburst fn call math.square 7 --url ${f.url} --ca ${f.cert}` : 'try:  npx cloudburst fn call math.square 7');
  return lines;
}
