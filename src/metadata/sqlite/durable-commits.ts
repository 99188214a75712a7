/**
 * Group commit for the embedded database, off the event loop. With synchronous=FULL every
 * commit fsyncs the write-ahead log on the thread that commits — the event loop — so each write
 * held every other request for a disk flush (2–10 ms here, far more while the kernel writes back
 * a large upload), and concurrent writes paid one flush each.
 *
 * Instead the connection runs synchronous=NORMAL (a commit writes its WAL frames to the OS but
 * does not flush them; SQLite itself still flushes around checkpoints), and a store call that
 * wrote does not resolve until the WAL file has been fdatasync'ed by libuv's thread pool. One
 * flush covers every commit made before it started, so writes that arrive together share one.
 * What a caller is told was stored survives a power cut, as before; a process crash loses
 * nothing either way (the frames are in the OS).
 */
import { close, fdatasync, open } from 'node:fs';
import type { Db } from './open.js';

export type Flush = () => Promise<void>;

/** fdatasync of `<path>-wal`, opened for each flush so a WAL that SQLite recreated is the one flushed. */
export function walFlush(path: string): Flush {
  const wal = `${path}-wal`;
  return () =>
    new Promise<void>((resolve, reject) => {
      open(wal, 'r', (err, fd) => {
        if (err) {
          // No WAL yet: nothing was committed through it.
          if (err.code === 'ENOENT') resolve();
          else reject(err);
          return;
        }
        fdatasync(fd, (syncErr) => close(fd, () => (syncErr ? reject(syncErr) : resolve())));
      });
    });
}

/**
 * Switches an open database (its schema already migrated, under FULL) to group commit: returns
 * the counter that the stores over it must be wrapped with (durableStore).
 */
export function groupCommits(db: Db, path: string): DurableCommits {
  const commits = new DurableCommits(path === ':memory:' ? () => Promise.resolve() : walFlush(path));
  db.pragma('synchronous = NORMAL');
  commits.watch(db);
  return commits;
}

/** Counts writes to the database and makes them durable in batches. */
export class DurableCommits {
  /** Executions of statements that may change the database. */
  private writes = 0;
  /** Every write counted up to here is durable. */
  private flushed = 0;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly listeners: Array<(writes: number) => void> = [];

  constructor(private readonly flush: Flush) {}

  /** Has every statement prepared on `db` from now on (and every exec) count as a write unless it is read-only. */
  watch(db: Db): void {
    const prepare = db.prepare.bind(db);
    const exec = db.exec.bind(db);
    db.prepare = ((source: string) => {
      const stmt = prepare(source);
      if (stmt.readonly) return stmt;
      // INSERT ... RETURNING writes through get/all too.
      for (const method of ['run', 'get', 'all', 'iterate'] as const) {
        const original = stmt[method].bind(stmt) as (...a: unknown[]) => unknown;
        (stmt as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          this.writes++;
          return original(...args);
        };
      }
      return stmt;
    }) as Db['prepare'];
    db.exec = ((source: string) => {
      this.writes++;
      return exec(source);
    }) as Db['exec'];
  }

  /** Calls `listener` with the count of durable writes after each flush. */
  onDurable(listener: (writes: number) => void): void {
    this.listeners.push(listener);
  }

  /** How many writes have been counted: compare before and after a call to know whether it wrote. */
  get count(): number {
    return this.writes;
  }

  /** Resolves once every write counted so far is durable. */
  durable(): Promise<void> {
    const need = this.writes;
    if (this.flushed >= need) return Promise.resolve();
    if (!this.running) return this.start();
    // A flush already under way may have started before these writes: they wait for the next.
    this.queued ??= this.running.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued.then(() => {
      if (this.flushed < need) return this.durable();
    });
  }

  private next(): Promise<void> {
    this.queued = undefined;
    return this.running ?? this.start();
  }

  private start(): Promise<void> {
    const target = this.writes;
    const run = this.flush().then(() => {
      if (target > this.flushed) this.flushed = target;
      for (const l of this.listeners) l(this.flushed);
    });
    this.running = run;
    const clear = (): void => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }
}

/**
 * Wraps each asynchronous method of a store so that a call that wrote resolves (or rejects)
 * only once its writes are durable. The SQLite stores do all their database work synchronously
 * inside the call, so the writes counted while it runs are exactly its own.
 */
export function durableStore<T extends object>(store: T, commits: DurableCommits): T {
  const wrappers = new Map<PropertyKey, unknown>();
  const wrap = (fn: (...a: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const before = commits.count;
      const result = fn.apply(this === proxy ? store : this, args);
      if (commits.count === before || !(result instanceof Promise)) return result;
      return result.then(
        (v) => commits.durable().then(() => v),
        (e: unknown) =>
          commits.durable().then(() => {
            throw e;
          }),
      );
    };
  // A proxy rather than a copy: it keeps methods a store has on its prototype, and its getters.
  const proxy: T = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      let w = wrappers.get(prop);
      if (w === undefined) {
        w = wrap(value as (...a: unknown[]) => unknown);
        wrappers.set(prop, w);
      }
      return w;
    },
  });
  return proxy;
}
