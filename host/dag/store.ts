import { CloudburstError } from '../../common/index.ts';
import { gset, lww, type Hlc, type Lattice } from '../../kvs/index.ts';
import { SPACES, checkDagName, storageKey } from '../keys.ts';
import type { ReadThroughCache } from '../cache/read-through.ts';
import { topology, type DagSpec, type Topology } from './graph.ts';

const dagsSet = (tenant: string): string => storageKey(tenant, SPACES.system, 'dags');
const dagKey = (tenant: string, name: string): string => storageKey(tenant, SPACES.dag, name);

/**
 * DAG definitions in the KV tier, in their own key space (never among user keys): a JSON
 * record per DAG in an LWW register, and a grow-only set of the names ever registered (a
 * deleted DAG's record is a tombstone), all per tenant. Reads go through the host cache, which
 * the tier keeps fresh; each host keeps the derived topology of the bytes it last read.
 */
export class DagStore {
  readonly #readThrough: ReadThroughCache;
  readonly #hlc: Hlc;
  readonly #memo = new Map<string, { bytes: Uint8Array; topo: Topology }>();

  constructor(readThrough: ReadThroughCache, hlc: Hlc) {
    this.#readThrough = readThrough;
    this.#hlc = hlc;
  }

  /** Stores a checked definition of `tenant`; waits until the KV tier acknowledged it. */
  async put(tenant: string, topo: Topology): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(topo.spec));
    const key = dagKey(tenant, topo.spec.name);
    const writes = new Map<string, Lattice>([
      [key, lww.write(bytes, this.#hlc.now())],
      [dagsSet(tenant), gset.add(undefined, Buffer.from(topo.spec.name))],
    ]);
    await this.#readThrough.writeDurable(writes);
    this.#memo.set(key, { bytes, topo });
  }

  async #read(tenant: string, name: string, fresh: boolean): Promise<Topology | undefined> {
    const key = dagKey(tenant, name);
    const v = await this.#readThrough.read(key, { fresh });
    if (v === undefined || v.type !== 'lww' || v.tombstone) {
      this.#memo.delete(key);
      return undefined;
    }
    const memo = this.#memo.get(key);
    if (memo && Buffer.compare(memo.bytes, v.value) === 0) return memo.topo;
    // Checked at registration; derived again here because the record crossed the network.
    const topo = topology(JSON.parse(Buffer.from(v.value).toString('utf8')) as DagSpec);
    this.#memo.set(key, { bytes: Buffer.from(v.value), topo });
    return topo;
  }

  /** The topology of `tenant`'s DAG; UNKNOWN_DAG when there is none. */
  async get(tenant: string, name: string, opts: { fresh?: boolean } = {}): Promise<Topology> {
    checkDagName(name);
    const topo = await this.#read(tenant, name, opts.fresh ?? false);
    if (!topo) throw new CloudburstError('UNKNOWN_DAG', `no DAG named ${JSON.stringify(name)}`);
    return topo;
  }

  async remove(tenant: string, name: string): Promise<void> {
    await this.get(tenant, name, { fresh: true });
    const key = dagKey(tenant, name);
    await this.#readThrough.writeDurable(new Map([[key, lww.tombstone(this.#hlc.now())]]));
    this.#memo.delete(key);
  }

  async list(tenant: string): Promise<DagSpec[]> {
    const set = dagsSet(tenant);
    const names = await this.#readThrough.read(set, { fresh: true }).catch(() => this.#readThrough.cache.get(set));
    if (names === undefined || names.type !== 'set') return [];
    const out: DagSpec[] = [];
    for (const m of names.members) {
      const topo = await this.#read(tenant, Buffer.from(m).toString('utf8'), false);
      if (topo) out.push(topo.spec);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
