/**
 * Both ways of knowing that another connection committed (commit-watch.ts), on a real database
 * file with a second connection, as another process would have: each sees that commit once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { watchCommits } from './commit-watch.js';
import { openSqlite } from './open.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-commit-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('commit watch', () => {
  for (const kind of ['wal-index header', 'data_version'] as const) {
    it(`${kind}: sees another connection's commit once, and no change without one`, () => {
      const path = join(dir, `${kind.replace(/\W/g, '')}.db`);
      const db = openSqlite(path);
      const other = new Database(path);
      other.pragma('busy_timeout = 10000');
      // ':memory:' as the path makes it fall back to the pragma on the same file's connection.
      const watch = watchCommits(db, kind === 'data_version' ? ':memory:' : path);
      try {
        assert.equal(watch.kind, kind === 'data_version' ? 'data_version' : 'wal-index');
        db.exec('CREATE TABLE t (v INTEGER)');
        watch.changed();
        assert.equal(watch.changed(), false);
        db.prepare('SELECT COUNT(*) FROM t').get();
        assert.equal(watch.changed(), false, 'a read is no commit');
        for (let i = 0; i < 3; i++) {
          other.prepare('INSERT INTO t (v) VALUES (?)').run(i);
          assert.equal(watch.changed(), true, `commit ${i}`);
          assert.equal(watch.changed(), false);
        }
        // A checkpoint that restarts the log is seen too (the next commit's header is new either way).
        other.pragma('wal_checkpoint(RESTART)');
        other.prepare('INSERT INTO t (v) VALUES (9)').run();
        assert.equal(watch.changed(), true);
      } finally {
        watch.close();
        other.close();
        db.close();
      }
    });
  }
});
