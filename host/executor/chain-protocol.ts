import type { CallJob, JobQuota, JobResult, ModuleRef, PreparedArg } from './protocol.ts';

/**
 * A chain job: consecutive steps of a DAG request that run on this host, one after the other,
 * each the only successor of the one before and taking only its result, in ONE worker job.
 * The worker runs step 1, commits its writes, feeds its result to step 2, and so on; a local
 * DAG chain of n steps then costs one hand-off between the threads instead of n (see
 * host/dag/chain.ts for which steps are fused, and what each step keeps of its own call).
 */
export interface ChainJob {
  kind: 'chain';
  /** The tenant every step runs in (a DAG request's steps are all its tenant's). */
  tenant: string;
  /** The first step's module: the pool sends its spec once per worker, as for a call. */
  module: ModuleRef;
  steps: ChainStep[];
  /** Date.now() by which the request must be over: a step not started by then is not started. */
  deadline: number;
  quota?: JobQuota;
  /**
   * progress[PROGRESS_RUNNING]: the index of the step the worker runs (or ran last). When the
   * pool stops the worker (a deadline), the steps before it finished and committed, and the
   * step at that index committed nothing.
   */
  progress: SharedArrayBuffer;
}

export interface ChainStep {
  /** The step's function, as the DAG names it (for error messages). */
  fn: string;
  /** Its module when not the chain's (`module`): the whole spec, since the pool tracks only the chain's. */
  module?: ModuleRef;
  exportName: string;
  /** Its fixed arguments; the previous step's result is appended as the last one (not for the first step). */
  args: PreparedArg[];
  callId: string;
}

/** Index into `ChainJob.progress` (an Int32Array). */
export const PROGRESS_RUNNING = 0;
export const PROGRESS_WORDS = 1;

/**
 * A chain job's answer: top-level `ok`/`code` are those of the last step that ran (so the
 * worker's retire heuristics see a failed guest), and `steps` holds every step's own outcome,
 * in order, up to and including the first that failed. An answer without `steps` is the
 * pool's own (the worker was stopped or died): see `progress`.
 */
export type ChainResult = JobResult & { steps?: StepResult[] };

/** A step's outcome, and how long it ran in the worker (its function's call metrics). */
export type StepResult = JobResult & { seconds: number };

/** The call job of one step of a chain, as the worker runs it. */
export function stepJob(job: ChainJob, step: ChainStep, args: PreparedArg[]): CallJob {
  const call: CallJob = { kind: 'call', tenant: job.tenant, module: step.module ?? job.module, exportName: step.exportName, args, callId: step.callId };
  if (job.quota) call.quota = job.quota;
  return call;
}
