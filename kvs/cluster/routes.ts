/**
 * The handlers of the cluster routes (see kvs/README.md, "HTTP routes"): the ring and
 * subscriptions, which clients use, and the node-to-node routes (gossip, push, digest,
 * repair, sync), which only other KV nodes call. Each validates its input before it touches
 * anything, so a bad request changes nothing.
 */
import { CloudburstError, parseJsonBody, readBody, sendBytes, sendJson } from '../../common/index.ts';
import { push as pushEntries } from '../data-ops.ts';
import { KV_CONTENT_TYPES, KV_HEADERS, KV_LIMITS } from '../protocol.ts';
import type { Context, Handler } from '../server.ts';
import { REPAIR_MAX_ENTRIES } from './anti-entropy.ts';
import { parseMembers } from './membership.ts';
import { parseSubscription } from './subscriptions.ts';

/** Small JSON bodies: membership, digests, subscriptions. */
const JSON_LIMIT = 8 * 1024 * 1024;

// Anything a peer sends counts as a heartbeat.
function heardFrom(ctx: Context, from: string | string[] | undefined): void {
  if (typeof from === 'string') ctx.cluster.gossip.heard(from);
}

/**
 * The cluster's handlers, keyed by route name.
 *
 * @example
 * const HANDLERS = { ...CLUSTER_HANDLERS, getKey, ... };
 */
export const CLUSTER_HANDLERS = {
  ring(ctx, _req, res) {
    sendJson(res, 200, ctx.cluster.info());
  },

  async ringRemove(ctx, req, res) {
    const body = parseJsonBody(await readBody(req, JSON_LIMIT, 'BODY_TOO_LARGE')) as { id?: unknown; force?: unknown } | null;
    if (typeof body?.id !== 'string' || (body.force !== undefined && typeof body.force !== 'boolean')) {
      throw new CloudburstError('INVALID_REQUEST', 'expected {"id": node id, "force"?: boolean}');
    }
    ctx.cluster.gossip.remove(body.id, body.force === true);
    await ctx.cluster.gossip.gossipNow();
    sendJson(res, 200, ctx.cluster.info());
  },

  async subscriptions(ctx, req, res) {
    const sub = parseSubscription(parseJsonBody(await readBody(req, JSON_LIMIT, 'BODY_TOO_LARGE')));
    const keys = ctx.cluster.subscriptions.apply(sub);
    sendJson(res, 200, sub.unsubscribe ? { unsubscribed: keys } : { subscribed: keys, ttlMs: sub.ttlMs });
  },

  async gossip(ctx, req, res) {
    const body = parseJsonBody(await readBody(req, JSON_LIMIT, 'BODY_TOO_LARGE')) as { from?: unknown; members?: unknown } | null;
    const members = parseMembers(body?.members);
    if (typeof body?.from !== 'string') throw new CloudburstError('INVALID_REQUEST', 'a gossip needs "from"');
    ctx.cluster.gossip.merge(members);
    ctx.cluster.gossip.heard(body.from);
    sendJson(res, 200, ctx.cluster.info());
  },

  async push(ctx, req, res) {
    const from = req.headers[KV_HEADERS.from];
    const body = await readBody(req, KV_LIMITS.maxBodyBytes, 'BODY_TOO_LARGE');
    sendBytes(res, await pushEntries(ctx, body, typeof from === 'string' ? from : undefined), KV_CONTENT_TYPES.json);
  },

  async digest(ctx, req, res) {
    const body = parseJsonBody(await readBody(req, JSON_LIMIT, 'BODY_TOO_LARGE'));
    sendJson(res, 200, ctx.cluster.antiEntropy.answerDigest(body));
  },

  async repair(ctx, req, res) {
    const h = req.headers;
    // Checked before the body is read: a stale ring costs no upload.
    if (h[KV_HEADERS.ringVersion] !== ctx.cluster.version) {
      throw new CloudburstError('KV_RING_VERSION', `ring version ${String(h[KV_HEADERS.ringVersion])} differs from ${ctx.cluster.version}`, {
        ring: ctx.cluster.gossip.info(),
      });
    }
    const body = await readBody(req, KV_LIMITS.maxBodyBytes, 'BODY_TOO_LARGE');
    const frame = await ctx.cluster.antiEntropy.answerRepair(h[KV_HEADERS.from], h[KV_HEADERS.ringVersion], h[KV_HEADERS.buckets], body);
    sendBytes(res, frame, KV_CONTENT_TYPES.frame);
  },

  async sync(ctx, req, res) {
    const body = parseJsonBody(await readBody(req, JSON_LIMIT, 'BODY_TOO_LARGE'));
    const { frame, next } = ctx.cluster.handoff.answerSync(body);
    if (next !== undefined) res.setHeader(KV_HEADERS.next, encodeURIComponent(next));
    sendBytes(res, frame, KV_CONTENT_TYPES.frame);
  },
} satisfies Record<'ring' | 'ringRemove' | 'subscriptions' | 'gossip' | 'push' | 'digest' | 'repair' | 'sync', Handler>;
