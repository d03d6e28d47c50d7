import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, launch, openPage, sleep, startRotor, userToken } from './harness.mjs';
import { startProxy } from './proxies.mjs';

// Every proxy at once, each with its own page and channel, while one
// publisher sends 300 numbered messages at 20/s to every channel, then one
// more after 7.5 s of quiet: rotor-js
// and, where the server alone can make it work, a plain EventSource must
// receive every message once, in order, within a bounded delay. The
// server pings every 2 s (harness).
const scenarios = [
  // The recipes: SSE all the way, prompt.
  { kind: 'nginx', plain: true, fallback: false, maxDelay: 1500 },
  { kind: 'caddy', plain: true, fallback: false, maxDelay: 1500 },
  { kind: 'haproxy', plain: true, fallback: false, maxDelay: 1500 },
  { kind: 'varnish', plain: true, fallback: false, maxDelay: 1500 },
  // Varnish's default VCL holds a first write until the next one: the
  // server's nudge after the opening passes the `sub` on at once.
  { kind: 'varnish-default', plain: true, fallback: false, maxDelay: 1500, subWithin: 1000 },
  // A read timeout just above the ping: the heartbeat's bound keeps the
  // streams open.
  { kind: 'nginx-read-timeout', plain: true, fallback: false, maxDelay: 1500 },
  // Forced buffering on a busy channel: rotor-js sees late pings and
  // falls back to long polling; nothing lost, nothing held for long.
  { kind: 'nginx-buffering', plain: false, fallback: true, maxDelay: 6000, afterFallback: 1500 },
  // The same with SSE tried again every 3 s or so: each try falls back
  // again within seconds, and nothing is lost across the switches.
  { name: 'nginx-buffering-retry', kind: 'nginx-buffering', plain: false, fallback: true, maxDelay: 7000, retries: true, opts: { sseRetryDelay: 3000, maxSseRetryDelay: 3000 } },
].map((s) => ({ name: s.kind, ...s }));

const N = 300;
const INTERVAL = 50;

/** Runs in the page: a rotor-js client and maybe a plain EventSource on ch. */
function startClients({ ch, tok, plain, opts }) {
  const R = { t0: Date.now(), pubs: [], es: [], transport: [], subAt: null, esSubAt: null, esErrors: 0 };
  window.R = R;
  const r = new Rotor(`${location.origin}/connection/p1`, { token: tok, ...opts });
  R.client = r;
  r.on('transport', (c) => R.transport.push({ at: Date.now() - R.t0, transport: c.transport, reason: c.reason }));
  const s = r.subscribe(ch);
  s.on('publication', (p) => R.pubs.push({ n: p.data.n, ts: p.data.ts, at: Date.now() }));
  s.on('subscribed', () => { R.subAt ??= Date.now() - R.t0; });
  r.connect();
  if (plain) {
    const q = new URLSearchParams({ token: tok, channel: ch });
    const es = new EventSource(`/connection/p1/sse?${q}`);
    es.addEventListener('sub', () => { R.esSubAt ??= Date.now() - R.t0; });
    es.addEventListener('pub', (e) => {
      const d = JSON.parse(e.data);
      R.es.push({ n: d.data.n, ts: d.data.ts, at: Date.now() });
    });
    es.onerror = () => { R.esErrors++; };
  }
  return true;
}

/** Numbers, delays (ms) and the time to the first message of received publications. */
function summary(list, from = 0) {
  const after = list.filter((p) => p.ts >= from);
  return {
    numbers: list.map((p) => p.n),
    maxDelay: Math.max(0, ...after.map((p) => p.at - p.ts)),
    firstDelay: list.length ? list[0].at - list[0].ts : null,
  };
}

const range = (n) => Array.from({ length: n }, (_, i) => i + 1);

describe('through proxies, 300 messages at 20/s', () => {
  let srv, browser;
  const proxies = {};

  beforeAll(async () => {
    srv = await startRotor(inject('rotorBin'));
    browser = await launch();
    const kinds = [...new Set(scenarios.map((s) => s.kind))];
    await Promise.all(kinds.map(async (k) => { proxies[k] = await startProxy(k, srv.port); }));
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all(Object.values(proxies).map((p) => p.close()));
    await srv?.close();
  });

  it('every message arrives once, in order, within a bounded delay', async () => {
    const pages = {};
    for (const s of scenarios) {
      const page = await openPage(browser, proxies[s.kind].base);
      pages[s.name] = page;
      await page.evaluate(startClients, { ch: `chat:${s.name}`, tok: userToken(`u-${s.name}`), plain: s.plain, opts: s.opts ?? {} });
    }
    // Publish as soon as every client's subscribe has answered: on a busy
    // channel from the stream's first moment.
    for (const s of scenarios) {
      await pages[s.name].waitForFunction(() => R.client.getSubscription([...R.client.subscriptions().keys()][0]).position, null, { timeout: 15_000, polling: 50 });
    }
    // A plain EventSource's `sub` on a still quiet channel: no publication
    // pushes it through a proxy that holds the first write.
    for (const s of scenarios.filter((s) => s.plain)) {
      await pages[s.name].waitForFunction(() => R.esSubAt !== null, null, { timeout: 5_000, polling: 20 }).catch(() => {});
    }
    const start = Date.now();
    for (let i = 1; i <= N; i++) {
      const ts = Date.now();
      await Promise.all(scenarios.map((s) => api(srv.base, 'publish', { channel: `chat:${s.name}`, data: { n: i, ts } })));
      await sleep(Math.max(0, start + i * INTERVAL - Date.now()));
    }
    // Then quiet for three read timeouts of nginx-read-timeout, and one
    // more: a stream cut meanwhile, or a last block held, shows now.
    await sleep(7500);
    const ts = Date.now();
    await Promise.all(scenarios.map((s) => api(srv.base, 'publish', { channel: `chat:${s.name}`, data: { n: N + 1, ts } })));
    const figures = [];
    const failures = [];
    for (const s of scenarios) {
      const page = pages[s.name];
      await page.waitForFunction(([n, plain]) => R.pubs.length >= n && (!plain || R.es.length >= n), [N + 1, s.plain], { timeout: 20_000, polling: 100 })
        .catch(() => {});
      await sleep(100); // a duplicate would arrive now
      const R = await page.evaluate(() => ({ ...window.R, client: undefined }));
      const fell = R.transport.find((t) => t.transport === 'poll');
      const js = summary(R.pubs);
      const fig = {
        proxy: s.name,
        'js first msg ms': js.firstDelay,
        'js max delay ms': js.maxDelay,
        'js fallback at ms': fell ? fell.at : '-',
        'js delay after fallback ms': fell ? summary(R.pubs, R.t0 + fell.at + 1000).maxDelay : '-',
        'ES sub at ms': s.plain ? R.esSubAt : '-',
        'ES max delay ms': s.plain ? summary(R.es).maxDelay : '-',
      };
      figures.push(fig);
      const check = (ok, what) => { if (!ok) failures.push(`${s.name}: ${what}`); };
      check(JSON.stringify(js.numbers) === JSON.stringify(range(N + 1)), `rotor-js got ${js.numbers.length} messages, not 1..${N + 1} in order`);
      check(js.maxDelay <= s.maxDelay, `rotor-js max delay ${js.maxDelay} ms > ${s.maxDelay}`);
      check(!!fell === s.fallback, `rotor-js transport events ${JSON.stringify(R.transport)}, want a fallback: ${s.fallback}`);
      if (s.retries) {
        const count = (t) => R.transport.filter((e) => e.transport === t).length;
        check(count('sse') >= 1 && count('poll') >= count('sse'), `transport events ${JSON.stringify(R.transport)}, want SSE retries, each falling back (the last may still be on)`);
        fig['js fallback at ms'] = R.transport.map((e) => `${e.transport}@${e.at}`).join(' ');
      }
      if (s.afterFallback && fell) check(fig['js delay after fallback ms'] <= s.afterFallback, `delay after the fallback ${fig['js delay after fallback ms']} ms > ${s.afterFallback}`);
      if (s.plain) {
        const es = summary(R.es);
        check(JSON.stringify(es.numbers) === JSON.stringify(range(N + 1)), `EventSource got ${es.numbers.length} messages, not 1..${N + 1} in order`);
        check(es.maxDelay <= s.maxDelay, `EventSource max delay ${es.maxDelay} ms > ${s.maxDelay}`);
        check(R.esErrors === 0, `EventSource saw ${R.esErrors} errors (a cut stream)`);
        if (s.subWithin) check(R.esSubAt !== null && R.esSubAt <= s.subWithin, `EventSource sub after ${R.esSubAt} ms, want within ${s.subWithin}`);
      }
      await page.context().close();
    }
    console.table(figures);
    expect(failures).toEqual([]);
  });
});
