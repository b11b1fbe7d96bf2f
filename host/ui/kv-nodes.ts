/**
 * The KV tier as the dashboard shows it: every member of the ring with its state, its share of
 * the key space, and its health, as this host's KV client sees them.
 */
import { request } from 'node:http';
import { KV_PATHS, Ring, ringShares, type KvClient, type RingInfo } from '../../kvs/index.ts';

/** One KV node. */
export interface KvNodeView {
  id: string;
  url: string;
  /** Its membership state: `joining`, `up`, `leaving`, `left`. */
  state: string;
  /** The share of the key space it is the primary of (the shares add up to 1). */
  primary: number;
  /** The share it holds a replica of (they add up to the replication factor). */
  replica: number;
  /** Whether the node that answered the ring takes it for down (no heartbeat for 2.5 s). */
  down: boolean;
  /** What its `/kv/v1/readyz` answered: `ready`, else the error code, or `UNREACHABLE`. */
  ready: string;
}

export interface KvView {
  version: string;
  replication: number;
  writeQuorum: number;
  nodes: KvNodeView[];
}

/** How long one node's readiness probe may take before it counts as unreachable. */
const PROBE_TIMEOUT_MS = 1000;
/** How long a view is reused: pages poll every few seconds, several may be open. */
const VIEW_TTL_MS = 1000;

/**
 * The KV view, read at most once a second (a page that polls costs the tier one ring read and
 * one readiness probe per node per second, whatever the number of pages).
 *
 * @example
 * const kvView = kvViewReader(readThrough.kv);
 * const { nodes } = await kvView();
 */
export function kvViewReader(kv: Pick<KvClient, 'ring'>, clock: () => number = Date.now): () => Promise<KvView> {
  let last: { at: number; view: Promise<KvView> } | undefined;
  return () => {
    const now = clock();
    if (last === undefined || now - last.at > VIEW_TTL_MS) {
      const view = readView(kv);
      last = { at: now, view };
      // A failed read is not kept: the next poll tries again.
      view.catch(() => {
        if (last?.view === view) last = undefined;
      });
    }
    return last.view;
  };
}

async function readView(kv: Pick<KvClient, 'ring'>): Promise<KvView> {
  const info: RingInfo = await kv.ring();
  // The placement ring: the nodes reads and writes go to (membership.ts: `up` and `leaving`).
  const placed = info.members.filter((m) => m.state === 'up' || m.state === 'leaving');
  const shares = ringShares(new Ring(placed, { replication: info.replication }));
  const down = new Set(info.down);
  const members = info.members.filter((m) => m.state !== 'left');
  const ready = await Promise.all(members.map((m) => probeReady(m.url)));
  return {
    version: info.version,
    replication: info.replication,
    writeQuorum: info.writeQuorum,
    nodes: members.map((m, i) => ({
      id: m.id, url: m.url, state: m.state,
      primary: shares.get(m.id)?.primary ?? 0, replica: shares.get(m.id)?.replica ?? 0,
      down: down.has(m.id), ready: ready[i]!,
    })).sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
}

/**
 * A KV node's `/kv/v1/readyz` (an open route): `ready`, its error code, or `UNREACHABLE`. One
 * connection per probe, closed after it (`agent: false`): nothing is left open between polls.
 */
function probeReady(url: string): Promise<string> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(KV_PATHS.readyz, url);
    } catch {
      resolve('UNREACHABLE');
      return;
    }
    if (target.protocol !== 'http:') {
      resolve('UNREACHABLE');
      return;
    }
    const req = request(target, { agent: false, timeout: PROBE_TIMEOUT_MS, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => {
        if (res.statusCode === 200) return resolve('ready');
        try {
          resolve(String((JSON.parse(body) as { error?: { code?: string } }).error?.code ?? res.statusCode));
        } catch {
          resolve(String(res.statusCode));
        }
      });
      res.on('error', () => resolve('UNREACHABLE'));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve('UNREACHABLE'));
    req.end();
  });
}
