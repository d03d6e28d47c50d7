type Listener<T> = (ctx: T) => void;

/**
 * A small typed event emitter. A listener that throws does not break the
 * client: the exception is rethrown asynchronously so it still reaches the
 * page's error reporting.
 */
export class Emitter<E extends object> {
  private listeners = new Map<keyof E, Set<Listener<never>>>();

  /** Calls fn on every event named ev. */
  on<K extends keyof E>(ev: K, fn: Listener<E[K]>): this {
    let set = this.listeners.get(ev);
    if (!set) {
      set = new Set();
      this.listeners.set(ev, set);
    }
    set.add(fn as Listener<never>);
    return this;
  }

  /** Calls fn on the next event named ev only. */
  once<K extends keyof E>(ev: K, fn: Listener<E[K]>): this {
    const wrap: Listener<E[K]> = (ctx) => {
      this.off(ev, wrap);
      fn(ctx);
    };
    return this.on(ev, wrap);
  }

  /** Removes fn, or every listener of ev when fn is omitted. */
  off<K extends keyof E>(ev: K, fn?: Listener<E[K]>): this {
    if (!fn) this.listeners.delete(ev);
    else this.listeners.get(ev)?.delete(fn as Listener<never>);
    return this;
  }

  protected emit<K extends keyof E>(ev: K, ctx: E[K]): void {
    const set = this.listeners.get(ev);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<E[K]>)(ctx);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }
}
