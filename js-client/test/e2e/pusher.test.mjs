// Pusher-compatible publishing, driven by the official `pusher` server
// library against a real `rotor serve`, received by a real long-poll
// subscriber.
import Pusher from 'pusher';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { API_KEY, PROJECT, startRotor, userToken } from './harness.mjs';

/** A long-poll subscriber of one channel (the inline form of /poll). */
async function pollSubscriber(base, channel) {
  const q = new URLSearchParams({ token: userToken('backend-watcher'), channel });
  const url = `${base}/connection/${PROJECT}/poll?${q}`;
  const first = await fetch(url);
  expect(first.status).toBe(200);
  let { id } = await first.json();
  return {
    /** Polls until n publications arrived; returns their data. */
    async pubs(n) {
      const out = [];
      const deadline = Date.now() + 20_000;
      while (out.length < n && Date.now() < deadline) {
        const r = await fetch(`${url}&since=${encodeURIComponent(id)}&timeout=5`);
        expect(r.status).toBe(200);
        const body = await r.json();
        id = body.id;
        for (const ev of body.events) if (ev.event === 'pub') out.push(ev.data.data);
      }
      return out;
    },
  };
}

describe('Pusher server library publishing to rotor', () => {
  let srv;
  const client = (over = {}) =>
    new Pusher({
      appId: PROJECT,
      key: PROJECT,
      secret: API_KEY,
      host: '127.0.0.1',
      port: String(srv.port),
      useTLS: false,
      ...over,
    });

  beforeAll(async () => {
    srv = await startRotor(inject('rotorBin'));
  });
  afterAll(async () => {
    vi.useRealTimers();
    await srv?.close();
  });

  it('trigger and triggerBatch reach a subscriber as {event, data}', async () => {
    const news = await pollSubscriber(srv.base, 'news');
    const alerts = await pollSubscriber(srv.base, 'alerts');
    const pusher = client();

    const res = await pusher.trigger(['news', 'alerts'], 'order.shipped', { id: 7, items: ['a', 'b'] }, { socket_id: '1234.5678' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});

    const batch = await pusher.triggerBatch([
      { channel: 'news', name: 'note', data: 'plain text, not JSON' },
      { channel: 'alerts', name: 'count', data: 42 },
    ]);
    expect(batch.status).toBe(200);

    expect(await news.pubs(2)).toEqual([
      { event: 'order.shipped', data: { id: 7, items: ['a', 'b'] } },
      { event: 'note', data: 'plain text, not JSON' },
    ]);
    expect(await alerts.pubs(2)).toEqual([
      { event: 'order.shipped', data: { id: 7, items: ['a', 'b'] } },
      { event: 'count', data: 42 },
    ]);
  });

  it('refuses a wrong secret with 401', async () => {
    const err = await client({ secret: 'not-the-api-key' }).trigger('news', 'x', {}).catch((e) => e);
    expect(err).toBeInstanceOf(Pusher.RequestError);
    expect(err.status).toBe(401);
    expect(err.body).toContain('invalid signature');
  });

  it('refuses a timestamp more than 600 s old with 401', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 700_000);
    let err;
    try {
      err = await client().trigger('news', 'x', {}).catch((e) => e);
    } finally {
      vi.useRealTimers();
    }
    expect(err).toBeInstanceOf(Pusher.RequestError);
    expect(err.status).toBe(401);
    expect(err.body).toContain('timestamp expired');
  });
});
