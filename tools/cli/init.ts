/**
 * `cloudburst init [DIR] [--name MODULE]`: writes a function project (tools/cli/init-templates.ts)
 * into DIR (default: the current folder), which must be new or empty, so that nothing of the
 * user's is ever overwritten.
 *
 * @example
 * cloudburst init hello && cd hello && cloudburst dev
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CloudburstError } from '../../common/index.ts';
import { checkModuleName } from '../../host/keys.ts';
import { projectFiles, type ProjectNames } from './init-templates.ts';

export interface InitResult {
  dir: string;
  module: string;
  /** The files written, relative to `dir`. */
  files: string[];
}

/**
 * A module name made from a folder's name: the characters a module name may not hold become
 * `-`, at most 64, not starting with `-` (`My App!` gives `My-App`).
 */
export function moduleNameOf(folder: string): string {
  const name = folder.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return name === '' ? 'functions' : name;
}

/**
 * An npm package name for the module: lower case, and what npm refuses at the start (`_`, `-`)
 * dropped.
 */
function packageNameOf(module: string): string {
  return module.toLowerCase().replace(/^[-_]+/, '') || 'functions';
}

/**
 * Writes the project. Refuses a DIR that exists and is not an empty folder (`DIR_NOT_EMPTY`,
 * nothing written) and a `--name` that is not a module name (`INVALID_NAME`).
 */
export function initProject(dirArg: string | undefined, name: string | undefined): InitResult {
  const dir = resolve(dirArg ?? '.');
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CloudburstError('DIR_NOT_EMPTY', `${dir} is a file, not a folder: give cloudburst init a new folder's name`);
    const present = readdirSync(dir);
    if (present.length > 0) {
      throw new CloudburstError('DIR_NOT_EMPTY', `${dir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}): give cloudburst init a new folder's name, or an empty folder`);
    }
  }
  const module = name === undefined ? moduleNameOf(basename(dir)) : checkModuleName(name);
  const names: ProjectNames = { module, package: packageNameOf(module) };
  const files = projectFiles(names);
  for (const [path, text] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { flag: 'wx' });
  }
  return { dir, module, files: Object.keys(files) };
}

/** The lines `init` prints: what was made and the next commands. */
export function initSummary(result: InitResult, dirArg: string | undefined): string {
  const cd = dirArg === undefined ? '' : `cd ${dirArg} && `;
  return [
    `created a Cloudburst project in ${result.dir} (module ${result.module}):`,
    ...result.files.map((f) => `  ${f}`),
    '',
    'next:',
    `  ${cd}cloudburst dev                 # a platform on http://127.0.0.1:7070; src/ rebuilt and redeployed on every save`,
    `  cloudburst fn call ${result.module}.greet ada   # from another terminal`,
    '  npm test                          # the project\'s test: its own platform on a free port',
  ].join('\n');
}
