// The plot step of `npm run bench`: each suite's result file (.bench/SUITE-TIME.json) gets its
// chart beside it (SUITE-TIME.svg), and the folder gets report.md linking every chart with the
// headline figures. It reads only the JSON files, so `npm run bench -- report [DIR]` charts
// saved results again without measuring. A file that cannot be read or charted is named in the
// report with the reason; the other files are charted all the same.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { HeadlineRow } from './headline.ts';
import { ShapeError } from './read.ts';
import { renderSvg } from './render.ts';
import { formatReport, type ReportEntry } from './report-md.ts';
import { PLOTS } from './suites.ts';

/** A suite's result file: SUITE-TIME.json, TIME in ms since the epoch (bench/main.ts). */
const RESULT_FILE = /^([a-z][a-z0-9-]*)-(\d+)\.json$/;
export const REPORT_FILE = 'report.md';

/** What became of one result file: its report entry, or why it has none. */
type Outcome = { ok: true; entry: ReportEntry } | { ok: false; file: string; message: string };

/** Why a result cannot be charted, in words a reader of the report can act on. */
function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof SyntaxError) return `not valid JSON (${msg})`;
  if (err instanceof ShapeError) return `its figures are not where the chart expects them: ${msg} (written by another version of the suite?)`;
  return `charting failed: ${msg}`;
}

/**
 * Charts one result file: SUITE-TIME.svg beside it, unless `render` is false or
 * 'if-stale' and the SVG is newer than the JSON. Never throws: a bad file is an outcome.
 */
export async function chartFile(file: string, render: boolean | 'if-stale' = true): Promise<Outcome> {
  const name = basename(file);
  const m = RESULT_FILE.exec(name);
  if (!m) return { ok: false, file: name, message: 'not a result file name (SUITE-TIME.json)' };
  const suite = m[1]!;
  const plot = PLOTS[suite];
  if (!plot) return { ok: false, file: name, message: `no chart for a suite named "${suite}" (known: ${Object.keys(PLOTS).join(', ')})` };
  const svgFile = file.replace(/\.json$/, '.svg');
  try {
    const result = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (result === null || typeof result !== 'object' || Array.isArray(result)) throw new ShapeError('the file is not a JSON object');
    const r = result as Record<string, unknown>;
    const headline: HeadlineRow[] = plot.headline(r);
    const stale = !existsSync(svgFile) || statSync(svgFile).mtimeMs < statSync(file).mtimeMs;
    if (render === true || (render === 'if-stale' && stale)) writeFileSync(svgFile, await renderSvg(plot.chart(r)));
    const date = typeof r.date === 'string' ? r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : new Date(Number(m[2])).toISOString();
    return { ok: true, entry: { suite, json: name, ...(existsSync(svgFile) ? { svg: basename(svgFile) } : {}), date, about: plot.about, headline } };
  } catch (err) {
    return { ok: false, file: name, message: reason(err) };
  }
}

/**
 * Writes DIR/report.md over the result files in DIR: the newest of each suite charted (its
 * SVG rendered when `renderAll`, else when missing or older than its JSON), older ones linked
 * (rendered too when `renderAll`). Suites in `order` first (bench/main.ts's), then the others
 * by name. Throws only when DIR cannot be read.
 */
export async function writeReport(dir: string, opts: { renderAll?: boolean; order?: readonly string[] } = {}): Promise<{ file: string; entries: ReportEntry[]; problems: { file: string; message: string }[] }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder of bench results: run a suite first (npm run bench -- SUITE) or name the folder (npm run bench -- report DIR)`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const bySuite = new Map<string, string[]>();
  const problems: { file: string; message: string }[] = [];
  for (const f of files) {
    const m = RESULT_FILE.exec(f);
    if (!m) {
      problems.push({ file: f, message: 'not a result file name (SUITE-TIME.json)' });
      continue;
    }
    bySuite.set(m[1]!, [...(bySuite.get(m[1]!) ?? []), f]);
  }
  const order = [...(opts.order ?? []).filter((s) => bySuite.has(s)), ...[...bySuite.keys()].filter((s) => !(opts.order ?? []).includes(s)).sort()];
  const latest: ReportEntry[] = [];
  const earlier: Record<string, ReportEntry[]> = {};
  for (const suite of order) {
    // Newest first; the newest file that charts is the suite's entry.
    const runs = bySuite.get(suite)!.sort((a, b) => Number(RESULT_FILE.exec(b)![2]) - Number(RESULT_FILE.exec(a)![2]));
    for (const f of runs) {
      const first = !latest.some((e) => e.suite === suite);
      const out = await chartFile(join(dir, f), opts.renderAll ? true : first ? 'if-stale' : false);
      if (!out.ok) problems.push({ file: out.file, message: out.message });
      else if (first) latest.push(out.entry);
      else (earlier[suite] ??= []).push(out.entry);
    }
  }
  const file = join(dir, REPORT_FILE);
  writeFileSync(file, formatReport({ latest, earlier, problems, generated: new Date() }));
  return { file, entries: latest, problems };
}
