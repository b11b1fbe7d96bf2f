// The worker's side of the gate (see GATE in protocol.ts; the main thread's side is in pool.ts):
// the worker holds it while it runs host code, which is the only code that touches LMDB, so
// that a deadline terminates the thread only in guest code or while it waits.
import { GATE, GATE_CLAIMED, GATE_CLOSING, GATE_FREE, GATE_HOST } from './protocol.ts';

export interface WorkerGate {
  /**
   * Takes the gate back before running host code. If the main thread has closed it, this
   * thread is being stopped: it waits here, outside LMDB, to be terminated (or for the gate to
   * open again when the main thread found the job done).
   */
  enter(): void;
  /**
   * Lets go of the gate: from here until `enter`, this thread may be terminated at any moment.
   * When the main thread is waiting to close it, hand it over instead of opening it.
   */
  leave(): void;
  /** Runs guest code (or waits) with the gate open: a deadline may stop the thread in there. */
  outside<T>(f: () => T): T;
  /**
   * The import object with every host function taking the gate for its duration, but those
   * named in `free` (functions that never touch LMDB: a thread stopped in them leaves nothing
   * half done). The wrappers have the arity of what they wrap (no rest parameters: a host
   * import is the hottest call a guest makes, and V8 inlines fixed-arity calls).
   */
  gated(imports: WebAssembly.Imports, free?: ReadonlySet<string>): WebAssembly.Imports;
}

/** The gate in the control words `ctrl` shared with the main thread. */
export function workerGate(ctrl: Int32Array): WorkerGate {
  function enter(): void {
    while (Atomics.compareExchange(ctrl, GATE, GATE_FREE, GATE_HOST) !== GATE_FREE) {
      Atomics.wait(ctrl, GATE, GATE_CLAIMED);
    }
  }

  function leave(): void {
    if (Atomics.compareExchange(ctrl, GATE, GATE_HOST, GATE_FREE) === GATE_CLOSING) {
      Atomics.store(ctrl, GATE, GATE_CLAIMED);
      Atomics.notify(ctrl, GATE);
    }
  }

  function outside<T>(f: () => T): T {
    leave();
    try {
      return f();
    } finally {
      enter();
    }
  }

  function gated(imports: WebAssembly.Imports, free: ReadonlySet<string> = new Set()): WebAssembly.Imports {
    for (const ns of Object.values(imports)) {
      const fns = ns as Record<string, unknown>;
      for (const [name, f] of Object.entries(fns)) {
        if (typeof f === 'function' && !free.has(name)) fns[name] = gate(f as (...a: unknown[]) => unknown);
      }
    }
    return imports;
  }

  function gate(host: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
    switch (host.length) {
      case 0:
        return () => { enter(); try { return host(); } finally { leave(); } };
      case 1:
        return (a: unknown) => { enter(); try { return host(a); } finally { leave(); } };
      case 2:
        return (a: unknown, b: unknown) => { enter(); try { return host(a, b); } finally { leave(); } };
      case 3:
        return (a: unknown, b: unknown, c: unknown) => { enter(); try { return host(a, b, c); } finally { leave(); } };
      case 4:
        return (a: unknown, b: unknown, c: unknown, d: unknown) => { enter(); try { return host(a, b, c, d); } finally { leave(); } };
      default:
        return (...a: unknown[]) => { enter(); try { return host(...a); } finally { leave(); } };
    }
  }

  return { enter, leave, outside, gated };
}
