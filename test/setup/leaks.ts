// vitest setupFiles: a test file that leaves a server listening, a socket open, a child
// process running or a worker thread alive fails the run. LMDB environments are closed by the
// same close() calls that stop hosts and KV nodes.
import { afterAll } from 'vitest';

const LEAKS = new Set(['TCPServerWrap', 'TCPSocketWrap', 'ProcessWrap', 'Worker', 'MessagePort']);

afterAll(async () => {
  // Let close callbacks and terminated workers settle.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const open = process.getActiveResourcesInfo().filter((r) => LEAKS.has(r));
  if (open.length > 0) throw new Error(`left open after the tests of this file: ${open.join(', ')}`);
});
