/**
 * The files `cloudburst init` writes: a function project that builds, tests and runs with only
 * the `cloudburst` command installed (no npm install in the project, so it works offline).
 *
 * `MODULE` is the module name the functions are deployed under (`hello.greet`); `PACKAGE` the
 * npm package name (lower case). Each template is a function of them so that the text reads as
 * the file it becomes.
 */

export interface ProjectNames {
  /** The module name (`cloudburst dev` and the test deploy under it). */
  module: string;
  /** The package.json name. */
  package: string;
}

/** The project's entry: `cloudburst dev` and the scripts build it. */
export const PROJECT_ENTRY = 'src/index.ts';

/** Where `npm run build` writes the module. */
export const buildOutput = (n: ProjectNames): string => `build/${n.module}.wasm`;

const packageJson = (n: ProjectNames): string => `${JSON.stringify({
  name: n.package,
  version: '0.1.0',
  private: true,
  type: 'module',
  description: `Cloudburst functions (module ${n.module})`,
  scripts: {
    build: `cloudburst build ${PROJECT_ENTRY} -o ${buildOutput(n)}`,
    dev: `cloudburst dev --name ${n.module}`,
    test: 'node --test',
  },
  cloudburst: { module: n.module },
}, null, 2)}\n`;

// asc's own format: `entries` is what `cloudburst dev` builds and watches when given no file.
// The compiler's settings are the platform's (the package's asconfig.json, applied by
// `cloudburst build`), so that every module has the imports and the types section a host expects.
const asconfigJson = (n: ProjectNames): string => `${JSON.stringify({
  entries: [PROJECT_ENTRY],
  options: { outFile: buildOutput(n) },
}, null, 2)}\n`;

const indexTs = (): string => `// Your functions. Every exported function becomes callable over HTTP as MODULE.NAME once
// deployed: \`cloudburst dev\` rebuilds and redeploys this file on every save.
//
// State lives in lattices that merge instead of overwriting: a counter keeps every caller's
// increments, on every host, however calls interleave (see the README of the package's
// guest/ folder for the SDK).

import { counter, log } from "cloudburst";

/** Greets \`name\` and says how many times this name was greeted, this call included. */
export function greet(name: string): string {
  const n = counter.add("greetings:" + name, 1);
  log.info("greeted " + name + " (" + n.toString() + ")");
  return "Hello, " + name + "! (greeting " + n.toString() + ")";
}

/** How many greetings \`name\` has had so far (0 before the first). */
export function greetings(name: string): i64 {
  return counter.get("greetings:" + name);
}
`;

const testJs = (n: ProjectNames): string => `// An end-to-end test of src/index.ts, with node:test (no dependency to install): it starts a
// platform of its own (\`cloudburst up\` on a free port, data in a temporary folder), deploys the
// module, calls it over HTTP and stops the platform. Copy the pattern for your own functions.
//
// Run it with \`npm test\`. It runs the \`cloudburst\` command found on PATH (a global install,
// or node_modules/.bin under npm scripts); CLOUDBURST_CLI=/path/to/cloudburst picks another.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const CLI = process.env.CLOUDBURST_CLI || 'cloudburst';
const MODULE = '${n.module}';
/** How long the platform may take to start (the first start of a machine compiles nothing, but a busy one is slow). */
const START_TIMEOUT_MS = 60_000;

let data;
let url;
let token;
let platform;

/** A port nobody listens on now (the OS picks it). */
async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once the platform answers /readyz with 200; rejects if it exits first. */
async function ready() {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (platform.exitCode !== null) throw new Error(\`cloudburst up exited with code \${platform.exitCode}\`);
    try {
      if ((await fetch(\`\${url}/readyz\`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(\`cloudburst up was not ready within \${START_TIMEOUT_MS} ms\`);
}

/** Calls MODULE.fn with \`args\` and returns its result (fails the test on an error answer). */
async function call(fn, ...args) {
  const res = await fetch(\`\${url}/v1/functions/\${MODULE}.\${fn}/call\`, {
    method: 'POST',
    headers: { authorization: \`Bearer \${token}\`, 'content-type': 'application/json' },
    body: JSON.stringify({ args }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.result;
}

before(async () => {
  data = await mkdtemp(join(tmpdir(), \`\${MODULE}-test-\`));
  url = \`http://127.0.0.1:\${await freePort()}\`;
  platform = spawn(CLI, ['up', '--port', new URL(url).port, '--kvs-port', '0', '--data', data, '--no-examples'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await ready();
  token = (await readFile(join(data, 'admin-token'), 'utf8')).trim();
  // Builds src/index.ts and uploads it (the CLI finds the token in --data).
  await promisify(execFile)(CLI, ['fn', 'deploy', 'src/index.ts', '--name', MODULE, '--url', url, '--data', data]);
});

after(async () => {
  if (platform && platform.exitCode === null) {
    platform.kill('SIGINT'); // drains and stops cleanly
    await once(platform, 'exit');
  }
  if (data) await rm(data, { recursive: true, force: true });
});

test('greet counts the greetings of each name', async () => {
  assert.equal(await call('greet', 'ada'), 'Hello, ada! (greeting 1)');
  assert.equal(await call('greet', 'ada'), 'Hello, ada! (greeting 2)');
  assert.equal(await call('greet', 'grace'), 'Hello, grace! (greeting 1)');
  assert.equal(await call('greetings', 'ada'), 2);
});
`;

const gitignore = (): string => `node_modules/
build/
# cloudburst dev's platform (its data and admin token)
.cloudburst/
`;

const readme = (n: ProjectNames): string => `# ${n.package}

Cloudburst functions in AssemblyScript: \`src/index.ts\`, deployed as the module \`${n.module}\`.

\`\`\`
cloudburst dev                                   # a platform on http://127.0.0.1:7070, src/ built and deployed on every save
cloudburst fn call ${n.module}.greet ada          # from another terminal: Hello, ada! (greeting 1)
cloudburst logs ${n.module}.greet --follow        # the functions' log lines, as calls run
npm test                                         # test/: its own platform on a free port, deploy, call
npm run build                                    # ${buildOutput(n)}, to deploy anywhere with cloudburst fn deploy
\`\`\`

| file | what |
|---|---|
| \`src/index.ts\` | the functions: every export is callable as \`${n.module}.NAME\`; \`import ... from "cloudburst"\` is the SDK (state, counters, sets, logs, messages) |
| \`asconfig.json\` | the entries \`cloudburst dev\` builds and watches; compiler settings come from the platform (\`cloudburst build\`) |
| \`test/greet.test.js\` | the test: starts \`cloudburst up\` on a free port in a temporary folder, deploys, calls over HTTP, stops it (node:test, nothing to install) |
| \`package.json\` | \`npm run dev\`, \`npm test\`, \`npm run build\`: each runs the \`cloudburst\` command |

\`cloudburst dev\` keeps its platform's data in \`.cloudburst/\` (git-ignored): state survives a
restart; delete the folder to start afresh. \`cloudburst dev --url URL\` deploys to a platform
that runs elsewhere instead. A build error is printed with the compiler's diagnostics and the
version deployed before stays callable until the file compiles again.
`;

/** The project's files, by path relative to its folder. */
export function projectFiles(n: ProjectNames): Record<string, string> {
  return {
    'package.json': packageJson(n),
    'asconfig.json': asconfigJson(n),
    [PROJECT_ENTRY]: indexTs(),
    'test/greet.test.js': testJs(n),
    '.gitignore': gitignore(),
    'README.md': readme(n),
  };
}
