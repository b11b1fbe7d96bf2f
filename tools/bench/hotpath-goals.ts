// The verdicts of `npm run bench -- hotpath`: every figure of issue 14's "Goals" as a row
// (ours, the baseline measured in the same run, their ratio, the goal on that ratio) and the
// one table the suite prints. Pure: no I/O, so that the rule is unit-tested.

/** How ours / baseline must compare to the goal's ratio. */
export type GoalOp = '<=' | '<' | '>=' | '>';

export interface GoalRow {
  /** What is measured, and against what, e.g. "counter.incr seq p50 vs node:http+Redis". */
  figure: string;
  /** The unit of `ours` and `baseline` (us, req/s, us/req). */
  unit: string;
  ours: number;
  baseline: number;
  /** The goal on ours / baseline; absent: a figure shown for reference, no verdict. */
  goal?: { op: GoalOp; ratio: number };
  /** Where the baseline is not a measured figure but the goal itself (e.g. "under 1 us"). */
  absolute?: boolean;
}

export type Verdict = 'met' | 'NOT met' | 'n/a' | 'ref';

export interface JudgedRow extends GoalRow {
  ratio: number;
  verdict: Verdict;
}

/** ours / baseline, and whether it meets the goal (n/a when either figure is missing). */
export function judge(row: GoalRow): JudgedRow {
  const ratio = row.ours / row.baseline;
  if (!row.goal) return { ...row, ratio, verdict: 'ref' };
  if (!Number.isFinite(ratio)) return { ...row, ratio, verdict: 'n/a' };
  const { op, ratio: limit } = row.goal;
  const met = op === '<=' ? ratio <= limit : op === '<' ? ratio < limit : op === '>=' ? ratio >= limit : ratio > limit;
  return { ...row, ratio, verdict: met ? 'met' : 'NOT met' };
}

/** The goal as the table shows it: "<= 1.5x" on the ratio, or "< 1 us" for an absolute one. */
export function goalText(row: GoalRow): string {
  if (!row.goal) return '-';
  if (row.absolute) return `${row.goal.op} ${fmtNumber(row.baseline * row.goal.ratio)} ${row.unit}`;
  return `${row.goal.op} ${row.goal.ratio.toFixed(2)}x`;
}

/** Figures with the precision that means something at their size. */
export function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

const COLUMNS: [string, number][] = [['figure', 60], ['unit', 6], ['ours', 9], ['baseline', 9], ['ratio', 7], ['goal', 10], ['verdict', 7]];

/** The table: one line per row, columns aligned; a count of goals met at the end. */
export function formatTable(rows: readonly JudgedRow[]): string {
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(COLUMNS[i]![1]) : c.padStart(COLUMNS[i]![1]))).join(' ');
  const out = [line(COLUMNS.map(([name]) => name)), '-'.repeat(COLUMNS.reduce((s, [, w]) => s + w + 1, -1))];
  for (const r of rows) {
    out.push(line([r.figure, r.unit, fmtNumber(r.ours), r.absolute ? '-' : fmtNumber(r.baseline), r.absolute ? '-' : `${fmtNumber(r.ratio)}x`, goalText(r), r.verdict]));
  }
  const judged = rows.filter((r) => r.verdict === 'met' || r.verdict === 'NOT met');
  out.push(`goals met: ${judged.filter((r) => r.verdict === 'met').length} of ${judged.length}${rows.some((r) => r.verdict === 'n/a') ? ' (some figures missing: n/a)' : ''}`);
  return out.join('\n');
}
