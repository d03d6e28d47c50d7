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
// and resolves with its base URL once /healthz answers.
async function startServer(name, structure) {
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
    '  level: warn',
    '',
  ].join('\n'));
  const proc = spawn(bin, ['serve', '--config', cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', d => { output += d; });
  proc.stderr.on('data', d => { output += d; });
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

  // Dashboard: nodes and counters, refreshed by polling /admin/stats.
  await page.goto(base + '/admin/');
  const refreshed = page.waitForResponse(r => r.url().endsWith('/admin/stats') && r.status() === 200);
  await refreshed;
  assert.match(await page.textContent('[data-stat=nodes]'), /^[1-9]/);
  await page.screenshot({ path: join(imgDir, 'admin-dashboard.png') });

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
