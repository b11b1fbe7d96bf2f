/**
 * `cloudburst dev`'s builds, on a thread of their own (build-thread.ts): asc holds the event
 * loop it runs on for the whole build (seconds), and on the main thread that would stall the
 * embedded host's calls and the log streams for as long.
 */
import { Worker } from 'node:worker_threads';
import { BuildError } from '../build/build.ts';
import { distUrl } from '../../common/index.ts';

export interface BuildRequest {
  id: number;
  entry: string;
  optimize: boolean;
}

export type BuildReply =
  | { id: number; ok: true; wasm: Uint8Array; stderr: string }
  | { id: number; ok: false; message: string; diagnostics?: string; summary?: string };

/** The build thread's entry (common/dist-files.ts). */
const threadUrl = (): URL => distUrl('build-thread.js');

/**
 * A build thread: `build` compiles as `buildGuest` does (one build at a time, in order) and
 * throws its `BuildError` when the code does not compile.
 *
 * @example
 * const builder = new BuildWorker();
 * const { wasm } = await builder.build('src/index.ts', false);
 * await builder.close();
 */
export class BuildWorker {
  readonly #worker = new Worker(threadUrl());
  readonly #waiting = new Map<number, { resolve: (r: BuildReply) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor() {
    this.#worker.on('message', (reply: BuildReply) => {
      this.#waiting.get(reply.id)?.resolve(reply);
      this.#waiting.delete(reply.id);
    });
    this.#worker.on('error', (err) => this.#failAll(err));
    this.#worker.on('exit', (code) => this.#failAll(new Error(`the build thread exited (code ${code})`)));
  }

  #failAll(err: Error): void {
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }

  async build(entry: string, optimize: boolean): Promise<{ wasm: Uint8Array; stderr: string }> {
    const id = this.#next++;
    const reply = await new Promise<BuildReply>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, entry, optimize } satisfies BuildRequest);
    });
    if (reply.ok) return { wasm: reply.wasm, stderr: reply.stderr };
    if (reply.diagnostics !== undefined) throw new BuildError(entry, reply.summary ?? reply.message, reply.diagnostics);
    throw new Error(reply.message);
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
