import { vi } from 'vitest';
import { Rotor, type RotorOptions } from '../../src/index';

/** A recorded request to the fake server. */
export interface Call {
  path: string;
  url: URL;
  body: any;
}

type Handler = (c: Call) => { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }>;

/**
 * FakeServer answers the client's fetch calls with handlers set per path and
 * records every request; a path without a handler hangs (like a long poll).
 */
export class FakeServer {
  calls: Call[] = [];
  handlers = new Map<string, Handler>();
  nextSub = 1;

  constructor() {
    this.on('/connect', () => ({ body: { client: 'c1', user: 'u1', session: 'S1', expires: 0, ping: 20 } }));
    this.on('/command', (c) => ({ body: { replies: c.body.commands.map((cmd: any) => this.reply(cmd)) } }));
  }

  /** The default command answers: grants G-<channel>, epoch e, offset 5. */
  reply(cmd: any): any {
    switch (cmd.method) {
      case 'subscribe':
        return { id: cmd.id, result: { grant: `G-${cmd.params.channel}`, epoch: 'e', offset: 5, recoverable: true } };
      case 'publish':
        return { id: cmd.id, result: { offset: 6 } };
      default:
        return { id: cmd.id, result: {} };
    }
  }

  on(path: string, h: Handler): void {
    this.handlers.set(path, h);
  }

  /** The fetch function to give the client. */
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const path = url.pathname.replace(/^\/connection\/p/, '');
    const c: Call = { path, url, body: init?.body ? JSON.parse(String(init.body)) : undefined };
    this.calls.push(c);
    const h = this.handlers.get(path);
    if (!h) {
      return new Promise((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
    const r = await h(c);
    return new Response(JSON.stringify(r.body), { status: r.status ?? 200 });
  };

  commands(): any[] {
    return this.calls.filter((c) => c.path === '/command');
  }
}

/** A stand-in EventSource the tests drive by hand. */
export class FakeEventSource {
  static all: FakeEventSource[] = [];
  url: URL;
  closed = false;
  onerror: (() => void) | null = null;
  private ls = new Map<string, ((e: { data: string }) => void)[]>();

  constructor(url: string) {
    this.url = new URL(url);
    FakeEventSource.all.push(this);
  }

  static last(): FakeEventSource {
    return FakeEventSource.all[FakeEventSource.all.length - 1];
  }

  addEventListener(name: string, fn: (e: { data: string }) => void): void {
    this.ls.set(name, [...(this.ls.get(name) ?? []), fn]);
  }

  close(): void {
    this.closed = true;
  }

  /** Delivers one event, as the browser would. */
  send(name: string, data: unknown): void {
    if (this.closed) throw new Error('event on a closed EventSource');
    for (const fn of this.ls.get(name) ?? []) fn({ data: JSON.stringify(data) });
  }

  fail(): void {
    this.onerror?.();
  }

  grants(): string[] {
    return this.url.searchParams.getAll('grant');
  }
}

/** Lets promises and microtasks run without moving the fake clock. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(0);
}

export function newClient(server: FakeServer, opts: RotorOptions = {}): Rotor {
  return new Rotor('http://test/connection/p', {
    fetch: server.fetch as typeof fetch,
    EventSource: FakeEventSource as unknown as RotorOptions['EventSource'],
    ...opts,
  });
}

/** Records every event of an emitter, as [name, ctx]. */
export function record(em: { on(ev: any, fn: (c: any) => void): unknown }, names: string[]): [string, any][] {
  const log: [string, any][] = [];
  for (const n of names) em.on(n, (c: any) => log.push([n, c]));
  return log;
}
