#!/usr/bin/env node
// The `cloudburst` command: rebuilds dist/ when the sources changed, then runs the CLI.
import { ensureBuilt, root } from '../bundle.js';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

await ensureBuilt();
const { main } = await import(pathToFileURL(join(root, 'dist', 'cli.js')).href);
process.exitCode = await main(process.argv.slice(2));
