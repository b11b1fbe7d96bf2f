// report.md's text, from what report.ts found and charted: a summary of the suites, then per
// suite its chart, its headline figures (ours / baseline / ratio, the goal and its verdict)
// and links to earlier runs, then the files that could not be charted and why. Pure: no I/O.
import { fmtNumber } from '../hotpath-goals.ts';
import type { HeadlineRow } from './headline.ts';

/** One result file as the report shows it. */
export interface ReportEntry {
  suite: string;
  /** File names, relative to the report's folder. */
  json: string;
  svg?: string;
  /** The run's date (the result's `date`), else the file's time stamp. */
  date: string;
  about?: string;
  headline: HeadlineRow[];
}

export interface ReportInput {
  /** The newest result of each suite, in the order the report lists suites. */
  latest: ReportEntry[];
  /** Older results per suite, newest first (linked, not tabled). */
  earlier: Record<string, ReportEntry[]>;
  /** Files that could not be read or charted, and why. */
  problems: { file: string; message: string }[];
  generated: Date;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const withUnit = (x: number, unit: string): string => (Number.isFinite(x) ? `${fmtNumber(x)}${unit ? ` ${unit}` : ''}` : '-');
const verdict = (v: string): string => (v === 'NOT met' ? '**NOT met**' : v);

/** The headline table of one suite. */
export function headlineTable(rows: readonly HeadlineRow[]): string {
  const out = ['| figure | ours | baseline | ratio | goal | verdict |', '|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    out.push(`| ${cell(r.figure)} | ${withUnit(r.ours, r.unit)} | ${withUnit(r.baseline, r.unit)} | ${Number.isFinite(r.ratio) ? `${fmtNumber(r.ratio)}x` : '-'} | ${cell(r.goal)} | ${verdict(r.verdict)} |`);
  }
  return out.join('\n');
}

const goalsMet = (rows: readonly HeadlineRow[]): string => {
  const judged = rows.filter((r) => r.verdict === 'met' || r.verdict === 'NOT met');
  return judged.length ? `${judged.filter((r) => r.verdict === 'met').length} of ${judged.length}` : '-';
};

export function formatReport(input: ReportInput): string {
  const out = [
    '# Benchmark report',
    '',
    `Generated ${input.generated.toISOString()} by \`npm run bench\` from the result files in this folder (regenerate: \`npm run bench -- report\`).`,
    'Every figure is measured against its baseline in the same run on a shared machine: read the ratios (ours / baseline), not the absolute numbers.',
    '',
  ];
  if (input.latest.length > 0) {
    out.push('| suite | run | goals met | chart | figures |', '|---|---|---|---|---|');
    for (const e of input.latest) out.push(`| [${e.suite}](#${e.suite}) | ${e.date} | ${goalsMet(e.headline)} | ${e.svg ? `[${e.svg}](${e.svg})` : '-'} | [${e.json}](${e.json}) |`);
    out.push('');
  } else {
    out.push('No result could be charted.', '');
  }
  for (const e of input.latest) {
    out.push(`## ${e.suite}`, '');
    if (e.about) out.push(`${e.about[0]!.toUpperCase()}${e.about.slice(1)}. Run ${e.date}, raw figures in [${e.json}](${e.json}).`, '');
    if (e.svg) out.push(`![${e.suite} chart](${e.svg})`, '');
    if (e.headline.length) out.push(headlineTable(e.headline), '');
    const earlier = input.earlier[e.suite] ?? [];
    if (earlier.length) out.push(`Earlier runs: ${earlier.map((x) => (x.svg ? `[${x.date}](${x.svg}) ([json](${x.json}))` : `[${x.date}](${x.json})`)).join(', ')}.`, '');
  }
  if (input.problems.length) {
    out.push('## Files not charted', '');
    for (const p of input.problems) out.push(`- \`${p.file}\`: ${cell(p.message)}`);
    out.push('');
  }
  return out.join('\n');
}
