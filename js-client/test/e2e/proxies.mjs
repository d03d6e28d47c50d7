// Reverse proxies and a CDN-like cache in front of the test server, each
// on a free loopback port with its files in a temp dir: the recipes of
// docs/proxies.md (without TLS: the Go proxy tests cover TLS and HTTP/2)
// and two setups users do not control.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, nginxBinary, sleep } from './harness.mjs';

const nginxHead = (dir) => `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;`;

const nginxProxy = `proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;`;

/** Each proxy: its binary, config file and command line. */
const kinds = {
  // The recipe of docs/proxies.md.
  nginx: {
    bin: () => nginxBinary(),
    conf: (dir, port, up) => ['nginx.conf', `${nginxHead(dir)}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${up};
      ${nginxProxy}
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 75s;
    }
  }
}
`],
    args: (dir, conf) => ['-e', join(dir, 'error.log'), '-p', dir, '-c', conf],
  },
  // A proxy someone configured to buffer, deaf to X-Accel-Buffering: nginx
  // then forwards nothing of a stream until a 4 KB buffer fills.
  'nginx-buffering': {
    bin: () => nginxBinary(),
    conf: (dir, port, up) => ['nginx.conf', `${nginxHead(dir)}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${up};
      ${nginxProxy}
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
      proxy_read_timeout 75s;
    }
  }
}
`],
    args: (dir, conf) => ['-e', join(dir, 'error.log'), '-p', dir, '-c', conf],
  },
  // A read timeout just above the server's ping (2 s in the harness): a
  // stream survives only if no silence lasts a whole ping interval.
  'nginx-read-timeout': {
    bin: () => nginxBinary(),
    conf: (dir, port, up) => ['nginx.conf', `${nginxHead(dir)}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${up};
      ${nginxProxy}
      proxy_buffering off;
      proxy_read_timeout 2500ms;
    }
  }
}
`],
    args: (dir, conf) => ['-e', join(dir, 'error.log'), '-p', dir, '-c', conf],
  },
  caddy: {
    bin: () => '/usr/bin/caddy',
    conf: (dir, port, up) => ['Caddyfile', `{
	admin off
	auto_https off
	storage file_system ${dir}/data
}

http://127.0.0.1:${port} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:${up} {
		flush_interval -1
		header_up X-Real-IP {remote_host}
	}
}
`],
    args: (dir, conf) => ['run', '--config', conf, '--adapter', 'caddyfile'],
  },
  haproxy: {
    bin: () => '/usr/sbin/haproxy',
    conf: (dir, port, up) => ['haproxy.cfg', `global
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 75s
    timeout server 75s
    timeout http-request 10s
    timeout http-keep-alive 10s

frontend rotor_front
    bind 127.0.0.1:${port}
    http-request set-header X-Real-IP %[src]
    default_backend rotor

backend rotor
    server rotor1 127.0.0.1:${up}
`],
    args: (dir, conf) => ['-db', '-f', conf],
  },
  // The recipe of docs/proxies.md: streams piped, the rest passed.
  varnish: {
    bin: () => '/usr/sbin/varnishd',
    conf: (dir, port, up) => ['rotor.vcl', `vcl 4.1;

backend rotor {
    .host = "127.0.0.1";
    .port = "${up}";
}

sub vcl_recv {
    if (req.url ~ "^/connection/[^/]+/sse") {
        return (pipe);
    }
    if (req.url ~ "^/(connection|api)/") {
        return (pass);
    }
}

sub vcl_pipe {
    set bereq.http.Connection = "close";
}
`],
    args: (dir, conf, port) => varnishArgs(dir, conf, port),
  },
  // Varnish with nothing but a backend: it holds the first body write of
  // a response until the next one.
  'varnish-default': {
    bin: () => '/usr/sbin/varnishd',
    conf: (dir, port, up) => ['rotor.vcl', `vcl 4.1;

backend rotor {
    .host = "127.0.0.1";
    .port = "${up}";
}
`],
    args: (dir, conf, port) => varnishArgs(dir, conf, port),
  },
};

function varnishArgs(dir, conf, port) {
  return ['-F', '-a', `127.0.0.1:${port}`, '-f', conf, '-n', join(dir, 'work'), '-s', 'malloc,32m', '-j', 'none',
    '-p', 'thread_pool_min=10', '-p', 'thread_pools=1'];
}

/** The names of the proxies startProxy knows. */
export const proxyKinds = Object.keys(kinds);

/** Starts proxy `kind` in front of 127.0.0.1:upstreamPort; returns { base, log, close }. */
export async function startProxy(kind, upstreamPort) {
  const k = kinds[kind];
  const bin = k.bin();
  if (!bin || !existsSync(bin)) throw new Error(`${kind}: ${bin} not found (make deps installs it)`);
  const dir = mkdtempSync(join(tmpdir(), `rotor-${kind}-`));
  const port = await freePort();
  const [name, text] = k.conf(dir, port, upstreamPort);
  const conf = join(dir, name);
  writeFileSync(conf, text);
  const out = [];
  const proc = spawn(bin, k.args(dir, conf, port), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
  });
  proc.stdout.on('data', (b) => out.push(b));
  proc.stderr.on('data', (b) => out.push(b));
  const log = () => Buffer.concat(out).toString() + (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '');
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`${kind} exited ${proc.exitCode}:\n${log()}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error(`${kind} did not answer:\n${log()}`);
    await sleep(50);
  }
  return {
    base,
    log,
    async close() {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
