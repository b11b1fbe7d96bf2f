// Bundles the CLI, the executor worker and the embedded KV node's thread into dist/ with
// esbuild, and the dashboard (host/ui/app/: TypeScript and CSS for the browser, one page) into
// dist/ui/, which every host serves at /ui. Plain JS so that it runs before anything is built:
// `tools/bin/cloudburst.js`, `npm run build` and the test setup all call it. Packages stay
// external (lmdb is native; everything is in node_modules); the dashboard has none.
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// guest/: the ABI (guest/abi.ts re-exports the SDK's abi.ts) and the types section's reader.
const SOURCES = ['common', 'host', 'kvs', 'tools', 'guest'];
const STAMP = join(root, 'dist', '.stamp');
// The entries started as threads (new Worker(dist/NAME.js)): without them dist/ is not built.
const THREADS = ['worker', 'kv-thread', 'build-thread'];
// The dashboard: its entry (which imports its CSS) and its one page, copied as it is.
const UI_ENTRY = 'host/ui/app/main.ts';
const UI_PAGE = join(root, 'host', 'ui', 'app', 'index.html');
const UI_FILES = ['index.html', 'app.js', 'app.css'];

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return /\.(ts|js|css|html)$/.test(path) ? st.mtimeMs : 0;
  let max = 0;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name === 'bench-results') continue;
    max = Math.max(max, newest(join(path, name)));
  }
  return max;
}

/** True when dist/ is older than some source file. */
export function stale() {
  if (!existsSync(STAMP) || !THREADS.every((t) => existsSync(join(root, 'dist', `${t}.js`)))) return true;
  if (!UI_FILES.every((f) => existsSync(join(root, 'dist', 'ui', f)))) return true;
  const built = Number(readFileSync(STAMP, 'utf8'));
  return SOURCES.some((s) => existsSync(join(root, s)) && newest(join(root, s)) > built);
}

export async function bundle() {
  const { build } = await import('esbuild');
  const started = Date.now();
  mkdirSync(join(root, 'dist'), { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { cli: 'tools/cli/main.ts', worker: 'host/executor/worker.ts', 'kv-thread': 'tools/cli/kv-thread.ts', 'build-thread': 'tools/cli/build-thread.ts', bench: 'tools/bench/main.ts' },
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  // For the browser: one script and one stylesheet, no source map (nothing to fetch but them).
  mkdirSync(join(root, 'dist', 'ui'), { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: UI_ENTRY },
    outdir: 'dist/ui',
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    logLevel: 'warning',
  });
  copyFileSync(UI_PAGE, join(root, 'dist', 'ui', 'index.html'));
  writeFileSync(STAMP, String(started));
}

export async function ensureBuilt() {
  if (stale()) await bundle();
}

// `node tools/bundle.js` bundles; `--if-stale` only when a source is newer than dist/ (the
// `prepack` script: `npm pack` ships dist/, and a pack while tests run dist/ rewrites nothing).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--if-stale')) await ensureBuilt();
  else await bundle();
}
