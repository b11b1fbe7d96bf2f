/**
 * Gives back the memory of large buffers a process no longer uses, when V8 would not.
 *
 * A large value crosses the main thread several times (a request body read, a batch frame
 * encoded, a write-behind flush, a subscription push, an LMDB copy): each a buffer outside the
 * JS heap that is garbage as soon as the request ends. V8 frees such buffers only when it
 * collects garbage, and it collects only when JS allocates: a process that went idle after a
 * 50 MB value kept some 300 MiB of dead buffers (`process.memoryUsage().arrayBuffers` 254 MiB,
 * anonymous memory 66 -> 350 MiB) for as long as it stayed idle; one full collection gave all of
 * it back (350 -> 57 MiB). So once a second this reads how much the buffers hold, and when they
 * hold more than `slackBytes` over the lowest they were, twice in a row without going down by
 * themselves, it runs one full collection (a few ms with the heaps of a host or a KV node): at
 * most one per `minGapMs`, and less and less often while collections give back little (buffers
 * in use, not dead). One timer per process, whatever the hosts and KV nodes in it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MiB = 1024 * 1024;

export const IDLE_BUFFERS = {
  /** How often the buffers are measured. */
  intervalMs: 1000,
  /** Bytes of buffers over the lowest level seen that are worth a collection. */
  slackBytes: 16 * MiB,
  /** The least time between two collections... */
  minGapMs: 5000,
  /** ...which doubles after each that gave back little (the buffers are in use), up to this. */
  maxGapMs: 5 * 60_000,
} as const;

let collector: (() => void) | undefined | null = null;

/**
 * V8's full collection of this thread's isolate, as `--expose-gc` gives it (the way jest's leak
 * detector gets it), or undefined if this V8 will not give it.
 */
export function fullCollection(): (() => void) | undefined {
  if (collector !== null) return collector;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (collector = exposed as () => void);
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collector = typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    collector = undefined;
  } finally {
    // Only the context made above has it: code loaded later sees no global `gc`.
    setFlagsFromString('--no-expose-gc');
  }
  return collector;
}

/**
 * The least time before the next collection, after a reading. A collection that gave back
 * little (`gaveBack` under half the slack: the buffers are in use, not dead) doubles it, up to
 * `maxGapMs`; one that gave back much sets it to `minGapMs`. And buffers that grew by more than
 * the slack since the reading after the last collection (`held` over `afterLast`) are a new
 * surge (another large value), collected at `minGapMs` again: without this, collections that
 * gave back little earlier (an in-use level) had stretched the gap to minutes, and a 50 MB
 * value's dead buffers then stayed that long (seen once in the suite: 112 MiB against a
 * baseline of 86 for over a minute).
 *
 * @example
 * nextGapMs({ gapMs: 40_000, held: 90 * MiB, afterLast: 20 * MiB }) // 5000: a new surge
 */
export function nextGapMs(r: { gapMs: number; gaveBack?: number; held: number; afterLast?: number }): number {
  let gap = r.gapMs;
  if (r.gaveBack !== undefined) gap = r.gaveBack >= IDLE_BUFFERS.slackBytes / 2 ? IDLE_BUFFERS.minGapMs : Math.min(gap * 2, IDLE_BUFFERS.maxGapMs);
  if (r.afterLast !== undefined && r.held > r.afterLast + IDLE_BUFFERS.slackBytes) gap = IDLE_BUFFERS.minGapMs;
  return gap;
}

class IdleBuffers {
  #users = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The lowest the buffers were since the watch started: what they come back to when idle. */
  #low = Number.POSITIVE_INFINITY;
  #previous = 0;
  /** Readings in a row well over `#low` and not going down. */
  #high = 0;
  #gapMs: number = IDLE_BUFFERS.minGapMs;
  #lastCollection = 0;
  /** The reading before the last collection, until the next reading tells what it gave back. */
  #before: number | undefined;
  /** The reading that followed the last collection: what its buffers came down to. */
  #afterLast: number | undefined;
  #collections = 0;

  retain(): () => void {
    if (this.#users++ === 0) {
      this.#timer = setInterval(() => this.#tick(), IDLE_BUFFERS.intervalMs);
      this.#timer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#users === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  get collections(): number {
    return this.#collections;
  }

  #tick(): void {
    const held = process.memoryUsage().arrayBuffers;
    // A collection's buffers are freed after it returns: the next reading says what it gave back.
    if (this.#before !== undefined) {
      this.#gapMs = nextGapMs({ gapMs: this.#gapMs, gaveBack: this.#before - held, held });
      this.#before = undefined;
      this.#afterLast = held;
    } else {
      this.#gapMs = nextGapMs({ gapMs: this.#gapMs, held, ...(this.#afterLast === undefined ? {} : { afterLast: this.#afterLast }) });
    }
    this.#low = Math.min(this.#low, held);
    this.#high = held > this.#low + IDLE_BUFFERS.slackBytes && held >= this.#previous ? this.#high + 1 : 0;
    this.#previous = held;
    const now = Date.now();
    if (this.#high < 2 || now - this.#lastCollection < this.#gapMs) return;
    const gc = fullCollection();
    if (gc === undefined) return;
    gc();
    this.#lastCollection = now;
    this.#before = held;
    this.#high = 0;
    this.#collections++;
  }
}

const idle = new IdleBuffers();

/**
 * Starts watching the process's buffers (once per process, however many callers); returns the
 * caller's release, which stops the watch when the last caller lets go.
 *
 * @example
 * const release = retainIdleBuffers(); // a server starts
 * release();                           // it closes
 */
export function retainIdleBuffers(): () => void {
  return idle.retain();
}

/** How many collections the watch ran in this process (for tests and metrics). */
export function idleBufferCollections(): number {
  return idle.collections;
}
