/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, against a real
 * host and KV node. Calls are made (some fail), then the page must show what `/metrics` says,
 * the host and its KV node, and the failed call with its log, as text. Screenshots go to
 * `.screenshots/` (git-ignored); their paths are printed.
 *
 * The one allowed skip: no chromium executable on this machine (`.ci/run` installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantile } from '../../host/ui/histogram.ts';
import { seconds } from '../../host/ui/app/format.ts';
import { ROOT, startPlatform, type Platform } from '../helpers/platform.ts';

const CHROMIUM = process.env['CLOUDBURST_CHROMIUM'] ?? '/usr/bin/chromium';
const HAS_BROWSER = existsSync(CHROMIUM);
if (!HAS_BROWSER) console.log(`test/ui/dashboard.test.ts: skipped, no chromium at ${CHROMIUM} (apt-get install chromium, or set CLOUDBURST_CHROMIUM)`);

const SHOTS = join(ROOT, '.screenshots');
/** What the failing function is given: it logs it and fails with it. */
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">boom';

/** Calls, errors and the latency histogram per function, as `/metrics` has them (the Prometheus text, parsed). */
async function scrape(p: Platform): Promise<Map<string, { calls: number; errors: number; p99: number | undefined }>> {
  const text = (await p.client.request('GET', '/metrics')).body.toString();
  const families = parsePrometheusTextFormat(text);
  const out = new Map<string, { calls: number; errors: number; p99: number | undefined }>();
  for (const s of families.find((f) => f.name === 'cloudburst_calls_total')?.metrics ?? []) {
    const fn = s.labels!['function']!;
    const e = out.get(fn) ?? { calls: 0, errors: 0, p99: undefined };
    e.calls += Number(s.value);
    if (s.labels!['outcome'] === 'error') e.errors += Number(s.value);
    out.set(fn, e);
  }
  // The parser merges a labelled histogram's series: read the buckets from the text itself.
  for (const [fn, e] of out) {
    const bucket = new RegExp(`^cloudburst_call_duration_seconds_bucket\\{le="([^"]+)",function="${fn.replace('.', '\\.')}"\\} (\\S+)$`, 'gm');
    const rows = [...text.matchAll(bucket)].map((m) => ({ le: m[1]!, n: Number(m[2]) }));
    const finite = rows.filter((r) => r.le !== '+Inf');
    const count = rows.find((r) => r.le === '+Inf')?.n ?? 0;
    e.p99 = quantile({ bounds: finite.map((r) => Number(r.le)), cumulative: finite.map((r) => r.n), count, sum: 0 }, 0.99);
  }
  return out;
}

/** What the page's functions table shows. */
async function pageFunctions(page: Page): Promise<Record<string, { calls: string; errors: string; p99: string }>> {
  return page.$$eval('tr[data-fn]', (rows) => Object.fromEntries(rows.map((r) => [
    r.getAttribute('data-fn'),
    { calls: r.querySelector('[data-col=calls]')?.textContent ?? '', errors: r.querySelector('[data-col=errors]')?.textContent ?? '', p99: r.querySelector('[data-col=p99]')?.textContent ?? '' },
  ])));
}

/** The text of the first element `selector` finds (waiting for one). */
function text(page: Page, selector: string): Promise<string> {
  return page.locator(selector).first().textContent().then((t) => t ?? '');
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`dashboard screenshot: ${path}`);
}

describe.skipIf(!HAS_BROWSER)('the dashboard (GET /ui) in a real browser', () => {
  let p: Platform;
  let browser: Browser;
  let context: BrowserContext;
  let readToken: string;

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('dashboard');
    await p.call('dashboard.greet', ['ada']);
    await p.call('dashboard.greet', ['bob']);
    await p.call('dashboard.greet', ['eve']);
    for (let i = 0; i < 4; i++) await p.call('dashboard.bump', ['visits']);
    for (let i = 0; i < 2; i++) {
      const res = await p.client.request('POST', '/v1/functions/dashboard.explode/call', JSON.stringify({ args: [HOSTILE] }));
      expect(res.status).toBe(500);
    }
    await p.client.json('PUT', '/v1/dags/greeting', { functions: ['dashboard.greet', 'dashboard.bump'], edges: [['dashboard.greet', 'dashboard.bump']] });
    readToken = (await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant: 'default', scopes: ['read'], name: 'dashboard' })).token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await p?.stop();
  });

  it('serves the page without a token, under a Content-Security-Policy of its own origin only', async () => {
    const page = await fetch(`${p.host.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await page.text()).not.toMatch(/cb_[A-Za-z0-9_-]{20,}/);
    const script = await fetch(`${p.host.url}/ui/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${p.host.url}/ui/package.json`)).status).toBe(404);
    // Its data is not public: the read scope.
    expect((await fetch(`${p.host.url}/v1/overview`)).status).toBe(401);
    expect((await fetch(`${p.host.url}/v1/overview`, { headers: { authorization: `Bearer ${readToken}` } })).status).toBe(200);
  });

  it('asks for a token, then shows the host, its KV node and the same counts as /metrics', async () => {
    const page = await context.newPage();
    await page.goto(`${p.host.url}/ui`);
    await page.locator('#token-input').waitFor({ state: 'visible' });
    await shot(page, 'dashboard-login');
    await page.fill('#token-input', readToken);
    await page.click('#login-form button[type=submit]');
    await page.locator('tr[data-fn="dashboard.greet"]').waitFor();

    // Calls while the page polls, until its p99 chart has a line through four poll intervals
    // with calls, so that the picture shows charts; bounded in count.
    const drawn = async (): Promise<number> => {
      const lines = await page.$$eval('tr[data-fn="dashboard.greet"] td.chart polyline.p99', (ls) => ls.map((l) => (l.getAttribute('points') ?? '').split(' ').length));
      return Math.max(0, ...lines);
    };
    for (let i = 0; i < 400 && (await drawn()) < 4; i++) {
      await p.call('dashboard.greet', [`visitor ${i}`]);
      await p.call('dashboard.bump', ['visits']);
      if (i % 7 === 0) await p.client.request('POST', '/v1/functions/dashboard.explode/call', JSON.stringify({ args: [HOSTILE] }));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await drawn()).toBeGreaterThanOrEqual(4);

    const metrics = await scrape(p);
    expect(metrics.get('dashboard.greet')?.calls).toBeGreaterThan(3);
    expect(metrics.get('dashboard.explode')?.errors).toBe(metrics.get('dashboard.explode')?.calls);
    // The page polls every 2 s: wait for it to show what /metrics says of each function.
    await expect.poll(async () => pageFunctions(page)).toEqual(Object.fromEntries(
      ['dashboard.bump', 'dashboard.explode', 'dashboard.greet'].map((fn) => {
        const m = metrics.get(fn)!;
        return [fn, { calls: String(m.calls), errors: String(m.errors), p99: seconds(m.p99) }];
      }),
    ));
    expect(await text(page, 'tr[data-fn="dashboard.explode"] .code')).toBe(`GUEST_ABORT ${metrics.get('dashboard.explode')!.errors}`);

    // The cluster: this host, and the KV node, ready, primary of the whole ring.
    expect(await text(page, `tr[data-host="${p.host.id}"]`)).toContain('this host');
    expect(await page.locator('tr[data-kv]').count()).toBe(1);
    expect(await text(page, 'tr[data-kv] [data-col=health]')).toBe('ready');
    expect(await text(page, `tr[data-kv="${p.kv.nodeId}"]`)).toContain('100%');
    // The DAG, and the cache's outbox emptied by the flusher.
    expect(await text(page, 'li[data-dag="greeting"] .edge')).toBe('dashboard.greet → dashboard.bump');
    expect(await text(page, '[data-cache=keys] .kv-value')).not.toBe('0');
    await shot(page, 'dashboard');
    await page.close();
  });

  it('takes a token from #token=, keeps it out of the address bar, and never runs a message as markup', async () => {
    const page = await context.newPage();
    await page.goto(`${p.host.url}/ui#token=${encodeURIComponent(readToken)}`);
    await page.locator('tr[data-fn="dashboard.explode"]').waitFor();
    expect(page.url()).not.toContain(readToken);
    expect(await page.evaluate(() => sessionStorage.getItem('cloudburst-token'))).toBe(readToken);
    // The error message and the log line are the caller's text: shown as text, never run.
    await expect.poll(() => text(page, '#errors li[data-call] .message')).toContain(HOSTILE);
    expect(await text(page, '#errors li[data-call] .log.warn .log-message')).toBe(HOSTILE);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('#errors script, #errors img').count()).toBe(0);
    await shot(page, 'dashboard-errors');
    await page.close();
  });
});
