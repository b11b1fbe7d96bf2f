import { execFile } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTypesSection } from '../../guest/types-section.ts';
import { PACKAGE_ROOT } from '../../tools/build/index.ts';

// The SDK must build from what a user gets: a checkout on an OS without symbolic links, or the
// files `npm pack` ships (it leaves symbolic links out; its `files` list ships the built dist/, not
// the sources: test/tools/pack-install.test.ts installs the tarball itself). asc resolves `./abi` only inside the
// `cloudburst` package folder, so the SDK's abi.ts has to be a real file there.

/** Folders of the working tree that are not the repository's (ignored, or git's own). */
const NOT_SOURCES = new Set(['node_modules', 'dist', 'build']);

function symlinksUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (NOT_SOURCES.has(name) || name.startsWith('.')) return [];
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return [relative(PACKAGE_ROOT, path)];
    return stat.isDirectory() ? symlinksUnder(path) : [];
  });
}

describe('sdk package', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudburst-pack-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('no file of the repository is a symbolic link', () => {
    expect(symlinksUnder(PACKAGE_ROOT)).toEqual([]);
  });

  test('a guest using the SDK builds from exactly the files `npm pack` ships', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json'], {
      cwd: PACKAGE_ROOT, shell: process.platform === 'win32', maxBuffer: 16 << 20,
    });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const files = pack!.files.map((f) => f.path);
    expect(files).toContain('guest/sdk/cloudburst/index.ts');
    expect(files).toContain('dist/cli.js');
    expect(files.filter((f) => f.endsWith('.ts') && !f.startsWith('guest/'))).toEqual([]);

    const root = join(dir, 'package');
    for (const file of files) {
      await mkdir(dirname(join(root, file)), { recursive: true });
      await copyFile(join(PACKAGE_ROOT, file), join(root, file));
    }
    // What `npm install` would provide beside the package (asc, for the build and the transform).
    await symlink(join(PACKAGE_ROOT, 'node_modules'), join(root, 'node_modules'), 'junction');

    const entry = join(dir, 'fn.ts');
    await writeFile(entry, [
      'import { getString, log } from "cloudburst";', // runtime.ts and memory.ts import ./abi
      'export function greet(key: string): string {',
      '  log.info("greet " + key);',
      '  const v = getString(key);',
      '  return v === null ? "nobody" : v;',
      '}',
    ].join('\n'));
    // The packed CLI (its bin and the bundle in dist/; no sources, so it does not rebuild).
    const out = join(dir, 'fn.wasm');
    const { stderr } = await promisify(execFile)(process.execPath, [join(root, 'tools', 'bin', 'cloudburst.js'), 'build', entry, '-o', out], { cwd: dir });
    expect(stderr).toBe('');
    const types = readTypesSection(new Uint8Array(await readFile(out)));
    expect(types?.exports).toEqual([{ name: 'greet', params: [{ name: 'key', type: 'string' }], result: 'string' }]);
  }, 60_000);
});
