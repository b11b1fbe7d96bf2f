/**
 * `cloudburst build`: compiles an AssemblyScript guest to a .wasm the host can run.
 *
 * Runs asc in-process with the repository's asconfig.json, the one place that says how guests
 * are built (imported memory, exported runtime, incremental GC, the SDK on the package path,
 * the types transform, a source map and the name section), so asc run by hand with that
 * config gives the same module, except for the source map, which asc writes beside the
 * module and this build puts inside it (source-map-section.ts).
 */

import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIOptions } from 'assemblyscript/asc';
import { readTypesSection, type GuestTypes } from '../../guest/types-section.ts';
import { withSourceMap } from './source-map-section.ts';

export interface BuildOptions {
  /** The AssemblyScript file whose exports become the guest's functions. */
  entry: string;
  /** Also write the module here (parent folders are created; the write is atomic). */
  outFile?: string;
  /** Optimize with Binaryen (asconfig target "release"); false builds the "debug" target. Default true. */
  optimize?: boolean;
}

export interface BuildResult {
  /** The module, with its "cloudburst.types" section. */
  wasm: Uint8Array<ArrayBuffer>;
  /** The decoded types section. */
  types: GuestTypes;
  /** asc's warnings (empty when there were none). */
  stderr: string;
}

/**
 * The user's code did not compile (or asc failed). `message` starts with a one-line summary
 * and goes on with asc's diagnostics, which are also in `diagnostics` on their own.
 *
 * @example
 * try {
 *   await buildGuest({ entry: 'fn.ts' });
 * } catch (error) {
 *   if (error instanceof BuildError) console.error(error.diagnostics); // ERROR TS2304: ...
 * }
 */
export class BuildError extends Error {
  override readonly name = 'BuildError';
  readonly entry: string;
  readonly diagnostics: string;

  constructor(entry: string, summary: string, diagnostics: string, options?: { cause?: unknown }) {
    super(diagnostics ? `${summary}\n${diagnostics}` : summary, options);
    this.entry = entry;
    this.diagnostics = diagnostics;
  }
}

/**
 * The folder holding asconfig.json and guest/sdk: the repository, or the installed package.
 * Found by walking up from this file, so it is right from tools/build/ and from a bundle in dist/.
 *
 * @example
 * join(PACKAGE_ROOT, 'guest', 'examples', 'math.ts');
 */
export const PACKAGE_ROOT: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The asconfig.json every guest is built with. */
export const ASCONFIG: string = join(PACKAGE_ROOT, 'asconfig.json');

/**
 * Compiles `entry` and returns the module with its decoded types section. Throws a
 * {@link BuildError} carrying asc's diagnostics when the code does not compile.
 *
 * @example
 * const { wasm, types } = await buildGuest({ entry: 'guest/examples/math.ts', outFile: 'math.wasm' });
 * types.exports.map(e => e.name); // ['increment', 'square']
 */
export async function buildGuest(options: BuildOptions): Promise<BuildResult> {
  // asc keeps module-level state while it parses (and parsing awaits file reads), so builds in
  // one process take turns. Build in several processes to use several cores.
  const run = queue.then(() => compile(options));
  queue = run.catch(() => undefined);
  return run;
}

let queue: Promise<unknown> = Promise.resolve();

async function compile({ entry, outFile, optimize = true }: BuildOptions): Promise<BuildResult> {
  const entryPath = resolve(entry);
  if (!existsSync(entryPath)) throw new BuildError(entry, `${entry}: no such file`, '');
  const { main, createMemoryStream } = await import('assemblyscript/asc');

  const stdout = createMemoryStream();
  const stderr = createMemoryStream();
  let wasm: Uint8Array<ArrayBuffer> | undefined;
  let sourceMap: string | undefined;
  const api: APIOptions = {
    stdout,
    stderr,
    // Keep the binary and its source map in memory; only the module (the map inside it) is
    // ever written.
    writeFile: (name, contents) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') wasm = new Uint8Array(contents);
      else if (name.endsWith('.wasm.map') && typeof contents === 'string') sourceMap = contents;
    },
  };
  const argv = [
    // Relative to baseDir, so diagnostics name files the way the author sees them.
    basename(entryPath),
    '--baseDir', dirname(entryPath),
    '--config', ASCONFIG,
    '--target', optimize ? 'release' : 'debug',
    '--outFile', 'module.wasm',
    '--noColors',
  ];

  let result;
  try {
    result = await main(argv, api);
  } catch (cause) {
    // asc throws (rather than reporting) when the compiler itself crashes.
    throw new BuildError(entry, `${entry}: asc crashed`, stderr.toString(), { cause });
  }
  const diagnostics = stderr.toString();
  if (result.error) {
    throw new BuildError(entry, `${entry}: ${result.error.message}`, diagnostics, { cause: result.error });
  }
  if (!wasm) throw new BuildError(entry, `${entry}: asc produced no module`, diagnostics);

  if (sourceMap !== undefined) wasm = withSourceMap(wasm, sourceMap);
  const types = readTypesSection(wasm);
  if (!types) throw new BuildError(entry, `${entry}: the cloudburst types transform did not run (check ${ASCONFIG})`, diagnostics);

  if (outFile !== undefined) await writeAtomically(outFile, wasm);
  return { wasm, types, stderr: diagnostics };
}

/** Writes to a temporary sibling first, so readers never see a half-written module. */
async function writeAtomically(file: string, contents: Uint8Array): Promise<void> {
  await mkdir(dirname(resolve(file)), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

/** Walks up from `from` to the first folder with asconfig.json and guest/sdk. */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'asconfig.json')) && existsSync(join(dir, 'guest', 'sdk'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cloudburst build: no asconfig.json with guest/sdk above ${from}`);
  }
}
