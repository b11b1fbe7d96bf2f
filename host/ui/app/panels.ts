/**
 * The panels of the page, each drawn whole from the latest overview and the history (a poll
 * every 2 s; the tables are small). Every value from the platform is text (dom.ts).
 */
import { bar, h, type Child } from './dom.ts';
import * as f from './format.ts';
import type { History } from './history.ts';
import { sparkline } from './sparkline.ts';
import type { Overview } from '../overview.ts';

const empty = (text: string): HTMLElement => h('p', { class: 'empty' }, text);

function table(head: (string | [string, string])[], rows: HTMLTableRowElement[]): HTMLTableElement {
  return h('table', {},
    h('thead', {}, h('tr', {}, ...head.map((c) => (typeof c === 'string' ? h('th', {}, c) : h('th', { class: c[1] }, c[0]))))),
    h('tbody', {}, ...rows));
}

function stat(label: string, value: Child, note?: Child, testid?: string): HTMLElement {
  return h('div', { class: 'card', 'data-stat': testid }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value), note === undefined ? null : h('div', { class: 'card-note' }, note));
}

function last<T>(xs: T[]): T | undefined {
  return xs[xs.length - 1];
}

/** The row of figures at the top. */
export function summary(o: Overview, history: History): HTMLElement[] {
  const calls = o.functions.reduce((n, fn) => n + fn.calls, 0);
  const errors = o.functions.reduce((n, fn) => n + fn.errors, 0);
  const rates = history.totalRate();
  const kvNodes = 'nodes' in o.kv ? o.kv.nodes : [];
  const kvReady = kvNodes.filter((n) => n.ready === 'ready' && !n.down).length;
  return [
    stat('Hosts', f.count(o.hosts.length), `this one: ${o.host.id}`, 'hosts'),
    stat('KV nodes', 'nodes' in o.kv ? `${kvReady} / ${kvNodes.length}` : '?', 'nodes' in o.kv ? `ready · replication ${o.kv.replication}` : 'ring unreadable', 'kv'),
    stat('Calls', f.count(calls), h('span', {}, f.rate(last(rates) ?? null), ' ', sparkline([rates], { width: 90, height: 18, slots: 60, area: true, classes: ['rate'], title: 'calls per second' })), 'calls'),
    stat('Errors', f.count(errors), calls > 0 ? `${f.percent(errors / calls)} of calls` : 'no calls yet', 'errors'),
    stat('Cache', f.bytes(o.cache.bytes), `${f.percent(o.cache.maxBytes > 0 ? o.cache.bytes / o.cache.maxBytes : null)} of ${f.bytes(o.cache.maxBytes)} · ${f.count(o.cache.keys)} keys`, 'cache'),
    stat('Outbox', f.count(o.cache.outbox), 'writes not yet in the KV tier', 'outbox'),
  ];
}

/** Functions: counts since the host started, and what happened in each poll interval. */
export function functions(o: Overview, history: History): HTMLElement {
  if (o.functions.length === 0) return empty(`No functions deployed in tenant ${o.tenant}. Deploy one: cloudburst fn deploy my-fn.ts --name mine`);
  const rows = o.functions.map((fn) => {
    const s = history.functionSeries(fn.name);
    const codes = Object.entries(fn.codes).map(([code, n]) => h('span', { class: 'code' }, `${code} ${f.count(n)}`));
    return h('tr', { 'data-fn': fn.name },
      h('td', { class: 'name' }, fn.name),
      h('td', { class: 'num', 'data-col': 'calls' }, f.count(fn.calls)),
      h('td', { class: fn.errors > 0 ? 'num bad' : 'num', 'data-col': 'errors' }, f.count(fn.errors)),
      h('td', { class: 'codes' }, ...codes),
      h('td', { class: 'num' }, f.rate(last(s.rate) ?? null)),
      h('td', { class: 'chart' }, sparkline([s.rate, s.errorRate], { slots: 60, classes: ['rate', 'err'], area: true, title: 'calls/s (blue) and errors/s (red), one point per poll' })),
      h('td', { class: 'num', 'data-col': 'p50' }, f.seconds(fn.p50)),
      h('td', { class: 'num', 'data-col': 'p99' }, f.seconds(fn.p99)),
      h('td', { class: 'chart' }, sparkline([s.p50, s.p99], { slots: 60, classes: ['p50', 'p99'], title: 'p50 (green) and p99 (amber) of each poll interval' })),
    );
  });
  return table(['Function', ['Calls', 'num'], ['Errors', 'num'], 'Error codes', ['Rate', 'num'], 'Calls & errors /s', ['p50', 'num'], ['p99', 'num'], 'p50 / p99 over time'], rows);
}

/** Hosts of the cluster (as this host's scheduler sees them) and the KV ring. */
export function cluster(o: Overview): HTMLElement {
  const hosts = table(['Host', 'URL', ['Load', 'num'], ['Queued', 'num'], ['Cached keys', 'num'], 'Record'], o.hosts.map((x) =>
    h('tr', { 'data-host': x.id },
      h('td', { class: 'name' }, h('span', { class: 'dot ok' }), x.id, x.self ? h('span', { class: 'tag' }, 'this host') : null),
      h('td', { class: 'url' }, x.url),
      h('td', { class: 'num load' }, bar(x.utilization, x.utilization > 0.7 ? 'hot' : ''), f.percent(x.utilization)),
      h('td', { class: 'num' }, f.count(x.queued)),
      h('td', { class: 'num', 'data-col': 'keys' }, f.count(x.keys)),
      h('td', { class: 'muted' }, f.ago(x.updatedAt, o.time)),
    )));
  let ring: HTMLElement;
  if ('error' in o.kv) ring = h('p', { class: 'bad' }, `The KV ring could not be read: ${o.kv.error}`);
  else {
    ring = table(['KV node', 'URL', 'State', 'Health', ['Primary of', 'num'], ['Replica of', 'num']], o.kv.nodes.map((n) => {
      const healthy = n.ready === 'ready' && !n.down;
      return h('tr', { 'data-kv': n.id },
        h('td', { class: 'name' }, h('span', { class: `dot ${healthy ? 'ok' : 'bad'}` }), n.id),
        h('td', { class: 'url' }, n.url),
        h('td', {}, n.state),
        h('td', { class: healthy ? 'good' : 'bad', 'data-col': 'health' }, n.down ? `down (${n.ready})` : n.ready),
        h('td', { class: 'num share' }, bar(n.primary), f.percent(n.primary)),
        h('td', { class: 'num' }, f.percent(n.replica)),
      );
    }));
  }
  const ringNote = 'nodes' in o.kv ? h('p', { class: 'muted small' }, `ring ${o.kv.version} · replication ${o.kv.replication} · write quorum ${o.kv.writeQuorum}`) : null;
  return h('div', {}, hosts, h('h3', {}, 'KV tier'), ring, ringNote);
}

/** The cache of this host: size against its budget, hit rate, the outbox, subscriptions and how late their pushes arrive. */
export function cache(o: Overview, history: History): HTMLElement {
  const c = o.cache;
  const hits = history.hitRate();
  const lifetime = c.callKeys > 0 ? Math.max(0, 1 - c.misses / c.callKeys) : null;
  const row = (label: string, value: Child, chart?: Child, testid?: string): HTMLElement =>
    h('div', { class: 'kv-row', 'data-cache': testid }, h('span', { class: 'kv-label' }, label), h('span', { class: 'kv-value' }, value), h('span', { class: 'kv-chart' }, chart ?? null));
  return h('div', {},
    row('Size', h('span', {}, bar(c.maxBytes > 0 ? c.bytes / c.maxBytes : 0, c.bytes > 0.9 * c.maxBytes ? 'hot' : ''), `${f.bytes(c.bytes)} / ${f.bytes(c.maxBytes)}`), null, 'size'),
    row('Keys', f.count(c.keys), `${f.count(c.evicted)} evicted`, 'keys'),
    row('Hit rate', f.percent(last(hits) ?? lifetime), sparkline([hits], { max: 1, slots: 60, classes: ['hit'], area: true, title: 'share of the keys calls used that the cache held, per poll' }), 'hits'),
    row('Outbox', f.count(c.outbox), sparkline([history.gauge((r) => r.cache.outbox)], { slots: 60, classes: ['rate'], area: true, title: 'writes waiting for the KV tier' }), 'outbox'),
    row('Flushed', f.count(c.flushed), c.flushFailures > 0 ? h('span', { class: 'bad' }, `${f.count(c.flushFailures)} failed flushes`) : `${f.count(c.outboxRejected)} refused`, 'flushed'),
    row('Subscriptions', f.count(c.subscribed), c.lapsed > 0 ? h('span', { class: 'bad' }, `${f.count(c.lapsed)} lapsed (not pushed)`) : 'none lapsed', 'subs'),
    row('Pushed changes', f.count(c.pushed), null, 'pushed'),
    row('Push lag', c.pushLag.count > 0 ? `p50 ${f.seconds(c.pushLag.p50)} · p99 ${f.seconds(c.pushLag.p99)}` : 'no push yet',
      c.pushLag.count > 0 ? `${f.count(c.pushLag.count)} pushes` : null, 'lag'),
  );
}

/** The tenant's DAGs, each as its functions and edges. */
export function dags(o: Overview): HTMLElement {
  if (o.dags.length === 0) return empty('No DAGs. Make one: cloudburst dag create NAME --fn a.f --fn a.g --edge a.f:a.g');
  return h('ul', { class: 'dags' }, ...o.dags.map((d) =>
    h('li', { 'data-dag': d.name },
      h('div', { class: 'name' }, d.name, h('span', { class: 'muted' }, ` · ${d.functions.length} functions`)),
      h('div', { class: 'edges' }, ...(d.edges.length === 0 ? [h('span', { class: 'fn' }, d.functions[0] ?? '')] : d.edges.map(([a, b]) => h('span', { class: 'edge' }, h('span', { class: 'fn' }, a), ' → ', h('span', { class: 'fn' }, b))))),
    )));
}
