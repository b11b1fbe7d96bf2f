// The consistency mode of a request (a call or a DAG call). See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';

export type Consistency = 'lww' | 'rr' | 'causal';

/** The `"consistency"` of a call or DAG call: lww (the default), rr or causal; anything else is a 400. */
export function parseConsistency(v: unknown): Consistency {
  if (v === undefined || v === null || v === 'lww') return 'lww';
  if (v === 'rr' || v === 'causal') return v;
  throw new CloudburstError('INVALID_REQUEST', `"consistency" is "lww", "rr" or "causal", not ${JSON.stringify(v)}`);
}
