// Browser tests of the admin UI (docs/admin.md): a real `rotor serve`, a real
// headless Chromium driven by playwright-core, the real server API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const PASSWORD = 'e2e-admin-password';
const ADMIN_KEY = 'e2e-admin-api-key-0123456789abcdef';

const tmp = mkdtempSync(join(tmpdir(), 'rotor-admin-e2e-'));
// Screenshots are taken on every run; they replace the committed ones in
// docs/img only when asked (UPDATE_SCREENSHOTS=1), so `make test` leaves
// the tree as it found it.
const imgDir = process.env.UPDATE_SCREENSHOTS ? join(repo, 'docs', 'img') : join(tmp, 'img');
const bin = join(tmp, 'rotor');
let hash;
let browser;
const servers = [];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// startServer runs `rotor serve --config` with the given structure section
// and resolves with its base URL once /healthz answers. The server's output
// is kept in logs[name].
const logs = {};
async function startServer(name, structure, logLevel = 'warn') {
  const port = await freePort();
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'rotor.yaml');
  writeFileSync(cfg, [
    'http:',
    `  address: "127.0.0.1:${port}"`,
    'structure:',
    ...structure.map(l => '  ' + l),
    'admin:',
    `  password_hash: "${hash}"`,
    `  api_key: "${ADMIN_KEY}"`,
    'log:',
    `  level: ${logLevel}`,
    '',
  ].join('\n'));
  const proc = spawn(bin, ['serve', '--config', cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', d => { output += d; logs[name] = output; });
  proc.stderr.on('data', d => { output += d; logs[name] = output; });
  const exited = new Promise(ok => proc.once('exit', code => ok(code)));
  servers.push({ proc, exited });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`rotor serve exited (${proc.exitCode}):\n${output}`);
    try {
      const res = await fetch(base + '/healthz');
      if (res.ok) return base;
    } catch { /* not listening yet */ }
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error(`rotor serve did not start:\n${output}`);
}

async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e));
  page.on('dialog', d => { errors.push(new Error('dialog opened: ' + d.message())); d.dismiss(); });
  return { page, errors, ctx };
}

async function login(page, base) {
  await page.goto(base + '/admin/');
  assert.match(page.url(), /\/admin\/login$/, 'an anonymous visit goes to the login page');
  await page.fill('input[name=password]', 'wrong');
  await page.click('button[type=submit]');
  assert.equal(await page.textContent('.error'), 'Wrong password.');
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL(base + '/admin/'), page.click('button[type=submit]')]);
}

before(async () => {
  execFileSync('go', ['build', '-o', bin, './cmd/rotor'], { cwd: repo, stdio: 'inherit' });
  hash = execFileSync('go', ['run', './admin/e2e/bcrypthash', PASSWORD], { cwd: repo }).toString().trim();
  mkdirSync(imgDir, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const s of servers) {
    s.proc.kill('SIGTERM');
    await s.exited;
  }
  rmSync(tmp, { recursive: true, force: true });
});

test('log in, create a project and a namespace, watch a publication arrive', async () => {
  const base = await startServer('sqlite', ['store: sqlite', 'sqlite_path: rotor.db']);
  const { page, errors } = await newPage();
  await login(page, base);

  await page.waitForSelector('#nodes tr', { state: 'attached' });

  // Create a project; the secret and API key are shown once.
  await page.click('text=Projects');
  await page.click('text=New project');
  await page.fill('input[name=id]', 'shop');
  await page.fill('input[name=name]', 'Shop <b>bold</b>');
  await page.fill('textarea[name=allowed_origins]', 'https://shop.example');
  await page.click('button:has-text("Create project")');
  await page.waitForSelector('text=Copy these now');
  const apiKey = (await page.textContent('[data-secret="API key"]')).trim();
  assert.ok(apiKey.length >= 32, 'an API key of 32+ characters is shown');
  assert.equal(await page.locator('b', { hasText: 'bold' }).count(), 0, 'the name is text, not markup');

  // Add a namespace.
  await page.click('text=New namespace');
  await page.fill('input[name=name]', 'orders');
  await page.check('input[type=checkbox][name=presence]');
  await page.fill('input[name=history_size]', '20');
  await page.fill('input[name=history_ttl]', '10m');
  await page.click('button:has-text("Create namespace")');
  await page.waitForSelector('text=Saved.');
  const orders = async () => {
    const res = await fetch(base + '/api/admin/projects/shop/namespaces/orders', {
      headers: { Authorization: 'apikey ' + ADMIN_KEY },
    });
    assert.equal(res.status, 200);
    return res.json();
  };
  assert.deepEqual(await orders(), {
    name: 'orders', publish: false, anonymous: false, presence: true, join_leave: false,
    history_size: 20, history_ttl: '10m0s', watch: true,
  }, 'the new namespace has what the form said');
  // Unchecking a box saves it off (a browser sends nothing for an
  // unchecked box; the form's hidden field says so) and leaves the rest.
  await page.goto(base + '/admin/projects/shop/namespaces/orders');
  await page.uncheck('input[type=checkbox][name=presence]');
  await Promise.all([page.waitForURL(/\?saved$/), page.click('button:has-text("Save")')]);
  const after = await orders();
  assert.equal(after.presence, false, 'an unchecked box is saved off');
  assert.equal(after.watch, true, 'a checked box stays on');
  assert.equal(after.history_size, 20, 'history is kept');
  await page.goto(base + '/admin/projects/shop');
  await page.waitForSelector('a:has-text("orders")');
  await page.screenshot({ path: join(imgDir, 'admin-project.png'), fullPage: true });

  // Open the live watch and publish through the server API.
  await page.click('text=Live watch');
  await page.waitForFunction(() => document.getElementById('watch-status').textContent === 'live');
  const publish = async (channel, data) => {
    const res = await fetch(base + '/api/publish', {
      method: 'POST',
      headers: { Authorization: 'apikey ' + apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ channel, data }),
    });
    assert.equal(res.status, 200, await res.text());
  };
  await publish('orders:42', { status: 'paid', total: 19.9 });
  await page.waitForSelector('#watch tr:has-text("orders:42")');
  assert.match(await page.textContent('#watch tr'), /"status": "paid"/);

  const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
  await publish('orders:43', { note: evil });
  await page.waitForSelector('#watch tr:has-text("orders:43")');
  const row = await page.textContent('#watch tr');
  assert.ok(row.includes('<script>window.__pwned = 1</script>'), 'the message shows as text');
  assert.equal(await page.locator('#watch script, #watch img').count(), 0, 'no element was made from the message');
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing ran');
  await page.screenshot({ path: join(imgDir, 'admin-watch.png') });

  // Dashboard: nodes and counters, refreshed by polling /admin/stats
  // (its screenshot, with charts, is taken by the operators test).
  await page.goto(base + '/admin/');
  const refreshed = page.waitForResponse(r => r.url().endsWith('/admin/stats') && r.status() === 200);
  await refreshed;
  assert.match(await page.textContent('[data-stat=nodes]'), /^[1-9]/);

  // The history lookup shows both, escaped.
  await page.goto(base + '/admin/projects/shop/channels?channel=orders:43');
  assert.ok((await page.textContent('table.history')).includes('<script>'));
  assert.equal(await page.locator('table.history script, table.history img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  // Log out: the pages need a login again.
  await page.click('button:has-text("Log out")');
  await page.goto(base + '/admin/projects');
  assert.match(page.url(), /\/admin\/login$/);
  assert.deepEqual(errors, []);
});

test('read-only structure from the config file shows no working form', async () => {
  const base = await startServer('file', [
    'store: file',
    'projects:',
    '  - id: demo',
    '    name: Demo',
    '    secret: "0123456789abcdef0123456789abcdef-ro"',
    '    api_key: "demo-key"',
    '    default_namespace: default',
    '    namespaces:',
    '      - name: default',
    '        history_size: 10',
    '        history_ttl: 60s',
    '        watch: true',
  ]);
  const { page, errors } = await newPage();
  await login(page, base);
  assert.equal(await page.isVisible('.badge.readonly'), true, 'the read-only badge is shown');

  await page.goto(base + '/admin/projects');
  assert.equal(await page.locator('text=New project').count(), 0);
  for (const path of ['/admin/projects/demo', '/admin/projects/demo/namespaces/default', '/admin/projects/new']) {
    await page.goto(base + path);
    const working = await page.$$eval('form:not(.logout)', forms => forms.filter(f =>
      [...f.querySelectorAll('button, input, select, textarea')].some(e => !e.matches(':disabled') && !e.readOnly && e.type !== 'hidden')).length);
    assert.equal(working, 0, `${path} has no working form`);
  }
  // And the server refuses writes even if a form were enabled.
  const status = await page.evaluate(async () => (await fetch('/admin/projects/demo/secret', { method: 'POST' })).status);
  assert.equal(status, 409);
  assert.deepEqual(errors, []);
});

// sse opens a stream with Node's fetch and collects its events; waitFor
// resolves with the data of the first event of a kind that matches.
function sse(url) {
  const ctl = new AbortController();
  const events = [];
  const waiters = [];
  const done = (async () => {
    const res = await fetch(url, { signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
    assert.equal(res.status, 200, `stream ${url}`);
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = '', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event) {
            events.push({ event, data });
            for (const w of [...waiters]) w();
          }
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    }
  })();
  return {
    events,
    close: () => { ctl.abort(); return done.catch(() => {}); },
    waitFor(kind, pred = () => true, ms = 10000) {
      return new Promise((ok, fail) => {
        const check = () => {
          const ev = events.find(e => e.event === kind && pred(JSON.parse(e.data)));
          if (ev) { waiters.splice(waiters.indexOf(check), 1); clearTimeout(timer); ok(JSON.parse(ev.data)); }
        };
        const timer = setTimeout(() => fail(new Error(`no ${kind} event within ${ms}ms: ${JSON.stringify(events)}`)), ms);
        waiters.push(check);
        check();
      });
    },
  };
}

test('operators: channel list, user actions through to the stream, charts', async () => {
  const base = await startServer('ops', [
    'store: file',
    'projects:',
    '  - id: demo',
    '    name: Demo',
    '    secret: "0123456789abcdef0123456789abcdef-ops"',
    '    api_key: "demo-ops-key"',
    '    default_namespace: default',
    '    namespaces:',
    '      - name: default',
    '      - name: room',
    '        presence: true',
    '        history_size: 10',
    '        history_ttl: 60s',
    '        watch: true',
  ], 'info');
  const { page, errors } = await newPage();
  await login(page, base);

  // Mint connection tokens from the user pages.
  const mint = async user => {
    await page.goto(base + '/admin/projects/demo/channels');
    await page.fill('#find-user input[name=user]', user);
    await Promise.all([page.waitForURL(new RegExp(`/users/${user}$`)), page.click('#find-user button')]);
    await page.click('#token-form button');
    await page.waitForSelector('text=Minted a connection token');
    return (await page.inputValue('#minted-token')).trim();
  };
  const alice = await mint('alice');
  const bob = await mint('bob');
  const carol = await mint('carol');
  const streamURL = (token, ...channels) => `${base}/connection/demo/sse?token=${encodeURIComponent(token)}` +
    channels.map(c => '&channel=' + encodeURIComponent(c)).join('');
  const sa = sse(streamURL(alice, 'room:1'));
  const sb = sse(streamURL(bob, 'room:1', 'room:2'));
  const sc = sse(streamURL(carol, 'room:1', 'room:3'));
  await sa.waitFor('sub');
  await sb.waitFor('sub', s => s.channel === 'room:2');
  await sc.waitFor('sub', s => s.channel === 'room:3');

  // Some load for the charts: publications through the server API.
  const publish = (channel, data) => fetch(base + '/api/publish', {
    method: 'POST',
    headers: { Authorization: 'apikey demo-ops-key', 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  // The rate changes every 10 seconds so the charts have a shape.
  let n = 0;
  const t0 = Date.now();
  const load = setInterval(() => {
    const k = [1, 3, 2, 4][Math.floor((Date.now() - t0) / 10000) % 4];
    for (let i = 0; i < k; i++) publish('room:' + (1 + n % 3), { n: n++ });
  }, 50);
  const extra = [];

  try {
    // The channel list: counts summed over the nodes (here one), shared
    // every 2 seconds.
    let rows;
    for (let i = 0; i < 50; i++) {
      await page.goto(base + '/admin/projects/demo/channels');
      rows = await page.$$eval('#channel-list tr', trs => trs.map(tr => [...tr.cells].slice(0, 2).map(c => c.textContent.trim())));
      if (rows.length === 3) break;
      await new Promise(r => setTimeout(r, 200));
    }
    assert.deepEqual(rows, [['room:1', '3'], ['room:2', '1'], ['room:3', '1']]);
    await page.screenshot({ path: join(imgDir, 'admin-channels.png'), fullPage: true });
    await page.fill('#channel-filter input[name=pattern]', 'room:[23]');
    await page.click('#channel-filter button');
    assert.equal(await page.locator('#channel-list tr').count(), 2, 'the glob filters');
    const api = await (await fetch(base + '/api/admin/projects/demo/channels?pattern=room:*&per_page=2&page=2', {
      headers: { Authorization: 'apikey ' + ADMIN_KEY },
    })).json();
    assert.deepEqual(api, { channels: [{ channel: 'room:3', clients: 1 }], total: 3, page: 2, per_page: 2, pattern: 'room:*' });

    // From the channel's presence: unsubscribe alice, after a confirm step.
    await page.goto(base + '/admin/projects/demo/channels?pattern=room:1');
    await page.click('#channel-list a:has-text("presence")');
    await page.waitForSelector('#presence td:has-text("alice")');
    await page.click('#presence tr:has-text("alice") button:has-text("Unsubscribe")');
    await page.waitForSelector('#confirm-form');
    assert.equal(sa.events.filter(e => e.event === 'unsub').length, 0, 'nothing happens before the confirm step');
    await page.click('#confirm-form button');
    await page.waitForSelector('text=Unsubscribed alice from room:1.');
    const unsub = await sa.waitFor('unsub');
    assert.equal(unsub.channel, 'room:1');

    // From bob's page: disconnect without reconnect (sessions revoked).
    await page.goto(base + '/admin/projects/demo/users/bob');
    await page.click('#disconnect-form button');
    await page.waitForSelector('#confirm-form');
    assert.match(await page.textContent('main'), /revoke their sessions/);
    await page.screenshot({ path: join(imgDir, 'admin-user-confirm.png') });
    await page.click('#confirm-form button');
    await page.waitForSelector('text=Disconnected bob.');
    const d = await sb.waitFor('disconnect');
    assert.equal(d.code, 3003);
    assert.equal(d.reconnect, false);
    await page.screenshot({ path: join(imgDir, 'admin-user.png') });

    // Carol is disconnected from the channel's presence, with reconnect
    // allowed.
    await page.goto(base + '/admin/projects/demo/channels?channel=room:3');
    await page.click('#presence tr:has-text("carol") button:has-text("Reconnect")');
    assert.match(await page.textContent('main'), /may reconnect at once/);
    await page.click('#confirm-form button');
    await page.waitForSelector('text=Disconnected carol.');
    const dc = await sc.waitFor('disconnect');
    assert.equal(dc.reconnect, true);

    // A subscription token from the channel page.
    await page.goto(base + '/admin/projects/demo/channels?channel=room:9');
    await page.click('#sub-token-form button');
    await page.waitForSelector('text=Minted a subscription token');

    // Every action is logged at INFO with a non-secret session id.
    for (const action of ['unsubscribe', 'disconnect', 'mint_token']) {
      assert.match(logs.ops, new RegExp(`admin action.*action=${action}.*session=[0-9a-f]{12}`), `${action} is logged`);
    }
    const cookie = (await page.context().cookies()).find(c => c.name === 'rotor_admin').value;
    assert.ok(!logs.ops.includes(cookie.split('.')[0]), 'the session cookie is not logged');

    // Charts: the first sample is taken after 10 seconds; then the
    // dashboard and the project page draw them, and the dashboard
    // redraws them from /admin/charts.
    let drawn = false;
    for (let i = 0; i < 40 && !drawn; i++) {
      await page.goto(base + '/admin/');
      drawn = await page.locator('#chart-publications polyline').count() > 0;
      if (!drawn) await new Promise(r => setTimeout(r, 500));
    }
    assert.ok(drawn, 'the dashboard draws the publications chart');
    if (process.env.UPDATE_SCREENSHOTS) {
      // A picture worth keeping needs a few samples: more streams join
      // every 10 seconds for a minute.
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j <= i; j++) extra.push(sse(streamURL(alice, 'room:' + (1 + j % 3))));
        await new Promise(r => setTimeout(r, 10000));
      }
      await page.goto(base + '/admin/');
    }
    for (const id of ['connections', 'publications', 'deliveries', 'api', 'api_errors']) {
      assert.equal(await page.locator(`#chart-${id} > svg`).count(), 1, `chart ${id}`);
    }
    assert.match(await page.textContent('#chart-publications .legend'), /total: [0-9.]+\/s/);
    await page.waitForResponse(r => r.url().endsWith('/admin/charts') && r.status() === 200, { timeout: 10000 });
    await page.waitForSelector('#chart-publications polyline');
    await page.screenshot({ path: join(imgDir, 'admin-dashboard.png'), fullPage: true });
    await page.goto(base + '/admin/projects/demo');
    await page.waitForSelector('#chart-publications polyline');
    assert.equal(await page.locator('#chart-connections figcaption:has-text("Subscriptions")').count(), 1);
  } finally {
    clearInterval(load);
    await Promise.all([sa, sb, sc, ...extra].map(s => s.close()));
  }
  assert.deepEqual(errors, []);
});
