/**
 * Where the commands that start servers (`cloudburst up`, `kvs`, `host`) and the tools that
 * talk to KV nodes (`cloudburst cluster status`, the benches) get the cluster credential
 * (common/cluster-auth.ts): `--cluster-secret-file PATH`, else the environment variable
 * CLOUDBURST_CLUSTER_SECRET (the secret's text). `cloudburst up` keeps one in its data folder.
 * The secret goes to child processes by environment, never on the command line: every user of
 * the machine can read a process's arguments (`ps`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudburstError, newClusterSecret, parseClusterSecret } from '../../common/index.ts';

export const CLUSTER_SECRET_ENV = 'CLOUDBURST_CLUSTER_SECRET';
/** `cloudburst up`'s secret, in its data folder. */
export const CLUSTER_SECRET_FILE = 'cluster-secret';

function parse(text: string, from: string): Buffer {
  try {
    return parseClusterSecret(text, from);
  } catch (err) {
    throw new CloudburstError('INVALID_REQUEST', (err as Error).message);
  }
}

function readSecretFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CloudburstError('INVALID_REQUEST', `cannot read the cluster secret file ${path}: ${(err as Error).message}`);
  }
  return parse(text, path);
}

/**
 * The secret a command was given: the file named by `--cluster-secret-file`, else the
 * environment's; undefined when neither.
 *
 * @throws CloudburstError `INVALID_REQUEST` for a file that cannot be read or a secret that is too short.
 */
export function givenClusterSecret(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  if (file !== undefined) return readSecretFile(file);
  const text = env[CLUSTER_SECRET_ENV];
  return text === undefined || text === '' ? undefined : parse(text, CLUSTER_SECRET_ENV);
}

/**
 * `cloudburst up`'s secret when none is given: `<dataDir>/cluster-secret`, created (mode 0600,
 * `newClusterSecret()`) on the first start and read on every later one.
 */
export function dataDirClusterSecret(dataDir: string): Buffer {
  const path = join(dataDir, CLUSTER_SECRET_FILE);
  try {
    // `wx`: two starts racing on a new folder do not overwrite each other's secret.
    writeFileSync(path, `${newClusterSecret()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readSecretFile(path);
}

/** The data folder's secret when it has one (tools reading a cluster `cloudburst up` started). */
export function existingDataDirSecret(dataDir: string): Buffer | undefined {
  try {
    return parse(readFileSync(join(dataDir, CLUSTER_SECRET_FILE), 'utf8'), join(dataDir, CLUSTER_SECRET_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The environment of a child process that gets `secret` (the secret's text, as parseClusterSecret reads it). */
export function secretEnv(secret: Buffer | undefined, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out[CLUSTER_SECRET_ENV];
  if (secret !== undefined) {
    const text = secret.toString('utf8');
    // A secret that is not trimmed UTF-8 text would reach the child as another secret.
    if (!Buffer.from(text, 'utf8').equals(secret) || text.trim() !== text) {
      throw new CloudburstError('INVALID_REQUEST', 'a cluster secret passed to child processes must be text without surrounding whitespace');
    }
    out[CLUSTER_SECRET_ENV] = text;
  }
  return out;
}

/** The line every start with `--insecure` prints to stderr. */
export function insecureWarning(command: string): string {
  return `WARNING: cloudburst ${command} --insecure: no authentication: anyone who can reach its ports can read, write and reconfigure everything. For a laptop or a test, never a network.`;
}

/**
 * The cluster credential of a command that starts servers: `--insecure` (and its warning on
 * stderr, at every start), else the secret from `--cluster-secret-file` or the environment.
 * `cloudburst kvs` and `host` need one of them; `up` falls back to its data folder's secret.
 */
export function serverCredential(given: { secretFile: string | undefined; insecure: boolean }, command: string, required: boolean): { clusterSecret?: Buffer; insecure?: true } {
  const secret = givenClusterSecret(given.secretFile);
  if (given.insecure) {
    console.error(insecureWarning(command));
    return { insecure: true, ...(secret ? { clusterSecret: secret } : {}) };
  }
  if (secret) return { clusterSecret: secret };
  if (required) {
    throw new CloudburstError('INVALID_REQUEST', `cloudburst ${command} needs the cluster secret: --cluster-secret-file PATH or ${CLUSTER_SECRET_ENV} (cloudburst up writes one to <data>/cluster-secret), or --insecure`);
  }
  return {};
}
