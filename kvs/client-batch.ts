/**
 * The multi-key operations of KvClient, split out of client.ts: `writeMany` groups entries
 * by replica set and sends each group to its replicas in parallel, counting acknowledgements
 * per entry; `readMany` asks each key's first live replica, in one batch request per node,
 * and moves a key to its next replica on a failure or a "missing" until enough replicas
 * said absent; `subscribeMany` sends leases to every replica of each key.
 */
import { Buffer } from 'node:buffer';
import type { ClientCore } from './client.ts';
import { quorum } from './cluster/quorum.ts';
import type { RingMember } from './cluster/ring.ts';
import { CloudburstError, errorFromBody } from '../common/index.ts';
import { checkKey, decodeFrame, encodeFrame, KV_CONTENT_TYPES, KV_HEADERS, KV_LIMITS, KV_PATHS, type FrameEntry } from './protocol.ts';
import { errorOf } from './transport.ts';

/** One checked, encoded entry of a mergeBatch, with its slot in the caller's array. */
export interface BatchItem {
  readonly slot: number;
  readonly key: string;
  readonly bytes: Uint8Array;
}

/** Ring retries of one operation. */
export const RING_RETRIES = 4;

/**
 * Writes `items` to their replicas; resolves with each slot's outcome (null: W acks).
 *
 * @example
 * const outcome = await writeMany(core, items, Date.now() + 5000);
 */
export async function writeMany(core: ClientCore, items: readonly BatchItem[], deadline: number, origin?: string): Promise<Map<number, CloudburstError | null>> {
  const first = await core.ring.ensure();
  if (first.size === 1) {
    // One node: one request per frame, no per-entry bookkeeping (the common embedded case).
    try {
      const results = await sendBatch(core, first.placement.members[0]!, items, deadline, origin);
      return new Map(items.map((it, i) => [it.slot, results[i] ?? null]));
    } catch (err) {
      if (!(err instanceof CloudburstError) || err.code !== 'KV_RING_VERSION') {
        if (err instanceof CloudburstError && err.userFault) throw err;
        return new Map(items.map((it) => [it.slot, unavailable(`write of ${JSON.stringify(it.key)}`, [err], 0)]));
      }
      core.ring.absorbError(err); // the cluster grew: fall through to the general path
    }
  }
  const acked = new Map<number, Set<string>>(items.map((it) => [it.slot, new Set()]));
  const refused = new Map<number, CloudburstError>();
  const done = new Set<number>();
  const failures: unknown[] = [];
  let pending = [...items];
  for (let round = 0; pending.length > 0; round++) {
    const view = await core.ring.ensure();
    const groups = new Map<string, { replicas: RingMember[]; items: BatchItem[] }>();
    // One node: every key has the same replica; skip hashing each.
    const only = view.size === 1 ? [...view.placement.members] : undefined;
    for (const it of pending) {
      const replicas = only ?? view.placement.replicasFor(it.key);
      const id = replicas.map((m) => m.id).join('\u0000');
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { replicas, items: [] }));
      g.items.push(it);
    }
    const moved: CloudburstError[] = [];
    await Promise.all(
      [...groups.values()].map(async ({ replicas, items: group }) => {
        const w = core.writeQuorum(view, replicas.length);
        const have = Math.min(...group.map((it) => replicas.filter((m) => acked.get(it.slot)!.has(m.id)).length));
        const targets = replicas.filter((m) => group.some((it) => !acked.get(it.slot)!.has(m.id)));
        const { ok, failed } = await quorum(targets, w - have, (id) => core.ring.isSuspect(id), (m) => sendBatch(core, m, group, deadline, origin));
        for (const [id, results] of ok) {
          results.forEach((r, j) => {
            const slot = group[j]!.slot;
            if (r === null) acked.get(slot)!.add(id);
            else refused.set(slot, r);
          });
        }
        for (const err of failed.values()) {
          if (err instanceof CloudburstError && err.code === 'KV_RING_VERSION') moved.push(err);
          else failures.push(err);
        }
        for (const it of group) {
          if (replicas.filter((m) => acked.get(it.slot)!.has(m.id)).length >= w && w > 0) done.add(it.slot);
        }
      }),
    );
    pending = pending.filter((it) => !done.has(it.slot) && !refused.has(it.slot));
    if (pending.length === 0 || moved.length === 0 || round >= RING_RETRIES || Date.now() >= deadline) break;
    if (!moved.some((e) => core.ring.absorbError(e))) await sleep(50 * 2 ** round);
  }
  const outcome = new Map<number, CloudburstError | null>();
  for (const it of items) {
    if (done.has(it.slot)) outcome.set(it.slot, null);
    else outcome.set(it.slot, refused.get(it.slot) ?? unavailable(`write of ${JSON.stringify(it.key)}`, failures, 0));
  }
  return outcome;
}

// One node's share of a batch, split over the frame limits and sent in order.
async function sendBatch(core: ClientCore, member: RingMember, items: readonly BatchItem[], deadline: number, origin?: string): Promise<(CloudburstError | null)[]> {
  const out: (CloudburstError | null)[] = [];
  const headers: Record<string, string> = origin === undefined ? {} : { [KV_HEADERS.origin]: origin };
  let chunk: FrameEntry[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const sent = chunk.length;
    const body = encodeFrame(chunk);
    chunk = [];
    size = 0;
    const reply = await core.send(member, { method: 'POST', path: KV_PATHS.batchMerge, body, contentType: KV_CONTENT_TYPES.frame, headers }, deadline);
    if (reply.status !== 200) throw errorOf(reply);
    const remote = (JSON.parse(reply.body.toString('utf8')) as { results?: unknown }).results;
    if (!Array.isArray(remote) || remote.length !== sent) {
      throw new CloudburstError('INTERNAL', `the KV node answered a batch of ${sent} with a malformed result list`);
    }
    for (const r of remote) out.push(r === null ? null : errorFromBody({ error: r }));
  };
  for (const it of items) {
    const entrySize = 6 + Buffer.byteLength(it.key, 'utf8') + it.bytes.byteLength;
    if (chunk.length >= KV_LIMITS.maxBatchEntries || size + entrySize > KV_LIMITS.maxBodyBytes) await flush();
    chunk.push({ key: it.key, value: it.bytes });
    size += entrySize;
  }
  await flush();
  return out;
}

/**
 * Reads `keys` (checked by the caller) from their replicas; each resolves to its encoded
 * value or undefined. With `unreadable`, a key that could be neither found nor ruled out is
 * added to it (its slot stays undefined) instead of failing the whole read.
 *
 * @throws CloudburstError `KV_UNAVAILABLE` when some key could be neither found nor ruled out
 * (without `unreadable`).
 * @example
 * const values = await readMany(core, ['a', 'b'], Date.now() + 5000);
 */
export async function readMany(core: ClientCore, keys: readonly string[], deadline: number, unreadable?: Set<number>): Promise<(Uint8Array | undefined)[]> {
  const view = await core.ring.ensure();
  const out: (Uint8Array | undefined)[] = new Array(keys.length).fill(undefined);
  const only = view.size === 1 ? { replicas: [...view.placement.members], home: new Set(view.placement.members.map((m) => m.id)) } : undefined;
  const plans = keys.map((k) => only ?? core.ring.readOrder(view, k));
  const order = plans.map((p) => p.replicas);
  const next = new Array<number>(keys.length).fill(0);
  const absent = new Array<number>(keys.length).fill(0);
  const needAbsent = plans.map((p) => p.home.size - core.writeQuorum(view, p.home.size) + 1);
  const open = new Set(keys.map((_, i) => i));
  const errors: unknown[] = [];
  while (open.size > 0) {
    const byNode = new Map<string, { member: RingMember; slots: number[] }>();
    for (const i of open) {
      const m = order[i]![next[i]!];
      if (!m) {
        if (!unreadable) throw unavailable(`read of ${JSON.stringify(keys[i])}`, errors, absent[i]!);
        unreadable.add(i);
        open.delete(i);
        continue;
      }
      let g = byNode.get(m.id);
      if (!g) byNode.set(m.id, (g = { member: m, slots: [] }));
      g.slots.push(i);
    }
    // A hung node must not eat the whole budget: each attempt gets a share of it.
    const attemptDeadline = Math.min(deadline, Date.now() + Math.max(1000, core.timeoutMs / 3));
    await Promise.all(
      [...byNode.values()].map(async ({ member, slots }) => {
        for (let s = 0; s < slots.length; s += KV_LIMITS.maxBatchEntries) {
          const part = slots.slice(s, s + KV_LIMITS.maxBatchEntries);
          try {
            const values = await getFrom(core, member, part.map((i) => keys[i]!), attemptDeadline);
            part.forEach((i, j) => {
              const v = values[j];
              if (v !== undefined) {
                out[i] = v;
                open.delete(i);
              } else {
                // Only a home replica's "missing" counts (a hot key's extra may lag).
                if (plans[i]!.home.has(member.id)) absent[i]!++;
                if (absent[i]! >= needAbsent[i]!) open.delete(i);
                else next[i]!++;
              }
            });
          } catch (err) {
            if (err instanceof CloudburstError && err.userFault) throw err;
            errors.push(err);
            for (const i of part) next[i]!++;
          }
        }
      }),
    );
  }
  return out;
}

async function getFrom(core: ClientCore, member: RingMember, keys: string[], deadline: number): Promise<(Uint8Array | undefined)[]> {
  const body = Buffer.from(JSON.stringify({ keys }), 'utf8');
  const reply = await core.send(member, { method: 'POST', path: KV_PATHS.batchGet, body, contentType: KV_CONTENT_TYPES.json }, deadline);
  if (reply.status !== 200) throw errorOf(reply);
  const frame = decodeFrame(reply.body, keys.length);
  if (frame.length !== keys.length || frame.some((e, i) => e.key !== keys[i])) {
    throw new CloudburstError('INTERNAL', 'the KV node answered a batch get with entries that do not match the keys');
  }
  return frame.map((e) => e.value);
}

/**
 * Sends a subscription (or unsubscription) of `keys` to each key's placement and future
 * replicas (a joining node has the lease when it goes up). Resolves with the keys that
 * reached none of their replicas (empty: every key is subscribed somewhere), and the first
 * failure that kept one from it. `onCovered` hears of keys as soon as one of their replicas
 * took the lease, without waiting for nodes that are slow to answer.
 */
export async function subscribeMany(
  core: ClientCore,
  subscriber: string,
  keys: readonly string[],
  extra: { ttlMs?: number; unsubscribe?: boolean },
  deadline: number,
  onCovered?: (keys: string[]) => void,
): Promise<{ missed: string[]; cause: unknown }> {
  for (const key of keys) checkKey(key);
  if (keys.length === 0) return { missed: [], cause: undefined };
  const view = await core.ring.ensure();
  const byNode = new Map<string, { member: RingMember; keys: string[] }>();
  for (const key of keys) {
    const targets = new Map<string, RingMember>();
    for (const m of [...view.placement.replicasFor(key), ...view.future.replicasFor(key)]) targets.set(m.id, m);
    for (const m of targets.values()) {
      let g = byNode.get(m.id);
      if (!g) byNode.set(m.id, (g = { member: m, keys: [] }));
      g.keys.push(key);
    }
  }
  const covered = new Set<string>();
  const errors: unknown[] = [];
  await Promise.all(
    [...byNode.values()].map(async ({ member, keys: ks }) => {
      for (let i = 0; i < ks.length; i += KV_LIMITS.maxBatchEntries) {
        const part = ks.slice(i, i + KV_LIMITS.maxBatchEntries);
        const body = Buffer.from(JSON.stringify({ subscriber, keys: part, ...extra }), 'utf8');
        try {
          const reply = await core.send(member, { method: 'POST', path: KV_PATHS.subscriptions, body, contentType: KV_CONTENT_TYPES.json }, deadline);
          if (reply.status !== 200) throw errorOf(reply);
          const fresh = part.filter((k) => !covered.has(k));
          for (const k of fresh) covered.add(k);
          if (fresh.length > 0) onCovered?.(fresh);
        } catch (err) {
          if (err instanceof CloudburstError && err.userFault) throw err;
          errors.push(err);
        }
      }
    }),
  );
  return { missed: keys.filter((k) => !covered.has(k)), cause: errors[0] };
}

/**
 * The KV_UNAVAILABLE for an operation that missed its quorum, naming the first cause.
 *
 * @example
 * throw unavailable('write of "k" (W=2)', errors, 0);
 */
export function unavailable(what: string, errors: readonly unknown[], absent: number): CloudburstError {
  const first = errors[0];
  const why = first instanceof Error ? first.message : 'no replica answered';
  const extra = absent > 0 ? `; ${absent} replica(s) had no value` : '';
  return new CloudburstError('KV_UNAVAILABLE', `${what} failed: ${why}${extra}`, undefined, { cause: first });
}

/** A pause between ring retries. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
