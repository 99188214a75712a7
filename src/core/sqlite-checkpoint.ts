/**
 * The checkpoint task of a byte thread (metadata/sqlite/wal-checkpoints.ts says why; composed by
 * app/byte-thread-checkpoints.ts): a PASSIVE checkpoint of a SQLite database on a connection of
 * this thread's own, kept open between checkpoints (opening one reads
 * the schema). better-sqlite3 is loaded on the first request, so threads that never checkpoint
 * (PostgreSQL, or every thread but the one asked) do not carry it.
 */
import type Database from 'better-sqlite3';

export interface ToCheckpoint {
  kind: 'checkpoint';
  id: number;
  path: string;
}

export interface FromCheckpoint {
  kind: 'checkpoint';
  id: number;
  /** Frames in the WAL and frames of it now in the database file, as SQLite reports them. */
  log?: number;
  checkpointed?: number;
  error?: string;
}

export function checkpointTask(reply: (m: FromCheckpoint) => void): (m: ToCheckpoint) => void {
  const connections = new Map<string, Database.Database>();
  let driver: Promise<typeof Database> | undefined;
  return (m) => {
    driver ??= import('better-sqlite3').then((mod) => mod.default);
    driver
      .then((Open) => {
        let db = connections.get(m.path);
        if (!db) {
          // Never creates a database: the event loop's connection made it.
          db = new Open(m.path, { fileMustExist: true });
          connections.set(m.path, db);
        }
        const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
        reply({ kind: 'checkpoint', id: m.id, log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 });
      })
      .catch((e: unknown) => {
        const db = connections.get(m.path);
        connections.delete(m.path);
        try {
          db?.close();
        } catch {
          // Already unusable: dropped either way.
        }
        reply({ kind: 'checkpoint', id: m.id, error: e instanceof Error ? e.message : String(e) });
      });
  };
}
