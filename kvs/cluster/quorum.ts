/**
 * The fan-out primitive of the client: call several replicas in parallel and stop waiting
 * as soon as enough have answered. A write resolves after W acknowledgements, not after the
 * slowest replica (a stopped node must not stall writes until the deadline). Replicas the
 * client suspects are only called when the others cannot make up the number.
 */
import type { RingMember } from './ring.ts';

/** Who succeeded (with what) and who failed (with what) by the time the call resolved. */
export interface QuorumOutcome<T> {
  readonly ok: Map<string, T>;
  readonly failed: Map<string, unknown>;
}

/**
 * Calls `call` for each target until `need` succeeded, or until that can no longer happen.
 * Calls still running when it resolves keep running; their outcome is ignored.
 *
 * @example
 * const { ok } = await quorum(replicas, 2, ring.isSuspect, (m) => put(m, body));
 * if (ok.size < 2) throw unavailable();
 */
export function quorum<T>(
  targets: readonly RingMember[],
  need: number,
  isSuspect: (id: string) => boolean,
  call: (member: RingMember) => Promise<T>,
): Promise<QuorumOutcome<T>> {
  return new Promise((resolve) => {
    const ok = new Map<string, T>();
    const failed = new Map<string, unknown>();
    const reserve = targets.filter((t) => isSuspect(t.id));
    let running = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve({ ok, failed });
    };
    const check = (): void => {
      if (done) return;
      if (ok.size >= need) return finish();
      while (reserve.length > 0 && ok.size + running < need) start(reserve.shift()!);
      if (running === 0) finish();
    };
    const start = (m: RingMember): void => {
      running++;
      call(m)
        .then(
          (v) => void ok.set(m.id, v),
          (err: unknown) => void failed.set(m.id, err),
        )
        .finally(() => {
          running--;
          check();
        });
    };
    for (const t of targets) if (!isSuspect(t.id)) start(t);
    check();
  });
}
