import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CloudburstError } from '../../common/index.ts';
import { Hlc } from '../../kvs/index.ts';
import { DEFAULT_TENANT } from '../keys.ts';
import { AuthStore, type AuthTier } from './auth-store.ts';
import { isTokenShaped } from './records.ts';

/** The name of the token `cloudburst up` creates for its own CLI. */
export const EMBEDDED_ADMIN_NAME = 'admin';
/** Its file in the data folder. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * The admin token of `cloudburst up` (tenant `default`, scope `admin`, name `admin`), in
 * `file` (mode 0600). The file's token is reused when there is one. Otherwise the tokens named
 * `admin` are revoked (nobody holds them any more: the file was their only copy) and a new one
 * goes to the tier first, then to the file, so a crash in between only costs another new token
 * at the next start.
 *
 * @example
 * const token = await provisionAdminToken(kvClient, join(dataDir, ADMIN_TOKEN_FILE));
 */
export async function provisionAdminToken(kv: AuthTier, file: string): Promise<string> {
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (isTokenShaped(existing)) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const store = new AuthStore(kv, new Hlc('provision'));
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
