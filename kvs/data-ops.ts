/**
 * The data operations of a KV node, apart from how their request arrived: the HTTP routes
 * (server.ts, cluster/routes.ts) and the binary wire (wire/server.ts) both call these, so
 * both give the same answers and refuse the same input with the same codes. Each takes what
 * its route has outside the body (a key as it is in the path, a header) and the body.
 */
import { CloudburstError, parseJsonBody, stringify } from '../common/index.ts';
import { REPAIR_MAX_ENTRIES } from './cluster/anti-entropy.ts';
import { ORIGINS } from './cluster/replicator.ts';
import { decode } from './lattice/codec.ts';
import { mergeFrame } from './merge-frame.ts';
import { checkKey, decodeFrame, encodeFrame, KV_LIMITS, type FrameEntry } from './protocol.ts';
import type { Context } from './server.ts';

/** The key of a key route, from its percent-encoded form in the path. */
export function keyFromPath(rawKey: string): string {
  let key: string;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    throw new CloudburstError('INVALID_KEY', 'the key in the path is not valid percent-encoded UTF-8');
  }
  return checkKey(key);
}

// A node that may be stale (restarted, paused) sends readers to another replica.
function checkFresh(ctx: Context): void {
  if (ctx.cluster.catchingUp) throw new CloudburstError('KV_UNAVAILABLE', 'this node is catching up with its peers; read another replica');
}

/** `GET /kv/v1/keys/<key>`: the encoded value. */
export function getKey(ctx: Context, rawKey: string): Uint8Array {
  const key = keyFromPath(rawKey);
  checkFresh(ctx);
  ctx.cluster.recordRead(key);
  const bytes = ctx.store.getEncoded(key);
  if (!bytes) throw new CloudburstError('KEY_NOT_FOUND', `no value under ${JSON.stringify(key)}`);
  return bytes;
}

/** The checks of `PUT /kv/v1/keys/<key>` made before its body is read: the key, and that this node replicates it. */
export function admitMerge(ctx: Context, rawKey: string): string {
  const key = keyFromPath(rawKey);
  if (!ctx.cluster.owns(key)) throw ctx.cluster.notOwned(key);
  return key;
}

/** `PUT /kv/v1/keys/<key>` once admitted: merges the body, answers the merged encoding once durable. */
export async function mergeKey(ctx: Context, key: string, body: Uint8Array): Promise<Uint8Array> {
  return (await ctx.store.mergeEncoded(key, decode(body), ORIGINS.client, body)).bytes;
}

/** The results of a batch merge or a push, as JSON (null per entry merged, else its error). */
function resultsJson(results: (CloudburstError | null)[]): Buffer {
  return Buffer.from(stringify({ results: results.map((r) => (r ? r.toJSON().error : null)) }), 'utf8');
}

/** `POST /kv/v1/batch/merge`; `origin` is the writer's subscriber URL (KV_HEADERS.origin), if it named one. */
export async function batchMerge(ctx: Context, body: Uint8Array, origin: string | undefined): Promise<Buffer> {
  const entries = decodeFrame(body);
  // A host flushing its cache names itself: what it sent is not pushed back to it.
  const done = origin ? ctx.cluster.subscriptions.fromSubscriber(origin, entries) : undefined;
  let results: (CloudburstError | null)[];
  try {
    // One key this node does not replicate refuses the whole batch: the client regroups it.
    results = await mergeFrame(ctx.store, entries, ORIGINS.client, (key) => {
      if (!ctx.cluster.owns(key)) throw ctx.cluster.notOwned(key);
    });
  } finally {
    done?.();
  }
  return resultsJson(results);
}

/** `POST /kv/v1/batch/get`: a frame of the keys' values. */
export function batchGet(ctx: Context, body: Uint8Array): Uint8Array {
  const parsed = parseJsonBody(body);
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new CloudburstError('INVALID_REQUEST', 'expected {"keys": [string, ...]}');
  if (keys.length > KV_LIMITS.maxBatchEntries) {
    throw new CloudburstError('INVALID_REQUEST', `at most ${KV_LIMITS.maxBatchEntries} keys per batch`);
  }
  checkFresh(ctx);
  let total = 0;
  const entries = keys.map((k: unknown, index): FrameEntry => {
    let key: string;
    try {
      key = checkKey(k);
    } catch (err) {
      throw new CloudburstError('INVALID_KEY', `keys[${index}]: ${(err as Error).message}`, { index });
    }
    const value = ctx.store.getEncoded(key);
    ctx.cluster.recordRead(key);
    total += 6 + key.length * 3 + (value?.byteLength ?? 0);
    if (total > KV_LIMITS.maxBodyBytes) {
      throw new CloudburstError('BODY_TOO_LARGE', `the response would be over ${KV_LIMITS.maxBodyBytes} bytes; ask for fewer keys`);
    }
    return { key, value };
  });
  return encodeFrame(entries);
}

/** `POST /kv/v1/cluster/push` from the peer `from`: at most as many entries as one repair answer (REPAIR_MAX_ENTRIES). */
export async function push(ctx: Context, body: Uint8Array, from: string | undefined): Promise<Buffer> {
  // Anything a peer sends counts as a heartbeat.
  if (from) ctx.cluster.gossip.heard(from);
  const entries = decodeFrame(body, REPAIR_MAX_ENTRIES);
  // No ring check: a push may be early or late for our ring; a key we do not replicate is
  // handed on by the next shed. Merges are idempotent, so a duplicate costs nothing.
  return resultsJson(await mergeFrame(ctx.store, entries, ORIGINS.peer));
}
