// The one place charts become SVG: a vega-lite 5 spec compiled to vega and rendered headless
// (`renderer: 'none'`: no canvas, no DOM, no network), so that `npm run bench` draws its charts
// offline with a maintained library instead of hand-written SVG. vega 6 needs Node 22; the
// project supports Node 20, so both stay on 5.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { useTextWidths } from './text-width.ts';

export type { TopLevelSpec };

useTextWidths();

/** Every chart's look: white background, readable sizes, titles on the left. */
export const CHART_CONFIG = {
  background: 'white',
  padding: 12,
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 15, anchor: 'start', subtitleFontSize: 11, subtitleColor: '#555', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320, orient: 'top', direction: 'horizontal' },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#ccc' },
  concat: { spacing: 28 },
} as const;

/** Renders a vega-lite spec (its own `config` merged over CHART_CONFIG) to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const withConfig = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const compiled = vl.compile(withConfig).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
