// AssemblyScript's `console` and `Date.now` (its std/bindings/dom.ts imports them from `env`
// as `console.log`, `Date.now`, ...), so that code written for a browser or copied from an
// example runs here unchanged: console output becomes the call's log lines (what `log.*` of
// the SDK writes, at the matching level), and `Date.now()` reads the clock `now()` reads.
// The signatures are ENV_FUNCTIONS' in guest/abi.ts (upload checks them).
import { LOG_DEBUG, LOG_ERROR, LOG_INFO, LOG_WARN } from '../../guest/abi.ts';
import { liftString } from './abi.ts';

/** Labels of `console.time` one instance keeps running at most (a label past this is refused with a warning line). */
export const MAX_CONSOLE_TIMERS = 64;

type Log = (level: number, message: string) => void;

/**
 * The `env` functions behind asc's console and Date bindings, writing through `log` (the
 * call's GuestState.log, bounded per call there).
 *
 * @example
 * Object.assign(env, consoleImports(memory, (level, message) => state().log(level, message)));
 */
export function consoleImports(memory: WebAssembly.Memory, log: Log): Record<string, (...args: number[]) => number | void> {
  const text = (ptr: number, what: string): string => liftString(memory, ptr >>> 0, `the ${what} passed to console`);
  const line = (level: number) => (ptr: number): void => log(level, text(ptr, 'message'));
  // console.time's start times by label: per instance, like a browser's per page.
  const timers = new Map<string, number>();
  const elapsed = (label: string, end: boolean, method: string): void => {
    const start = timers.get(label);
    if (start === undefined) {
      log(LOG_WARN, `console.${method}: no timer named ${JSON.stringify(label)}`);
      return;
    }
    if (end) timers.delete(label);
    log(LOG_INFO, `${label}: ${(performance.now() - start).toFixed(3)} ms`);
  };
  return {
    'console.log': line(LOG_INFO),
    'console.debug': line(LOG_DEBUG),
    'console.info': line(LOG_INFO),
    'console.warn': line(LOG_WARN),
    'console.error': line(LOG_ERROR),
    // As in a browser, a failed assertion logs and the code goes on.
    'console.assert': (condition: number, ptr: number): void => {
      if (condition === 0) {
        const message = text(ptr, 'message');
        log(LOG_ERROR, message ? `Assertion failed: ${message}` : 'Assertion failed');
      }
    },
    'console.time': (ptr: number): void => {
      const label = text(ptr, 'label');
      if (timers.has(label)) {
        log(LOG_WARN, `console.time: a timer named ${JSON.stringify(label)} is running already`);
      } else if (timers.size >= MAX_CONSOLE_TIMERS) {
        log(LOG_WARN, `console.time: ${MAX_CONSOLE_TIMERS} timers are running already; ${JSON.stringify(label)} is not started`);
      } else {
        timers.set(label, performance.now());
      }
    },
    'console.timeLog': (ptr: number): void => elapsed(text(ptr, 'label'), false, 'timeLog'),
    'console.timeEnd': (ptr: number): void => elapsed(text(ptr, 'label'), true, 'timeEnd'),
    // The clock of the SDK's now(): the host's wall clock, in ms since the epoch.
    'Date.now': (): number => Date.now(),
  };
}
