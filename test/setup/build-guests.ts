/**
 * Builds the guests the tests run (guest/examples/*.ts, test/fixtures/guests/*.ts and
 * tools/workload/guests/*.ts) into build/guests/<name>.wasm, with the same buildGuest as
 * `cloudburst build`. The default export is the global setup of the e2e and cluster projects
 * (every guest, once per run); a unit test that loads guests builds the ones it needs with
 * `ensureGuests` (the unit project has no global setup, test/README.md, "Projects").
 *
 * A module is rebuilt only when the hash of its inputs changed: its source and the files it
 * imports relatively, the SDK, guest/abi.ts, guest/types-section.ts (the build checks every
 * section with its reader), tools/build/, asconfig.json and the asc version.
 * The hash is kept next to the module as <name>.hash, written after the module, so an
 * interrupted build is redone; the module itself is replaced atomically, so a test reading it
 * while another process rebuilds it reads one whole module. asc is loaded only when something
 * needs building (buildGuest imports it lazily), so importing guestPath from a test costs
 * nothing.
 *
 * @example
 * // in a unit test
 * import { ensureGuests, guestPath } from '../setup/build-guests.ts';
 * beforeAll(() => ensureGuests(['kitchen']));
 * const module = new WebAssembly.Module(await readFile(guestPath('kitchen')));
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildGuest } from '../../tools/build/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the built guests go. */
export const GUEST_DIR = join(ROOT, 'build', 'guests');

/** Folders whose *.ts files are guests: each file is one module, named after the file. */
export const GUEST_SOURCE_DIRS = ['guest/examples', 'test/fixtures/guests', 'tools/workload/guests'] as const;

/** Inputs of every build besides the module's own sources. */
const BUILDER_INPUTS = ['guest/sdk', 'guest/abi.ts', 'guest/types-section.ts', 'tools/build', 'asconfig.json', 'node_modules/assemblyscript/package.json'];

/**
 * Path of the built guest `name` (a file name under GUEST_SOURCE_DIRS without `.ts`).
 *
 * @example
 * guestPath('math'); // '/work/main/build/guests/math.wasm'
 */
export function guestPath(name: string): string {
  const file = join(GUEST_DIR, `${name}.wasm`);
  if (!existsSync(file)) {
    throw new Error(
      `no built guest '${name}' (${file}): is there a ${name}.ts in ${GUEST_SOURCE_DIRS.join(' or ')}, ` +
        'and did the test call ensureGuests (unit) or run with the global setup (e2e, cluster)?',
    );
  }
  return file;
}

/** vitest globalSetup: builds every guest whose inputs changed since its last build. */
export default async function buildGuests(): Promise<void> {
  await ensureGuests();
}

/**
 * Builds the named guests (default: all) whose inputs changed since their last build.
 *
 * @example
 * await ensureGuests(['math', 'kitchen']);
 */
export async function ensureGuests(names?: readonly string[]): Promise<void> {
  const started = performance.now();
  const guests = await listGuests();
  if (names !== undefined) {
    const unknown = names.filter((name) => !guests.has(name));
    if (unknown.length > 0) throw new Error(`no guest named ${unknown.join(', ')} in ${GUEST_SOURCE_DIRS.join(' or ')}`);
    for (const name of guests.keys()) if (!names.includes(name)) guests.delete(name);
  }
  const shared = await hashFiles(BUILDER_INPUTS.map(path => join(ROOT, path)));

  const jobs: { name: string; entry: string; outFile: string; hash: string }[] = [];
  for (const [name, entry] of guests) {
    const sources = await localSources(entry);
    const hash = createHash('sha256').update(shared).update(await hashFiles(sources)).digest('hex');
    const outFile = join(GUEST_DIR, `${name}.wasm`);
    if (existsSync(outFile) && (await readFile(stampOf(name), 'utf8').catch(() => '')) === hash) continue;
    jobs.push({ name, entry, outFile, hash });
  }
  if (jobs.length === 0) return;

  // One after another in this process: once asc is loaded and warm a module takes 0.1-0.5 s,
  // so worker threads (each loading and warming its own asc) saved nothing on 2 cores.
  const times: string[] = [];
  const failures: string[] = [];
  for (const { name, entry, outFile, hash } of jobs) {
    const begin = performance.now();
    try {
      await buildGuest({ entry, outFile });
      await writeFile(stampOf(name), hash); // after the module: a crash in between means a rebuild
      times.push(`${name} ${((performance.now() - begin) / 1000).toFixed(1)} s`);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (failures.length > 0) throw new Error(`could not build the test guests:\n\n${failures.join('\n\n')}`);

  const upToDate = guests.size - jobs.length;
  console.log(`guests: built ${times.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s; ${upToDate} up to date`);
}

function stampOf(name: string): string {
  return join(GUEST_DIR, `${name}.hash`);
}

/** name → entry file, for every guest; two guests with one name are an error. */
export async function listGuests(): Promise<Map<string, string>> {
  const guests = new Map<string, string>();
  for (const dir of GUEST_SOURCE_DIRS) {
    for (const file of (await readdir(join(ROOT, dir))).sort()) {
      if (!file.endsWith('.ts')) continue;
      const name = file.slice(0, -'.ts'.length);
      const clash = guests.get(name);
      if (clash) throw new Error(`two guests named '${name}': ${relative(ROOT, clash)} and ${dir}/${file}`);
      guests.set(name, join(ROOT, dir, file));
    }
  }
  return guests;
}

/** The entry and every file it imports through relative paths, transitively. */
async function localSources(entry: string): Promise<string[]> {
  const found = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (found.has(file)) continue;
    found.add(file);
    const text = await readFile(file, 'utf8');
    for (const [, specifier] of text.matchAll(/\b(?:from|import)\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const base = resolve(dirname(file), specifier!.replace(/\.ts$/, ''));
      const target = [`${base}.ts`, join(base, 'index.ts')].find(candidate => existsSync(candidate));
      if (target) pending.push(target);
    }
  }
  return [...found].sort();
}

/** sha256 over the paths and contents of the given files and folders (recursively, sorted). */
async function hashFiles(paths: string[]): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (path: string): Promise<void> => {
    const info = await stat(path); // follows symlinks, like asc's file reads
    if (info.isDirectory()) {
      for (const entry of (await readdir(path)).sort()) await visit(join(path, entry));
    } else {
      hash.update(relative(ROOT, path)).update('\0').update(await readFile(path)).update('\0');
    }
  };
  for (const path of paths) await visit(path);
  return hash.digest('hex');
}
