// What a suite's plot module gives the report: the chart of one result and its headline
// figures. A module reads the result as the suite wrote it to .bench/SUITE-TIME.json (never the
// suite's live objects), so a saved file is charted again without measuring anything.
import type { HeadlineRow } from './headline.ts';
import type { TopLevelSpec } from './render.ts';

export interface SuitePlot {
  /** What the suite measures, one line (report.md's section heading says it). */
  about: string;
  /** The vega-lite spec of the suite's chart. Throws a ShapeError (read.ts) on a result of the wrong shape. */
  chart(result: Record<string, unknown>): TopLevelSpec;
  /** The figures report.md tables: ours, baseline, ratio, goal, verdict. */
  headline(result: Record<string, unknown>): HeadlineRow[];
}
