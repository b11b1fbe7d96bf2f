// Recorded histories (`?history=1`): every read and write of a request with its version, for
// checking (test/consistency/history.ts). See host/README.md, "Consistency".
import { floorOf, vectorOf, type LwwVersion } from '../../kvs/index.ts';
import type { HistoryOp, VersionInfo } from './call-session.ts';
import { stampId } from './causal-wire.ts';

/** One recorded read or write: what the history checker (test/consistency/history.ts) reads. */
export interface HistoryEvent extends HistoryOp {
  /** The request: the DAG request id, or the call's id for a single call. */
  rid: string;
  /** The function (DAG step) that read or wrote. */
  step: string;
  host: string;
  /** Position in the step's own sequence of operations. */
  i: number;
}

export function toEvents(ops: readonly HistoryOp[], rid: string, step: string, host: string): HistoryEvent[] {
  return ops.map((o, i) => ({ rid, step, host, i, ...o }));
}

/** A version as histories record it. */
export function versionInfo(v: LwwVersion): VersionInfo {
  const vc: Record<string, string> = {};
  for (const e of vectorOf(v)) vc[e.writer] = `${e.ms}.${e.c}`;
  return { id: stampId(v.stamp), vc, f: stampId(floorOf(v)) };
}
