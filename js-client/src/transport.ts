/** One event of a stream or a poll answer. */
export interface StreamEvent {
  event: string;
  data: unknown;
}

/** What a transport reports to its owner. */
export interface StreamCallbacks {
  /** One event, in stream order. */
  event(name: string, data: unknown): void;
  /** A poll answered (called before its events are handed over). */
  answer?(events: StreamEvent[]): void;
  /**
   * The transport failed and is closed: status is the HTTP status (0 for a
   * network failure or an EventSource error, which hides the status), code
   * the protocol error code of the body when there was one.
   */
  fail(status: number, code?: number): void;
}

/** An open stream of events. */
export interface Stream {
  close(): void;
}

/** The constructor of EventSource, injectable for tests. */
export type EventSourceCtor = new (url: string) => EventSource;

/** Events a stream carries (docs/protocol.md, Events); `ping` only on streams opened with `clock=1`. */
export const EVENTS = ['sub', 'pub', 'join', 'leave', 'unsub', 'disconnect', 'ping'];

/** Opens a Server-Sent Events stream at url. */
export function openSSE(ES: EventSourceCtor, url: string, cb: StreamCallbacks): Stream {
  const es = new ES(url);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    es.close();
  };
  for (const name of EVENTS) {
    es.addEventListener(name, (e) => {
      if (closed) return;
      let data: unknown;
      try {
        data = JSON.parse((e as MessageEvent).data);
      } catch {
        close();
        cb.fail(0);
        return;
      }
      cb.event(name, data);
    });
  }
  // EventSource would reconnect by itself with its own id and delay; the
  // client reconnects instead, with backoff and positions it built.
  es.onerror = () => {
    if (closed) return;
    close();
    cb.fail(0);
  };
  return { close };
}

/**
 * Long-polls (docs/protocol.md, Long poll): each request asks url() for the address, so the
 * `since` of every poll comes from the positions the owner holds after the
 * previous answer. A request that outlives its timeout by 15 s is given
 * up (a proxy swallowed it) and reported as a failure.
 */
export function openPoll(fetchFn: typeof fetch, url: () => { href: string; timeout: number }, cb: StreamCallbacks): Stream {
  let closed = false;
  let ctrl: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fail = (status: number, code?: number) => {
    if (closed) return;
    closed = true;
    cb.fail(status, code);
  };
  const loop = async () => {
    while (!closed) {
      const { href, timeout } = url();
      ctrl = new AbortController();
      const c = ctrl;
      timer = setTimeout(() => c.abort(), (timeout + 15) * 1000);
      let res: Response;
      let body: { events?: unknown; error?: { code?: number } } | null = null;
      try {
        res = await fetchFn(href, { signal: c.signal, cache: 'no-store' });
        body = await res.json().catch(() => null);
      } catch {
        fail(0);
        return;
      } finally {
        clearTimeout(timer);
      }
      if (closed) return;
      if (!res.ok || !body || !Array.isArray(body.events)) {
        fail(res.status || 0, body?.error?.code);
        return;
      }
      const events = body.events as StreamEvent[];
      cb.answer?.(events);
      for (const e of events) {
        if (closed) return;
        cb.event(e.event, e.data);
      }
    }
  };
  void loop();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ctrl?.abort();
    },
  };
}
