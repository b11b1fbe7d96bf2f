// `cloudburst build` and `fn deploy FILE.ts`: asc with the SDK on its path (tools/build), with a
// progress line on a terminal (it takes seconds), asc's warnings, and the exports the module
// will lack and why (the types transform skips what the host cannot call).
import { resolve } from 'node:path';
import { buildGuest } from '../build/build.ts';
import { has } from './flag-values.ts';
import type { Parsed } from './flags.ts';
import { progress } from './progress.ts';

/** Builds `file` with asc (seconds: a progress line on a terminal), printing asc's warnings. */
export async function compile(p: Parsed, file: string, out?: string): Promise<Uint8Array> {
  const shown = progress(`building ${file}`, { quiet: has(p, 'json') });
  try {
    const { wasm, stderr, types } = await buildGuest({ entry: resolve(file), ...(out ? { outFile: resolve(out) } : {}) });
    shown.done();
    if (stderr.trim()) console.error(stderr.trimEnd());
    // asc's warnings say it at the declaration; the summary says what the module will lack.
    for (const s of types.skipped) console.error(`skipped export ${s.name}: ${s.reason} (the host cannot call it; the types it can: guest/README.md)`);
    return wasm;
  } finally {
    shown.done();
  }
}

