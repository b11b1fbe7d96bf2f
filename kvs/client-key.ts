/**
 * The single-key operations of KvClient, apart from its API (client.ts) as the multi-key ones
 * are (client-batch.ts): `readOne` asks one replica, live ones first, hedged to the next after
 * `hedgeMs`, until one has the key or enough said "absent"; `readAll` merges every replica's
 * value; `writeOne` sends a merge to all the key's replicas and waits for W acknowledgements,
 * taking a newer ring and retrying when a node says the key moved.
 */
import type { ClientCore } from './client.ts';
import { RING_RETRIES, sleep, unavailable } from './client-batch.ts';
import { quorum } from './cluster/quorum.ts';
import type { RingMember } from './cluster/ring.ts';
import { CloudburstError } from '../common/index.ts';
import { decode, encode } from './lattice/codec.ts';
import { merge as mergeLattices, type Lattice } from './lattice/registry.ts';
import { KV_LIMITS, keyPath } from './protocol.ts';
import { errorOf } from './transport.ts';

/**
 * The encoded value of `key` from one replica (live first, hedged), or undefined once N - W + 1
 * home replicas said it is absent.
 *
 * @example
 * const bytes = await readOne(core, 'k');
 */
export async function readOne(core: ClientCore, key: string): Promise<Uint8Array | undefined> {
  const path = keyPath(key);
  const deadline = Date.now() + core.timeoutMs;
  const view = await core.ring.ensure();
  const { replicas, home } = core.ring.readOrder(view, key);
  const absentAfter = home.size - core.writeQuorum(view, home.size) + 1;
  return new Promise((resolve, reject) => {
    let next = 0;
    let running = 0;
    let absent = 0;
    let settled = false;
    let hedge: NodeJS.Timeout | undefined;
    const errors: unknown[] = [];
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hedge);
      fn();
    };
    const launch = (): void => {
      clearTimeout(hedge);
      if (settled || next >= replicas.length) return;
      const m = replicas[next++]!;
      running++;
      // No answer in hedgeMs: ask the next replica too, keep this one running, and ask the
      // ring whether a node is known to be down.
      if (next < replicas.length) {
        hedge = setTimeout(() => {
          core.ring.refreshSoon();
          launch();
        }, core.hedgeMs);
      }
      core.send(m, { method: 'GET', path }, deadline).then(
        (reply) => {
          running--;
          if (reply.status === 200) return finish(() => resolve(reply.body));
          const err = errorOf(reply);
          // An extra replica of a hot key may not have it yet: only home replicas rule it out.
          if (err.code === 'KEY_NOT_FOUND') {
            if (home.has(m.id)) absent++;
          } else {
            errors.push(err);
          }
          after();
        },
        (err: unknown) => {
          running--;
          errors.push(err);
          after();
        },
      );
    };
    const after = (): void => {
      if (settled) return;
      if (absent >= absentAfter) return finish(() => resolve(undefined));
      if (next < replicas.length) return launch();
      if (running > 0) return;
      const userError = errors.find((e) => e instanceof CloudburstError && e.userFault);
      finish(() => reject(userError ?? unavailable(`read of ${JSON.stringify(key)}`, errors, absent)));
    };
    if (replicas.length === 0) return reject(new CloudburstError('KV_UNAVAILABLE', 'the ring has no members'));
    launch();
  });
}

/**
 * "Read all": the merge of every replica's value (at least N - W + 1 must answer).
 *
 * @example
 * const fresh = await readAll(core, 'k');
 */
export async function readAll(core: ClientCore, key: string): Promise<Lattice | undefined> {
  const path = keyPath(key);
  const deadline = Date.now() + core.timeoutMs;
  const view = await core.ring.ensure();
  const replicas = view.placement.replicasFor(key);
  const { ok, failed } = await quorum(replicas, replicas.length, (id) => core.ring.isSuspect(id), async (m) => {
    const reply = await core.send(m, { method: 'GET', path }, deadline);
    if (reply.status === 200) return decode(reply.body);
    const err = errorOf(reply);
    if (err.code === 'KEY_NOT_FOUND') return undefined;
    throw err;
  });
  if (ok.size < replicas.length - core.writeQuorum(view, replicas.length) + 1) {
    throw unavailable(`read-all of ${JSON.stringify(key)}`, [...failed.values()], 0);
  }
  let merged: Lattice | undefined;
  for (const v of ok.values()) if (v) merged = merged ? mergeLattices(merged, v) : v;
  return merged;
}

/**
 * Merges `value` into `key` on its replicas; resolves with the merged value once W of them
 * acknowledged.
 *
 * @example
 * const merged = await writeOne(core, 'k', lww.write(bytes, hlc.now()));
 */
export async function writeOne(core: ClientCore, key: string, value: Lattice): Promise<Lattice> {
  const path = keyPath(key);
  const body = encode(value);
  if (body.byteLength > KV_LIMITS.maxValueBytes) throw new CloudburstError('KV_VALUE_TOO_LARGE');
  const deadline = Date.now() + core.timeoutMs;
  const acked = new Map<string, Uint8Array>();
  const errors: unknown[] = [];
  for (let round = 0; ; round++) {
    const view = await core.ring.ensure();
    const replicas = view.placement.replicasFor(key);
    // One replica (a single node): a plain request, no fan-out machinery.
    if (replicas.length === 1 && view.size === 1) {
      const reply = await core.send(replicas[0]!, { method: 'PUT', path, body }, deadline);
      if (reply.status === 200) return decode(reply.body);
      const err = errorOf(reply);
      if (err.code !== 'KV_RING_VERSION' || !core.ring.absorbError(err) || round >= RING_RETRIES) throw err.code === 'KV_RING_VERSION' ? unavailable(`write of ${JSON.stringify(key)}`, [err], 0) : err;
      continue;
    }
    const w = core.writeQuorum(view, replicas.length);
    const have = replicas.filter((m) => acked.has(m.id)).length;
    if (have >= w && have > 0) return mergedOf(replicas, acked);
    const targets = replicas.filter((m) => !acked.has(m.id));
    const { ok, failed } = await quorum(targets, w - have, (id) => core.ring.isSuspect(id), async (m) => {
      const reply = await core.send(m, { method: 'PUT', path, body }, deadline);
      if (reply.status !== 200) throw errorOf(reply);
      return reply.body;
    });
    for (const [id, bytes] of ok) acked.set(id, bytes);
    if (replicas.filter((m) => acked.has(m.id)).length >= w && w > 0) return mergedOf(replicas, acked);
    const errs = [...failed.values()];
    errors.push(...errs);
    const userError = errs.find((e) => e instanceof CloudburstError && e.userFault && e.code !== 'KV_RING_VERSION');
    if (userError) throw userError;
    const moved = errs.filter((e): e is CloudburstError => e instanceof CloudburstError && e.code === 'KV_RING_VERSION');
    if (moved.length === 0 || round >= RING_RETRIES || Date.now() >= deadline) throw unavailable(`write of ${JSON.stringify(key)} (W=${w})`, errors, 0);
    // A node with a newer ring: take it. With an older one, give gossip a moment.
    if (!moved.some((e) => core.ring.absorbError(e))) await sleep(50 * 2 ** round);
  }
}

function mergedOf(replicas: readonly RingMember[], acked: ReadonlyMap<string, Uint8Array>): Lattice {
  let merged: Lattice | undefined;
  for (const m of replicas) {
    const bytes = acked.get(m.id);
    if (bytes) merged = merged ? mergeLattices(merged, decode(bytes)) : decode(bytes);
  }
  return merged!;
}
