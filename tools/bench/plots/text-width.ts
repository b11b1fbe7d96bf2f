// Text widths for vega's layout in Node. Without a canvas, vega estimates every character as
// 0.8 em, twice what Helvetica's letters average: axis labels are cut short with "…" and the
// panels get wide empty margins. vega lets a renderer supply its own `textMetrics.width` (as
// vl-convert does); this one sums per-character widths of Helvetica classes (from its AFM
// metrics, in em), close enough for layout.
import * as vega from 'vega';

const NARROW = new Set("iljtfI.,:;'!|()[]{} `/\\-");
const WIDE = new Set('mwMW@%');

/** The width in px of `text` at `fontSize` px (bold ~7% wider). */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    if (NARROW.has(ch)) em += 0.3;
    else if (WIDE.has(ch)) em += 0.85;
    else if (ch >= '0' && ch <= '9') em += 0.556;
    else if (ch >= 'A' && ch <= 'Z') em += 0.68;
    else if (ch >= 'a' && ch <= 'z') em += 0.52;
    else em += 0.6;
  }
  return em * fontSize * (bold ? 1.07 : 1);
}

interface TextItem {
  fontSize?: number | string;
  fontWeight?: string | number;
  limit?: number;
}

/** Makes vega lay out text with `textWidth` (its truncation at `limit` included). */
export function useTextWidths(): void {
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
  metrics.width = (item, text) => {
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
    const w = textWidth(text == null ? '' : String(text).trim(), size, bold);
    return item.limit && item.limit > 0 ? Math.min(w, item.limit) : w;
  };
}
