import { CloudburstError } from '../../common/index.ts';
import { gset, lww, type Hlc, type Lattice } from '../../kvs/index.ts';
import { SPACES, checkDagName, storageKey } from '../keys.ts';
import type { ReadThroughCache } from '../cache/read-through.ts';
import { topology, type DagSpec, type Topology } from './graph.ts';

const DAGS_SET = storageKey(SPACES.system, 'dags');
const dagKey = (name: string): string => storageKey(SPACES.dag, name);

/**
 * DAG definitions in the KV tier, in their own key space (never among user keys): a JSON
 * record per DAG in an LWW register, and a grow-only set of the names ever registered (a
 * deleted DAG's record is a tombstone). Reads go through the host cache, which the tier
 * keeps fresh; each host keeps the derived topology of the bytes it last read.
 */
export class DagStore {
  readonly #readThrough: ReadThroughCache;
  readonly #hlc: Hlc;
  readonly #memo = new Map<string, { bytes: Uint8Array; topo: Topology }>();

  constructor(readThrough: ReadThroughCache, hlc: Hlc) {
    this.#readThrough = readThrough;
    this.#hlc = hlc;
  }

  /** Stores a checked definition; waits until the KV tier acknowledged it. */
  async put(topo: Topology): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(topo.spec));
    const writes = new Map<string, Lattice>([
      [dagKey(topo.spec.name), lww.write(bytes, this.#hlc.now())],
      [DAGS_SET, gset.add(undefined, Buffer.from(topo.spec.name))],
    ]);
    await this.#readThrough.writeDurable(writes);
    this.#memo.set(topo.spec.name, { bytes, topo });
  }

  async #read(name: string, fresh: boolean): Promise<Topology | undefined> {
    const v = await this.#readThrough.read(dagKey(name), { fresh });
    if (v === undefined || v.type !== 'lww' || v.tombstone) {
      this.#memo.delete(name);
      return undefined;
    }
    const memo = this.#memo.get(name);
    if (memo && Buffer.compare(memo.bytes, v.value) === 0) return memo.topo;
    // Checked at registration; derived again here because the record crossed the network.
    const topo = topology(JSON.parse(Buffer.from(v.value).toString('utf8')) as DagSpec);
    this.#memo.set(name, { bytes: Buffer.from(v.value), topo });
    return topo;
  }

  /** The DAG's topology; UNKNOWN_DAG when there is none. */
  async get(name: string, opts: { fresh?: boolean } = {}): Promise<Topology> {
    checkDagName(name);
    const topo = await this.#read(name, opts.fresh ?? false);
    if (!topo) throw new CloudburstError('UNKNOWN_DAG', `no DAG named ${JSON.stringify(name)}`);
    return topo;
  }

  async remove(name: string): Promise<void> {
    await this.get(name, { fresh: true });
    await this.#readThrough.writeDurable(new Map([[dagKey(name), lww.tombstone(this.#hlc.now())]]));
    this.#memo.delete(name);
  }

  async list(): Promise<DagSpec[]> {
    const names = await this.#readThrough.read(DAGS_SET, { fresh: true }).catch(() => this.#readThrough.cache.get(DAGS_SET));
    if (names === undefined || names.type !== 'set') return [];
    const out: DagSpec[] = [];
    for (const m of names.members) {
      const topo = await this.#read(Buffer.from(m).toString('utf8'), false);
      if (topo) out.push(topo.spec);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
