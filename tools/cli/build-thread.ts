// Entry point of `cloudburst dev`'s build thread (bundled to dist/build-thread.js; see
// build-worker.ts): asc runs here, so that the embedded platform on the main thread keeps
// answering calls and streaming logs while a build takes seconds. One thread per dev session
// keeps asc loaded (and its JIT warm) from one build to the next.
import { parentPort } from 'node:worker_threads';
import { BuildError, buildGuest } from '../build/build.ts';
import type { BuildReply, BuildRequest } from './build-worker.ts';

const port = parentPort!;
port.on('message', (req: BuildRequest) => {
  buildGuest({ entry: req.entry, optimize: req.optimize }).then(
    ({ wasm, stderr }) => port.postMessage({ id: req.id, ok: true, wasm, stderr } satisfies BuildReply, [wasm.buffer]),
    (err: unknown) => port.postMessage({
      id: req.id, ok: false, message: (err as Error).message,
      ...(err instanceof BuildError ? { diagnostics: err.diagnostics, summary: err.message.split('\n')[0] } : {}),
    } satisfies BuildReply),
  );
});
