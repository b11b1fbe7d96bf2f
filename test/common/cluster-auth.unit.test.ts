import { describe, expect, it } from 'vitest';
import {
  CLUSTER_AUTH_HEADER,
  CLUSTER_AUTH_SKEW_MS,
  CLUSTER_SECRET_MIN_BYTES,
  newClusterSecret,
  parseClusterSecret,
  signRequest,
  TENANT_HEADER,
  verifyRequest,
} from '../../common/index.ts';

const secret = Buffer.from(newClusterSecret());
const other = Buffer.from(newClusterSecret());
const NOW = 1_700_000_000_000;
const PATH = '/kv/v1/keys/default%2Fk%2Fa';

/** A signed request's headers, as node:http shows them (lowercase names). */
const signed = (method = 'PUT', target = PATH, tenant?: string, at = NOW) => signRequest(secret, method, target, tenant, at);
const verify = (headers: Record<string, string | string[] | undefined>, method = 'PUT', target = PATH, at = NOW) => verifyRequest(secret, method, target, headers, at);

describe('cluster credential', () => {
  it('cluster auth: a request signed with the secret verifies, for its method and target, with or without a tenant', () => {
    expect(verify(signed())).toBe(true);
    expect(verify(signed('GET', '/kv/v1/ring?x=1'), 'GET', '/kv/v1/ring?x=1')).toBe(true);
    const forTenant = signed('POST', '/v1/internal/x', 'acme');
    expect(forTenant[TENANT_HEADER]).toBe('acme');
    expect(verify(forTenant, 'POST', '/v1/internal/x')).toBe(true);
    expect(Object.keys(signed())).toEqual([CLUSTER_AUTH_HEADER]);
  });

  it('cluster auth: another secret, method or target (a replayed signature) does not verify', () => {
    expect(verifyRequest(other, 'PUT', PATH, signed(), NOW)).toBe(false);
    expect(verify(signed(), 'POST')).toBe(false);
    expect(verify(signed(), 'PUT', '/kv/v1/keys/default%2Fk%2Fb')).toBe(false);
    // The query is part of the target.
    expect(verify(signed('GET', '/kv/v1/ring'), 'GET', '/kv/v1/ring?x=1')).toBe(false);
    expect(verify(signed('GET', '/kv/v1/ring?x=1'), 'GET', '/kv/v1/ring')).toBe(false);
  });

  it('cluster auth: the tenant header is covered by the signature: changed, added or removed, it does not verify', () => {
    const forAcme = signed('POST', PATH, 'acme');
    expect(verify({ ...forAcme, [TENANT_HEADER]: 'evil' }, 'POST')).toBe(false);
    expect(verify({ ...signed('POST', PATH), [TENANT_HEADER]: 'acme' }, 'POST')).toBe(false);
    const { [TENANT_HEADER]: _dropped, ...withoutTenant } = forAcme;
    expect(verify(withoutTenant, 'POST')).toBe(false);
    // A repeated header arrives as an array: never a tenant.
    expect(verify({ ...forAcme, [TENANT_HEADER]: ['acme', 'acme'] }, 'POST')).toBe(false);
  });

  it(`cluster auth: a signature is good for ${CLUSTER_AUTH_SKEW_MS / 60_000} minutes either side of the receiver's clock, not more`, () => {
    expect(verify(signed('PUT', PATH, undefined, NOW - CLUSTER_AUTH_SKEW_MS))).toBe(true);
    expect(verify(signed('PUT', PATH, undefined, NOW + CLUSTER_AUTH_SKEW_MS))).toBe(true);
    expect(verify(signed('PUT', PATH, undefined, NOW - CLUSTER_AUTH_SKEW_MS - 1))).toBe(false);
    expect(verify(signed('PUT', PATH, undefined, NOW + CLUSTER_AUTH_SKEW_MS + 1))).toBe(false);
    expect(verify(signed('PUT', PATH, undefined, NOW - 10 * 60_000))).toBe(false);
  });

  it('cluster auth: a missing or malformed header does not verify (and does not throw)', () => {
    const good = signed()[CLUSTER_AUTH_HEADER]!;
    const [, time, hex] = good.split(' ');
    const malformed = [
      undefined,
      '',
      'v1',
      `v1 ${time}`,
      `v2 ${time} ${hex}`,
      `V1 ${time} ${hex}`,
      `v1 ${time} ${hex} extra`,
      `v1  ${time} ${hex}`,
      `v1 ${time} ${hex!.toUpperCase()}`,
      `v1 ${time} ${hex!.slice(0, 63)}`,
      `v1 ${time} ${hex}0`,
      `v1 ${time} ${'z'.repeat(64)}`,
      `v1 -${time} ${hex}`,
      `v1 ${time}.0 ${hex}`,
      `v1 1e12 ${hex}`,
      `v1 ${'9'.repeat(16)} ${hex}`,
      `${good}${' '.repeat(200)}`,
    ];
    for (const value of malformed) expect(verify(value === undefined ? {} : { [CLUSTER_AUTH_HEADER]: value }), String(value)).toBe(false);
    expect(verify({ [CLUSTER_AUTH_HEADER]: [good, good] })).toBe(false);
    // A bearer token is no signature.
    expect(verify({ authorization: `Bearer ${hex}` })).toBe(false);
  });

  it('cluster auth: a secret read from text is trimmed and must have enough bytes', () => {
    const text = newClusterSecret();
    expect(parseClusterSecret(`  ${text}\n`, 'test').equals(Buffer.from(text))).toBe(true);
    expect(() => parseClusterSecret('x'.repeat(CLUSTER_SECRET_MIN_BYTES - 1), 'the file f')).toThrow(/the file f .*at least 32/);
    expect(() => parseClusterSecret(`${' '.repeat(40)}\n`, 'env')).toThrow(/0 bytes/);
  });
});
