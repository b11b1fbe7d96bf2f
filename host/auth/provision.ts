import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CloudburstError } from '../../common/index.ts';
import { Hlc } from '../../kvs/index.ts';
import { DEFAULT_TENANT } from '../keys.ts';
import { AuthStore, type AuthTier } from './auth-store.ts';
import type { Scope } from './principal.ts';
import { isTokenShaped, tokenHash } from './records.ts';

/** The name of the token `cloudburst up` creates for its own CLI. */
export const EMBEDDED_ADMIN_NAME = 'admin';
/** Its file in the data folder. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * The admin token of `cloudburst up` (tenant `default`, scope `admin`, name `admin`), in
 * `file` (mode 0600). The file's token is reused when there is one and the tier knows it; a
 * tier that has no record of it (a new one: the data folder's first `up --kvs-nodes 3` after
 * the embedded `up`, or a KV tier started afresh) gets its record, so the token the CLI holds
 * keeps working. Otherwise (no file, or its token was revoked) the tokens named `admin` are
 * revoked (nobody holds them any more: the file was their only copy) and a new one goes to
 * the tier first, then to the file, so a crash in between only costs another new token at
 * the next start.
 *
 * @example
 * const token = await provisionAdminToken(kvClient, join(dataDir, ADMIN_TOKEN_FILE));
 */
export async function provisionAdminToken(kv: AuthTier, file: string): Promise<string> {
  const store = new AuthStore(kv, new Hlc('provision'));
  let existing: string | undefined;
  try {
    existing = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing !== undefined && isTokenShaped(existing)) {
    const record = await store.token(tokenHash(existing).toString('hex'));
    if (record !== undefined && record.revokedAt === undefined) return existing;
    if (record === undefined) {
      // This tier never saw it: register the held token under the name, unless the name is
      // another live token's here (then the tier is another platform's: a name of its own).
      const spec = { tenant: DEFAULT_TENANT, scopes: ['admin'] as Scope[] };
      try {
        await store.createToken({ ...spec, name: EMBEDDED_ADMIN_NAME }, existing);
      } catch (err) {
        if (!(err instanceof CloudburstError) || err.code !== 'NAME_TAKEN') throw err;
        await store.createToken({ ...spec, name: `${EMBEDDED_ADMIN_NAME}-${tokenHash(existing).toString('hex').slice(0, 8)}` }, existing);
      }
      return existing;
    }
  }
  try {
    await store.revokeToken(EMBEDDED_ADMIN_NAME);
  } catch (err) {
    if (!(err instanceof CloudburstError) || err.code !== 'UNKNOWN_TOKEN') throw err;
  }
  const { token } = await store.createToken({ tenant: DEFAULT_TENANT, scopes: ['admin'], name: EMBEDDED_ADMIN_NAME });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

/**
 * A new admin token (tenant `default`, scope `admin`) named `name`, written straight into the
 * tier: the first token of a cluster no `cloudburst up` provisions (`cloudburst token
 * bootstrap`, deploy/README.md). Returned, never stored: the caller shows it once.
 *
 * @throws CloudburstError `NAME_TAKEN` when a live token has the name, `INVALID_NAME`
 */
export async function createAdminToken(kv: AuthTier, name: string): Promise<string> {
  const store = new AuthStore(kv, new Hlc('bootstrap'));
  const { token } = await store.createToken({ tenant: DEFAULT_TENANT, scopes: ['admin'], name });
  return token;
}
