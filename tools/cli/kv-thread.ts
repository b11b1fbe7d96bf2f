// Entry point of the embedded KV node's thread (bundled to dist/kv-thread.js; see
// embedded-kv.ts). `cloudburst up` with one process runs its KV node here, on an event loop of
// its own: the node's LMDB commits and HTTP serving never wait behind the host's main thread
// (the executors' hand-offs, the host API), nor the host behind them.
import { parentPort, workerData } from 'node:worker_threads';
import { startKvNode, type KvNode, type KvNodeOptions } from '../../kvs/index.ts';
import { serializeError, type KvThreadInit, type KvThreadMessage, type KvThreadRequest } from './kv-thread-protocol.ts';

const port = parentPort!;
const init = workerData as KvThreadInit;
const post = (m: KvThreadMessage): void => port.postMessage(m);

/** Buffers arrive as plain Uint8Arrays (structured clone): the node wants Buffers back. */
function nodeOptions(i: KvThreadInit): KvNodeOptions {
  return {
    dataDir: i.dataDir,
    port: i.port,
    ...(i.fsync ? { fsync: i.fsync } : {}),
    ...(i.ca ? { ca: Buffer.from(i.ca) } : {}),
    ...(i.clusterSecret ? { clusterSecret: Buffer.from(i.clusterSecret) } : {}),
    ...(i.insecure ? { insecure: true } : {}),
  };
}

let node: KvNode | undefined;
port.on('message', (req: KvThreadRequest) => {
  if (req.type !== 'close') return;
  // Once closed, the port is let go: the thread's loop empties and the thread ends.
  (node ? node.close() : Promise.resolve()).then(
    () => post({ type: 'closed' }),
    (err: unknown) => post({ type: 'closed', error: serializeError(err) }),
  ).finally(() => port.close());
});

try {
  node = await startKvNode(nodeOptions(init));
  post({ type: 'ready', url: node.url, port: node.port, nodeId: node.nodeId });
} catch (err) {
  post({ type: 'failed', error: serializeError(err) });
  port.close();
}
