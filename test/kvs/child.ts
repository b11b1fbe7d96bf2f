/**
 * Runs test/kvs/fixtures/kv-child.ts in a real child process. Node 20 cannot import .ts, so
 * the fixture (and the kvs/ code it imports) is bundled with esbuild into a temp folder;
 * lmdb and undici stay external, imported by absolute URL from this repository.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const FIXTURE = fileURLToPath(new URL('./fixtures/kv-child.ts', import.meta.url));

const externalsByUrl: Plugin = {
  name: 'externals-by-url',
  setup(b) {
    b.onResolve({ filter: /^(lmdb|undici)$/ }, async (args) => {
      if (args.pluginData === 'inner') return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'inner' });
      return { path: pathToFileURL(r.path).href, external: true };
    });
  },
};

/** Bundles the child into `outDir` and returns the script's path. */
export function bundleChild(outDir: string): Promise<string> {
  return bundleFixture(FIXTURE, `${outDir}/kv-child.mjs`);
}

/** Bundles any fixture (with kvs/ inlined, lmdb and undici external) into `outfile`. */
export async function bundleFixture(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    plugins: [externalsByUrl],
  });
  return outfile;
}

export interface Child {
  readonly proc: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Resolves with the first line that satisfies `test`. */
  waitFor(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

export function spawnChild(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const lines: string[] = [];
  const waiters = new Set<{ test: (l: string) => boolean; resolve: (l: string) => void }>();
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) {
      if (w.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    lines,
    waitFor(test, timeoutMs = 20_000) {
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          test,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.add(w);
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`child did not print the expected line in ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        void exited.then(() => {
          if (!waiters.has(w)) return;
          clearTimeout(timer);
          waiters.delete(w);
          reject(new Error(`child exited (${proc.exitCode}); stderr: ${stderr}`));
        });
      });
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
