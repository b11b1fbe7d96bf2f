import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALLOC_ENV, withMallocTuning } from '../../tools/cli/malloc-env.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const assignments = Object.entries(MALLOC_ENV).map(([k, v]) => `${k}=${v}`);

// Every way the platform starts a server gives glibc the same setting (tools/cli/malloc-env.ts;
// test/hostile/guest-abuse.test.ts shows the memory it gives back, test/cluster/up.test.ts that
// the processes `up` starts get it).
describe('malloc tuning: one setting, everywhere a server starts', () => {
  it("the `cloudburst` command's #! line sets it", () => {
    const shebang = read('tools/bin/cloudburst.js').split('\n')[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S ${assignments.join(' ')} node`);
  });

  it('npm start sets it', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start).toBe(`${assignments.join(' ')} node tools/bin/cloudburst.js up`);
  });

  it('the container image sets it', () => {
    const lines = read('deploy/Dockerfile').split('\n');
    for (const a of assignments) expect(lines).toContain(`ENV ${a}`);
  });

  it('is added to an environment without it, and the given one is not changed', () => {
    const given = { PATH: '/bin' };
    expect(withMallocTuning(given)).toEqual({ PATH: '/bin', ...MALLOC_ENV });
    expect(given).toEqual({ PATH: '/bin' });
  });

  it("a user's own malloc setting wins", () => {
    expect(withMallocTuning({ MALLOC_MMAP_THRESHOLD_: '1048576' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '1048576' });
    const tunables = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=65536' };
    expect(withMallocTuning(tunables)).toEqual(tunables);
    // Tunables of other parts of glibc leave malloc to us.
    expect(withMallocTuning({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' })).toEqual({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0', ...MALLOC_ENV });
  });
});
