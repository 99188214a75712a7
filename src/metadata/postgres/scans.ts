/** Image scans, package inventories and advisories on PostgreSQL (the twin of ../sqlite/scans.ts). */
import type { Digest } from '../../core/digest.js';
import type { JobRequest, OutboxEvent, ScanStore } from '../types.js';
import { writeEventsIn } from './events.js';
import { enqueueIn } from './jobs.js';
import { SCAN_COLUMNS, toScan, type ScanRow } from '../scan-rows.js';
import { changes, one, rows, withTransaction, type PgContext, type Queryable } from './pool.js';
import { parseRegistryKey } from '../../core/registry-key.js';

/** Marks a scan IN_PROGRESS and enqueues its job, inside the caller's transaction (a manifest put). */
export async function startScanIn(tx: Queryable, repositoryId: number, digest: string, job: JobRequest, now: number): Promise<void> {
  await tx.query(
    `INSERT INTO image_scans (repository_id, digest, status, description, started_at) VALUES ($1, $2, 'IN_PROGRESS', 'The scan is in progress.', $3)
     ON CONFLICT (repository_id, digest) DO UPDATE SET status = 'IN_PROGRESS', description = excluded.description,
       started_at = excluded.started_at, completed_at = NULL, findings = NULL, fingerprint = NULL`,
    [repositoryId, digest, now],
  );
  await enqueueIn(tx, [job], now);
}

/** Advisories and scan results are written in chunks: one statement each, of bounded size. */
const ADVISORY_CHUNK = 2000;
const FINISH_CHUNK = 500;

type FinishResult = Parameters<ScanStore['finishMany']>[0][number];

export function createPostgresScans({ pool, collate }: PgContext): ScanStore {
  async function finishMany(results: FinishResult[], events?: OutboxEvent[]): Promise<void> {
    if (results.length === 0) return;
    // One row per image, the last result given winning (as SQLite's updates in turn would):
    // an UPDATE ... FROM would apply an arbitrary one of several matches.
    // Sorted, and locked in that order below: two batches sharing images never deadlock.
    const last = [...new Map(results.map((r) => [`${r.repositoryId} ${r.digest}`, r])).values()].sort(
      (x, y) => x.repositoryId - y.repositoryId || (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0),
    );
    await withTransaction(pool, async (tx) => {
      let updated = 0;
      for (let i = 0; i < last.length; i += FINISH_CHUNK) {
        const chunk = last.slice(i, i + FINISH_CHUNK);
        updated += await changes(
          tx,
          `WITH u AS (
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[])
               AS u(r, d, st, de, ca, su, fi, fp)),
           locked AS (
             SELECT s.repository_id, s.digest FROM image_scans s JOIN u ON s.repository_id = u.r AND s.digest = u.d
             ORDER BY s.repository_id, s.digest FOR NO KEY UPDATE OF s)
           UPDATE image_scans s SET status = u.st, description = u.de, completed_at = u.ca, source_updated_at = u.su, findings = u.fi,
             fingerprint = u.fp
           FROM u JOIN locked l ON l.repository_id = u.r AND l.digest = u.d
           WHERE s.repository_id = u.r AND s.digest = u.d`,
          [
            chunk.map((r) => r.repositoryId),
            chunk.map((r) => r.digest),
            chunk.map((r) => r.result.status),
            chunk.map((r) => r.result.description),
            chunk.map((r) => r.result.completedAt?.getTime() ?? null),
            chunk.map((r) => r.result.sourceUpdatedAt?.getTime() ?? null),
            chunk.map((r) => r.result.findings ?? null),
            chunk.map((r) => r.result.fingerprint ?? null),
          ],
        );
      }
      // Reported only if the scan still exists (the image may have been deleted meanwhile).
      if (events && updated > 0) await writeEventsIn(tx, events, last[0]!.result.completedAt?.getTime() ?? 0);
    });
  }

  return {
    async get(repositoryId, digest) {
      const r = await one<ScanRow>(pool, `SELECT ${SCAN_COLUMNS} FROM image_scans WHERE repository_id = $1 AND digest = $2`, [repositoryId, digest]);
      return r && toScan(r);
    },
    async getMany(repositoryId, digests) {
      const found = await rows<ScanRow>(pool, `SELECT ${SCAN_COLUMNS} FROM image_scans WHERE repository_id = $1 AND digest = ANY($2::text[])`, [
        repositoryId,
        [...new Set(digests)],
      ]);
      return new Map(found.map((r) => [r.digest, toScan(r)]));
    },
    async start(repositoryId, digest, job, now, quotaSince) {
      return withTransaction(pool, async (tx) => {
        // The image row, locked against itself (FOR NO KEY UPDATE): two starts of one image
        // serialize, so the quota check below sees the other's scan; a delete waits for us, and
        // a put (key share) does not.
        if (!(await one(tx, 'SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2 FOR NO KEY UPDATE', [repositoryId, digest]))) {
          return 'missing' as const;
        }
        const cur = await one<{ started_at: number }>(tx, 'SELECT started_at FROM image_scans WHERE repository_id = $1 AND digest = $2', [
          repositoryId,
          digest,
        ]);
        if (quotaSince !== undefined && cur && cur.started_at > quotaSince.getTime()) return 'quota' as const;
        await startScanIn(tx, repositoryId, digest, job, now.getTime());
        return 'started' as const;
      });
    },
    async finish(repositoryId, digest, r, events) {
      await finishMany([{ repositoryId, digest, result: r }], events);
    },
    async finishMany(results) {
      await finishMany(results);
    },
    async completed(afterKey, limit) {
      // SQLite pages by rowid; PostgreSQL has none, so the key is the primary key,
      // `<repositoryId> <digest>` (opaque to callers), and pages follow its order.
      const sep = afterKey.indexOf(' ');
      const [repo, digest] = sep < 0 ? [-1, ''] : [Number(afterKey.slice(0, sep)), afterKey.slice(sep + 1)];
      const found = await rows<{ repository_id: number; registry_id: string; name: string; digest: string; fingerprint: string | null }>(
        pool,
        `SELECT s.repository_id, r.registry_id, r.name, s.digest, s.fingerprint FROM image_scans s JOIN repositories r ON r.id = s.repository_id
         WHERE s.status = 'COMPLETE' AND (s.repository_id, s.digest) > ($1::bigint, $2::text)
         ORDER BY s.repository_id, s.digest LIMIT $3`,
        [repo, digest, limit],
      );
      return found.map((r) => ({
        key: `${r.repository_id} ${r.digest}`,
        repositoryId: r.repository_id,
        registryKey: parseRegistryKey(r.registry_id),
        repository: r.name,
        digest: r.digest as Digest,
        ...(r.fingerprint !== null && { fingerprint: r.fingerprint }),
      }));
    },
    async inventory(digest) {
      return (await one<{ inventory: string }>(pool, 'SELECT inventory FROM package_inventories WHERE digest = $1', [digest]))?.inventory;
    },
    async putInventory(digest, inventory, now) {
      await pool.query(
        'INSERT INTO package_inventories (digest, inventory, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE SET inventory = excluded.inventory',
        [digest, inventory, now.getTime()],
      );
    },
    async putAdvisories(source, list, now) {
      // One upsert per id, of its newest version (an upsert may touch a row once per statement);
      // SQLite applies duplicates in turn, which ends in the same rows (but counts each change).
      const newest = new Map<string, { id: string; modified: Date; document: string }>();
      for (const a of list) {
        const cur = newest.get(a.id);
        if (!cur || a.modified.getTime() > cur.modified.getTime()) newest.set(a.id, a);
      }
      const all = [...newest.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return withTransaction(pool, async (tx) => {
        let changed = 0;
        for (let i = 0; i < all.length; i += ADVISORY_CHUNK) {
          const chunk = all.slice(i, i + ADVISORY_CHUNK);
          // Written only when newer than what is stored; RETURNING counts what changed.
          const r = await tx.query(
            `INSERT INTO advisories (id, source, modified, document)
             SELECT i, $1, m, d FROM unnest($2::text[], $3::bigint[], $4::text[]) AS a(i, m, d)
             ON CONFLICT (id) DO UPDATE SET source = excluded.source, modified = excluded.modified, document = excluded.document
             WHERE advisories.modified < excluded.modified`,
            [source, chunk.map((a) => a.id), chunk.map((a) => a.modified.getTime()), chunk.map((a) => a.document)],
          );
          changed += r.rowCount ?? 0;
        }
        const t = now.getTime();
        await tx.query(
          `INSERT INTO advisory_sources (name, advisories, imported_at, updated_at)
           VALUES ($1, (SELECT COUNT(*) FROM advisories WHERE source = $1), $2, $2)
           ON CONFLICT (name) DO UPDATE SET advisories = excluded.advisories, imported_at = excluded.imported_at,
             updated_at = CASE WHEN $3::int > 0 THEN excluded.updated_at ELSE advisory_sources.updated_at END`,
          [source, t, changed],
        );
        return changed;
      });
    },
    async advisories(afterId, limit) {
      return rows<{ id: string; document: string }>(pool, `SELECT id, document FROM advisories WHERE id${collate} > $1 ORDER BY id${collate} LIMIT $2`, [
        afterId,
        limit,
      ]);
    },
    async sources() {
      const found = await rows<{ name: string; advisories: number; imported_at: number; updated_at: number }>(
        pool,
        `SELECT name, advisories, imported_at, updated_at FROM advisory_sources ORDER BY name${collate}`,
      );
      return found.map((r) => ({ name: r.name, advisories: r.advisories, importedAt: new Date(r.imported_at), updatedAt: new Date(r.updated_at) }));
    },
  };
}
