import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, tempDir } from '../helpers/platform.ts';

// The package as a user gets it: `npm pack` in the clone (once per run), the tarball installed
// into an empty folder with the npm cache alone (--offline), and every command run from there,
// outside the clone: init, build, up with the examples, fn deploy and call, dev, the generated
// project's own test.
//
// Offline and the npm cache: npm 11 resolves a version range from the registry's full document
// of a package, which an `npm ci` (what populated the cache here and in CI) never fetches; it
// installs what a lockfile names from the cache alone. So the folder starts with the runtime
// dependencies' entries of the repository's package-lock.json (what a user with a network would
// get resolved), and `npm install --offline TARBALL` adds the package. A global install
// (`npm install -g --prefix`) resolves every dependency anew and cannot run offline: it installs
// the installed package's folder, which gives the global layout (PREFIX/bin/cloudburst, a
// symbolic link into PREFIX/lib/node_modules) that the generated project's test then runs.

const run = promisify(execFile);
/** npm, asc and a platform's first start on a loaded machine. */
const SLOW = 300_000;
const npmEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'CLOUDBURST_CLI'));

/** package.json and package-lock.json of a folder holding the runtime dependencies, from the repository's lock. */
function seedDependencies(dir: string): void {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const packages: Record<string, unknown> = { '': { dependencies: pkg.dependencies } };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: pkg.dependencies }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, requires: true, packages }, null, 2));
}

describe('package: npm pack, installed outside the clone', () => {
  let dir: string;
  let installed: string;
  let bin: string;
  let globalBin: string;
  let work: string;

  const cli = (args: string[], cwd = work) => run(bin, args, { cwd, env: npmEnv(), maxBuffer: 16 << 20 });

  beforeAll(async () => {
    dir = await tempDir('cb-pack-');
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: ROOT, env: npmEnv(), maxBuffer: 16 << 20 });
    const tarball = join(dir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);

    installed = join(dir, 'local');
    await mkdir(installed);
    seedDependencies(installed);
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: installed, env: npmEnv() });
    bin = join(installed, 'node_modules', '.bin', 'cloudburst');

    const prefix = join(dir, 'global');
    await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(installed, 'node_modules', 'cloudburst-wasm')], { cwd: dir, env: npmEnv() });
    globalBin = join(prefix, 'bin');

    work = join(dir, 'work');
    await mkdir(work);
  }, SLOW);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ships the built CLI and no sources, and runs without esbuild', async () => {
    const pkg = join(installed, 'node_modules', 'cloudburst-wasm');
    expect(existsSync(join(pkg, 'dist', 'cli.js'))).toBe(true);
    expect(existsSync(join(pkg, 'tools', 'cli', 'main.ts'))).toBe(false);
    expect(existsSync(join(installed, 'node_modules', 'esbuild'))).toBe(false);
    const { stdout } = await run(join(globalBin, 'cloudburst'), ['help'], { cwd: work, env: npmEnv() });
    expect(stdout).toContain('cloudburst init [DIR]');
  });

  it('init, build, up with the examples, deploy and call: all from the installed package', async () => {
    const init = await cli(['init', 'hello']);
    expect(init.stdout).toContain('module hello');
    const project = join(work, 'hello');

    const build = await cli(['build', 'src/index.ts', '-o', 'build/hello.wasm'], project);
    expect(build.stdout).toMatch(/built build\/hello\.wasm/);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const data = join(dir, 'data');
    const up = spawn(bin, ['up', '--port', String(port), '--kvs-port', '0', '--data', data], { cwd: work, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    up.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
    try {
      await expect.poll(() => output.includes('stop: Ctrl-C') || up.exitCode !== null, { timeout: SLOW }).toBe(true);
      expect(up.exitCode, output).toBeNull();
      // The examples came from the package's guest/examples, built with its SDK and transform.
      const square = await cli(['fn', 'call', 'math.square', '7', '--url', url, '--data', data]);
      expect(square.stdout.trim()).toBe('49');

      await cli(['fn', 'deploy', 'build/hello.wasm', '--name', 'hello', '--url', url, '--data', data], project);
      const greet = await cli(['fn', 'call', 'hello.greet', 'ada', '--url', url, '--data', data]);
      expect(greet.stdout.trim()).toBe('Hello, ada! (greeting 1)');

      // The dashboard's page and script come from the package's dist/ui.
      for (const [path, type] of [['/ui', 'text/html'], ['/ui/app.js', 'javascript']] as const) {
        const res = await fetch(url + path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toContain(type);
        expect((await res.text()).length, path).toBeGreaterThan(100);
      }
    } finally {
      up.kill('SIGINT');
      expect(await exited, output).toBe(0);
    }
  }, SLOW);

  it('cloudburst dev runs from the installed package (its build thread included) and deploys the project', async () => {
    const project = join(work, 'hello');
    const port = await freePort();
    const dev = spawn(bin, ['dev', '--port', String(port)], { cwd: project, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    dev.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => dev.once('exit', (code) => r(code)));
    try {
      await expect.poll(() => output.includes('cloudburst dev:') || dev.exitCode !== null, { timeout: SLOW }).toBe(true);
      expect(output).toContain('deployed hello');
      const greet = await cli(['fn', 'call', 'hello.greet', 'ada', '--url', `http://127.0.0.1:${port}`], project);
      expect(greet.stdout.trim()).toBe('Hello, ada! (greeting 1)');
    } finally {
      dev.kill('SIGINT');
      expect(await exited, output).toBe(0);
    }
  }, SLOW);

  it('the project init made passes its own test (npm test) with the globally installed cloudburst', async () => {
    await cli(['init', 'tested']);
    const env = { ...npmEnv(), PATH: `${globalBin}${delimiter}${process.env.PATH ?? ''}` };
    const { stdout } = await run('npm', ['test'], { cwd: join(work, 'tested'), env, maxBuffer: 16 << 20 });
    expect(stdout).toMatch(/# pass 1\b/);
    expect(stdout).toMatch(/# fail 0\b/);
  }, SLOW);
});
