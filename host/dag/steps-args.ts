import { CloudburstError } from '../../common/index.ts';
import { prepareArgs, type FutureArg } from '../executor/args.ts';
import type { PreparedArg } from '../executor/protocol.ts';
import type { ExportSignature } from '../../guest/types-section.ts';

/**
 * Checks a step's fixed arguments: the function's parameters are its fixed arguments first,
 * then one per predecessor, so only the leading `params - inputs` come from the caller.
 */
export function prepareFixedArgs(tenant: string, fn: string, sig: ExportSignature, inputs: number, args: unknown): (PreparedArg | FutureArg)[] {
  const fixed = sig.params.length - inputs;
  if (fixed < 0) {
    throw new CloudburstError('INVALID_ARGUMENTS', `${fn} takes ${sig.params.length} argument(s) but has ${inputs} predecessors in the DAG`);
  }
  try {
    return prepareArgs(tenant, fn, { ...sig, params: sig.params.slice(0, fixed) }, args ?? []);
  } catch (err) {
    if (err instanceof CloudburstError && err.code === 'INVALID_ARGUMENTS' && inputs > 0) {
      throw new CloudburstError('INVALID_ARGUMENTS', `${err.message} (its last ${inputs} argument(s) come from its predecessors in the DAG)`);
    }
    throw err;
  }
}
