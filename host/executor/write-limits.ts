import { versionsOf, type Lattice } from '../../kvs/index.ts';

/**
 * What a call may hold in uncommitted writes (its overlay) at any moment: it lives in the
 * worker's memory until the commit, and the commit runs in one LMDB transaction that a
 * deadline waits for (see GATE in protocol.ts), so both are bounded. `putDurable` commits
 * what the call wrote so far, which empties the overlay.
 */
export const CALL_WRITE_LIMITS = { keys: 100_000, bytes: 256 * 1024 * 1024 } as const;

/** Roughly the bytes a value holds: its payload (register values, set members), not its metadata. */
export function weight(l: Lattice): number {
  switch (l.type) {
    case 'lww': {
      // A register without siblings (every put's write): no versions array per put.
      if (l.siblings === undefined || l.siblings.length === 0) return 32 + (l.tombstone ? 0 : l.value.byteLength);
      let n = 32;
      for (const v of versionsOf(l)) n += v.tombstone ? 0 : v.value.byteLength;
      return n;
    }
    case 'set': {
      let n = 32;
      for (const m of l.members) n += m.byteLength + 8;
      return n;
    }
    default:
      return 64;
  }
}
