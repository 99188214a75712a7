/**
 * Whether any connection to the database file has committed since the last look: what the read
 * cache (read-cache.ts) asks before every read, so it must be far cheaper than the lookups it
 * saves.
 *
 * `PRAGMA data_version` answers it, but like any statement it opens and closes a read
 * transaction: two fcntl locks and an fstat, measured as costly as the lookup it would replace
 * (notes/2026-12-04-s12-cache.md). In WAL mode SQLite decides what a new read transaction sees
 * from the wal-index header, the first 96 bytes of the `-shm` file (two copies of a 48-byte
 * header, https://www.sqlite.org/walformat.html#the_wal_index_header): every commit and every
 * WAL restart rewrites it (`iChange` counts transactions, `mxFrame` is the last committed frame,
 * the salts change on a restart), and its layout is fixed because processes built with different
 * SQLite versions share one. Reading those bytes is one pread and no lock. A header that has not
 * changed means a read transaction begun now would see exactly what one begun at the last look
 * saw. A writer publishes the second copy, then the first; a read that catches it half-written
 * differs from the last look, so it counts as a change, never as none.
 *
 * The `-shm` file lives as long as this process's connection: SQLite deletes it only when the
 * last connection closes. Without one (`:memory:`, or a file that cannot be opened) the watch
 * falls back to `PRAGMA data_version`.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import type { Db } from './open.js';

export interface CommitWatch {
  readonly kind: 'wal-index' | 'data_version';
  /** True if a commit may have happened since the previous call (or since the watch began). */
  changed(): boolean;
  close(): void;
}

const HEADER_BYTES = 96;

export function watchCommits(db: Db, path: string): CommitWatch {
  if (path !== ':memory:' && db.pragma('journal_mode', { simple: true }) === 'wal') {
    try {
      return new WalIndexWatch(openSync(`${path}-shm`, 'r'));
    } catch {
      // No -shm to read: the pragma still answers.
    }
  }
  return new DataVersionWatch(db);
}

/** The fast path: the wal-index header's bytes, compared with the last look's. */
class WalIndexWatch implements CommitWatch {
  readonly kind = 'wal-index';
  private seen = Buffer.alloc(HEADER_BYTES);
  private next = Buffer.alloc(HEADER_BYTES);

  constructor(private readonly fd: number) {
    readSync(fd, this.seen, 0, HEADER_BYTES, 0);
  }

  changed(): boolean {
    // A short read (no header yet) is never taken for an unchanged one.
    const complete = readSync(this.fd, this.next, 0, HEADER_BYTES, 0) === HEADER_BYTES;
    if (complete && this.next.equals(this.seen)) return false;
    [this.seen, this.next] = [this.next, this.seen];
    return true;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** SQLite's own answer: changes on this connection when another connection has committed. */
class DataVersionWatch implements CommitWatch {
  readonly kind = 'data_version';
  private readonly statement: Statement<[], number>;
  private seen: number;

  constructor(db: Db) {
    this.statement = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.seen = this.statement.get()!;
  }

  changed(): boolean {
    const v = this.statement.get()!;
    if (v === this.seen) return false;
    this.seen = v;
    return true;
  }

  close(): void {}
}
