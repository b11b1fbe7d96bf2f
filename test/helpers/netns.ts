/**
 * Machines on one machine: every "machine" is a network namespace with its own IP address,
 * the way every pod of a Kubernetes cluster has its own (test/README.md, "Machines on one
 * machine"). One bridge in the root namespace joins them; each machine is a veth pair with one
 * end on the bridge and the other (`eth0`) in its namespace, in a private /24 of 10.213.0.0/16
 * picked at random per network (the bridge is .1, machine i is .(i + 2)). The test code stays in
 * the root namespace and reaches every machine by its address through the bridge; a process
 * started with `spawn` (or with the `prefix` argv, for launchers that spawn themselves) runs in
 * its machine's namespace, where it may listen on 0.0.0.0 and the same port as every other
 * machine. `linkDown` cuts a machine's cable (the host end of its veth) without stopping it.
 *
 * Needs root and iproute2's `ip`: `canMakeNamespaces()` says why not where it cannot, for a
 * `describe.skipIf` with a printed reason. Names carry a random tag (and the namespaces the
 * owner's pid), so parallel runs never meet; `teardown` removes the namespaces, the veths and
 * the bridge, and so does an exit handler when a file fails before its afterAll. What a killed
 * test process left behind (its pid gone) is swept by the next network made.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Machine {
  /** The test's name for it (`kv1`, `host2`, ...). */
  readonly name: string;
  /** Its network namespace (`ip netns`). */
  readonly ns: string;
  /** Its address, reachable from the root namespace and from every other machine. */
  readonly ip: string;
  /** The end of its veth pair on the bridge, in the root namespace: what linkDown sets down. */
  readonly cable: string;
}

export interface Network {
  /** `10.213.X.0/24`. */
  readonly subnet: string;
  /** The bridge's address in the root namespace (every machine's default route). */
  readonly gateway: string;
  readonly bridge: string;
  readonly machines: readonly Machine[];
  machine(name: string): Machine;
  /** The argv prefix that runs a command in the machine's namespace (`ip netns exec NS`). */
  prefix(machine: Machine | string): string[];
  /**
   * Starts `command args` in the machine's namespace. `ip netns exec` execs the command, so the
   * child's pid is the command's own (signals reach it). Killed by teardown if still running.
   */
  spawn(machine: Machine | string, command: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Cuts the machine's link (its cable's end on the bridge goes down); its processes run on. */
  linkDown(machine: Machine | string): void;
  linkUp(machine: Machine | string): void;
  /** Stops what runs in the namespaces (SIGKILL after `graceMs` of SIGTERM), removes everything. */
  teardown(graceMs?: number): Promise<void>;
}

/** Owner-tagged names: `cbnet-<pid>-<tag>-<i>` (namespaces have no length limit, interfaces 15). */
const NS_PREFIX = 'cbnet-';
/** The alias every bridge of ours carries, with its owner's pid, for the sweep. */
const ALIAS_PREFIX = 'cloudburst-test-network pid=';
const SUBNET_BASE = '10.213';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ip` that may fail (the thing is already gone): for teardown and sweeps. */
function ipQuiet(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // gone already, or never made
  }
}

let probed: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Whether this process can make namespaces, veths and bridges: root, `ip` present, and the
 * kernel lets it (a container without CAP_SYS_ADMIN or CAP_NET_ADMIN does not). Tried once,
 * for real, with a namespace and a bridge that are removed at once.
 */
export function canMakeNamespaces(): { ok: true } | { ok: false; reason: string } {
  if (probed) return probed;
  probed = probe();
  return probed;
}

function probe(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces are Linux only (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'making network namespaces needs root (run the tests as root, as CI does)' };
  try {
    ip('-V');
  } catch {
    return { ok: false, reason: 'no `ip` command (install iproute2)' };
  }
  const tag = randomBytes(3).toString('hex');
  const ns = `${NS_PREFIX}${process.pid}-${tag}-probe`;
  const br = `cbp${tag}`;
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', 'name', br, 'type', 'bridge');
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot make a network namespace and a bridge here: ${((err as { stderr?: string }).stderr ?? String(err)).trim()}` };
  } finally {
    ipQuiet('link', 'del', br);
    ipQuiet('netns', 'del', ns);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs every process still in namespace `ns`. */
function killIn(ns: string, signal: NodeJS.Signals = 'SIGKILL'): number[] {
  let pids: number[] = [];
  try {
    pids = ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Removes what test processes that are gone (killed before their teardown) left behind. */
function sweepOrphans(): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const owner = /^cbnet-(\d+)-/.exec(ns);
    if (!owner || alive(Number(owner[1]))) continue;
    killIn(ns);
    ipQuiet('netns', 'del', ns);
  }
  for (const line of ip('-o', '-d', 'link', 'show', 'type', 'bridge').split('\n')) {
    const m = /^\d+: ([^:@]+)[:@].* alias cloudburst-test-network pid=(\d+)/.exec(line);
    if (m && !alive(Number(m[2]))) ipQuiet('link', 'del', m[1]!);
  }
}

/**
 * Gives `bridge` the .1 of a /24 of 10.213.0.0/16 that no other interface of the root
 * namespace uses, and returns the /24's prefix (`10.213.X`). Claimed, then checked: two runs
 * that picked the same /24 at the same moment both see the other's address, and both pick again.
 */
function claimSubnet(bridge: string): string {
  const users = (net: string): string[] => ip('-4', '-o', 'addr', 'show').split('\n').filter((l) => l.includes(` ${net}.`)).map((l) => l.split(/\s+/)[1]!);
  for (let attempt = 0; attempt < 64; attempt++) {
    const net = `${SUBNET_BASE}.${Math.floor(Math.random() * 256)}`;
    if (users(net).length > 0 || ip('-4', 'route', 'show').includes(`${net}.`)) continue;
    ip('addr', 'add', `${net}.1/24`, 'dev', bridge);
    if (users(net).every((dev) => dev === bridge)) return net;
    ip('addr', 'del', `${net}.1/24`, 'dev', bridge);
  }
  throw new Error(`no free /24 in ${SUBNET_BASE}.0.0/16`);
}

/**
 * Makes a bridge and one namespace per name, each with `lo` up and `eth0` at its own address.
 * Call `teardown` in an afterAll; an exit handler does it too if the process ends first.
 */
export function makeNetwork(names: readonly string[]): Network {
  const can = canMakeNamespaces();
  if (!can.ok) throw new Error(can.reason);
  if (names.length === 0 || names.length > 250) throw new Error('a network has 1 to 250 machines');
  if (new Set(names).size !== names.length) throw new Error('machine names must differ');
  sweepOrphans();
  const tag = randomBytes(3).toString('hex');
  const bridge = `cbr${tag}`;
  let net = '';
  /** Made once the bridge has its /24; what exists of them is removed by destroy. */
  let machines: Machine[] = [];
  const children = new Set<ChildProcess>();
  let removed = false;

  /** Everything gone, synchronously (the exit handler cannot wait). */
  const destroy = (): void => {
    if (removed) return;
    removed = true;
    process.off('exit', destroy);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const m of machines) {
      killIn(m.ns);
      ipQuiet('link', 'del', m.cable);
      ipQuiet('netns', 'del', m.ns);
    }
    ipQuiet('link', 'del', bridge);
  };
  process.on('exit', destroy);

  try {
    ip('link', 'add', 'name', bridge, 'type', 'bridge');
    ip('link', 'set', 'dev', bridge, 'alias', `${ALIAS_PREFIX}${process.pid}`);
    // Bridged frames skip iptables (br_netfilter, when loaded, would pass them through the
    // root namespace's rules): this bridge is a cable between test machines, not a firewall.
    ipQuiet('link', 'set', 'dev', bridge, 'type', 'bridge', 'nf_call_iptables', '0', 'nf_call_ip6tables', '0', 'nf_call_arptables', '0');
    net = claimSubnet(bridge);
    ip('link', 'set', 'dev', bridge, 'up');
    machines = names.map((name, i) => ({ name, ns: `${NS_PREFIX}${process.pid}-${tag}-${i}`, ip: `${net}.${i + 2}`, cable: `cbv${tag}${i}` }));
    for (const m of machines) {
      ip('netns', 'add', m.ns);
      ip('link', 'add', 'name', m.cable, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.ns);
      ip('link', 'set', 'dev', m.cable, 'master', bridge, 'up');
      ip('-n', m.ns, 'link', 'set', 'dev', 'lo', 'up');
      ip('-n', m.ns, 'addr', 'add', `${m.ip}/24`, 'dev', 'eth0');
      ip('-n', m.ns, 'link', 'set', 'dev', 'eth0', 'up');
      ip('-n', m.ns, 'route', 'add', 'default', 'via', `${net}.1`);
    }
  } catch (err) {
    destroy();
    throw err;
  }

  const find = (m: Machine | string): Machine => {
    const found = typeof m === 'string' ? machines.find((x) => x.name === m) : m;
    if (!found) throw new Error(`no machine ${String(m)} in this network`);
    return found;
  };

  return {
    subnet: `${net}.0/24`,
    gateway: `${net}.1`,
    bridge,
    machines,
    machine: find,
    prefix: (m) => ['ip', 'netns', 'exec', find(m).ns],
    spawn(m, command, args, opts = {}) {
      const child = spawn('ip', ['netns', 'exec', find(m).ns, command, ...args], opts);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    linkDown: (m) => void ip('link', 'set', 'dev', find(m).cable, 'down'),
    linkUp: (m) => void ip('link', 'set', 'dev', find(m).cable, 'up'),
    async teardown(graceMs = 5000) {
      if (removed) return;
      // Links up, so that a process stopping gracefully can say goodbye to its peers.
      for (const m of machines) ipQuiet('link', 'set', 'dev', m.cable, 'up');
      const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
      await Promise.all(running.map((c) => new Promise<void>((done) => {
        const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
        c.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        c.kill('SIGTERM');
      })));
      destroy();
    },
  };
}
