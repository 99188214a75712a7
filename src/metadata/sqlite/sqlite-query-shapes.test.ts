/**
 * The shape of the hot digest-keyed reads (blob HEAD, blob links), from SQLite's own plan: one
 * table at the top of the statement, found through its primary-key index, and every other table
 * asked in a scalar subquery through its index. A join there costs a re-prepare at every execution
 * in this SQLite build (blobs.ts), and a SCAN would grow with the registry; both show in the plan.
 * The layer-archived check (every blob HEAD and GET) must find a layer's references by
 * (repository, digest), not walk the repository's references by the primary key's prefix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LAYER_ARCHIVED_SQL } from './archive.js';
import { BLOB_IN_REPOSITORY_SQL, BLOB_STAT_SQL } from './blobs.js';
import { LIST_IDS_SQL, LIST_SQL } from './images.js';
import { openSqlite, type Db } from './open.js';

interface PlanRow {
  id: number;
  parent: number;
  detail: string;
}

function plan(db: Db, sql: string, params: unknown[]): PlanRow[] {
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as PlanRow[];
}

const digest = `sha256:${'a'.repeat(64)}`;

describe('SQLite hot-path query shapes', () => {
  const cases: Array<[string, string, unknown[], RegExp, RegExp[]]> = [
    [
      'blob stat (HEAD and GET, with the layer access)',
      BLOB_STAT_SQL,
      [{ repo: 7, digest }],
      /^SEARCH blobs USING INDEX sqlite_autoindex_blobs_1 \(digest=\?\)$/,
      [
        /^SEARCH repository_blobs USING COVERING INDEX sqlite_autoindex_repository_blobs_1 \(repository_id=\? AND digest=\?\)$/,
        /^SEARCH gc_blob_reviews USING INDEX sqlite_autoindex_gc_blob_reviews_1 \(digest=\?\)$/,
        // The layer access (LAYER_ARCHIVED_SQL, below): two reference lookups and the status by key.
        /^SEARCH r USING INDEX manifest_references_child \(repository_id=\? AND child_digest=\?\)$/,
        /^SEARCH r USING INDEX manifest_references_child \(repository_id=\? AND child_digest=\?\)$/,
        /^SEARCH m USING INDEX sqlite_autoindex_manifests_1 \(repository_id=\? AND digest=\?\)$/,
      ],
    ],
    [
      'blob in a repository',
      BLOB_IN_REPOSITORY_SQL,
      [digest, 7, digest],
      /^SEARCH blobs USING INDEX sqlite_autoindex_blobs_1 \(digest=\?\)$/,
      [/^SEARCH repository_blobs USING COVERING INDEX sqlite_autoindex_repository_blobs_1 \(repository_id=\? AND digest=\?\)$/],
    ],
  ];
  it('layer archived (blob HEAD and GET): references found by repository and digest, statuses by key', () => {
    const db = openSqlite(':memory:');
    try {
      const rows = plan(db, LAYER_ARCHIVED_SQL, [{ repo: 7, digest }]);
      // The SELECT's one constant row is no table.
      const tables = rows.filter((r) => /^(SEARCH|SCAN) /.test(r.detail) && r.detail !== 'SCAN CONSTANT ROW').map((r) => r.detail);
      assert.deepEqual(
        tables.map((d) => d.replace(/ r | m /, ' x ')),
        [
          'SEARCH x USING INDEX manifest_references_child (repository_id=? AND child_digest=?)',
          'SEARCH x USING INDEX manifest_references_child (repository_id=? AND child_digest=?)',
          'SEARCH x USING INDEX sqlite_autoindex_manifests_1 (repository_id=? AND digest=?)',
        ],
        JSON.stringify(rows),
      );
    } finally {
      db.close();
    }
  });
  it('image listing pages (ListImages, DescribeImages): the manifests and blob sizes read from indexes alone, never their rows', () => {
    const db = openSqlite(':memory:');
    try {
      imageListingPlans(db);
    } finally {
      db.close();
    }
  });
  it("image listing pages: the same plans once the database has statistics (an operator's ANALYZE)", () => {
    const db = openSqlite(':memory:');
    try {
      // Past ~100 images with statistics, SQLite preferred the table's own (repository_id, digest)
      // key, which is not covering: every image of a page a read of its row.
      db.prepare("INSERT INTO repositories (registry_id, name, created_at) VALUES ('000000000000/us-east-1', 'r', 1)").run();
      const manifest = db.prepare('INSERT INTO manifests (repository_id, digest, media_type, size, payload, pushed_at) VALUES (1, ?, ?, 1, ?, 1)');
      for (let i = 0; i < 200; i++) manifest.run(`sha256:${i.toString(16).padStart(64, '0')}`, 'application/vnd.oci.image.manifest.v1+json', Buffer.alloc(500));
      db.exec('ANALYZE');
      // The plan is chosen for the bound repository: one with images.
      imageListingPlans(db, 1);
    } finally {
      db.close();
    }
  });
  /** Each listing page's plan, every tag filter and status: the listing's index, in its order. */
  function imageListingPlans(db: Db, repositoryId = 7): void {
    for (const [kind, byTag] of Object.entries({ ListImages: LIST_IDS_SQL, DescribeImages: LIST_SQL }))
      for (const [tagStatus, sql] of Object.entries(byTag))
        for (const status of ['ACTIVE', 'ANY']) {
          const rows = plan(db, sql, [repositoryId, '', status, status, 1001]);
          const manifests = rows.filter((r) => / m USING /.test(r.detail) || /^SCAN m\b/.test(r.detail)).map((r) => r.detail);
          assert.deepEqual(
            manifests,
            ['SEARCH m USING COVERING INDEX manifests_listing (repository_id=? AND digest>?)'],
            `${kind} ${tagStatus} ${status}: ${JSON.stringify(rows)}`,
          );
          assert.ok(!rows.some((r) => /USE TEMP B-TREE/.test(r.detail)), `${kind} ${tagStatus}: sorted by the index, ${JSON.stringify(rows)}`);
          if (kind === 'DescribeImages')
            assert.deepEqual(
              rows.filter((r) => / b USING /.test(r.detail)).map((r) => r.detail),
              ['SEARCH b USING COVERING INDEX blobs_sizes (digest=?)'],
              `${kind} ${tagStatus}: blob sizes from their index alone, ${JSON.stringify(rows)}`,
            );
        }
  }
  for (const [name, sql, params, top, inner] of cases) {
    it(`${name}: one table searched by its key, the others in indexed subqueries`, () => {
      const db = openSqlite(':memory:');
      try {
        const rows = plan(db, sql, params);
        // The SELECT's one constant row (LAYER_ARCHIVED_SQL's) is no table.
        const tables = rows.filter((r) => /^(SEARCH|SCAN) /.test(r.detail) && r.detail !== 'SCAN CONSTANT ROW');
        const atTop = tables.filter((r) => r.parent === 0);
        assert.equal(atTop.length, 1, `one table at the top, not a join: ${JSON.stringify(rows)}`);
        assert.match(atTop[0]!.detail, top);
        const nested = tables.filter((r) => r.parent !== 0).map((r) => r.detail);
        assert.equal(nested.length, inner.length, JSON.stringify(rows));
        for (const re of inner)
          assert.ok(
            nested.some((d) => re.test(d)),
            `${re} in ${JSON.stringify(rows)}`,
          );
        // Each nested search sits under a scalar subquery (evaluated once, for the one row).
        const subqueries = new Set(rows.filter((r) => /^(CORRELATED )?SCALAR SUBQUERY/.test(r.detail)).map((r) => r.id));
        for (const r of tables.filter((t) => t.parent !== 0)) assert.ok(subqueries.has(r.parent), JSON.stringify(rows));
      } finally {
        db.close();
      }
    });
  }
});
