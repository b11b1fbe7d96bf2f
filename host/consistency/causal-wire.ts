// Causal metadata as it travels in DAG messages and histories (JSON), shared by the main
// thread and the workers. See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import { depCovers, type Dep, type Lattice, type Lww, type Stamp } from '../../kvs/index.ts';

/** `ms.c.writer`: a stamp in histories and dependency strings. */
export function stampId(s: Stamp): string {
  return `${s.ms}.${s.c}.${s.writer}`;
}

const WIRE = /^([cp])(\d{1,15})\.(\d{1,5})\.([\s\S]*)$/;

/** A dependency as a string: `c` (a causal version) or `p` (a plain write), then its stamp. */
export function depToWire(d: Dep): string {
  return `${d.plain ? 'p' : 'c'}${stampId(d.at)}`;
}

const parsed = new Map<string, { at: Stamp; plain: boolean }>();

/** Parses a dependency string (from a peer: malformed input is a 400, never a crash). */
export function depFromWire(key: string, wire: string): Dep {
  let p = parsed.get(wire);
  if (p === undefined) {
    const m = typeof wire === 'string' ? WIRE.exec(wire) : null;
    if (!m) throw new CloudburstError('INVALID_REQUEST', `malformed causal dependency ${JSON.stringify(wire)}`);
    p = { plain: m[1] === 'p', at: { ms: Number(m[2]), c: Number(m[3]), writer: m[4]! } };
    if (parsed.size > 100_000) parsed.clear();
    parsed.set(wire, p);
  }
  return { key, at: p.at, plain: p.plain };
}

/**
 * Adds dependency `wire` of `key` to `list` (wire forms of that key's dependencies), keeping
 * it compact: nothing is added that an entry already covers, and entries it covers go
 * (`depCovers`: per writer the latest, and the latest plain write). A list holds at most one
 * entry per writer of the key, plus one plain.
 */
export function addDepWire(list: string[], key: string, wire: string): void {
  if (list.includes(wire)) return;
  const d = depFromWire(key, wire);
  for (let i = list.length - 1; i >= 0; i--) {
    const other = depFromWire(key, list[i]!);
    if (depCovers(other, d)) return;
    if (depCovers(d, other)) list.splice(i, 1);
  }
  list.push(wire);
}

/** Whether a value carries causal metadata or concurrent versions (the cut has work to do). */
export function isCausal(l: Lattice | undefined): l is Lww {
  return l !== undefined && l.type === 'lww' && (l.causal !== undefined || l.siblings !== undefined);
}

