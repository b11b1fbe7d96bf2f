// The headline figures of a suite, as report.md tables them: ours, the baseline measured in
// the same run, their ratio, and the goal's verdict where the suite has a goal. The verdict
// rule is the hotpath suite's (hotpath-goals.ts), so a figure is judged alike everywhere.
import { fmtNumber, goalText, judge, type GoalOp, type Verdict } from '../hotpath-goals.ts';

export interface HeadlineRow {
  figure: string;
  unit: string;
  ours: number;
  /** NaN where there is no measured baseline (an absolute goal, a count). */
  baseline: number;
  /** ours / baseline; NaN without a baseline. */
  ratio: number;
  /** "<= 1.50x", "< 1 us", "= 0"; '-' without a goal. */
  goal: string;
  verdict: Verdict;
}

/** A figure against its baseline, judged on ours / baseline when it has a goal. */
export function compare(figure: string, unit: string, ours: number, baseline: number, goal?: { op: GoalOp; ratio: number }): HeadlineRow {
  const row = { figure, unit, ours, baseline, ...(goal ? { goal } : {}) };
  const judged = judge(row);
  return { figure, unit, ours, baseline, ratio: judged.ratio, goal: goalText(row), verdict: judged.verdict };
}

/** A figure against a fixed limit (a count that must be 0, a time under 2 s), no baseline. */
export function absolute(figure: string, unit: string, ours: number, op: GoalOp | '=', limit: number): HeadlineRow {
  const ok = op === '=' ? ours === limit : op === '<=' ? ours <= limit : op === '<' ? ours < limit : op === '>=' ? ours >= limit : ours > limit;
  return {
    figure, unit, ours, baseline: Number.NaN, ratio: Number.NaN,
    goal: `${op} ${Number.isInteger(limit) ? String(limit) : fmtNumber(limit)}${unit ? ` ${unit}` : ''}`,
    verdict: Number.isFinite(ours) ? (ok ? 'met' : 'NOT met') : 'n/a',
  };
}

/** A figure shown for reference: no baseline, no goal. */
export function reference(figure: string, unit: string, ours: number): HeadlineRow {
  return { figure, unit, ours, baseline: Number.NaN, ratio: Number.NaN, goal: '-', verdict: 'ref' };
}
