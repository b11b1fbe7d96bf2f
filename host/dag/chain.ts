import type { ChainCall } from '../calls-chain.ts';
import type { Registry } from '../registry.ts';
import type { StepSchedule, StepState } from './protocol.ts';
import { prepareFixedArgs } from './steps-args.ts';

/**
 * Fusing a local chain of DAG steps into one worker job.
 *
 * A step that runs on this host and whose only successor also runs here, taking nothing but
 * that step's result, hands the result over without leaving the worker: the two (and any that
 * follow alike) run as one chain job (executor/chain-protocol.ts). That saves a hand-off between
 * the threads per step (a post, a wake-up of a parked worker, a wake-up of the main thread, an
 * event-loop turn), which is most of what a step of a small function costs.
 *
 * What each step keeps of its own call: its commit (a step's writes are committed when it
 * returns, before the next starts; a step that fails commits nothing, and the steps after it
 * never run, as when it runs alone); its error, reported as that step's; its metrics and logs
 * under its function; its client session; the request's deadline (a step not started by then
 * is not started; one running then is stopped, as a call is, and wrote nothing). A function
 * that is not warm in the worker is instantiated there as for a call (the job carries the
 * module's spec for a step of another module than the first's).
 *
 * What is not fused: requests with a session (rr, causal, a recorded history: their steps pass
 * read sets and snapshots on between steps, which the main thread handles), steps with several
 * predecessors or successors, and steps after the first with `{"ref"}` or future arguments
 * (those are fetched or awaited on the main thread before a call, which would have to happen
 * before the chain's first step, changing what a failure leaves written). Those run one call
 * per step, as before; the chain ends before them.
 *
 * Intermediate results are never written anywhere, fused or not: a step's result lives in
 * memory until its successor takes it (a run that is lost is re-run from the start, see
 * coordinator.ts), so fusing changes no recovery.
 */

/** A step of this host's share of a request, as far as fusing needs it. */
export interface ChainableStep {
  plan: StepSchedule;
  state: StepState;
  received: number;
}

export interface FusedStep<S extends ChainableStep> {
  step: S;
  call: ChainCall;
}

/** `cur`'s successor when it may run fused after `cur` (checked without waiting: most steps have none). */
export function chainSuccessor<S extends ChainableStep>(steps: ReadonlyMap<string, S>, cur: S, self: string): S | undefined {
  const succs = cur.plan.succs;
  if (succs.length !== 1 || succs[0]!.host.id !== self) return undefined;
  const next = steps.get(succs[0]!.fn);
  return next && next.plan.inputs === 1 && next.state === 'waiting' && next.received === 0 ? next : undefined;
}

/**
 * The steps to run fused after `head`, in order (none: `head` runs alone). Each is `head`'s
 * chain successor as described above, waiting, with only plain values as fixed arguments.
 */
export async function chainAfter<S extends ChainableStep>(registry: Registry, tenant: string, steps: ReadonlyMap<string, S>, head: S, self: string): Promise<FusedStep<S>[]> {
  const out: FusedStep<S>[] = [];
  for (let cur: S = head; ;) {
    const next = chainSuccessor(steps, cur, self);
    if (!next) return out;
    let call: ChainCall;
    try {
      const resolved = await registry.resolve(tenant, next.plan.fn);
      const args = prepareFixedArgs(tenant, next.plan.fn, resolved.signature, 1, next.plan.args);
      if (args.some((a) => a.kind !== 'value')) return out;
      call = { resolved, args: args as ChainCall['args'] };
    } catch {
      // Its error is its own run's to report, unfused.
      return out;
    }
    out.push({ step: next, call });
    cur = next;
  }
}
