/**
 * The small role stores on PostgreSQL: tags, upload sessions, policies, registry settings and
 * lifecycle previews (the twins of ../sqlite/tags-uploads.ts, policies.ts, lifecycle-previews.ts).
 * Most are single statements; the two with a check-then-write rule make the rule race-free:
 * a preview starts by one conditional upsert, and upload creations serialize on an advisory lock.
 */
import type { LifecyclePreviewStore, PolicyStore, RegistrySettingsStore, TagStore, UploadCreation, UploadRecord, UploadStore } from '../types.js';
import { writeRemovalEventsIn } from './events.js';
import { changes, LOCK_NAMESPACE, one, rows, withTransaction, type PgContext } from './pool.js';
import { registryKeyText } from '../../core/registry-key.js';

export function createPostgresTags({ pool, collate }: PgContext): TagStore {
  return {
    async list(repositoryId, page) {
      const found = await rows<{ name: string }>(
        pool,
        `SELECT name FROM tags WHERE repository_id = $1 AND name${collate} > $2 ORDER BY name${collate} LIMIT $3`,
        [repositoryId, page.after ?? '', page.limit],
      );
      return found.map((r) => r.name);
    },
    async delete(repositoryId, tag, report) {
      if (!report) return (await changes(pool, 'DELETE FROM tags WHERE repository_id = $1 AND name = $2', [repositoryId, tag])) > 0;
      return withTransaction(pool, async (tx) => {
        // The tag row, locked: a racing move of the tag is reported by whoever moves it.
        const row = await one<{ digest: string }>(tx, 'SELECT digest FROM tags WHERE repository_id = $1 AND name = $2 FOR UPDATE', [repositoryId, tag]);
        if (!row) return false;
        await writeRemovalEventsIn(tx, repositoryId, row.digest, tag, true, report.events, report.now.getTime());
        return (await changes(tx, 'DELETE FROM tags WHERE repository_id = $1 AND name = $2', [repositoryId, tag])) > 0;
      });
    },
  };
}

interface UploadRow {
  id: string;
  repository_id: number;
  size: number;
  created_at: number;
  updated_at: number;
}

export function createPostgresUploads({ pool }: PgContext): UploadStore {
  return {
    async create(u, limits) {
      return withTransaction(pool, async (tx): Promise<UploadCreation> => {
        // The caps are on open sessions: count-then-insert is a write skew between nodes
        // under any isolation short of SERIALIZABLE, and SERIALIZABLE would abort most
        // concurrent creations (each reads the whole table). A transaction-scoped advisory lock
        // makes creators take turns instead; each holds it for three statements.
        await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_NAMESPACE.uploads]);
        // The account's cap first: it is the one its own caller can act on.
        const mine = Number((await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM uploads WHERE account_id = $1', [u.accountId]))!.n);
        if (mine >= limits.perAccount) return 'account';
        const n = Number((await one<{ n: string }>(tx, 'SELECT COUNT(*) AS n FROM uploads'))!.n);
        if (n >= limits.total) return 'total';
        await tx.query('INSERT INTO uploads (id, repository_id, account_id, size, created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4)', [
          u.id,
          u.repositoryId,
          u.accountId,
          u.now.getTime(),
        ]);
        return 'created';
      });
    },
    async find(id) {
      const r = await one<UploadRow>(pool, 'SELECT id, repository_id, size, created_at, updated_at FROM uploads WHERE id = $1', [id]);
      if (!r) return undefined;
      const u: UploadRecord = {
        id: r.id,
        repositoryId: r.repository_id,
        size: r.size,
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at),
      };
      return u;
    },
    async setSize(id, size, now) {
      return (await changes(pool, 'UPDATE uploads SET size = $1, updated_at = $2 WHERE id = $3', [size, now.getTime(), id])) > 0;
    },
    async delete(id) {
      return (await changes(pool, 'DELETE FROM uploads WHERE id = $1', [id])) > 0;
    },
  };
}

export function createPostgresPolicies({ pool, collate }: PgContext): PolicyStore {
  return {
    async scopes(kind) {
      return (await rows<{ scope: string }>(pool, `SELECT scope FROM policies WHERE kind = $1 ORDER BY scope${collate}`, [kind])).map((r) => r.scope);
    },
    async get(scope, kind) {
      const r = await one<{ document: string; updated_at: number }>(pool, 'SELECT document, updated_at FROM policies WHERE scope = $1 AND kind = $2', [
        scope,
        kind,
      ]);
      return r && { document: r.document, updatedAt: new Date(r.updated_at) };
    },
    async put(scope, kind, document, now) {
      await pool.query(
        `INSERT INTO policies (scope, kind, document, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope, kind) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
        [scope, kind, document, now.getTime()],
      );
    },
    async delete(scope, kind) {
      return (await changes(pool, 'DELETE FROM policies WHERE scope = $1 AND kind = $2', [scope, kind])) > 0;
    },
  };
}

export function createPostgresRegistrySettings({ pool }: PgContext): RegistrySettingsStore {
  return {
    async get(registryKey, name) {
      return (
        await one<{ value: string }>(pool, 'SELECT value FROM registry_settings WHERE registry_id = $1 AND name = $2', [registryKeyText(registryKey), name])
      )?.value;
    },
    async all(registryKey) {
      const r = await pool.query<{ name: string; value: string }>('SELECT name, value FROM registry_settings WHERE registry_id = $1', [
        registryKeyText(registryKey),
      ]);
      return new Map(r.rows.map((row) => [row.name, row.value]));
    },
    async put(registryKey, name, value) {
      await pool.query(
        `INSERT INTO registry_settings (registry_id, name, value) VALUES ($1, $2, $3)
         ON CONFLICT (registry_id, name) DO UPDATE SET value = excluded.value`,
        [registryKeyText(registryKey), name, value],
      );
    },
    async delete(registryKey, name) {
      return (
        await one<{ value: string }>(pool, 'DELETE FROM registry_settings WHERE registry_id = $1 AND name = $2 RETURNING value', [
          registryKeyText(registryKey),
          name,
        ])
      )?.value;
    },
  };
}

interface PreviewRow {
  policy_text: string;
  status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';
  started_at: number;
  results: string | null;
}

export function createPostgresLifecyclePreviews({ pool }: PgContext): LifecyclePreviewStore {
  return {
    async start(repositoryId, text, now, staleBefore) {
      // One statement: replaced unless a fresh preview is in progress. The conflict path locks
      // the row and tests its latest version, so of two racing starts exactly one wins.
      const n = await changes(
        pool,
        `INSERT INTO lifecycle_previews (repository_id, policy_text, status, started_at, results) VALUES ($1, $2, 'IN_PROGRESS', $3, NULL)
         ON CONFLICT (repository_id) DO UPDATE SET policy_text = excluded.policy_text, status = excluded.status,
           started_at = excluded.started_at, results = NULL
         WHERE NOT (lifecycle_previews.status = 'IN_PROGRESS' AND lifecycle_previews.started_at > $4)`,
        [repositoryId, text, now.getTime(), staleBefore.getTime()],
      );
      return n > 0;
    },
    async finish(repositoryId, status, results) {
      await pool.query('UPDATE lifecycle_previews SET status = $1, results = $2 WHERE repository_id = $3', [status, results ?? null, repositoryId]);
    },
    async get(repositoryId) {
      const r = await one<PreviewRow>(pool, 'SELECT policy_text, status, started_at, results FROM lifecycle_previews WHERE repository_id = $1', [repositoryId]);
      if (!r) return undefined;
      return { policyText: r.policy_text, status: r.status, startedAt: new Date(r.started_at), ...(r.results !== null && { results: r.results }) };
    },
  };
}
