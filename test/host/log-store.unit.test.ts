import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineRing } from '../../host/logs/ring.ts';
import { LogStore } from '../../host/logs/log-store.ts';
import type { LogLine } from '../../host/logs/log-line.ts';

const line = (seq: number, message = `m${seq}`): LogLine => ({ seq, time: seq, host: 'h', callId: 'h.0.1', fn: 'm.f', level: 'info', message });
const info = (message: string) => ({ level: 1, message });

describe('LineRing', () => {
  it('keeps the newest `capacity` lines in seq order and finds those after a seq', () => {
    const ring = new LineRing(4);
    for (let s = 1; s <= 6; s++) ring.push(line(s), 10);
    expect(ring.size).toBe(4);
    expect(ring.dropped).toBe(2);
    expect(ring.bytes).toBe(40);
    expect(ring.after(0, 10).map((l) => l.seq)).toEqual([3, 4, 5, 6]);
    expect(ring.after(4, 10).map((l) => l.seq)).toEqual([5, 6]);
    expect(ring.after(4, 1).map((l) => l.seq)).toEqual([5]);
    expect(ring.after(6, 10)).toEqual([]);
    expect(ring.last(3).map((l) => l.seq)).toEqual([4, 5, 6]);
    expect(ring.dropOldest()).toBe(10);
    expect(ring.after(0, 10).map((l) => l.seq)).toEqual([4, 5, 6]);
  });

  it('property: after(s) is exactly the held lines above s, whatever was pushed and dropped (the ring growing to its capacity)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 100 }), fc.nat(300), (cap, gaps, at) => {
      const ring = new LineRing(cap);
      const all: number[] = [];
      let seq = 0;
      for (const g of gaps) {
        seq += g;
        all.push(seq);
        ring.push(line(seq), 1);
      }
      const held = all.slice(-cap);
      expect(ring.after(at, 100).map((l) => l.seq)).toEqual(held.filter((s) => s > at));
      expect(ring.last(5).map((l) => l.seq)).toEqual(held.slice(-5));
      expect(ring.dropped).toBe(all.length - held.length);
    }));
  });
});

describe('LogStore', () => {
  it('numbers lines over the host, and adds a failed call\'s error line and failure', () => {
    const store = new LogStore('h1');
    store.record('t', 'm.f', 'h1.0.1', [info('a'), { level: 2, message: 'b', time: 5 }]);
    store.record('t', 'm.g', 'h1.0.2', [info('c')], { code: 'GUEST_TRAP', message: 'boom' });
    const f = store.read('t', 'm.f', 0, 10);
    expect(f.lines.map((l) => [l.seq, l.level, l.message])).toEqual([[1, 'info', 'a'], [2, 'warn', 'b']]);
    expect(f.lines[1]!.time).toBe(5);
    expect(f.head).toBe(4);
    const g = store.read('t', 'm.g', 0, 10);
    expect(g.lines.map((l) => [l.seq, l.level, l.message, l.code])).toEqual([[3, 'info', 'c', undefined], [4, 'error', 'boom', 'GUEST_TRAP']]);
    expect(store.errors('t', 10)).toEqual([expect.objectContaining({ fn: 'm.g', callId: 'h1.0.2', code: 'GUEST_TRAP', message: 'boom', host: 'h1', logs: g.lines })]);
    expect(store.errors('other', 10)).toEqual([]);
    expect(store.read('other', 'm.f', 0, 10).lines).toEqual([]);
  });

  it('read: after a seq, oldest first with `more`; without one, the newest', () => {
    const store = new LogStore('h1');
    store.record('t', 'm.f', 'c', ['a', 'b', 'c', 'd'].map(info));
    expect(store.read('t', 'm.f', 1, 2)).toMatchObject({ lines: [{ message: 'b' }, { message: 'c' }], more: true });
    expect(store.read('t', 'm.f', 2, 2)).toMatchObject({ lines: [{ message: 'c' }, { message: 'd' }], more: false });
    expect(store.read('t', 'm.f', undefined, 2)).toMatchObject({ lines: [{ message: 'c' }, { message: 'd' }], more: false });
  });

  it('bounds: lines per function, bytes per function, functions and bytes per host (least recently written go), each drop counted', () => {
    const store = new LogStore('h', { linesPerFunction: 3, bytesPerFunction: 1_000_000, maxFunctions: 2, maxBytes: 1_000_000 });
    store.record('t', 'm.a', 'c', ['1', '2', '3', '4', '5'].map(info));
    expect(store.read('t', 'm.a', 0, 10).lines.map((l) => l.message)).toEqual(['3', '4', '5']);
    expect(store.dropped).toBe(2);
    store.record('t', 'm.b', 'c', [info('b')]);
    store.record('t', 'm.a', 'c', [info('6')]); // m.a is now the most recently written
    store.record('t', 'm.c', 'c', [info('c')]); // over 2 functions: m.b goes
    expect(store.read('t', 'm.b', 0, 10).lines).toEqual([]);
    expect(store.read('t', 'm.a', 0, 10).lines.map((l) => l.message)).toEqual(['4', '5', '6']);
    expect(store.dropped).toBe(4);

    const bytes = new LogStore('h', { linesPerFunction: 100, bytesPerFunction: 1000, maxBytes: 1600 });
    bytes.record('t', 'm.a', 'c', [info('x'.repeat(600)), info('y'.repeat(600))]); // over 1000 for one function: x goes
    expect(bytes.read('t', 'm.a', 0, 10).lines.map((l) => l.message[0])).toEqual(['y']);
    bytes.record('t', 'm.b', 'c', [info('z'.repeat(600))]);
    bytes.record('t', 'm.c', 'c', [info('w'.repeat(600))]); // over 1600 for the host: m.a, the least recently written, goes
    expect(bytes.read('t', 'm.a', 0, 10).lines).toEqual([]);
    expect(bytes.read('t', 'm.b', 0, 10).lines).toHaveLength(1);
    expect(bytes.read('t', 'm.c', 0, 10).lines).toHaveLength(1);
  });

  it('a failure keeps its last lines within bytesPerError, its error line always; tenants and failures are bounded', () => {
    const store = new LogStore('h', { bytesPerError: 10, errorsPerTenant: 2, errorTenants: 2 });
    store.record('t', 'm.f', 'c1', ['aaaaaa', 'bbbbbb', 'cc'].map(info), { code: 'GUEST_ABORT', message: 'x'.repeat(50) });
    expect(store.errors('t', 10)[0]!.logs.map((l) => l.message[0])).toEqual(['x']);
    store.record('t', 'm.f', 'c2', [], { code: 'GUEST_ABORT', message: 'two' });
    store.record('t', 'm.f', 'c3', [], { code: 'GUEST_ABORT', message: 'three' });
    expect(store.errors('t', 10).map((e) => e.callId)).toEqual(['c3', 'c2']);
    store.record('u', 'm.f', 'c4', [], { code: 'GUEST_ABORT', message: 'u' });
    store.record('v', 'm.f', 'c5', [], { code: 'GUEST_ABORT', message: 'v' }); // a third tenant: t's failures go
    expect(store.errors('t', 10)).toEqual([]);
    expect(store.errors('v', 10)).toHaveLength(1);
  });

  it('forget drops a module\'s rings and failures of one tenant only; subscribers hear each new line', () => {
    const store = new LogStore('h');
    const heard: string[] = [];
    const off = store.subscribe('t', 'm.f', (l) => heard.push(l.message));
    store.record('t', 'm.f', 'c', [info('a')], { code: 'GUEST_TRAP', message: 'e' });
    store.record('u', 'm.f', 'c', [info('other tenant')]);
    store.record('t', 'mm.f', 'c', [info('other module')]);
    off();
    store.record('t', 'm.f', 'c', [info('after')]);
    expect(heard).toEqual(['a', 'e']);
    store.forget('t', 'm.');
    expect(store.read('t', 'm.f', 0, 10).lines).toEqual([]);
    expect(store.errors('t', 10)).toEqual([]);
    expect(store.read('u', 'm.f', 0, 10).lines).toHaveLength(1);
    expect(store.read('t', 'mm.f', 0, 10).lines).toHaveLength(1);
  });
});
