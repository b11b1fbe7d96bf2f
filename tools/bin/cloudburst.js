#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node
// (The variable makes glibc give freed memory back: tools/cli/malloc-env.ts.)
// The `cloudburst` command: runs the CLI bundled in dist/.
//
// In the clone (the CLI's sources are beside it) dist/ is rebuilt first when a source is newer
// than it (esbuild, a devDependency). An installed package (`npm pack`, then `npm install` of
// the tarball, globally or into any folder) ships a built dist/ and neither the sources nor
// esbuild: it never rebuilds.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
if (existsSync(join(root, 'tools', 'cli', 'main.ts'))) {
  const { ensureBuilt } = await import('../bundle.js');
  await ensureBuilt();
}
const { main } = await import(pathToFileURL(join(root, 'dist', 'cli.js')).href);
process.exitCode = await main(process.argv.slice(2));
