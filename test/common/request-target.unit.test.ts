// The router's plain-target fast path (common/request-target.ts) must split every target
// exactly as parsing it with `new URL` does: same path to match, same query string.
import { describe, expect, it } from 'vitest';
import { splitTarget } from '../../common/request-target.ts';

function byUrl(target: string): { path: string; search: string } {
  const url = new URL(target, 'http://host');
  return { path: `/${url.pathname.split('/').filter(Boolean).join('/')}`, search: url.search };
}

const CASES = [
  '/', '/v1/functions/math.square/call', '/v1/functions/math.square/call?x=1&y=2', '/v1//kv/a/', '/v1/kv/a/?fresh',
  '/v1/kv/a?', '/v1/kv/a?#frag', '/v1/kv/a#frag', '/v1/./kv/../kv/a', '/v1/kv/.hidden', '/v1/kv/a.', '/v1/kv/%2e%2e/x',
  '/v1/kv/%2E./x', '/v1/kv/a%20b', '/v1/kv/a b', '/v1/kv/a\\b', '//evil/x', '///x', '/v1/kv/é', '/v1/kv/a?q=é',
  "/v1/kv/a?q='x'", '/v1/kv/a?q="x"', '/v1/kv/a?b?c', '/v1/kv/a:b@c!$&()*+,;=', '/v1/kv/{x}', '/v1/kv/a|b^c`d',
  '/v1/kv/a\tb', '/v1/kv/a?.', '/v1/kv/a/?/..', '/v1/kv/...', '/v1/kv/..', '/..', '/.', '/a/b/', '/a//b//', '/a?x=/..//',
];

/** The split, or that it throws (`//` followed by something no host can be: the router answers 500 as before). */
function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

describe('splitTarget', () => {
  it('splits the known tricky targets as new URL does', () => {
    for (const t of CASES) expect(outcome(() => splitTarget(t)), t).toEqual(outcome(() => byUrl(t)));
  });

  it('splits random targets as new URL does', () => {
    // Characters chosen to hit every branch: slashes, dots, query and fragment marks, escapes.
    const alphabet = ['/', '/', '/', '.', '.', '?', '#', '%', '2', 'e', 'a', 'Z', '-', '_', '~', ':', '@', '=', '&', '+', ' ', '\\', "'", '"', 'é', '|', '^'];
    let seed = 14;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    for (let i = 0; i < 20000; i++) {
      let t = '/';
      const len = next(14);
      for (let j = 0; j < len; j++) t += alphabet[next(alphabet.length)];
      expect(outcome(() => splitTarget(t)), JSON.stringify(t)).toEqual(outcome(() => byUrl(t)));
    }
  });
});
