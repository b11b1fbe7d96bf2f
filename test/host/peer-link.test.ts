/**
 * What a host sends another host is signed with the cluster credential (the receiving host's
 * internal routes accept nothing else), and covers the tenant the call acts for.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_AUTH_HEADER, TENANT_HEADER, verifyRequest } from '../../common/index.ts';
import { PeerLink } from '../../host/cluster/peer-link.ts';
import { testSecret } from '../helpers/cluster-secret.ts';

const secret = testSecret();
let peer: Server;
let url: string;
/** Each request the peer got: method, target, headers. */
const seen: { method: string | undefined; target: string | undefined; headers: IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  peer = createServer((req, res) => {
    seen.push({ method: req.method, target: req.url, headers: req.headers });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  peer.closeAllConnections();
  await new Promise((r) => peer.close(r));
});

describe('host to host: PeerLink', () => {
  it('PeerLink: every request is signed for its method and target', async () => {
    const link = new PeerLink({ secret });
    try {
      seen.length = 0;
      await link.send(url, 'POST', '/v1/internal/dag/trigger', { a: 1 }, 2000);
      await link.send(url, 'GET', '/v1/internal/dag/requests/r1?x=1', undefined, 2000);
      await link.send(url, 'DELETE', '/v1/internal/dag/requests/r1', undefined, 2000);
      expect(seen).toHaveLength(3);
      for (const r of seen) {
        expect(verifyRequest(secret, r.method, r.target, r.headers), `${r.method} ${r.target}`).toBe(true);
        expect(verifyRequest(testSecret(), r.method, r.target, r.headers)).toBe(false);
        expect(r.headers[TENANT_HEADER]).toBeUndefined();
      }
    } finally {
      await link.close();
    }
  });

  it('PeerLink: a request that names a tenant is signed for that tenant; another tenant in its place does not verify', async () => {
    const link = new PeerLink({ secret });
    try {
      seen.length = 0;
      await link.request(url, 'POST', '/v1/functions/m.f/call', { args: [] }, 2000, { [TENANT_HEADER]: 'acme' });
      const [r] = seen;
      expect(r!.headers[TENANT_HEADER]).toBe('acme');
      expect(verifyRequest(secret, r!.method, r!.target, r!.headers)).toBe(true);
      expect(verifyRequest(secret, r!.method, r!.target, { ...r!.headers, [TENANT_HEADER]: 'other' })).toBe(false);
    } finally {
      await link.close();
    }
  });

  it('PeerLink: without a secret (an insecure cluster) requests go unsigned', async () => {
    const link = new PeerLink();
    try {
      seen.length = 0;
      await link.send(url, 'POST', '/v1/internal/dag/trigger', {}, 2000);
      expect(seen[0]!.headers[CLUSTER_AUTH_HEADER]).toBeUndefined();
    } finally {
      await link.close();
    }
  });
});
