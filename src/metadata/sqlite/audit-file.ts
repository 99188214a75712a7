/**
 * On SQLite the audit trail lives in a database file of its own beside the registry's
 * (`metadata.db` → `metadata-audit.db`). Sharing one file cost the registry three ways: in WAL
 * mode every commit of the audit thread made the event loop's connection drop its whole page
 * cache at its next read (pread64 on the event loop only with the trail on); each trail batch held
 * the file's one write lock, during which a registry write waited in SQLite's busy handler on the
 * event loop; and the registry's group-commit fdatasync flushed the trail's frames with its own.
 *
 * Rows an older Berth stored in the registry's `audit_events` are moved here at open, in chunks,
 * each copied (and made durable) before it is deleted there: a crash between the two leaves the
 * chunk in both files, and the next open copies it again, skipping event ids already here, and
 * deletes it. No row is lost or stored twice at any instant. The rows here are then made into
 * batches (migration 20's form: carryOverSqliteAuditRows), one transaction a chunk.
 */
import Database from 'better-sqlite3';
import { AUDIT_COLUMNS } from '../audit-rows.js';
import { migrations } from '../migrations.js';
import { carryOverSqliteAuditRows } from './audit.js';
import { sqliteDialect, type Db } from './open.js';

/** The trail's file for a registry database at `path`. */
export function trailPathOf(path: string): string {
  return path.replace(/(\.db)?$/, '-audit.db');
}

/** Rows moved per transaction pair: bounds each transaction's WAL and lock time. */
const CARRY_CHUNK = 5000;

/**
 * Opens the trail's file (creating its table as migration 8 made it in the registry's) and moves
 * in what the registry's database still holds. The connection runs synchronous NORMAL afterwards,
 * as the audit thread's does: it only reads and prunes.
 */
export function openTrailFile(db: Db, path: string): Db {
  const trail = new Database(trailPathOf(path));
  try {
    trail.pragma('journal_mode = WAL');
    trail.pragma('synchronous = FULL');
    trail.pragma('busy_timeout = 10000');
    createSchema(trail);
    carryOver(db, trail, path);
    carryOverSqliteAuditRows(trail);
    trail.pragma('synchronous = NORMAL');
    return trail;
  } catch (e) {
    trail.close();
    throw e;
  }
}

/**
 * user_version counts the trail file's own schema versions: 1 is migration 8's table, 2 adds
 * migration 20's batches. Checked
 * again under the write lock: two processes opening a new file at once (a server and `berth gc`)
 * make it once.
 */
function createSchema(trail: Db): void {
  const version = () => trail.pragma('user_version', { simple: true }) as number;
  if (version() >= 2) return;
  trail
    .transaction(() => {
      // Version 1: migration 8's table (rows, still carried over from); 2: migration 20's batches.
      for (const [v, m] of [
        [1, 8],
        [2, 20],
      ] as const) {
        if (version() >= v) continue;
        for (const stmt of migrations.find((x) => x.version === m)!.sql(sqliteDialect)) trail.exec(stmt);
        trail.pragma(`user_version = ${v}`);
      }
    })
    .immediate();
}

function carryOver(db: Db, trail: Db, path: string): void {
  const range = db.prepare('SELECT min(seq) AS low, max(seq) AS high FROM audit_events').get() as { low: number | null; high: number | null };
  if (range.low === null || range.high === null) return;
  trail.prepare('ATTACH DATABASE ? AS registry').run(path);
  try {
    // Fresh seqs here, in the old order; event ids are unique in both files, so a chunk copied
    // before a crash is skipped when copied again. Only this file is written by the copy.
    const copy = trail.prepare(
      `INSERT INTO main.audit_events (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM registry.audit_events WHERE seq >= ? AND seq < ? ORDER BY seq ON CONFLICT (event_id) DO NOTHING`,
    );
    const drop = db.prepare('DELETE FROM audit_events WHERE seq >= ? AND seq < ?');
    for (let from = range.low; from <= range.high; from += CARRY_CHUNK) {
      copy.run(from, from + CARRY_CHUNK);
      drop.run(from, from + CARRY_CHUNK);
    }
  } finally {
    trail.exec('DETACH DATABASE registry');
  }
}
