/**
 * TLS in one place: the certificate a server listens with (checked before it starts), the CAs
 * a client trusts besides the system's (the `connect` options of every undici Pool the
 * platform builds), and what a certificate failure means, said so a person can act on it.
 *
 * @example
 * const tls = readServerTls('cert.pem', 'key.pem');          // startup: a bad file throws here
 * const server = createServer({ keepAliveTimeout: 65_000 }, tls);
 * const pool = new Pool(url, { connections: 4, ...connectOptions(readCa(['ca.pem'])) });
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { Socket } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { CloudburstError } from './errors.ts';

/** A server's certificate (PEM, the chain after it if any) and its private key (PEM). */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The servers `serve` and `ServerDrain` work with: node:http's, or node:https's. */
export type AnyServer = HttpServer | HttpsServer;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function invalid(message: string, cause?: unknown): CloudburstError {
  return new CloudburstError('INVALID_REQUEST', message, undefined, cause === undefined ? undefined : { cause });
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw invalid(`cannot read ${what} ${file}: ${(err as Error).message}`, err);
  }
}

/** The PEM certificates in `pem`, each parsed (a bundle may hold several). */
function certificates(pem: Buffer, what: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw invalid(`${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw invalid(`${what} holds a certificate that cannot be read: ${(err as Error).message}`, err);
    }
  });
}

/**
 * Checks that `tls` can serve: a PEM certificate, a PEM private key, and the key is the
 * certificate's. `names` say where each came from, for the message.
 *
 * @throws CloudburstError `INVALID_REQUEST` saying which part is wrong.
 */
export function checkServerTls(tls: ServerTls, names: { cert: string; key: string } = { cert: 'the TLS certificate', key: 'the TLS key' }): void {
  certificates(tls.cert, names.cert);
  try {
    createPrivateKey(tls.key);
  } catch (err) {
    throw invalid(`${names.key} holds no PEM private key that can be read (${(err as Error).message})`, err);
  }
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (err) {
    const mismatch = (err as NodeJS.ErrnoException).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH';
    throw invalid(mismatch
      ? `${names.key} is not the private key of the certificate in ${names.cert}`
      : `${names.cert} and ${names.key} cannot serve TLS: ${(err as Error).message}`, err);
  }
}

/**
 * Reads and checks a server's certificate and key files (`--tls-cert`, `--tls-key`).
 *
 * @throws CloudburstError `INVALID_REQUEST` naming the file that cannot be read or is wrong.
 */
export function readServerTls(certFile: string, keyFile: string): ServerTls {
  const tls = { cert: readPem(certFile, 'the TLS certificate'), key: readPem(keyFile, 'the TLS key') };
  checkServerTls(tls, { cert: `the TLS certificate ${certFile}`, key: `the TLS key ${keyFile}` });
  return tls;
}

/**
 * Checks that `ca` is one or more PEM certificates.
 *
 * @throws CloudburstError `INVALID_REQUEST`.
 */
export function checkCa(ca: Buffer, what = 'the CA'): void {
  certificates(ca, what);
}

/**
 * Reads and checks CA files (`--ca`, each may be a bundle) into one PEM bundle.
 *
 * @throws CloudburstError `INVALID_REQUEST` naming the file that cannot be read or is wrong.
 */
export function readCa(files: readonly string[]): Buffer {
  const pems = files.map((file) => {
    const pem = readPem(file, 'the CA file');
    checkCa(pem, `the CA file ${file}`);
    return pem;
  });
  return Buffer.concat(pems.flatMap((pem) => [pem, Buffer.from('\n')]));
}

/**
 * What Node trusts by default: its root certificates, and NODE_EXTRA_CA_CERTS (read the way
 * Node reads it, once at startup). A `ca` option replaces all of these, so a client that
 * adds a CA must list them too.
 */
function systemCas(): string[] {
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra) return [...rootCertificates];
  try {
    return [...rootCertificates, ...(readFileSync(extra, 'latin1').match(PEM_CERTIFICATE) ?? [])];
  } catch {
    return [...rootCertificates]; // Node warned about it at startup.
  }
}

/** One context per CA bundle: parsing the system's 140-odd roots costs milliseconds, once. */
const contexts = new Map<string, SecureContext>();

/**
 * The options to spread into an undici Pool's (or Agent's) options so that it trusts `ca`
 * besides the system's CAs; none without a CA (the system's alone). Every Pool the platform
 * builds to reach a host takes these.
 *
 * @example
 * new Pool(url, { connections: 4, ...connectOptions(ca) })
 */
export function connectOptions(ca: Buffer | undefined): { connect?: { secureContext: SecureContext } } {
  if (ca === undefined || ca.length === 0) return {};
  const pem = ca.toString('latin1');
  let secureContext = contexts.get(pem);
  if (!secureContext) {
    secureContext = createSecureContext({ ca: [...systemCas(), pem] });
    contexts.set(pem, secureContext);
  }
  return { connect: { secureContext } };
}

/** Codes of a server certificate the client does not accept (OpenSSL's, and Node's for the name). */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A sentence for a request to `url` that failed on TLS: the server's certificate is not
 * trusted (or not for this address, or expired), or the server does not speak TLS. Undefined
 * for any other failure.
 */
export function tlsFailure(err: unknown, url: string): string | undefined {
  for (let e = err as (Error & { code?: unknown; cause?: unknown }) | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return `the certificate of ${url} is not for this address (${e.message}): use a name or address it lists, or a certificate that lists this one`;
    }
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the certificate of ${url} is not valid now (${e.message})`;
    if (CERTIFICATE_CODES.has(code)) {
      return `${url} presented a certificate this client does not trust (${e.message}): give the CA that signed it with --ca FILE (or CLOUDBURST_CA=FILE)`;
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/.test(e.message)) {
      return `${url} does not speak TLS (${e.message}): use http://`;
    }
  }
  return undefined;
}

/**
 * A server for `serve`: node:https with `tls`, else node:http, with the same `options`
 * (keep-alive, timeouts). A TLS server answers a plain HTTP request with 400 saying so,
 * rather than a connection closed without a word.
 */
export function createServer(options: ServerOptions, tls?: ServerTls): AnyServer {
  if (!tls) return createHttpServer(options);
  const server = createHttpsServer({ ...options, cert: tls.cert, key: tls.key });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => answerPlainHttp(err, socket));
  return server;
}

const PLAIN_HTTP_BODY = JSON.stringify({ error: { code: 'INVALID_REQUEST', message: 'this port speaks HTTPS: send the request to https://' } });
const PLAIN_HTTP_ANSWER = `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(PLAIN_HTTP_BODY)}\r\nconnection: close\r\n\r\n${PLAIN_HTTP_BODY}`;

/** How long the connection of a refused plain HTTP request may stay open for its client to read the answer. */
const PLAIN_HTTP_LINGER_MS = 2000;

/**
 * The failed handshake of a plain HTTP request: answered in plain HTTP on the raw socket
 * under the TLS one (`_parent`, Node's own name for it), then closed. Any other failed
 * handshake, or a Node without `_parent`, ends as Node ends it: the socket destroyed.
 */
function answerPlainHttp(err: NodeJS.ErrnoException, socket: Socket): void {
  const plain = (socket as Socket & { _parent?: unknown })._parent;
  socket.destroy();
  if (err.code !== 'ERR_SSL_HTTP_REQUEST' || !(plain instanceof Socket) || plain.destroyed || !plain.writable) return;
  plain.on('error', () => undefined);
  // Ending (not destroying) lets the client read the answer before the connection goes.
  plain.end(PLAIN_HTTP_ANSWER);
  const linger = setTimeout(() => plain.destroy(), PLAIN_HTTP_LINGER_MS).unref();
  plain.once('close', () => clearTimeout(linger));
}
