/**
 * The CLI's TLS flags: `--tls-cert FILE --tls-key FILE`, the certificate and key a host serves
 * its API with (or CLOUDBURST_TLS_CERT and CLOUDBURST_TLS_KEY), and `--ca FILE`, a CA trusted
 * besides the system's when connecting to a host (repeatable; or CLOUDBURST_CA). A flag wins
 * over its variable. `tlsFiles` only decides which files; `serverTls` and `trustedCa` read and
 * check them, so that a bad file stops a command before it starts anything.
 */
import { resolve } from 'node:path';
import { CloudburstError, readCa, readServerTls, type ServerTls } from '../../common/index.ts';

export const TLS_ENV = { cert: 'CLOUDBURST_TLS_CERT', key: 'CLOUDBURST_TLS_KEY', ca: 'CLOUDBURST_CA' } as const;

/** The TLS files a command was given, as absolute paths. */
export interface TlsFiles {
  /** The certificate and key, both or neither. */
  readonly server?: { readonly cert: string; readonly key: string };
  readonly ca: readonly string[];
}

function one(flags: ReadonlyMap<string, readonly string[]>, env: Readonly<Record<string, string | undefined>>, flag: string, variable: string, cwd: string): string | undefined {
  const given = flags.get(flag)?.at(-1);
  const value = given ?? env[variable];
  if (value === undefined || (given === undefined && value === '')) return undefined;
  if (value === '') throw new CloudburstError('INVALID_REQUEST', `--${flag} needs a file`);
  return resolve(cwd, value);
}

/**
 * Which TLS files the flags (`parse`'s map: every value of each flag) and the environment name.
 *
 * @throws CloudburstError `INVALID_REQUEST` for a certificate without its key or a key without
 *   its certificate, or a flag without a file.
 * @example
 * tlsFiles(new Map([['ca', ['ca.pem']]]), {}) // { ca: ['/cwd/ca.pem'] }
 */
export function tlsFiles(flags: ReadonlyMap<string, readonly string[]>, env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): TlsFiles {
  const cert = one(flags, env, 'tls-cert', TLS_ENV.cert, cwd);
  const key = one(flags, env, 'tls-key', TLS_ENV.key, cwd);
  if ((cert === undefined) !== (key === undefined)) {
    throw new CloudburstError('INVALID_REQUEST', cert === undefined
      ? `a TLS key needs its certificate: give --tls-cert FILE (or ${TLS_ENV.cert}) with --tls-key`
      : `a TLS certificate needs its key: give --tls-key FILE (or ${TLS_ENV.key}) with --tls-cert`);
  }
  const caFlags = flags.get('ca');
  const ca = caFlags ?? (env[TLS_ENV.ca] ? [env[TLS_ENV.ca]!] : []);
  if (ca.some((f) => f === '')) throw new CloudburstError('INVALID_REQUEST', '--ca needs a file');
  return { ...(cert !== undefined && key !== undefined ? { server: { cert, key } } : {}), ca: ca.map((f) => resolve(cwd, f)) };
}

/**
 * The certificate and key to serve with, read and checked; undefined without them.
 *
 * @throws CloudburstError `INVALID_REQUEST` naming the file that cannot be read or is wrong.
 */
export function serverTls(files: TlsFiles): ServerTls | undefined {
  return files.server ? readServerTls(files.server.cert, files.server.key) : undefined;
}

/**
 * The CAs to trust besides the system's, read and checked into one PEM bundle; undefined
 * without any. With `own`, the server's own certificate is trusted too: `cloudburst up` runs
 * every part on one machine with one certificate, and they connect to each other.
 *
 * @throws CloudburstError `INVALID_REQUEST` naming the file that cannot be read or is wrong.
 */
export function trustedCa(files: TlsFiles, own = false): Buffer | undefined {
  const all = [...files.ca, ...(own && files.server ? [files.server.cert] : [])];
  return all.length === 0 ? undefined : readCa(all);
}
