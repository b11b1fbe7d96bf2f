// Which plot module charts which suite's results (the names of bench/main.ts's SUITES and of
// the files they write, .bench/SUITE-TIME.json).
import { autoscalePlot } from './autoscale.ts';
import { consistencyPlot } from './consistency.ts';
import { dagPlot } from './dag.ts';
import { devPlot } from './dev.ts';
import { gossipPlot } from './gossip.ts';
import { hostPlot } from './host.ts';
import { hotpathPlot } from './hotpath.ts';
import { kvsPlot } from './kvs.ts';
import { localityPlot } from './locality.ts';
import { memoryPlot } from './memory.ts';
import type { SuitePlot } from './suite.ts';
import { tenantsPlot } from './tenants.ts';

export const PLOTS: Record<string, SuitePlot> = {
  host: hostPlot, kvs: kvsPlot, locality: localityPlot, dag: dagPlot, gossip: gossipPlot,
  consistency: consistencyPlot, memory: memoryPlot, tenants: tenantsPlot, autoscale: autoscalePlot, hotpath: hotpathPlot, dev: devPlot,
};
