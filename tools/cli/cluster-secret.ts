import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newClusterSecret, parseClusterSecret } from '../../common/index.ts';

/** The environment variable that carries the cluster secret's text (to child processes too). */
export const CLUSTER_SECRET_ENV = 'CLOUDBURST_CLUSTER_SECRET';
export const CLUSTER_SECRET_FILE = 'cluster-secret';

/**
 * Stand-in until i12-cluster lands (take its version when merging): the cluster secret from
 * `--cluster-secret-file`, else CLOUDBURST_CLUSTER_SECRET, else (`cloudburst up`, given its data
 * folder) `<data>/cluster-secret`, created with mode 0600 on first start.
 */
export function clusterSecretOf(file: string | undefined, upDataDir?: string): Buffer | undefined {
  if (file !== undefined) return parseClusterSecret(readFileSync(file, 'utf8'), file);
  const env = process.env[CLUSTER_SECRET_ENV];
  if (env !== undefined) return parseClusterSecret(env, CLUSTER_SECRET_ENV);
  if (upDataDir === undefined) return undefined;
  const path = join(upDataDir, CLUSTER_SECRET_FILE);
  if (!existsSync(path)) {
    mkdirSync(upDataDir, { recursive: true });
    writeFileSync(path, `${newClusterSecret()}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  return parseClusterSecret(readFileSync(path, 'utf8'), path);
}
