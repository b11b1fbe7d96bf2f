import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { LOG_DEBUG, LOG_ERROR, LOG_INFO, LOG_WARN } from '../../guest/abi.ts';
import { guestPath } from '../setup/build-guests.ts';
import { ReferenceGuest } from './reference-host.ts';

// The SDK against a reference reading of the ABI (reference-host.ts): that strings and bytes
// cross the boundary intact and each SDK function drives the import it documents.

const kitchen = (clock?: () => number): ReferenceGuest => ReferenceGuest.load(readFileSync(guestPath('kitchen')), clock);

describe('sdk', () => {
  test('state: putString/getString round-trip UTF-8, including astral characters', () => {
    const guest = kitchen();
    for (const value of ['', 'plain', 'naïve café', '日本語', 'emoji 🎉 and 𝄞', 'nul\u0000inside']) {
      expect(guest.call('putGet', 'k', value)).toBe(value);
    }
    expect(guest.state.get('k')).toEqual({ type: 'lww', bytes: new TextEncoder().encode('nul\u0000inside') });
    // Keys are UTF-8 too.
    expect(guest.call('putGet', 'ключ 🔑', 'v')).toBe('v');
    expect([...guest.state.keys()]).toContain('ключ 🔑');
  });

  test('state: absent keys read as null, deleted keys too', () => {
    const guest = kitchen();
    expect(guest.call('getOr', 'missing', 'fallback')).toBe('fallback');
    expect(guest.call('getLength', 'missing')).toBe(-1);
    guest.call('putGet', 'gone', 'x');
    expect(guest.call('delThenAbsent', 'gone')).toBe(true);
    expect(guest.call('getOr', 'gone', 'fallback')).toBe('fallback');
  });

  test('state: bytes round-trip, empty and large', () => {
    const guest = kitchen();
    const large = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    for (const bytes of [new Uint8Array(0), new Uint8Array([0, 255, 1]), large]) {
      expect(guest.call('putGetBytes', 'b', bytes)).toEqual(bytes);
    }
    expect(guest.call('putDurableLength', 'd', new Uint8Array(5))).toBe(5);
    expect(guest.call('getLength', 'b')).toBe(large.length);
  });

  test('counter: add returns the running total, get reads it', () => {
    const guest = kitchen();
    expect(guest.call('counterGet', 'c')).toBe(0n);
    expect(guest.call('counterAdd', 'c', 5n)).toBe(5n);
    expect(guest.call('counterAdd', 'c', -2n)).toBe(3n);
    expect(guest.call('counterGet', 'c')).toBe(3n);
  });

  test('set: add reports novelty, has and members see what was added', () => {
    const guest = kitchen();
    expect(guest.call('setAdd', 's', new Uint8Array([1, 2]))).toBe(true);
    expect(guest.call('setAdd', 's', new Uint8Array([1, 2]))).toBe(false);
    expect(guest.call('setHas', 's', new Uint8Array([1, 2]))).toBe(true);
    expect(guest.call('setHas', 's', new Uint8Array([2, 1]))).toBe(false);
    expect(guest.call('setAddMembers', 'names', 'ada')).toBe(1);
    expect(guest.call('setAddMembers', 'names', 'grace')).toBe(2);
    expect(guest.call('setAddMembers', 'names', '')).toBe(3);
    expect(guest.call('setAddMembers', 'names', 'ada')).toBe(3);
    expect(guest.call('setHasString', 'names', 'grace')).toBe(true);
    expect(guest.call('setJoined', 'names')).toBe('ada,grace,');
    expect(guest.call('setJoined', 'no-such-set')).toBe('');
  });

  test('max: keeps the largest value, i64 minimum when absent', () => {
    const guest = kitchen();
    expect(guest.call('maxGet', 'm')).toBe(-(2n ** 63n));
    expect(guest.call('maxPut', 'm', 10n)).toBe(10n);
    expect(guest.call('maxPut', 'm', 3n)).toBe(10n);
    expect(guest.call('maxPut', 'm', -(2n ** 63n))).toBe(10n);
    expect(guest.call('maxGet', 'm')).toBe(10n);
  });

  test('a host error fails the call, and the guest stays usable', () => {
    const guest = kitchen();
    guest.call('counterAdd', 'typed', 1n);
    expect(() => guest.call('getOr', 'typed', 'x')).toThrow(/holds a counter|get on a counter/);
    expect(guest.call('counterGet', 'typed')).toBe(1n);
  });

  test('log: one message per level, UTF-8', () => {
    const guest = kitchen();
    guest.call('logAll', 'héllo');
    expect(guest.logs).toEqual([LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR].map(level => ({ level, message: 'héllo' })));
  });

  test('now: the host clock; sleepMs busy-waits on it', () => {
    let t = 1_000;
    const guest = kitchen(() => (t += 5));
    expect(guest.call('nowMs')).toBe(1_005);
    expect(guest.call('sleepMs', 50)).toBeGreaterThanOrEqual(50);
  });

  test('env: Math.random is seeded by the host, trace reaches it', () => {
    const guest = kitchen();
    const r = guest.call('random') as number;
    expect(r).toBeGreaterThanOrEqual(0);
    expect(r).toBeLessThan(1);
    guest.call('traceTwo', 'point', 1.5, -2);
    expect(guest.traces).toEqual([{ message: 'point', values: [1.5, -2] }]);
  });

  test('values: every supported type crosses the boundary as asc\'s glue would pass it', () => {
    const guest = kitchen();
    expect(guest.call('echoI8', -128)).toBe(-128);
    expect(guest.call('echoU8', 255)).toBe(255);
    expect(guest.call('echoI16', -32768)).toBe(-32768);
    expect(guest.call('echoU16', 65535)).toBe(65535);
    expect(guest.call('addI32', 2 ** 31 - 1, 1)).toBe(-(2 ** 31));
    expect(guest.call('echoU32', 2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(guest.call('echoI64', -(2n ** 63n))).toBe(-(2n ** 63n));
    expect(guest.call('echoU64', 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(guest.call('echoUsize', 2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(guest.call('echoF32', 1.5)).toBe(1.5);
    expect(guest.call('echoF64', Math.PI)).toBe(Math.PI);
    expect(guest.call('notBool', false)).toBe(true);
    expect(guest.call('noop')).toBeUndefined();
    expect(guest.call('echoString', 'a🎉')).toBe('a🎉');
    expect(guest.call('stringLength', 'a🎉')).toBe(3);
    expect(guest.call('concat', 'ab', 'cd')).toBe('abcd');
    expect(guest.call('echoBytes', new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    expect(guest.call('echoInt8Array', new Int8Array([-1, 2]))).toEqual(new Int8Array([-1, 2]));
    expect(guest.call('echoUint8ClampedArray', new Uint8ClampedArray([255]))).toEqual(new Uint8ClampedArray([255]));
    expect(guest.call('echoInt16Array', new Int16Array([-300]))).toEqual(new Int16Array([-300]));
    expect(guest.call('echoUint16Array', new Uint16Array([65535]))).toEqual(new Uint16Array([65535]));
    expect(guest.call('echoUint32Array', new Uint32Array([2 ** 32 - 1]))).toEqual(new Uint32Array([2 ** 32 - 1]));
    expect(guest.call('echoInt64Array', new BigInt64Array([-5n]))).toEqual(new BigInt64Array([-5n]));
    expect(guest.call('echoUint64Array', new BigUint64Array([2n ** 64n - 1n]))).toEqual(new BigUint64Array([2n ** 64n - 1n]));
    expect(guest.call('echoFloat32Array', new Float32Array([0.5]))).toEqual(new Float32Array([0.5]));
    expect(guest.call('sumInt32', new Int32Array([2 ** 31 - 1, 2 ** 31 - 1, -1]))).toBe(2n ** 32n - 3n);
    expect(guest.call('scaleF64', new Float64Array([1, -2.5]), 2)).toEqual(new Float64Array([2, -5]));
  });

  test('examples: math, counter and arrays do what their comments say', () => {
    const load = (name: string): ReferenceGuest => ReferenceGuest.load(readFileSync(guestPath(name)));
    const math = load('math');
    expect(math.call('increment', 41n)).toBe(42n);
    expect(math.call('square', -12n)).toBe(144n);
    const counter = load('counter');
    expect(counter.call('incr', 'hits', 2n)).toBe(2n);
    expect(counter.call('incr', 'hits', 3n)).toBe(5n);
    expect(counter.call('get', 'hits')).toBe(5n);
    expect(counter.call('get', 'misses')).toBe(0n);
    expect(load('arrays').call('sum', new Float64Array([1.5, 2, 3.25]))).toBe(6.75);
    expect(load('arrays').call('sum', new Float64Array([]))).toBe(0);
  });
});
