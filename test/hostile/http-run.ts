/**
 * One property of the HTTP suite: cases (with a credential each) sent to a server, each
 * refused as documented; the server still answering afterwards.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Case, CaseArb } from './cases.ts';
import type { Credential } from './credentials.ts';
import { fuzzParams } from './fuzz.ts';
import { checkRefusal, type Sender } from './send.ts';

/**
 * Runs `numRuns` cases of `cases`, each with a credential of `creds` (which may depend on the
 * case's route); resolves with how many each route got.
 */
export async function runCases(sender: Sender, cases: CaseArb, creds: fc.Arbitrary<Credential> | ((c: Case) => fc.Arbitrary<Credential>), numRuns: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const credFor = typeof creds === 'function' ? creds : () => creds;
  const pairs = cases.chain((c) => credFor(c).map((cred) => [c, cred] as const));
  await fc.assert(fc.asyncProperty(pairs, async ([c, cred]) => {
    seen.set(c.route, (seen.get(c.route) ?? 0) + 1);
    const started = performance.now();
    const answer = await sender.send(c, cred);
    checkRefusal(c, cred, answer, performance.now() - started);
  }), fuzzParams(numRuns));
  return seen;
}

/** Equal chances per route (a route's own cases and its wrong methods, see forRoute). */
export function perRoute(arbs: CaseArb[]): CaseArb {
  expect(arbs.length).toBeGreaterThan(0);
  return fc.oneof(...arbs);
}
