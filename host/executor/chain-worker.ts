// The worker's side of a chain job (chain-protocol.ts): runs the steps one after the other,
// each as the call job it would have been on its own (runCall: its own commit, its own
// failure), feeding each step's result to the next.
import { CloudburstError } from '../../common/index.ts';
import type { ExportSignature } from '../../guest/types-section.ts';
import { prepareResolved } from './args.ts';
import { PROGRESS_RUNNING, stepJob, type ChainJob, type ChainResult, type StepResult } from './chain-protocol.ts';
import type { CallJob, JobResult, ModuleRef, ModuleSpec, PreparedArg } from './protocol.ts';

export interface ChainDeps {
  /** The worker's own call runner: one step, committed or discarded as a call is. */
  runCall(job: CallJob): JobResult;
  specOf(ref: ModuleRef): ModuleSpec;
  /** After a step of another module than the chain's (the worker does this for the chain's). */
  keepWarm(id: string): void;
}

export function runChain(job: ChainJob, deps: ChainDeps): ChainResult {
  const progress = new Int32Array(job.progress);
  const steps: StepResult[] = [];
  let input: unknown;
  for (let i = 0; i < job.steps.length; i++) {
    const step = job.steps[i]!;
    Atomics.store(progress, PROGRESS_RUNNING, i);
    let out: JobResult;
    const started = performance.now();
    if (Date.now() >= job.deadline) {
      // As the pool would stop it, but without a worker's death: the step never started.
      out = { kind: 'done', ok: false, code: 'CALL_TIMEOUT', message: `the request's deadline passed before ${step.fn} could start`, logs: [] };
    } else {
      const args: PreparedArg[] | JobResult = i === 0 ? step.args : withInput(step.args, input, job.steps[i - 1]!.fn, step.fn, step.module ?? job.module, step.exportName, deps);
      out = Array.isArray(args) ? deps.runCall(stepJob(job, step, args)) : args;
      if (step.module && step.module.id !== job.module.id) deps.keepWarm(step.module.id);
    }
    steps.push({ ...out, seconds: (performance.now() - started) / 1000 });
    // The chain's own ok and code are its last step's (the worker's retire heuristics); the rest is in `steps`.
    if (!out.ok) return { kind: 'done', ok: false, code: out.code, message: out.message, logs: [], steps };
    input = out.result;
  }
  return { kind: 'done', ok: true, result: null, wrote: 0, touched: [], logs: [], versions: [], steps };
}

/**
 * The step's arguments with its predecessor's result appended, checked against the parameter
 * as the main thread checks a result that arrives from another host (dag/steps.ts); a result
 * that does not fit fails the step with the same INVALID_ARGUMENTS.
 */
function withInput(fixed: PreparedArg[], input: unknown, from: string, fn: string, module: ModuleRef, exportName: string, deps: ChainDeps): PreparedArg[] | JobResult {
  let sig: ExportSignature | undefined;
  try {
    sig = deps.specOf(module).types.exports.find((e) => e.name === exportName) as ExportSignature | undefined;
  } catch {
    sig = undefined;
  }
  // An unknown export (or module) is runCall's to report, as for a call.
  if (!sig || sig.params.length <= fixed.length) return [...fixed, { kind: 'value', value: input as number }];
  const i = fixed.length;
  try {
    return [...fixed, prepareResolved(fn, sig, i, input)];
  } catch (err) {
    if (!(err instanceof CloudburstError) || err.code !== 'INVALID_ARGUMENTS') {
      return { kind: 'done', ok: false, code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), logs: [] };
    }
    const p = sig.params[i]!;
    return { kind: 'done', ok: false, code: 'INVALID_ARGUMENTS', message: `the result of ${from} (${shown(input)}) does not fit argument ${i} (${p.name}: ${p.type}) of ${fn}`, logs: [] };
  }
}

function shown(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
