// vitest setupFiles: a test file that leaves a server listening, a socket open, a child
// process running or a worker thread alive fails the run. LMDB environments are closed by the
// same close() calls that stop hosts and KV nodes.
//
// Closing is asynchronous: a keep-alive socket of the test's own fetch sees its peer's FIN only
// after the peer process has exited, and a terminated worker reports its exit a moment later.
// So the check waits for handles to go, up to SETTLE_MS, and fails only on what stays: a real
// leak stays open for good, and on a loaded machine a fixed short pause was not enough (a CI run
// failed on a client socket to a host process stopped a few milliseconds before).
import { afterAll } from 'vitest';

const LEAKS = new Set(['TCPServerWrap', 'TCPSocketWrap', 'ProcessWrap', 'Worker', 'MessagePort']);
const SETTLE_MS = 5000;

const openHandles = () => process.getActiveResourcesInfo().filter((r) => LEAKS.has(r));

afterAll(async () => {
  const until = Date.now() + SETTLE_MS;
  let open = openHandles();
  while (open.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    open = openHandles();
  }
  if (open.length > 0) throw new Error(`left open ${SETTLE_MS} ms after the tests of this file: ${open.join(', ')}`);
}, SETTLE_MS + 5000);
