// Reading a suite's saved JSON, whose shape TypeScript cannot vouch for (an older run, a hand
// edit, a suite that changed): every read names the field that is missing or wrong, so a bad
// file yields "hotpath-....json: oneHost.seq.floor.p50 is missing" instead of a vega stack.
import type { Summary } from '../stats.ts';

/** A result file whose figures are not where its chart expects them. */
export class ShapeError extends Error {}

/** The value at a dotted path (`sequential.floor.p50`); throws a ShapeError naming the path when a step is missing. */
export function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(key in cur)) throw new ShapeError(`${path} is missing`);
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** True when the path exists (an optional part of a suite's result, e.g. the Linux-only CPU figures). */
export function has(obj: unknown, path: string): boolean {
  try {
    at(obj, path);
    return true;
  } catch {
    return false;
  }
}

/** A number at the path; `null` (how JSON writes NaN) reads as NaN, anything else not a number throws. */
export function num(obj: unknown, path: string): number {
  const v = at(obj, path);
  if (v === null) return Number.NaN;
  if (typeof v !== 'number') throw new ShapeError(`${path} is not a number (${JSON.stringify(v)?.slice(0, 40)})`);
  return v;
}

/** An array at the path. */
export function list(obj: unknown, path: string): unknown[] {
  const v = at(obj, path);
  if (!Array.isArray(v)) throw new ShapeError(`${path} is not a list`);
  return v;
}

/** An object at the path. */
export function record(obj: unknown, path: string): Record<string, unknown> {
  const v = at(obj, path);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ShapeError(`${path} is not an object`);
  return v as Record<string, unknown>;
}

/** A latency summary (stats.ts) at the path: p50 and p99 must be there. */
export function summary(obj: unknown, path: string): Summary {
  const p = (k: string): number => num(obj, `${path}.${k}`);
  const opt = (k: string): number => (has(obj, `${path}.${k}`) ? p(k) : Number.NaN);
  return { n: opt('n'), p50: p('p50'), p90: opt('p90'), p99: p('p99'), mean: opt('mean') };
}
