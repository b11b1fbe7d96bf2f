import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloudburstError, ERROR_CODES } from '../common/index.ts';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

function readmeTable(): Map<string, { status: number; fault: string }> {
  const rows = new Map<string, { status: number; fault: string }>();
  for (const m of README.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (caller|system) \|/gm)) {
    rows.set(m[1]!, { status: Number(m[2]), fault: m[3]! });
  }
  return rows;
}

describe('errors: the code table and the README', () => {
  it('every code in common/errors.ts is in the README with its status and fault', () => {
    const table = readmeTable();
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      expect(table.get(code), code).toEqual({ status: def.status, fault: def.userFault ? 'caller' : 'system' });
    }
  });

  it('every code in the README exists in common/errors.ts', () => {
    for (const code of readmeTable().keys()) expect(Object.hasOwn(ERROR_CODES, code), code).toBe(true);
  });

  // As fastify does: adding or removing a code is a change of the public contract, so it must
  // change this line too (and the README table, which the tests above check).
  it('the table holds exactly 48 codes', () => {
    expect(Object.keys(ERROR_CODES)).toHaveLength(48);
  });

  it('every code is UPPER_SNAKE_CASE with an error status, and every system fault is a 5xx', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z]+(_[A-Z]+)*$/);
      expect(def.status, code).toBeGreaterThanOrEqual(400);
      expect(def.status, code).toBeLessThan(600);
      if (!def.userFault) expect(def.status, code).toBeGreaterThanOrEqual(500);
    }
  });

  it('CloudburstError carries the status and a JSON body with its code', () => {
    const err = new CloudburstError('UNKNOWN_FUNCTION', 'no function named x.y');
    expect(err.status).toBe(404);
    expect(err.toJSON()).toEqual({ error: { code: 'UNKNOWN_FUNCTION', message: 'no function named x.y' } });
  });
});
