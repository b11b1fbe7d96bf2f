import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './platform.ts';

export interface SelfSigned {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/**
 * A fresh self-signed certificate for 127.0.0.1 and localhost (P-256, valid 2 days), made by
 * the real openssl, the way README "TLS" tells users to: `cert.pem` and `key.pem` in a temp
 * folder (`dir`, or a new one). The certificate is its own CA.
 */
export async function selfSignedCert(dir?: string, name = 'localhost'): Promise<SelfSigned> {
  const folder = dir ?? (await tempDir('cb-tls-'));
  const certFile = join(folder, `${name}.pem`);
  const keyFile = join(folder, `${name}-key.pem`);
  await promisify(execFile)('/usr/bin/openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { dir: folder, certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}
