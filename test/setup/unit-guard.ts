// vitest setupFiles of the unit project: a unit test runs in its own process and nothing else.
// Listening, connecting, starting a child process or a worker thread throws at the call, so a
// file that needs one says so by its name (it belongs to e2e or cluster, test/README.md) and
// `npm run test:unit` stays fast and runnable without the network. Everything a test could
// use to reach the outside goes through these: undici and node:http connect with
// net.Socket#connect, every async child_process function through ChildProcess#spawn.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import workerThreads from 'node:worker_threads';

/** The error every guarded call throws. */
export const UNIT_GUARD_MESSAGE = 'a unit test may not';

function refuse(what: string): never {
  throw new Error(`${UNIT_GUARD_MESSAGE} ${what}: name the file *.test.ts (e2e) instead of *.unit.test.ts (see test/README.md, "Projects")`);
}

net.Server.prototype.listen = function listen(): never {
  refuse('listen on a socket');
};
net.Socket.prototype.connect = function connect(): never {
  refuse('open a socket');
};
// ChildProcess#spawn is internal (missing from the type declarations), and the one way every
// asynchronous function of node:child_process starts a process.
(childProcess.ChildProcess.prototype as unknown as { spawn: () => never }).spawn = () => refuse('start a process');
for (const name of ['spawnSync', 'execSync', 'execFileSync'] as const) {
  childProcess[name] = (): never => refuse('start a process');
}
workerThreads.Worker = class {
  constructor() {
    refuse('start a worker thread');
  }
} as unknown as typeof workerThreads.Worker;
// Named imports of node builtins (`import { Worker } from 'node:worker_threads'`) see the
// replaced functions only after this.
syncBuiltinESMExports();
