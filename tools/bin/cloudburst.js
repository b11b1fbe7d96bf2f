#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node
// (The variable makes glibc give freed memory back: tools/cli/malloc-env.ts.)
// The `cloudburst` command: rebuilds dist/ when the sources changed, then runs the CLI.
import { ensureBuilt, root } from '../bundle.js';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

await ensureBuilt();
const { main } = await import(pathToFileURL(join(root, 'dist', 'cli.js')).href);
process.exitCode = await main(process.argv.slice(2));
