import type { Flusher } from '../cache/flusher.ts';
import type { ReadThroughCache } from '../cache/read-through.ts';
import type { CausalCut } from '../consistency/causal.ts';
import type { Snapshots } from '../consistency/snapshots.ts';
import type { DagService } from '../dag/service.ts';
import type { Messaging } from '../messaging/messaging.ts';
import type { PoolOptions } from './pool.ts';

/** The parts of the main thread a running guest reaches through the bridge (`BridgeRequest`). */
export interface BridgeParts {
  /** `fetch`: read misses. */
  readThrough: Pick<ReadThroughCache, 'fetchForGuest'>;
  /** `flush`: durable puts. */
  flusher: Pick<Flusher, 'flushKeys'>;
  /** `send`, `recv`. */
  messaging: Pick<Messaging, 'send' | 'recv'>;
  /** `snapshot`: rr's versions kept by the host that read them first. */
  snapshots: Pick<Snapshots, 'fetch'>;
  /** `ensure`: causal dependencies brought into this host's cut. */
  cut: Pick<CausalCut, 'ensure'>;
  /** `pin`: rr's agreed versions for parallel branches. */
  dags: Pick<DagService, 'pin'>;
}

/**
 * A margin taken off what is left of a call's deadline by the waits it asks for (`recv`,
 * `ensure`): a wait that ends at the deadline leaves the call time to return.
 */
const RETURN_MARGIN_MS = 5;

/**
 * The main thread's side of the bridge (`executor/protocol.ts`): serves a worker's request
 * with the part it is for. The pool calls it with what is left of the call's deadline.
 */
export function executorBridge(parts: BridgeParts): PoolOptions['bridge'] {
  const { readThrough, flusher, messaging, snapshots, cut, dags } = parts;
  return async (req, remainingMs, tenant) => {
    const waitMs = Math.max(0, remainingMs - RETURN_MARGIN_MS);
    switch (req.op) {
      case 'fetch': await Promise.all(req.keys.map((k) => readThrough.fetchForGuest(k))); return;
      case 'flush': await flusher.flushKeys(req.keys); return;
      // Messages are the running call's tenant's (as the pool posted the job).
      case 'send': await messaging.send(tenant, req.from, req.to, req.data); return;
      case 'recv': return messaging.recv(tenant, req.id, Math.min(req.timeoutMs, waitMs));
      case 'snapshot': return snapshots.fetch(req.rid, req.key, req.at);
      case 'ensure': return cut.ensure(req.key, req.need, performance.now() + waitMs);
      case 'pin': return { at: await dags.pin(req.rid, req.key, req.version, req.bytes) };
    }
  };
}
