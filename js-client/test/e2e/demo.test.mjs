import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, launch, startRotor, userToken } from './harness.mjs';

const demoHTML = readFileSync(new URL('../../../static/assets/demo.html', import.meta.url), 'utf8');

/** Opens the demo chat page (as /demo serves it) for user in project p1. */
async function openDemo(browser, base, user) {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.errors = errors;
  await page.route(`${base}/demo-page**`, (route) => route.fulfill({ contentType: 'text/html', body: demoHTML }));
  await page.goto(`${base}/demo-page?project=p1&room=e2e&token=${userToken(user)}`);
  return page;
}

describe('demo chat page', () => {
  let srv, browser;
  beforeAll(async () => {
    srv = await startRotor(inject('rotorBin'));
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('shows history on load, presence, join/leave and publishes', async () => {
    await api(srv.base, 'publish', { channel: 'chat:e2e', data: { text: 'from before' } });
    const alice = await openDemo(browser, srv.base, 'alice');
    await alice.getByText('from before').waitFor();
    await alice.locator('#presence li', { hasText: 'alice (you)' }).waitFor();

    const bob = await openDemo(browser, srv.base, 'bob');
    await alice.getByText('bob joined').waitFor();
    await alice.locator('#presence li', { hasText: 'bob' }).waitFor();
    await bob.locator('#presence li', { hasText: 'alice' }).waitFor();
    await bob.getByText('from before').waitFor();

    await bob.locator('#text').fill('hello alice');
    await bob.locator('#send').click();
    await alice.locator('#messages li', { hasText: 'hello alice' }).waitFor();
    expect(await alice.locator('#state').textContent()).toBe('connected · sse');
    if (process.env.DEMO_SCREENSHOT) await alice.screenshot({ path: process.env.DEMO_SCREENSHOT });

    await bob.close();
    await alice.getByText('bob left').waitFor({ timeout: 15_000 });
    expect(await alice.locator('#presence li').allTextContents()).toEqual(['alice (you)']);
    expect(alice.errors).toEqual([]);
    expect(await alice.locator('#messages li', { hasText: 'from before' }).count()).toBe(1);
  });
});
