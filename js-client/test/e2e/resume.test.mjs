import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, launch, openPage, sleep, startBufferingNginx, startRedis, startRotor, until, userToken } from './harness.mjs';

/** Publishes 1..n to ch through the server API, calling between(i) after each. */
async function publishNumbered(base, ch, n, between = async () => {}) {
  for (let i = 1; i <= n; i++) {
    await api(base, 'publish', { channel: ch, data: { n: i } });
    await between(i);
  }
}

async function subscribeAndWait(page, id, ch, opts) {
  await page.evaluate(([id, ch, opts]) => {
    T.create(id, opts);
    T.subscribe(id, ch);
    T.clients[id].r.connect();
  }, [id, ch, opts]);
  return until(page, ([id, ch]) => T.events(id, ch, 'subscribed')[0], [id, ch]);
}

/** Waits until the page has n publications in ch and returns their numbers. */
async function numbers(page, id, ch, n) {
  await until(page, ([id, ch, n]) => T.pubs(id, ch).length >= n, [id, ch, n], 45_000);
  await sleep(300); // a duplicate would arrive now
  return page.evaluate(([id, ch]) => T.pubs(id, ch).map((p) => p.data.n), [id, ch]);
}

const range = (n) => Array.from({ length: n }, (_, i) => i + 1);

describe('resume and fallback', () => {
  let srv, browser;

  beforeAll(async () => {
    srv = await startRotor(inject('rotorBin'));
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('reconnects after server-side disconnects and receives every message once, in order', async () => {
    const page = await openPage(browser, srv.base);
    const ch = 'chat:numbers';
    await subscribeAndWait(page, 'a', ch, { token: userToken('alice'), minReconnectDelay: 200, maxReconnectDelay: 1000 });
    const n = 60;
    await publishNumbered(srv.base, ch, n, async (i) => {
      if (i % 20 === 10) {
        // cut the stream only once it is back, so that each cut counts
        await until(page, () => T.clients.a.r.state === 'connected');
        await api(srv.base, 'disconnect', { user: 'alice', reconnect: true });
      }
      await sleep(10);
    });
    expect(await numbers(page, 'a', ch, n)).toEqual(range(n));
    const log = await page.evaluate(() => T.clients.a.log);
    const reconnects = log.filter((l) => l[0] === 'connecting' && l[1].code === 3000);
    expect(reconnects.length).toBe(3);
    expect(log.filter((l) => l[0] === 'connect').length).toBe(4);
    expect(log.filter((l) => l[0] === 'disconnect')).toEqual([]);
    // every resume filled the gap from history
    const subs = await page.evaluate((ch) => T.events('a', ch, 'subscribed'), ch);
    expect(subs.every((s) => s.recovered)).toBe(true);
    await page.context().close();
  });

  it('does not reconnect after a revoking disconnect', async () => {
    const page = await openPage(browser, srv.base);
    await subscribeAndWait(page, 'r', 'chat:revoked', { token: userToken('mallory') });
    await api(srv.base, 'disconnect', { user: 'mallory' });
    const d = await until(page, () => T.clients.r.log.find((l) => l[0] === 'disconnect'));
    expect(d[1].code).toBe(3003);
    await sleep(1500);
    expect(await page.evaluate(() => T.clients.r.r.state)).toBe('disconnected');
    await page.context().close();
  });

  it('falls back to long polling behind a buffering proxy and loses nothing', async () => {
    const proxy = await startBufferingNginx(srv.port);
    try {
      const page = await openPage(browser, proxy.base);
      const ch = 'chat:proxied';
      await page.evaluate((t) => {
        T.create('p', { token: t, fallbackDelay: 2000 });
        T.subscribe('p', 'chat:proxied');
        T.clients.p.r.connect();
      }, userToken('paul'));
      // Published while the client still waits on the buffered stream, and
      // after: from the moment the subscribe command answered.
      await until(page, (ch) => T.sub('p', ch).position, ch);
      const n = 40;
      await publishNumbered(srv.base, ch, n, () => sleep(100));
      expect(await numbers(page, 'p', ch, n)).toEqual(range(n));
      const log = await page.evaluate(() => T.clients.p.log);
      expect(log.find((l) => l[0] === 'transport')[1].transport).toBe('poll');
      expect(await page.evaluate(() => T.clients.p.r.transport)).toBe('poll');
      const sub = await page.evaluate((ch) => T.events('p', ch, 'subscribed'), ch);
      expect(sub[0].recovered).toBe(true);
      // presence and publishing work through the proxy too
      const who = await page.evaluate((ch) => T.sub('p', ch).presence(), ch);
      expect(Object.values(who.clients).map((c) => c.user)).toEqual(['paul']);
      await page.evaluate(([ch, n]) => T.sub('p', ch).publish({ n }), [ch, n + 1]);
      expect(await numbers(page, 'p', ch, n + 1)).toEqual(range(n + 1));
      await page.context().close();
    } finally {
      await proxy.close();
    }
  });
});

describe('restart of a memory-engine server', () => {
  it('reconnects by itself and tells the app recovered:false', async () => {
    const bin = inject('rotorBin');
    const srv = await startRotor(bin);
    const browser = await launch();
    try {
      const page = await openPage(browser, srv.base);
      const ch = 'chat:restart';
      await subscribeAndWait(page, 'a', ch, { token: userToken('alice'), minReconnectDelay: 200, maxReconnectDelay: 1000 });
      await publishNumbered(srv.base, ch, 3);
      expect(await numbers(page, 'a', ch, 3)).toEqual([1, 2, 3]);
      await srv.stop();
      const why = await until(page, () => T.clients.a.log.find((l) => l[0] === 'connecting' && l[1].code !== 0));
      expect(why[1].code).toBe(3001);
      await srv.start();
      const lost = await until(page, (ch) => T.events('a', ch, 'subscribed').find((s) => !s.recovered), ch, 30_000);
      expect(lost).toMatchObject({ channel: ch, recovered: false });
      // the new epoch starts again at offset 1 and nothing is dropped as a duplicate
      await api(srv.base, 'publish', { channel: ch, data: { n: 4 } });
      expect(await numbers(page, 'a', ch, 4)).toEqual([1, 2, 3, 4]);
      expect(await page.evaluate(() => T.clients.a.r.state)).toBe('connected');
    } finally {
      await browser.close();
      await srv.close();
    }
  });
});

describe('a native EventSource across a Redis kill', () => {
  it('reconnects by itself on disconnect 3005 and resumes with nothing lost, without a reload', async () => {
    const bin = inject('rotorBin');
    const redis = await startRedis();
    // Streams end every ~2s, so the EventSource reconnects while Redis is
    // away: those reconnections must be answered 200 with 3005, not 503
    // (on which a browser gives up for good).
    const srv = await startRotor(bin, { redisURL: redis.url, streamLifetime: '2s' });
    const browser = await launch();
    try {
      const page = await openPage(browser, srv.base);
      const ch = 'chat:native';
      const url = `${srv.base}/connection/p1/sse?token=${encodeURIComponent(userToken('eve'))}&channel=${encodeURIComponent(ch)}`;
      await page.evaluate((url) => {
        window.marker = Math.random();
        window.got = { pubs: [], subs: [], disconnects: [], errors: 0 };
        const es = new EventSource(url);
        window.es = es;
        es.addEventListener('pub', (e) => window.got.pubs.push(JSON.parse(e.data).data.n));
        es.addEventListener('sub', (e) => window.got.subs.push(JSON.parse(e.data)));
        es.addEventListener('disconnect', (e) => window.got.disconnects.push(JSON.parse(e.data)));
        es.onerror = () => { window.got.errors++; };
      }, url);
      const marker = await page.evaluate(() => window.marker);
      await until(page, () => window.got.subs.length > 0);
      for (let n = 1; n <= 5; n++) await api(srv.base, 'publish', { channel: ch, data: { n } });
      await until(page, () => window.got.pubs.length >= 5);

      await redis.kill();
      const down = await until(page, () => window.got.disconnects.find((d) => d.code === 3005), undefined, 30_000);
      expect(down).toEqual({ code: 3005, reason: 'engine unavailable', reconnect: true });
      await sleep(2500); // another reconnection while Redis is still away
      await redis.start();

      // Publish once the server accepts publications again.
      for (let n = 6; n <= 10; n++) {
        for (let i = 0; ; i++) {
          try {
            await api(srv.base, 'publish', { channel: ch, data: { n } });
            break;
          } catch (e) {
            if (i > 100) throw e;
            await sleep(200);
          }
        }
      }
      await until(page, () => window.got.pubs.length >= 10, undefined, 30_000);
      await sleep(500); // a duplicate would arrive now
      const got = await page.evaluate(() => window.got);
      expect(got.pubs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(got.subs.every((s) => s.recovered)).toBe(true);
      expect(got.disconnects.filter((d) => d.code === 3005).length).toBeGreaterThan(0);
      // The same page, its EventSource still reconnecting by itself.
      expect(await page.evaluate(() => window.marker)).toBe(marker);
      expect(await page.evaluate(() => window.es.readyState)).not.toBe(2);
      expect(page.errors).toEqual([]);
    } finally {
      await browser.close();
      await srv.close();
      await redis.close();
    }
  }, 90_000);
});
