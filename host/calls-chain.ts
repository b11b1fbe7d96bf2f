import { CloudburstError } from '../common/index.ts';
import type { ExecutorPool } from './executor/pool.ts';
import { PROGRESS_RUNNING, PROGRESS_WORDS, type ChainJob, type ChainResult, type ChainStep } from './executor/chain-protocol.ts';
import type { PreparedArg } from './executor/protocol.ts';
import { advance, joinClientSessions, type ClientSession } from './consistency/client-session.ts';
import type { SessionCatchUp } from './consistency/session-catch-up.ts';
import type { PlacementLoad } from './cluster/load.ts';
import type { Messaging } from './messaging/messaging.ts';
import type { Metrics } from './metrics.ts';
import type { ResolvedFunction } from './registry.ts';
import type { ReadThroughCache } from './cache/read-through.ts';
import { displayKey } from './keys.ts';
import type { Quotas } from './quotas/quotas.ts';
import type { LogStore } from './logs/log-store.ts';

/** What Calls lends a chain run: its own parts, so that every step counts as a call counts. */
export interface ChainContext {
  pool: ExecutorPool;
  readThrough: ReadThroughCache;
  metrics: Metrics;
  hostId: string;
  messaging: Messaging | undefined;
  load: PlacementLoad | undefined;
  onTouched: ((keys: readonly string[]) => void) | undefined;
  sessions: { catchUp: SessionCatchUp; selfUrl: () => string } | undefined;
  onGuestLog: (fn: string, level: number, message: string, tenant: string) => void;
  logStore: LogStore | undefined;
  quotas: Quotas | undefined;
}

/** One step of a chain, ready to run: only the first may have `{"ref"}` arguments, none has futures. */
export interface ChainCall {
  resolved: ResolvedFunction;
  /** Its fixed arguments (the predecessor's result is added in the worker). */
  args: PreparedArg[];
}

export interface PreparedChain {
  tenant: string;
  /** What is left of the request's deadline: the whole chain runs within it, as each step would. */
  timeoutMs: number;
  steps: ChainCall[];
  /** The client's session the request came with: the host catches up with it once, before the first step. */
  client?: ClientSession;
  /** What the first step's answer session builds on (its predecessors'), as PreparedCall.carried. */
  carried?: ClientSession;
}

/** Each step's outcome, in order, up to the first that failed (the rest never ran). */
export type ChainStepOutcome =
  /** `lost`: the step ran and committed, but its worker was stopped under a later step: its result is gone. */
  | { ok: true; result: unknown; client?: ClientSession; lost?: true }
  | { ok: false; error: CloudburstError };

/**
 * Runs a chain of DAG steps as one worker job (executor/chain-protocol.ts) and then does for
 * each step what Calls.run does for a call: its metrics, logs, touched keys, the flusher's kick
 * for its writes, its client session, its error. The pool's deadline covers the whole chain:
 * when it stops the worker, the steps before the one that ran finished (their writes are
 * committed, as they would be had they run alone) and that step wrote nothing; their results,
 * logs and metrics are lost with the worker, the run fails with the running step's CALL_TIMEOUT.
 */
export async function runChain(ctx: ChainContext, chain: PreparedChain): Promise<ChainStepOutcome[]> {
  const { tenant, timeoutMs, client } = chain;
  const deadline = Date.now() + timeoutMs;
  if (client && client.length > 0 && ctx.sessions) await ctx.sessions.catchUp.ensure(tenant, client, performance.now() + timeoutMs);
  const first = chain.steps[0]!;
  const missing = first.args.flatMap((a) => (a.kind === 'ref' && !ctx.readThrough.cache.has(a.key) ? [a.key] : []));
  if (missing.length > 0) {
    const fetched = await Promise.all(missing.map((k) => ctx.readThrough.fetch(k)));
    const absent = fetched.findIndex((v) => v === undefined);
    if (absent >= 0) {
      const key = displayKey(missing[absent]!);
      return [{ ok: false, error: new CloudburstError('REF_NOT_FOUND', `no value under key ${JSON.stringify(key)}`, { key }) }];
    }
  }
  const progress = new SharedArrayBuffer(PROGRESS_WORDS * 4);
  const steps: ChainStep[] = chain.steps.map((s) => ({
    fn: s.resolved.info.name, exportName: s.resolved.info.export, args: s.args,
    callId: ctx.messaging ? ctx.messaging.nextId() : `${ctx.hostId}.0.0`,
    ...(s.resolved.spec.id === first.resolved.spec.id ? {} : { module: s.resolved.spec }),
  }));
  const job: ChainJob = { kind: 'chain', tenant, module: first.resolved.spec, steps, deadline, progress };
  if (ctx.quotas) job.quota = ctx.quotas.jobQuota(tenant);
  const starting = ctx.load?.starting();
  const started = performance.now();
  let result: ChainResult;
  try {
    starting?.();
    result = await ctx.pool.run(job, Math.max(1, deadline - Date.now()));
  } finally {
    starting?.();
    for (const s of steps) ctx.messaging?.finished(tenant, s.callId);
  }
  const out: ChainStepOutcome[] = [];
  if (!result.steps) {
    // Stopped (its deadline) or lost: the steps before the running one finished, unseen.
    const running = new Int32Array(progress)[PROGRESS_RUNNING]!;
    for (let i = 0; i < running; i++) out.push({ ok: true, result: undefined, lost: true });
    const fn = chain.steps[running]!.resolved.info.name;
    ctx.metrics.observeCall(fn, (performance.now() - started) / 1000, result.ok ? 'INTERNAL' : result.code);
    if (!result.ok) ctx.logStore?.record(tenant, fn, steps[running]!.callId, result.logs, result);
    out.push({ ok: false, error: result.ok ? new CloudburstError('INTERNAL', 'the chain job answered without its steps') : new CloudburstError(result.code, result.message, { function: fn, ...result.details }) });
    // Those steps' writes may be committed: send them on now rather than at the next interval.
    ctx.readThrough.flusher.kick();
    return out;
  }
  let carried = chain.carried;
  for (const [i, o] of result.steps.entries()) {
    const fn = chain.steps[i]!.resolved.info.name;
    ctx.metrics.observeCall(fn, o.seconds, o.ok ? undefined : o.code);
    for (const l of o.logs) ctx.onGuestLog(fn, l.level, l.message, tenant);
    ctx.logStore?.record(tenant, fn, steps[i]!.callId, o.logs, o.ok ? undefined : o);
    if (!o.ok) {
      const err = new CloudburstError(o.code, o.message, { function: fn, ...o.details });
      out.push({ ok: false, error: err.code === 'QUOTA_EXCEEDED' && ctx.quotas ? ctx.quotas.refusedInWorker(err) : err });
      break;
    }
    ctx.onTouched?.(o.touched);
    if (o.wrote > 0) ctx.readThrough.flusher.kick();
    const step: Extract<ChainStepOutcome, { ok: true }> = { ok: true, result: o.result };
    if (ctx.sessions) {
      const after = advance(carried && carried.length > 0 ? carried : (client ?? []), ctx.sessions.selfUrl(), o.versions);
      if (after.length > 0) step.client = after;
    }
    carried = joinClientSessions([step.client, client]);
    out.push(step);
  }
  return out;
}
