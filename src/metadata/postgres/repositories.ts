/**
 * Repositories, their settings and their resource tags on PostgreSQL (the twin of
 * ../sqlite/repositories.ts). The repository row is the first lock of every transaction that
 * writes into a repository: a delete takes it FOR UPDATE (so a push, which takes FOR KEY SHARE,
 * either finishes first and is seen by the emptiness check, or finds the repository gone), and a
 * resource-tag write takes FOR NO KEY UPDATE (writers of one repository's tags serialize, so the
 * count limit holds, without blocking pushes).
 */
import { defaultRepositorySettings, type RepositorySettings } from '../../core/repository-settings.js';
import { principalIdsText } from '../policy-rows.js';
import { repositoryPolicyScope } from '../policy-scopes.js';
import { deleteSigningStatusesSql, signingStatusPrefix, statusNameRange } from '../signing-statuses.js';
import type { Page, RepositoryRecord, RepositoryStore } from '../types.js';
import { queueRepositoryBlobs } from './gc-queue.js';
import { one, rows, Rollback, withTransaction, type PgContext } from './pool.js';
import { checkRepositoryCount } from './quota-locks.js';
import { parseRegistryKey, registryKeyText, type RegistryKey } from '../../core/registry-key.js';

/** A repositories row (exported for the manifest GET's lookup, which reads one beside a manifest). */
export interface RepositoryRow {
  id: number;
  registry_id: string;
  name: string;
  created_at: number;
  settings: string;
  lifecycle_evaluated_at: number | null;
}

export const REPOSITORY_COLUMNS = 'id, registry_id, name, created_at, settings, lifecycle_evaluated_at';

export function toRepository(r: RepositoryRow): RepositoryRecord {
  return {
    id: r.id,
    registryKey: parseRegistryKey(r.registry_id),
    name: r.name,
    createdAt: new Date(r.created_at),
    settings: { ...defaultRepositorySettings, ...(JSON.parse(r.settings) as Partial<RepositorySettings>) },
    ...(r.lifecycle_evaluated_at !== null && { lifecycleEvaluatedAt: new Date(r.lifecycle_evaluated_at) }),
  };
}

export function createPostgresRepositories({ pool, collate }: PgContext): RepositoryStore {
  const find = (registryKey: RegistryKey, name: string) =>
    one<RepositoryRow>(pool, `SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE registry_id = $1 AND name = $2`, [registryKeyText(registryKey), name]);
  const list = (registryKey: RegistryKey, page: Page) =>
    rows<RepositoryRow>(
      pool,
      `SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE registry_id = $1 AND name${collate} > $2 ORDER BY name${collate} LIMIT $3`,
      [registryKeyText(registryKey), page.after ?? '', page.limit],
    );

  return {
    async find(registryKey, name) {
      const r = await find(registryKey, name);
      return r && toRepository(r);
    },
    async ensure(registryKey, name, now, maxRepositories) {
      const r = await find(registryKey, name);
      if (r) return toRepository(r);
      // A racing creator's insert makes ours wait and do nothing; the read after it (a new
      // statement, a new snapshot) finds that row.
      const insert = (db: Pick<typeof pool, 'query'>) =>
        db.query(`INSERT INTO repositories (registry_id, name, created_at, settings) VALUES ($1, $2, $3, '{}') ON CONFLICT DO NOTHING`, [
          registryKeyText(registryKey),
          name,
          now.getTime(),
        ]);
      if (maxRepositories === undefined) await insert(pool);
      else
        await withTransaction(pool, async (tx) => {
          // Counted under the registry's quota lock; the name is looked up again under it.
          await checkRepositoryCount(tx, registryKeyText(registryKey), maxRepositories);
          await insert(tx);
        }).catch(async (e: unknown) => {
          // The count includes a racing creator of this very name: that repository is ours too.
          if (await find(registryKey, name)) return;
          throw e;
        });
      return toRepository((await find(registryKey, name))!);
    },
    async create(input) {
      return withTransaction(pool, async (tx) => {
        const keyText = registryKeyText(input.registryKey);
        if (input.maxRepositories !== undefined) {
          if (await one(tx, 'SELECT 1 FROM repositories WHERE registry_id = $1 AND name = $2', [keyText, input.name])) return undefined;
          await checkRepositoryCount(tx, keyText, input.maxRepositories);
        }
        const row = await one<RepositoryRow>(
          tx,
          `INSERT INTO repositories (registry_id, name, created_at, settings) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING ${REPOSITORY_COLUMNS}`,
          [registryKeyText(input.registryKey), input.name, input.now.getTime(), JSON.stringify(input.settings)],
        );
        if (!row) return undefined;
        if (input.tags.length > 0) {
          // Later duplicates of a key win, as SQLite's one-by-one upserts do.
          const tags = new Map(input.tags.map((t) => [t.Key, t.Value]));
          await tx.query(
            'INSERT INTO repository_resource_tags (repository_id, tag_key, tag_value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)',
            [row.id, [...tags.keys()], [...tags.values()]],
          );
        }
        const scope = repositoryPolicyScope(input.registryKey, input.name);
        for (const p of input.policies ?? []) {
          await tx.query(
            `INSERT INTO policies (scope, kind, document, updated_at, principal_ids) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, kind) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, principal_ids = excluded.principal_ids`,
            [scope, p.kind, p.document, input.now.getTime(), principalIdsText(p.principalIds)],
          );
        }
        return toRepository(row);
      });
    },
    async updateSettings(id, settings) {
      await pool.query('UPDATE repositories SET settings = $1 WHERE id = $2', [JSON.stringify(settings), id]);
    },
    async list(registryKey, page) {
      return (await list(registryKey, page)).map((r) => r.name);
    },
    async listRecords(registryKey, page) {
      return (await list(registryKey, page)).map(toRepository);
    },
    async delete(id, opts) {
      return withTransaction(pool, async (tx) => {
        const repo = await one<{ registry_id: string; name: string }>(tx, 'SELECT registry_id, name FROM repositories WHERE id = $1 FOR UPDATE', [id]);
        if (!repo) return 'missing' as const;
        // Read after the lock: a push that got in first has committed and is counted.
        if (!opts.force && (await one(tx, 'SELECT 1 FROM manifests WHERE repository_id = $1 LIMIT 1', [id]))) return 'notEmpty' as const;
        await tx.query('DELETE FROM policies WHERE scope = $1', [repositoryPolicyScope(parseRegistryKey(repo.registry_id), repo.name)]);
        await tx.query(
          deleteSigningStatusesSql((n) => `$${n}`, collate),
          [repo.registry_id, ...statusNameRange(signingStatusPrefix(repo.name))],
        );
        // Its links and references go with it (cascades): every blob they held is queued first.
        await queueRepositoryBlobs(tx, id, opts.now.getTime());
        await tx.query('DELETE FROM repositories WHERE id = $1', [id]);
        return 'deleted' as const;
      });
    },
    async setLifecycleEvaluatedAt(id, at) {
      await pool.query('UPDATE repositories SET lifecycle_evaluated_at = $1 WHERE id = $2', [at.getTime(), id]);
    },
    async resourceTags(id) {
      const found = await rows<{ tag_key: string; tag_value: string }>(
        pool,
        `SELECT tag_key, tag_value FROM repository_resource_tags WHERE repository_id = $1 ORDER BY tag_key${collate}`,
        [id],
      );
      return found.map((r) => ({ Key: r.tag_key, Value: r.tag_value }));
    },
    async putResourceTags(id, tags, max) {
      return withTransaction(pool, async (tx) => {
        await tx.query('SELECT 1 FROM repositories WHERE id = $1 FOR NO KEY UPDATE', [id]);
        const merged = new Map(tags.map((t) => [t.Key, t.Value]));
        if (merged.size > 0) {
          await tx.query(
            `INSERT INTO repository_resource_tags (repository_id, tag_key, tag_value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)
             ON CONFLICT (repository_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
            [id, [...merged.keys()], [...merged.values()]],
          );
        }
        const n = (await one<{ n: number }>(tx, 'SELECT COUNT(*) AS n FROM repository_resource_tags WHERE repository_id = $1', [id]))!.n;
        // Over the limit: undo the writes above.
        if (n > max) throw new Rollback(false);
        return true;
      });
    },
    async removeResourceTags(id, keys) {
      if (keys.length === 0) return;
      // Behind the repository row like putResourceTags: the two never lock tag rows in opposite orders.
      await withTransaction(pool, async (tx) => {
        await tx.query('SELECT 1 FROM repositories WHERE id = $1 FOR NO KEY UPDATE', [id]);
        await tx.query('DELETE FROM repository_resource_tags WHERE repository_id = $1 AND tag_key = ANY($2::text[])', [id, keys]);
      });
    },
  };
}
