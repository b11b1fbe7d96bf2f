import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, mergeLines, parseLimit, type Cursor } from '../../host/logs/cursor.ts';
import { LogStore, type HostLines } from '../../host/logs/log-store.ts';

function refused(f: () => unknown): void {
  expect(f).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
}

describe('log cursor', () => {
  it('round-trips, and anything else is INVALID_REQUEST', () => {
    const c = { a1b2c3d4e5f6: 42, other: 0 };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(decodeCursor(encodeCursor({}))).toEqual({});
    for (const bad of ['', 'x', '!!', encodeCursor({ h: -1 }), encodeCursor({ h: 1.5 }), encodeCursor({ 'a b': 1 }), Buffer.from('[1]').toString('base64url'),
      Buffer.from('null').toString('base64url'), encodeCursor({ h: '1' } as unknown as Cursor), 'A'.repeat(20_000),
      encodeCursor(Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`h${i}`, 1])))]) {
      refused(() => decodeCursor(bad));
    }
  });

  it('limit: digits from 1 to the maximum', () => {
    expect(parseLimit(null, 100, 1000)).toBe(100);
    expect(parseLimit('1000', 100, 1000)).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.5', '', '1e3', ' 1']) refused(() => parseLimit(bad, 100, 1000));
  });

  it('a host that did not answer keeps its place in the cursor and is named', () => {
    const since = { a: 5, gone: 9 };
    const merged = mergeLines([{ host: 'a', head: 7, lines: [], more: false, dropped: 0 }], since, 10, ['gone']);
    expect(merged.missing).toEqual(['gone']);
    expect(decodeCursor(merged.next)).toEqual({ a: 7, gone: 9 });
  });

  it('property: paging with next over several hosts yields every line exactly once, each host in order, while lines keep coming', () => {
    // Hosts write lines of one function (and of another, which advance their seqs) at random
    // times; a reader pages through with random limits between writes. What it reads, over all
    // pages, is exactly every line written (the rings are big enough to hold them all).
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), host: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 4 }), other: fc.boolean(), time: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('read' as const), limit: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const stores = ['h0', 'h1', 'h2'].map((h) => new LogStore(h));
      const written: string[] = [];
      const read: string[] = [];
      let since: Cursor = {};
      let n = 0;
      const page = (limit: number): number => {
        const answers: HostLines[] = stores.map((s, i) => s.read('t', 'm.f', since[`h${i}`] ?? 0, limit));
        const merged = mergeLines(answers, since, limit);
        read.push(...merged.lines.map((l) => l.message));
        since = decodeCursor(merged.next);
        return merged.lines.length;
      };
      for (const o of ops) {
        if (o.kind === 'read') {
          page(o.limit);
          continue;
        }
        const msgs = Array.from({ length: o.n }, () => `h${o.host}:${n++}`);
        if (o.other) stores[o.host]!.record('t', 'm.other', 'c', [{ level: 1, message: 'x', time: o.time }]);
        stores[o.host]!.record('t', 'm.f', 'c', msgs.map((message) => ({ level: 1, message, time: o.time })));
        written.push(...msgs);
      }
      while (page(3) > 0);
      expect([...read].sort()).toEqual([...written].sort());
      expect(new Set(read).size).toBe(read.length);
      // Each host's lines come in the order it wrote them.
      for (const h of ['h0', 'h1', 'h2']) expect(read.filter((m) => m.startsWith(`${h}:`))).toEqual(written.filter((m) => m.startsWith(`${h}:`)));
    }), { numRuns: 300 });
  });

  it('without since: the newest lines over the hosts, oldest first, and a cursor at each head', () => {
    const a: HostLines = { host: 'a', head: 10, more: false, dropped: 1, lines: [{ seq: 9, time: 1, host: 'a', callId: 'c', fn: 'm.f', level: 'info', message: 'a9' }, { seq: 10, time: 4, host: 'a', callId: 'c', fn: 'm.f', level: 'info', message: 'a10' }] };
    const b: HostLines = { host: 'b', head: 3, more: false, dropped: 2, lines: [{ seq: 3, time: 2, host: 'b', callId: 'c', fn: 'm.f', level: 'info', message: 'b3' }] };
    const merged = mergeLines([a, b], undefined, 2);
    expect(merged.lines.map((l) => l.message)).toEqual(['b3', 'a10']);
    expect(decodeCursor(merged.next)).toEqual({ a: 10, b: 3 });
    expect(merged.dropped).toBe(3);
  });
});
