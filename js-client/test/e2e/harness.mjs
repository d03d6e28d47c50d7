// Test harness for the browser tests: a real rotor server with a config in
// a temp dir, HS256 tokens, the server API, nginx, and Chromium pages that
// load the client from the server's /static/rotor.js.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const PROJECT = 'p1';
export const SECRET = 'e2e-secret-0123456789abcdef0123456789';
export const API_KEY = 'e2e-api-key';

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHTTP(url, proc, log) {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`process exited ${proc.exitCode}:\n${log()}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer:\n${log()}`);
}

/**
 * Starts `rotor serve` with the memory engine and a file structure: project
 * p1 (anonymous allowed, allowed_origins `*` unless told otherwise) whose
 * namespace `chat` has publish, presence, join_leave and history on.
 * projectExtra adds project settings (events_hook_url…); authURL sets auth_url.
 * redisURL puts it on the Redis engine instead; streamLifetime sets
 * http.stream_lifetime.
 */
export async function startRotor(bin, { port, leaveGrace = '1s', allowedOrigins = ['*'], authURL = '', projectExtra = {}, redisURL = '', streamLifetime = '' } = {}) {
  if (authURL) projectExtra = { ...projectExtra, auth_url: authURL };
  const dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-'));
  port ??= await freePort();
  const cfg = `http:
  address: "127.0.0.1:${port}"
  ping: 2s
  shutdown_timeout: 2s
${streamLifetime ? `  stream_lifetime: ${streamLifetime}\n` : ''}engine:
${redisURL ? `  type: redis\n  redis_url: "${redisURL}"` : '  type: memory'}
structure:
  store: file
  projects:
    - id: ${PROJECT}
      name: E2E
      secret: "${SECRET}"
      api_key: "${API_KEY}"
      default_namespace: default
      allowed_origins: ${JSON.stringify(allowedOrigins)}
      anonymous: true
${Object.entries(projectExtra).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}\n`).join('')}      namespaces:
        - name: default
        - name: chat
          publish: true
          anonymous: true
          presence: true
          join_leave: true
          history_size: 1000
          history_ttl: 300s
client:
  leave_grace: ${leaveGrace}
`;
  writeFileSync(join(dir, 'rotor.yaml'), cfg);
  const logFile = join(dir, 'server.log');
  const srv = { port, base: `http://127.0.0.1:${port}`, dir, proc: null };
  srv.start = async () => {
    const out = [];
    const proc = spawn(bin, ['serve', '--config', join(dir, 'rotor.yaml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (b) => out.push(b));
    proc.stderr.on('data', (b) => out.push(b));
    proc.on('exit', () => writeFileSync(logFile, Buffer.concat(out), { flag: 'a' }));
    srv.proc = proc;
    srv.log = () => Buffer.concat(out).toString();
    await waitHTTP(`${srv.base}/healthz`, proc, srv.log);
  };
  srv.stop = async () => {
    const p = srv.proc;
    if (!p || p.exitCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  srv.close = async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await srv.start();
  return srv;
}

/**
 * Starts redis-server on a free port with an append-only file synced on
 * every write, so that a SIGKILL loses nothing: kill() and start() make an
 * outage, close() ends it for good.
 */
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-e2e-redis-'));
  const port = await freePort();
  const r = { port, url: `redis://127.0.0.1:${port}/0`, dir, proc: null };
  r.start = async () => {
    const out = [];
    const proc = spawn(process.env.REDIS_SERVER ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (b) => out.push(b));
    proc.stderr.on('data', (b) => out.push(b));
    r.proc = proc;
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null || i > 200) throw new Error(`redis-server did not start:\n${Buffer.concat(out)}`);
      if (Buffer.concat(out).includes('Ready to accept connections')) return;
      await sleep(50);
    }
  };
  r.kill = async () => {
    const p = r.proc;
    if (!p || p.exitCode !== null) return;
    const done = new Promise((res) => p.once('exit', res));
    p.kill('SIGKILL');
    await done;
  };
  r.close = async () => {
    await r.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  await r.start();
  return r;
}

/** Calls the server API (docs/protocol.md, Server API). */
export async function api(base, method, params) {
  const r = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { Authorization: `apikey ${API_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(params),
  });
  const body = await r.json();
  if (r.status !== 200 || body.error) throw new Error(`api ${method}: HTTP ${r.status} ${JSON.stringify(body)}`);
  return body.result;
}

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** An HS256 connection JWT signed with the project secret (docs/security.md). */
export function token(claims, secret = SECRET) {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** A connection token for user, valid for ttl seconds. */
export function userToken(user, ttl = 3600, info = { name: user }) {
  return token({ sub: user, exp: Math.floor(Date.now() / 1000) + ttl, info });
}

/** Launches Debian's chromium headless. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const pageHelpers = readFileSync(new URL('./page-helpers.js', import.meta.url), 'utf8');

/**
 * Opens a page at origin (the server, or a proxy in front of it) that
 * loads /static/rotor.js from that origin and the helpers in
 * page-helpers.js (window.T).
 */
export async function openPage(browser, origin) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  const url = `${origin}/e2e-test-page.html`;
  await page.route(url, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><meta charset="utf-8"><title>e2e</title>
<script src="/static/rotor.js"></script><script>${pageHelpers}</script><body></body>`,
  }));
  await page.goto(url);
  await page.waitForFunction(() => typeof window.Rotor === 'function' && !!window.T);
  page.errors = errors;
  return page;
}

/** Waits until fn (run in the page with arg) returns a truthy value, and returns it. */
export async function until(page, fn, arg, timeout = 20_000) {
  const h = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  return h.jsonValue();
}

/** The nginx binary, installed with apt-get when missing (as `make test` does). */
export function nginxBinary() {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'apt-get install -y nginx || (apt-get update && apt-get install -y nginx)'], { stdio: 'inherit' });
  if (r.status === 0) for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  return null;
}

/**
 * Starts nginx on a free port in front of upstream with response buffering
 * forced on, as a badly configured proxy would: SSE events sit in nginx's
 * buffers and the client has to notice. gzip — a common real-world culprit —
 * is on for event streams too: nginx then holds the stream, headers
 * included, until a compressed block fills. (Buffering without gzip is in
 * proxies.mjs, nginx-buffering.)
 */
export async function startBufferingNginx(upstreamPort) {
  const bin = nginxBinary();
  if (!bin) throw new Error('nginx not found and could not be installed (apt-get install nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'rotor-nginx-'));
  const port = await freePort();
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
      proxy_buffer_size 64k;
      proxy_buffers 8 64k;
      proxy_read_timeout 120s;
      gzip on;
      gzip_types text/event-stream application/json;
      gzip_proxied any;
      gzip_min_length 0;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const out = [];
  const proc = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (b) => out.push(b));
  proc.stderr.on('data', (b) => out.push(b));
  const log = () => Buffer.concat(out).toString() + (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '');
  await waitHTTP(`http://127.0.0.1:${port}/healthz`, proc, log);
  return {
    base: `http://127.0.0.1:${port}`,
    log,
    dir,
    async close() {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { randomBytes, sleep };
