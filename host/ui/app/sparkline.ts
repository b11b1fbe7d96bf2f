/**
 * Inline SVG sparklines for the "over time" columns: one line per series, broken where a value
 * is missing (no call in that interval), scaled to the largest value shown, newest on the right.
 */
import { svg } from './dom.ts';

export interface SparkOptions {
  width?: number;
  height?: number;
  /** The value the top of the chart stands for; default the largest value. */
  max?: number;
  /** Shown on hover (an SVG title), e.g. "p99 over the last 5 minutes". */
  title?: string;
  /** How many points the chart has room for (older ones are dropped on the left); while fewer are known they spread over the width. */
  slots?: number;
  /** CSS classes of the lines, one per series (their colours are in style.css). */
  classes?: string[];
  /** Fill the area under the first series. */
  area?: boolean;
}

/** The fewest slots a chart is divided into: a history of 3 readings is not drawn across the whole width. */
const MIN_SLOTS = 10;

/**
 * @example
 * sparkline([history.p50, history.p99], { title: 'p50 / p99', classes: ['p50', 'p99'] })
 */
export function sparkline(series: (number | null)[][], o: SparkOptions = {}): SVGSVGElement {
  const width = o.width ?? 120;
  const height = o.height ?? 28;
  // While the history is short the points spread over the width (at least MIN_SLOTS apart), up
  // to `slots`: then the newest stays on the right and the oldest leave on the left.
  const longest = Math.max(...series.map((s) => s.length), 2);
  const slots = Math.max(2, Math.min(o.slots ?? longest, Math.max(longest, MIN_SLOTS)));
  const values = series.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const max = o.max ?? Math.max(0, ...values);
  const pad = 2;
  const x = (i: number, n: number): number => pad + ((width - 2 * pad) * (slots - n + i)) / (slots - 1);
  const y = (v: number): number => (max > 0 ? height - pad - ((height - 2 * pad) * Math.min(v, max)) / max : height - pad);
  const chart = svg('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  if (o.title !== undefined) chart.appendChild(svg('title', {}, o.title));
  chart.appendChild(svg('line', { class: 'spark-base', x1: pad, x2: width - pad, y1: height - pad, y2: height - pad }));
  series.forEach((s, k) => {
    const cls = o.classes?.[k] ?? `s${k}`;
    // One polyline per run of values without a gap.
    let run: string[] = [];
    const runs: string[][] = [];
    s.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        if (run.length > 0) runs.push(run);
        run = [];
      } else run.push(`${x(i, s.length).toFixed(1)},${y(v).toFixed(1)}`);
    });
    if (run.length > 0) runs.push(run);
    for (const r of runs) {
      if (o.area === true && k === 0 && r.length > 1) {
        const first = r[0]!.split(',')[0];
        const last = r[r.length - 1]!.split(',')[0];
        chart.appendChild(svg('polygon', { class: `spark-area ${cls}`, points: `${first},${height - pad} ${r.join(' ')} ${last},${height - pad}` }));
      }
      if (r.length === 1) {
        const [cx, cy] = r[0]!.split(',');
        chart.appendChild(svg('circle', { class: `spark-dot ${cls}`, cx: cx!, cy: cy!, r: 1.6 }));
      } else chart.appendChild(svg('polyline', { class: `spark-line ${cls}`, points: r.join(' ') }));
    }
  });
  return chart;
}
