import { describe, expect, it } from 'vitest';
import { AbsentKeys } from '../../host/cache/absent-keys.ts';

function absent(maxKeys = 3, ttlMs = 1000) {
  let now = 0;
  const forgotten: string[] = [];
  const keys = new AbsentKeys({ maxKeys, ttlMs, now: () => now, onForgotten: (ks) => forgotten.push(...ks) });
  return { keys, forgotten, advance: (ms: number) => (now += ms) };
}

describe('AbsentKeys', () => {
  it('knows a remembered key until ttlMs has passed, then forgets it (and says so)', () => {
    const { keys, forgotten, advance } = absent();
    expect(keys.known('a')).toBe(false);
    keys.remember('a');
    advance(999);
    expect(keys.known('a')).toBe(true);
    expect(keys.hits).toBe(1);
    advance(1);
    expect(keys.known('a')).toBe(false);
    expect(forgotten).toEqual(['a']);
    expect(keys.size).toBe(0);
  });

  it('remembering again restarts the clock and the order', () => {
    const { keys, forgotten, advance } = absent(2);
    keys.remember('a');
    keys.remember('b');
    advance(900);
    keys.remember('a'); // now the newest
    keys.remember('c'); // over 2: the oldest, b, goes
    expect(forgotten).toEqual(['b']);
    advance(500);
    expect(keys.known('a')).toBe(true);
    expect(keys.known('c')).toBe(true);
  });

  it('holds at most maxKeys, dropping the oldest', () => {
    const { keys, forgotten } = absent(3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) keys.remember(k);
    expect(keys.size).toBe(3);
    expect(forgotten).toEqual(['a', 'b']);
    expect(['c', 'd', 'e'].every((k) => keys.known(k))).toBe(true);
  });

  it('forget drops keys at once, without calling onForgotten (the caller decides about subscriptions)', () => {
    const { keys, forgotten } = absent();
    keys.remember('a');
    keys.remember('b');
    keys.forget(['a', 'zzz']);
    expect(keys.known('a')).toBe(false);
    expect(keys.known('b')).toBe(true);
    expect(forgotten).toEqual([]);
  });
});
