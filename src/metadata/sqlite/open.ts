/**
 * Opens the embedded SQLite metadata database and brings its schema up to date. WAL lets
 * readers proceed during writes; synchronous=FULL while migrating (the metadata store then
 * switches to group commit, durable-commits.ts: a commit is still durable before we answer the
 * client, since a 201 must survive a power cut, not only a crash); foreign keys hold the references.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations, type Dialect } from '../migrations.js';

export type Db = Database.Database;

export const sqliteDialect: Dialect = {
  serialPrimaryKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  bytes: 'BLOB',
  bigint: 'INTEGER',
  position: (needle, haystack) => `instr(${haystack}, ${needle})`,
  jsonText: (document, field) => `json_extract(${document}, '$.${field}')`,
  bytesContain: (column, text) => `instr(${column}, CAST('${text}' AS BLOB)) > 0`,
};

export function openSqlite(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      for (const stmt of m.sql(sqliteDialect)) db.exec(stmt);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
  }
}
