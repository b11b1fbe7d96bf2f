/**
 * The embedded KV node of `cloudburst up` (one process) on a thread of its own (kv-thread.ts):
 * its LMDB commits, its HTTP serving and its cluster timers run on their own event loop, so
 * the host's main thread (the executors' hand-offs, the host API) neither waits behind them
 * nor holds them up. The node still listens on its own port and the host still talks to it
 * over HTTP on loopback, as in a cluster.
 */
import { Worker } from 'node:worker_threads';
import { deserializeError, type KvThreadInit, type KvThreadMessage, type KvThreadRequest } from './kv-thread-protocol.ts';
import { distUrl } from '../../common/index.ts';

/** The KV node running on its thread. */
export interface EmbeddedKv {
  readonly url: string;
  readonly port: number;
  readonly nodeId: string;
  /** Stops the node as KvNode.close() does (drains its HTTP side, closes its store), then ends the thread. */
  close(): Promise<void>;
}

/** The KV thread's entry (common/dist-files.ts). */
const threadUrl = (): URL => distUrl('kv-thread.js');

/**
 * Starts the KV node on a new thread; resolves once it listens and has joined its ring (as
 * `startKvNode` resolves), rejects with the node's own error when it cannot start (a busy
 * port: EADDRINUSE, as on the main thread). `onCrash` is called, once, if the thread dies
 * after it started without being asked to stop (an uncaught error in the node).
 */
export function startKvThread(init: KvThreadInit, onCrash: (err: Error) => void): Promise<EmbeddedKv> {
  const worker = new Worker(threadUrl(), { workerData: init, stderr: false, stdout: false });
  let closing: Promise<void> | undefined;
  let onClosed: ((m: Extract<KvThreadMessage, { type: 'closed' }>) => void) | undefined;
  let onExit: ((err: Error) => void) | undefined;
  return new Promise<EmbeddedKv>((resolve, reject) => {
    // Until ready, a death is the start's failure; after, a crash (unless close() asked for it).
    let died = (err: Error): void => reject(err);
    let lastError: Error | undefined;
    worker.on('error', (err) => {
      lastError = err;
    });
    worker.on('exit', (code) => {
      const err = lastError ?? new Error(`the KV node's thread exited (code ${code})`);
      if (onExit) return onExit(err);
      died(err);
    });
    worker.on('message', (m: KvThreadMessage) => {
      if (m.type === 'failed') {
        died = () => {};
        reject(deserializeError(m.error));
      } else if (m.type === 'closed') {
        onClosed?.(m);
      } else if (m.type === 'ready') {
        died = (err) => {
          if (!closing) onCrash(err);
        };
        const close = (): Promise<void> =>
          (closing ??= new Promise<void>((done, fail) => {
            // The node stops; the thread is ended once it has (nothing of it is left to lose).
            onClosed = (c) => {
              onExit = () => (c.error ? fail(deserializeError(c.error)) : done());
              void worker.terminate();
            };
            onExit = (err) => fail(err);
            worker.postMessage({ type: 'close' } satisfies KvThreadRequest);
          }));
        resolve({ url: m.url, port: m.port, nodeId: m.nodeId, close });
      }
    });
  });
}
