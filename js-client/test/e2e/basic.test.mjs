import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, launch, openPage, startRotor, until, userToken } from './harness.mjs';

describe('rotor-js in Chromium against rotor serve', () => {
  let srv, browser, alice, bob;

  beforeAll(async () => {
    srv = await startRotor(inject('rotorBin'));
    browser = await launch();
    alice = await openPage(browser, srv.base);
    bob = await openPage(browser, srv.base);
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('subscribes, publishes, sees presence, history, join and leave', async () => {
    const ch = 'chat:room';
    await alice.evaluate(([t, ch]) => {
      T.create('a', { token: t });
      T.subscribe('a', ch);
      T.clients.a.r.connect();
    }, [userToken('alice'), ch]);
    const ready = await until(alice, (ch) => T.events('a', ch, 'subscribed')[0], ch);
    expect(ready).toMatchObject({ channel: ch, recovered: true });
    expect(await alice.evaluate(() => T.clients.a.log.map((l) => l[0]))).toEqual(['connecting', 'connect']);
    expect(await alice.evaluate(() => T.clients.a.r.transport)).toBe('sse');

    // publish from the page, and from the server API
    const res = await alice.evaluate((ch) => T.sub('a', ch).publish({ text: 'hi' }), ch);
    expect(res.offset).toBe(1);
    await api(srv.base, 'publish', { channel: ch, data: { text: 'from backend' } });
    const pubs = await until(alice, (ch) => T.pubs('a', ch).length === 2 && T.pubs('a', ch), ch);
    expect(pubs.map((p) => [p.offset, p.data.text])).toEqual([[1, 'hi'], [2, 'from backend']]);

    // bob joins: alice sees him, and both see each other in presence
    await bob.evaluate(([t, ch]) => {
      T.create('b', { token: t });
      T.subscribe('b', ch);
      T.clients.b.r.connect();
    }, [userToken('bob'), ch]);
    await until(bob, (ch) => T.events('b', ch, 'subscribed')[0], ch);
    const join = await until(alice, (ch) => T.events('a', ch, 'join').find((j) => j.user === 'bob'), ch);
    expect(join).toMatchObject({ channel: ch, user: 'bob', info: { name: 'bob' } });

    const who = await bob.evaluate((ch) => T.sub('b', ch).presence(), ch);
    expect(Object.values(who.clients).map((c) => c.user).sort()).toEqual(['alice', 'bob']);

    // history on load
    const hist = await bob.evaluate((ch) => T.sub('b', ch).history({ limit: 10 }), ch);
    expect(hist.publications.map((p) => p.data.text)).toEqual(['hi', 'from backend']);
    expect(hist.offset).toBe(2);

    // bob publishes, alice gets it; bob leaves, alice sees leave
    await bob.evaluate((ch) => T.sub('b', ch).publish({ text: 'bob here' }), ch);
    await until(alice, (ch) => T.pubs('a', ch).some((p) => p.data.text === 'bob here'), ch);
    await bob.evaluate((ch) => T.sub('b', ch).unsubscribe(), ch);
    const leave = await until(alice, (ch) => T.events('a', ch, 'leave').find((j) => j.user === 'bob'), ch);
    expect(leave).toMatchObject({ channel: ch, user: 'bob' });
    const after = await alice.evaluate((ch) => T.sub('a', ch).presence(), ch);
    expect(Object.values(after.clients).map((c) => c.user)).toEqual(['alice']);
    expect(alice.errors).toEqual([]);
  });

  it('batches subscribes made in one tick into one /command', async () => {
    const page = await openPage(browser, srv.base);
    const commands = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/command')) commands.push(JSON.parse(r.postData()));
    });
    await page.evaluate(() => {
      T.create('c', {});
      for (const ch of ['chat:x1', 'chat:x2', 'chat:x3']) T.subscribe('c', ch);
      T.clients.c.r.connect();
    });
    await until(page, () => ['chat:x1', 'chat:x2', 'chat:x3'].every((ch) => T.events('c', ch, 'subscribed').length));
    expect(commands).toHaveLength(1);
    expect(commands[0].commands.map((c) => c.params.channel)).toEqual(['chat:x1', 'chat:x2', 'chat:x3']);
    await page.context().close();
  });

  it('stops reconnecting when getToken says unauthorized', async () => {
    const page = await openPage(browser, srv.base);
    await page.evaluate((t) => {
      T.create('d', { token: t, tokens: [] });
      T.subscribe('d', 'chat:y');
      T.clients.d.r.connect();
    }, userToken('dave', -10));
    const d = await until(page, () => T.clients.d.log.find((l) => l[0] === 'disconnect'));
    expect(d[1]).toEqual({ code: 2, reason: 'getToken returned no token' });
    expect(await page.evaluate(() => T.clients.d.r.state)).toBe('disconnected');
    await page.context().close();
  });
});
