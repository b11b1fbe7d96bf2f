/** How the page writes numbers. Pure (unit-tested in test/ui/format.unit.test.ts). */

/** A count: `1234567` -> `1,234,567`. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A rate per second: `0`, `0.25/s`, `12/s`, `1.2k/s`. */
export function rate(perSecond: number | null): string {
  if (perSecond === null || !Number.isFinite(perSecond)) return '–';
  if (perSecond === 0) return '0/s';
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k/s`;
  if (perSecond >= 10) return `${Math.round(perSecond)}/s`;
  return `${Number(perSecond.toPrecision(2))}/s`;
}

/**
 * A duration in seconds, in the unit that reads best: `85 µs`, `1.3 ms`, `2.50 s`.
 *
 * @example
 * seconds(0.0013) // '1.3 ms'
 */
export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 0.001) return `${Math.round(s * 1e6)} µs`;
  if (s < 1) return `${Number((s * 1000).toPrecision(s < 0.01 ? 2 : 3))} ms`;
  return `${s.toFixed(2)} s`;
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `1.0 GiB`. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A fraction as a percentage: `0.1234` -> `12.3%`; null -> `–`. */
export function percent(f: number | null): string {
  if (f === null || !Number.isFinite(f)) return '–';
  return `${(f * 100).toFixed(f >= 0.995 || f === 0 ? 0 : 1)}%`;
}

/** How long ago `thenMs` was, seen at `nowMs`: `now`, `12 s ago`, `3 min ago`, `2 h ago`. */
export function ago(thenMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (s < 2) return 'now';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** A clock time `HH:MM:SS` (local), for log lines and errors. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
