/**
 * What a host sends another host is signed with the cluster credential (the receiving host's
 * internal routes accept nothing else), and covers the tenant the call acts for. A peer taken
 * for dead has the requests waiting on it cut, unless it answers a probe.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError, CLUSTER_AUTH_HEADER, TENANT_HEADER, verifyRequest } from '../../common/index.ts';
import { HOST_PATHS } from '../../host/protocol.ts';
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

describe('host to host: a peer taken for dead', () => {
  it('PeerLink: a request waiting on a peer that went silent (its link cut) fails at once when the peer is lost; a peer lost with nothing waiting is reached by the next request', async () => {
    // A machine cut off: connections are taken, nothing ever answers (a probe neither).
    const sockets: Socket[] = [];
    const silent = createTcpServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const link = new PeerLink({ secret });
    try {
      // Without the loss, this would wait 60 s.
      const waiting = link.send(silentUrl, 'POST', '/v1/functions/m.f/call', { args: [] }, 60_000).then(() => 'answered', (e: unknown) => e);
      await waitUntil(() => sockets.length >= 1);
      await link.lost(silentUrl, 'its last record is 3500 ms old');
      const err = await waiting;
      expect(err).toBeInstanceOf(CloudburstError);
      expect((err as CloudburstError).code).toBe('HOST_UNAVAILABLE');
      expect((err as CloudburstError).message).toMatch(/left the directory \(its last record is 3500 ms old\) and did not answer a probe/);
      // The probe came on a connection of its own: the request's, and the probe's.
      expect(sockets.length).toBe(2);
      // Lost with nothing waiting: its connections are only closed.
      await link.lost(url, 'a request to it failed after its last record');
      await link.send(url, 'GET', '/v1/anything', undefined, 2000);
    } finally {
      await link.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('PeerLink: a peer that is lost but answers the probe (only its record is late) keeps its requests, which get their answers', async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    const probes: string[] = [];
    const slow = createServer((req, res) => {
      req.resume();
      if (req.url === HOST_PATHS.healthz) {
        probes.push(req.url);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      void held.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const link = new PeerLink({ secret });
    try {
      const waiting = link.send(slowUrl, 'POST', '/v1/functions/m.f/call', { args: [] }, 60_000);
      await new Promise((r) => setTimeout(r, 100));
      await link.lost(slowUrl, 'its last record is 3500 ms old');
      expect(probes).toEqual([HOST_PATHS.healthz]);
      release();
      expect(await waiting).toEqual({ late: true });
    } finally {
      release();
      await link.close();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });
});

async function waitUntil(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 10));
}
