import { describe, expect, it } from 'vitest';
import { positionalArgument } from '../../tools/cli/call-args.ts';
import { deploySummary, type DeployAnswer } from '../../tools/cli/deploy-summary.ts';

describe('fn call: positional arguments by parameter type', () => {
  it('64-bit integers outside JSON\'s exact range stay the text typed; inside it, numbers', () => {
    expect(positionalArgument('9007199254740993', 'i64')).toBe('9007199254740993');
    expect(positionalArgument('-9223372036854775808', 'i64')).toBe('-9223372036854775808');
    expect(positionalArgument('18446744073709551615', 'u64')).toBe('18446744073709551615');
    expect(positionalArgument('9007199254740991', 'i64')).toBe(9007199254740991);
    expect(positionalArgument('7', 'u64')).toBe(7);
  });

  it('strings stay text; other types are JSON when they parse, else text', () => {
    expect(positionalArgument('007', 'string')).toBe('007');
    expect(positionalArgument('true', 'bool')).toBe(true);
    expect(positionalArgument('[1,2]', 'Int32Array')).toEqual([1, 2]);
    expect(positionalArgument('hello', 'i32')).toBe('hello'); // the host's INVALID_ARGUMENTS says why
    expect(positionalArgument('9007199254740993', 'f64')).toBe(9007199254740992); // a float: no exactness to keep
  });
});

describe('fn deploy: what a deploy replaced', () => {
  const fn = (name: string, params: [string, string][], result: string) => ({ name, params: params.map(([n, type]) => ({ name: n, type })), result });
  const base: DeployAnswer = { module: 'm', sha256: 'b'.repeat(64), functions: [fn('m.a', [['x', 'i64']], 'i64'), fn('m.c', [], 'void')] };

  it('a first deploy lists the functions only', () => {
    expect(deploySummary(base)).toBe('m.a(x: i64): i64\nm.c(): void');
  });

  it('a deploy over another module: added, removed and changed functions, the old sha and time', () => {
    const out = deploySummary({
      ...base,
      replaced: { sha256: 'a'.repeat(64), deployedAt: '2026-12-04T21:00:00.000Z', functions: [fn('m.a', [['x', 'i32']], 'i32'), fn('m.b', [], 'void')] },
    });
    expect(out.split('\n').at(-1)).toBe('replaced m (sha aaaaaaaaaaaa, deployed 2026-12-04T21:00:00.000Z): added m.c; removed m.b; changed m.a(x: i64): i64 (was (x: i32): i32)');
  });

  it('the same functions with new code, and the same bytes again, are said so', () => {
    const same = { sha256: 'a'.repeat(64), deployedAt: 't', functions: base.functions };
    expect(deploySummary({ ...base, replaced: same })).toMatch(/: the same functions, new code$/);
    expect(deploySummary({ ...base, replaced: { ...same, sha256: base.sha256 } })).toMatch(/: the same bytes, nothing changed$/);
  });
});
