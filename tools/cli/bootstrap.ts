/**
 * `cloudburst token bootstrap --kvs HOST:PORT[,...] [--name admin]`: the first admin token of a
 * cluster that no `cloudburst up` provisions (Kubernetes: deploy/README.md, "The first
 * token"). Nobody holds a token yet, so it cannot go through a host's admin API: it is written
 * straight into the KV tier, signed with the cluster secret, by the store the hosts read
 * (host/auth/provision.ts `createAdminToken`: the tier keeps its sha256 only), and printed
 * once on stdout.
 *
 * A live token of that name already there is NAME_TAKEN: running it twice does not mint a
 * second admin token silently (pick another --name, or revoke the first with the admin API).
 */
import { CloudburstError } from '../../common/index.ts';
import { createAdminToken } from '../../host/index.ts';
import { KvClient } from '../../kvs/index.ts';
import { whileCatchingUp } from './embedded.ts';

/** The name of the token `token bootstrap` creates unless told otherwise. */
export const BOOTSTRAP_TOKEN_NAME = 'admin';

/** Creates an admin token of tenant `default` in the tier at `kvs` (node URLs); returns it. */
export async function bootstrapAdminToken(kvs: string[], clusterSecret: Buffer | undefined, name: string): Promise<string> {
  if (kvs.length === 0) throw new CloudburstError('INVALID_REQUEST', 'usage: cloudburst token bootstrap --kvs HOST:PORT[,...] [--name admin] (with the cluster secret)');
  if (clusterSecret === undefined) {
    throw new CloudburstError('INVALID_REQUEST', 'cloudburst token bootstrap needs the cluster secret: --cluster-secret-file PATH or CLOUDBURST_CLUSTER_SECRET');
  }
  const kv = new KvClient({ seeds: kvs, clusterSecret });
  try {
    // Fresh reads: a KV node catching up answers KV_UNAVAILABLE for a while.
    return await whileCatchingUp(() => createAdminToken(kv, name));
  } finally {
    await kv.close();
  }
}
