// The TLS options: which files the CLI's flags and variables name, reading and checking them,
// the host's and the KV node's checks of what they are given, the connect options of a client
// that trusts a CA, and what a certificate failure says. Certificates: test/fixtures/tls/.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkServerTls, connectOptions, readCa, readServerTls, tlsFailure } from '../../common/index.ts';
import { resolveOptions } from '../../host/options.ts';
import { startKvNode } from '../../kvs/index.ts';
import { serverTls, tlsFiles, trustedCa } from '../../tools/cli/tls-flags.ts';
import { ROOT } from '../helpers/platform.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'tls');
const CERT = join(FIXTURES, 'localhost.pem');
const KEY = join(FIXTURES, 'localhost-key.pem');
const OTHER_CERT = join(FIXTURES, 'other.pem');
const OTHER_KEY = join(FIXTURES, 'other-key.pem');

const flags = (entries: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(entries));

describe('tlsFiles: which files the flags and the environment name', () => {
  it('nothing given: no server certificate, no CA', () => {
    expect(tlsFiles(flags({}), {})).toEqual({ ca: [] });
  });

  it('--tls-cert and --tls-key, resolved against the working folder', () => {
    expect(tlsFiles(flags({ 'tls-cert': ['c.pem'], 'tls-key': ['/abs/k.pem'] }), {}, '/work/here')).toEqual({
      server: { cert: '/work/here/c.pem', key: '/abs/k.pem' }, ca: [],
    });
  });

  it('the variables stand in for missing flags, and a flag wins over its variable', () => {
    const env = { CLOUDBURST_TLS_CERT: '/env/c.pem', CLOUDBURST_TLS_KEY: '/env/k.pem', CLOUDBURST_CA: '/env/ca.pem' };
    expect(tlsFiles(flags({}), env)).toEqual({ server: { cert: '/env/c.pem', key: '/env/k.pem' }, ca: ['/env/ca.pem'] });
    expect(tlsFiles(flags({ 'tls-cert': ['/f/c.pem'], ca: ['/f/ca.pem'] }), env)).toEqual({ server: { cert: '/f/c.pem', key: '/env/k.pem' }, ca: ['/f/ca.pem'] });
  });

  it('--ca may be given more than once; an empty variable is no CA', () => {
    expect(tlsFiles(flags({ ca: ['/a.pem', '/b.pem'] }), {}).ca).toEqual(['/a.pem', '/b.pem']);
    expect(tlsFiles(flags({}), { CLOUDBURST_CA: '', CLOUDBURST_TLS_CERT: '', CLOUDBURST_TLS_KEY: '' })).toEqual({ ca: [] });
  });

  it('a certificate without its key, or a key without its certificate, is refused', () => {
    expect(() => tlsFiles(flags({ 'tls-cert': ['c.pem'] }), {})).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringContaining('--tls-key') }));
    expect(() => tlsFiles(flags({}), { CLOUDBURST_TLS_KEY: 'k.pem' })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringContaining('--tls-cert') }));
  });

  it('a flag given an empty file name is refused', () => {
    expect(() => tlsFiles(flags({ ca: [''] }), {})).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: '--ca needs a file' }));
    expect(() => tlsFiles(flags({ 'tls-cert': [''], 'tls-key': ['k.pem'] }), {})).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: '--tls-cert needs a file' }));
  });
});

describe('reading and checking the files', () => {
  let dir: string;
  let garbage: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-tls-unit-'));
    garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const refused = (message: RegExp) => expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringMatching(message) });

  it('a certificate and its key are read', () => {
    const tls = serverTls({ server: { cert: CERT, key: KEY }, ca: [] })!;
    expect(tls.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls.key.toString()).toContain('PRIVATE KEY');
    expect(serverTls({ ca: [] })).toBeUndefined();
  });

  it('a missing file, a file without a certificate, a key in the certificate\'s place, or another certificate\'s key: a clear error naming the file', () => {
    expect(() => readServerTls(join(dir, 'missing.pem'), KEY)).toThrow(refused(/cannot read the TLS certificate .*missing\.pem/));
    expect(() => readServerTls(CERT, join(dir, 'missing.pem'))).toThrow(refused(/cannot read the TLS key .*missing\.pem/));
    expect(() => readServerTls(garbage, KEY)).toThrow(refused(/garbage\.pem holds no PEM certificate/));
    expect(() => readServerTls(KEY, KEY)).toThrow(refused(/localhost-key\.pem holds no PEM certificate/));
    expect(() => readServerTls(CERT, CERT)).toThrow(refused(/the TLS key .*localhost\.pem holds no PEM private key/));
    expect(() => readServerTls(CERT, OTHER_KEY)).toThrow(refused(/other-key\.pem is not the private key of the certificate in .*localhost\.pem/));
  });

  it('CA files are read into one bundle; `own` adds the server\'s certificate; a bad CA file is refused', () => {
    const certs = (pem: Buffer | undefined) => pem?.toString().match(/BEGIN CERTIFICATE/g)?.length ?? 0;
    expect(trustedCa({ ca: [] })).toBeUndefined();
    expect(trustedCa({ server: { cert: CERT, key: KEY }, ca: [] })).toBeUndefined();
    expect(certs(trustedCa({ ca: [OTHER_CERT] }))).toBe(1);
    expect(certs(trustedCa({ server: { cert: CERT, key: KEY }, ca: [OTHER_CERT] }, true))).toBe(2);
    expect(certs(readCa([CERT, OTHER_CERT]))).toBe(2);
    expect(() => readCa([garbage])).toThrow(refused(/the CA file .*garbage\.pem holds no PEM certificate/));
    expect(() => readCa([join(dir, 'missing.pem')])).toThrow(refused(/cannot read the CA file/));
  });
});

describe('what the host and the KV node accept', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-tls-unit-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const base = { dataDir: '/nowhere', kvsUrl: 'http://127.0.0.1:1', insecure: true };
  const local = () => readServerTls(CERT, KEY);
  const other = () => readServerTls(OTHER_CERT, OTHER_KEY);

  it('host options: a good certificate and key, and a CA, are taken as they are', () => {
    const tls = local();
    const resolved = resolveOptions({ ...base, tls, ca: tls.cert });
    expect(resolved.tls).toBe(tls);
    expect(resolved.ca).toBe(tls.cert);
    expect(resolveOptions(base)).toMatchObject({ tls: undefined, ca: undefined });
  });

  it('host options: a key that is not the certificate\'s, or a CA that is not a certificate, is INVALID_REQUEST before anything opens', () => {
    const good = local();
    expect(() => resolveOptions({ ...base, tls: { cert: good.cert, key: other().key } })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringContaining('is not the private key') }));
    expect(() => resolveOptions({ ...base, ca: good.key })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringContaining('holds no PEM certificate') }));
    expect(() => checkServerTls({ cert: Buffer.from('x'), key: good.key })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('KV node: a CA that is not a certificate is refused before the node opens anything', async () => {
    const dataDir = join(dir, 'kv');
    await expect(startKvNode({ dataDir, port: 0, ca: Buffer.from('garbage') })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});

describe('connectOptions and tlsFailure', () => {
  it('no CA: no connect options (the system\'s CAs alone); a CA: one secure context, made once', () => {
    expect(connectOptions(undefined)).toEqual({});
    expect(connectOptions(Buffer.alloc(0))).toEqual({});
    const ca = readCa([CERT]);
    const a = connectOptions(ca).connect?.secureContext;
    expect(a).toBeDefined();
    expect(connectOptions(Buffer.from(ca)).connect?.secureContext).toBe(a);
  });

  it('a certificate the client does not trust, one for another name, an expired one, a server without TLS: each says what to do', () => {
    const url = 'https://127.0.0.1:7443';
    const err = (code: string, message: string): Error => Object.assign(new Error(message), { code });
    expect(tlsFailure(err('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), url)).toMatch(/does not trust \(self-signed certificate\).*--ca FILE/);
    // undici's fetch puts the TLS error under `cause`.
    expect(tlsFailure(Object.assign(new TypeError('fetch failed'), { cause: err('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate') }), url)).toMatch(/does not trust/);
    expect(tlsFailure(err('ERR_TLS_CERT_ALTNAME_INVALID', 'Hostname/IP does not match'), url)).toMatch(/not for this address/);
    expect(tlsFailure(err('CERT_HAS_EXPIRED', 'certificate has expired'), url)).toMatch(/not valid now/);
    expect(tlsFailure(err('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), url)).toMatch(/does not speak TLS.*http:\/\//);
    expect(tlsFailure(err('ECONNREFUSED', 'connect ECONNREFUSED'), url)).toBeUndefined();
    expect(tlsFailure('not an error', url)).toBeUndefined();
  });
});
