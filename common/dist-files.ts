/**
 * Where the built files are: `dist/` of the package that holds this code. From the sources
 * (`common/`) and from a bundle in `dist/` (`dist/cli.js`, `dist/worker.js`) alike, the first
 * folder up with a `package.json` and the file is the package's root: the clone, or the
 * installed package. What is started as a thread (the executor worker, the embedded KV node,
 * dev's builds) and the dashboard's files are found this way.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How many folders up the package's root may be (dist/ is one, common/ one, a test's module a few). */
const MAX_DEPTH = 5;

/**
 * The path of `dist/<parts>` when it is built, else undefined.
 *
 * @example
 * distPath('ui', 'index.html') // '/repo/dist/ui/index.html'
 */
export function distPath(...parts: string[]): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_DEPTH; i++) {
    const candidate = join(dir, 'dist', ...parts);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * The URL of a built entry started as a thread (`new Worker(distUrl('worker.js'))`).
 *
 * @throws Error naming the file and `npm run build` when it is not built.
 */
export function distUrl(file: string): URL {
  const path = distPath(file);
  if (path === undefined) throw new Error(`dist/${file} not found: run \`npm run build\``);
  return pathToFileURL(path);
}
