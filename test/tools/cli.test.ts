import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, keyPath } from '../../kvs/index.ts';
import { existingDataDirSecret } from '../../tools/cli/cluster-secret.ts';
import { signedFetch } from '../helpers/cluster-secret.ts';
import { freePort, guestBytes, runCli, startUpProcess, tempDir, hostFetch } from '../helpers/platform.ts';

const USER_FN = `import { counter } from "cloudburst";

export function twice(x: i32): i32 { return x * 2; }
export function bump(key: string): i64 { return counter.add(key, 1); }
`;

describe('cli: the tour of the README against `cloudburst up`', () => {
  let dir: string;
  let url: string;
  let up: { child: ChildProcess; output: () => string };

  beforeAll(async () => {
    dir = await tempDir('cb-cli-');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // As a user does: `up` keeps its data (and the admin token) in ./.cloudburst, and the CLI,
    // run in the same folder, finds the token there with no extra step.
    up = await startUpProcess(['--port', String(port)], { cwd: dir });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli([...args, '--url', url], {}, dir);

  it('up: deploys the examples and says how to call one', () => {
    expect(up.output()).toContain('deployed: arrays.sum, arrays.sum10, counter.get, counter.incr, gossip.gather, gossip.gossip, math.increment, math.square, retwis.follow, retwis.post, retwis.reply, retwis.timeline');
    expect(up.output()).toContain('npx cloudburst fn call math.square 7');
  });

  it('fn list and fn call', async () => {
    const list = await cli('fn', 'list');
    expect(list.stdout).toContain('math.square(x: i64): i64');
    expect((await cli('fn', 'call', 'math.square', '7')).stdout.trim()).toBe('49');
    expect((await cli('fn', 'call', 'counter.incr', 'hits', '5')).stdout.trim()).toBe('5');
    expect((await cli('fn', 'call', 'counter.incr', 'hits', '5')).stdout.trim()).toBe('10');
  });

  it('fn call --async prints a future id; future get --wait prints its result', async () => {
    const id = (await cli('fn', 'call', 'math.square', '7', '--async')).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect((await cli('future', 'get', id, '--wait', '5s')).stdout.trim()).toBe('49');
    expect((await cli('fn', 'call', 'math.increment', '--future', id)).stdout.trim()).toBe('50');
  });

  it('kv put and get, and a call with --ref', async () => {
    expect((await cli('kv', 'put', 'greeting', 'hello')).code).toBe(0);
    expect((await cli('kv', 'get', 'greeting')).stdout.trim()).toBe('hello');
    await cli('kv', 'put', 'n', '3', '--type', 'counter');
    expect((await cli('kv', 'get', 'n')).stdout.trim()).toBe('3');
    const floats = Float64Array.from([0.5, 1.5, 2]);
    await hostFetch(`${url}/v1/kv/floats`, { method: 'PUT', body: new Uint8Array(floats.buffer) });
    expect((await cli('fn', 'call', 'arrays.sum', '--ref', 'floats')).stdout.trim()).toBe('4');
  });

  it('build and deploy a user function from a .ts file', async () => {
    const src = join(dir, 'my-fn.ts');
    await writeFile(src, USER_FN);
    // `build` talks to no host: it takes no --url (the CLI refuses flags a command does not take).
    const built = await runCli(['build', src, '-o', join(dir, 'my-fn.wasm')], {}, dir);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/built .*my-fn\.wasm/);
    const deployed = await cli('fn', 'deploy', src, '--name', 'mine');
    expect(deployed.stdout).toContain('mine.twice(x: i32): i32');
    expect((await cli('fn', 'call', 'mine.twice', '21')).stdout.trim()).toBe('42');
    const wasmDeploy = await cli('fn', 'deploy', join(dir, 'my-fn.wasm'), '--name', 'mine2', '--json');
    expect(JSON.parse(wasmDeploy.stdout)).toMatchObject({ module: 'mine2' });
  });

  it('errors: print the code and exit 1 for the user\'s mistakes, 2 when the host is down', async () => {
    const unknown = await cli('fn', 'call', 'nope.nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('UNKNOWN_FUNCTION');
    const badBuild = join(dir, 'broken.ts');
    await writeFile(badBuild, 'export function f(): i32 { return "no"; }\n');
    const failed = await runCli(['build', badBuild], {}, dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('BUILD_FAILED');
    const down = await runCli(['fn', 'list', '--url', 'http://127.0.0.1:1']);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('HOST_UNAVAILABLE');
  });

  it('access: the embedded admin token (0600) needs no step; tenants and tokens; a token is printed once and works by CLOUDBURST_TOKEN until revoked', async () => {
    const tokenFile = join(dir, '.cloudburst', 'admin-token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const admin = (await readFile(tokenFile, 'utf8')).trim();
    expect(up.output()).not.toContain(admin);
    const tenant = await cli('tenant', 'create', 'acme');
    expect([tenant.code, tenant.stdout.trim()]).toEqual([0, 'created tenant acme']);
    expect((await cli('tenant', 'list')).stdout).toMatch(/^acme .*\ndefault/m);
    const created = await cli('token', 'create', '--tenant', 'default', '--scope', 'deploy,invoke,state', '--name', 'ci', '--expires', '30d');
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^cb_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).not.toContain(token);
    const list = await cli('token', 'list');
    expect(list.stdout).toMatch(/^ci +default +deploy,invoke,state +active +expires /m);
    expect(list.stdout).not.toContain(token);
    // The user's token, from the environment, from a folder where no admin token is.
    const elsewhere = await tempDir('cb-cli-user-');
    const asCi = (...args: string[]) => runCli([...args, '--url', url], { CLOUDBURST_TOKEN: token }, elsewhere);
    const src = join(elsewhere, 'mine.ts');
    await writeFile(src, USER_FN);
    expect((await asCi('fn', 'deploy', src, '--name', 'cimod')).code).toBe(0);
    expect((await asCi('fn', 'call', 'cimod.twice', '4')).stdout.trim()).toBe('8');
    const refused = await asCi('tenant', 'list');
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining('FORBIDDEN')]);
    expect((await runCli(['fn', 'list', '--url', url], {}, elsewhere)).stderr).toContain('UNAUTHENTICATED');
    // login keeps the token per URL in the config file (0600), and the CLI uses it.
    const config = join(elsewhere, 'config');
    expect((await runCli(['login', '--url', url, '--token', token], { XDG_CONFIG_HOME: config }, elsewhere)).code).toBe(0);
    expect((await stat(join(config, 'cloudburst', 'config.json'))).mode & 0o777).toBe(0o600);
    expect((await runCli(['fn', 'call', 'cimod.twice', '5', '--url', url], { XDG_CONFIG_HOME: config }, elsewhere)).stdout.trim()).toBe('10');
    expect((await cli('token', 'revoke', 'ci')).stdout.trim()).toBe('revoked token ci');
    const after = await asCi('fn', 'call', 'cimod.twice', '4');
    expect([after.code, after.stderr]).toEqual([1, expect.stringContaining('UNAUTHENTICATED')]);
    await rm(elsewhere, { recursive: true, force: true });
  });

  it('up: stops cleanly on Ctrl-C (SIGINT) with exit code 0', async () => {
    const exited = new Promise<number | null>((resolve) => up.child.once('exit', resolve));
    up.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(up.output()).toContain('stopping...');
  });
});

describe('cli: `cloudburst up` deploys the examples, never over a module of the user\'s', () => {
  it('a fresh data folder gets every example; a module the user deployed as `math` survives restarts', async () => {
    const dir = await tempDir('cb-examples-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = ['--data', join(dir, 'data'), '--port', String(port)];
    const stop = async (up: { child: ChildProcess }): Promise<void> => {
      const exited = new Promise((resolve) => up.child.once('exit', resolve));
      up.child.kill('SIGINT');
      await exited;
    };
    const module = async (name: string) => (await hostFetch(`${url}/v1/modules/${name}`)).json() as Promise<{ sha256: string; functions: { name: string }[] }>;
    try {
      let up = await startUpProcess(args);
      try {
        expect(up.output()).toContain('deployed: arrays.sum, arrays.sum10, counter.get, counter.incr, gossip.gather, gossip.gossip, math.increment, math.square, retwis.follow');
        // The user's own module under an example's name.
        const res = await hostFetch(`${url}/v1/modules/math`, { method: 'PUT', body: new Uint8Array(guestBytes('chain')) });
        expect(res.status).toBe(200);
      } finally {
        await stop(up);
      }
      const mine = createHash('sha256').update(guestBytes('chain')).digest('hex');
      up = await startUpProcess(args);
      try {
        const math = await module('math');
        expect(math.sha256).toBe(mine);
        expect(math.functions.map((f) => f.name)).toContain('math.sink');
        expect(math.functions.map((f) => f.name)).not.toContain('math.square');
        expect(up.output()).toContain('keeping module math');
        // The other examples are there as before.
        expect(up.output()).toContain('deployed: arrays.sum, arrays.sum10, counter.get, counter.incr, gossip.gather, gossip.gossip, retwis.follow');
        expect((await (await hostFetch(`${url}/v1/functions/counter.incr/call`, { method: 'POST', body: JSON.stringify({ args: ['k', 2] }) })).json())).toEqual({ result: 2 });
      } finally {
        await stop(up);
      }
      // Deleted, the example comes back at the next start.
      up = await startUpProcess(args);
      try {
        expect((await hostFetch(`${url}/v1/modules/math`, { method: 'DELETE' })).status).toBe(200);
      } finally {
        await stop(up);
      }
      up = await startUpProcess(args);
      try {
        expect((await module('math')).functions.map((f) => f.name)).toEqual(['math.increment', 'math.square']);
        expect(up.output()).not.toContain('keeping module');
      } finally {
        await stop(up);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('cli: kill -9', () => {
  it('loses no acknowledged counter increment, and flushes the outbox after restart', async () => {
    const dir = await tempDir('cb-kill-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = ['--data', join(dir, 'data'), '--port', String(port), '--no-examples'];
    try {
      let up = await startUpProcess(args);
      const deploy = await hostFetch(`${url}/v1/modules/counter`, { method: 'PUT', body: new Uint8Array(guestBytes('counter')) });
      expect(deploy.status).toBe(200);
      let total = 0;
      for (let i = 1; i <= 20; i++) {
        const res = await hostFetch(`${url}/v1/functions/counter.incr/call`, { method: 'POST', body: JSON.stringify({ args: ['survivor', i] }) });
        total += i;
        expect(await res.json()).toEqual({ result: total });
      }
      // Right after the last acknowledged call: no clean shutdown, no flush.
      up.child.kill('SIGKILL');
      await new Promise((resolve) => up.child.once('exit', resolve));

      up = await startUpProcess(args);
      try {
        const res = await hostFetch(`${url}/v1/functions/counter.get/call`, { method: 'POST', body: JSON.stringify({ args: ['survivor'] }) });
        expect(await res.json()).toEqual({ result: total });
        // The KV node itself has every increment once the restarted host flushed its outbox.
        const kvUrl = /KV node (http:\/\/[\d.:]+)/.exec(up.output())![1]!;
        // `cloudburst up` keeps the cluster secret in its data folder; the node wants it.
        const secret = existingDataDirSecret(join(dir, 'data'))!;
        await expect.poll(async () => {
          const r = await signedFetch(secret, kvUrl, keyPath('default/k/survivor'));
          if (r.status !== 200) return undefined;
          const v = decode(new Uint8Array(await r.arrayBuffer()));
          return v.type === 'counter' ? [...v.entries.values()].reduce((a, e) => a + e.p - e.n, 0n) : undefined;
        }, { timeout: 10_000 }).toBe(BigInt(total));
      } finally {
        up.child.kill('SIGINT');
        await new Promise((resolve) => up.child.once('exit', resolve));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
