import { createConnection, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, freePort, launch, openPage, sleep, startRotor, until, userToken } from './harness.mjs';
import { startProxy } from './proxies.mjs';

/**
 * A TCP relay on loopback whose target can change: new connections go to
 * the current target, and switch() drops the open ones, as when a user
 * moves to another network or an operator fixes the proxy.
 */
async function startRelay(port) {
  let target = port;
  const socks = new Set();
  const server = createServer((c) => {
    const up = createConnection({ host: '127.0.0.1', port: target });
    socks.add(c).add(up);
    const end = () => { c.destroy(); up.destroy(); socks.delete(c); socks.delete(up); };
    c.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
    c.pipe(up);
    up.pipe(c);
  });
  const own = await freePort();
  await new Promise((r) => server.listen(own, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${own}`,
    switch(to) {
      target = to;
      for (const s of socks) s.destroy();
    },
    close: () => new Promise((r) => { for (const s of socks) s.destroy(); server.close(r); }),
  };
}

describe('healing after a fallback', () => {
  let srv, browser, nginx, relay;

  beforeAll(async () => {
    srv = await startRotor(inject('rotorBin'));
    browser = await launch();
    nginx = await startProxy('nginx-buffering', srv.port);
    relay = await startRelay(Number(new URL(nginx.base).port));
  });
  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await nginx?.close();
    await srv?.close();
  });

  it('returns to SSE once the path stops buffering, losing nothing', async () => {
    const page = await openPage(browser, relay.base);
    const ch = 'chat:heal';
    await page.evaluate(([ch, tok]) => {
      const R = { t0: Date.now(), pubs: [], transport: [] };
      window.R = R;
      const r = new Rotor(`${location.origin}/connection/p1`, { token: tok, sseRetryDelay: 2000, maxSseRetryDelay: 4000 });
      R.client = r;
      r.on('transport', (c) => R.transport.push({ at: Date.now() - R.t0, transport: c.transport }));
      r.subscribe(ch).on('publication', (p) => R.pubs.push(p.data.n));
      r.connect();
    }, [ch, userToken('healer')]);
    await until(page, (ch) => R.client.getSubscription(ch).position, ch);
    let n = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await api(srv.base, 'publish', { channel: ch, data: { n: ++n } });
        await sleep(50);
      }
    })();
    try {
      // Behind the buffering nginx: falls back to polling.
      await until(page, () => R.transport.some((t) => t.transport === 'poll'), null, 15_000);
      // The path is fixed: straight to Rotor from now on.
      relay.switch(srv.port);
      const fixedAt = await page.evaluate(() => Date.now() - R.t0);
      await until(page, (at) => R.transport.some((t) => t.transport === 'sse' && t.at > at), fixedAt, 15_000);
      await sleep(8000); // and stays there: no fallback since
      const log = await page.evaluate(() => R.transport);
      expect(log.filter((t) => t.at > fixedAt).map((t) => t.transport).at(-1)).toBe('sse');
      expect(await page.evaluate(() => R.client.transport)).toBe('sse');
      const lastSSE = log.filter((t) => t.transport === 'sse').at(-1).at;
      expect(log.some((t) => t.transport === 'poll' && t.at > lastSSE)).toBe(false);
      console.log('transport log (ms since start):', JSON.stringify(log), 'fixed at', fixedAt);
    } finally {
      publishing = false;
      await publisher;
    }
    await until(page, (n) => R.pubs.length >= n, n, 10_000);
    await sleep(200);
    const got = await page.evaluate(() => R.pubs);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    await page.context().close();
  });
});
