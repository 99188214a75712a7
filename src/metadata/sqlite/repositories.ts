/** Repositories, their settings and their resource tags, on SQLite. */
import { parseRegistryKey, registryKeyText, type RegistryKey } from '../../core/registry-key.js';
import { defaultRepositorySettings, type RepositorySettings } from '../../core/repository-settings.js';
import { principalIdsText } from '../policy-rows.js';
import { repositoryPolicyScope } from '../policy-scopes.js';
import type { Page, RepositoryRecord, RepositoryStore, ResourceTag } from '../types.js';
import { createGcQueue } from './gc-queue.js';
import type { Db } from './open.js';
import { QuotaRefusal } from '../quotas.js';
import type { ReadCache } from './read-cache.js';
import { deleteSigningStatusesSql, signingStatusPrefix, statusNameRange } from '../signing-statuses.js';

/** A repositories row (exported for the manifest GET's lookup, which reads one beside a manifest). */
export interface RepositoryRow {
  id: number;
  registry_id: string;
  name: string;
  created_at: number;
  settings: string;
  lifecycle_evaluated_at: number | null;
}

/**
 * `page`: a listing page's rows, all of one registry (its key given) and most with the same
 * settings text: each text parsed once for the page, its records sharing the settings object
 * (which no one changes: settings change through the store). A 1,000-repository page ~0.5 ms less.
 */
export function toRepository(r: RepositoryRow, page?: { key: RegistryKey; settings: Map<string, RepositorySettings> }): RepositoryRecord {
  let settings = page?.settings.get(r.settings);
  if (settings === undefined) {
    settings = { ...defaultRepositorySettings, ...(JSON.parse(r.settings) as Partial<RepositorySettings>) };
    page?.settings.set(r.settings, settings);
  }
  return {
    id: r.id,
    registryKey: page?.key ?? parseRegistryKey(r.registry_id),
    name: r.name,
    createdAt: new Date(r.created_at),
    settings,
    ...(r.lifecycle_evaluated_at !== null && r.lifecycle_evaluated_at !== undefined && { lifecycleEvaluatedAt: new Date(r.lifecycle_evaluated_at) }),
  };
}

/** `cache`: where `find`, which every manifest GET asks, reads through (read-cache.ts). */
export function createSqliteRepositories(db: Db, cache?: ReadCache): RepositoryStore {
  const findStmt = db.prepare<[string, string], RepositoryRow>('SELECT * FROM repositories WHERE registry_id = ? AND name = ?');
  const insertStmt = db.prepare('INSERT INTO repositories (registry_id, name, created_at, settings) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
  const listStmt = db.prepare<[string, string, number], RepositoryRow>('SELECT * FROM repositories WHERE registry_id = ? AND name > ? ORDER BY name LIMIT ?');
  const settingsStmt = db.prepare('UPDATE repositories SET settings = ? WHERE id = ?');
  const evaluatedStmt = db.prepare('UPDATE repositories SET lifecycle_evaluated_at = ? WHERE id = ?');
  const hasImages = db.prepare<[number], { one: number }>('SELECT 1 AS one FROM manifests WHERE repository_id = ? LIMIT 1');
  const existsStmt = db.prepare<[number], { registry_id: string; name: string }>('SELECT registry_id, name FROM repositories WHERE id = ?');
  const deleteStmt = db.prepare('DELETE FROM repositories WHERE id = ?');
  const deletePolicies = db.prepare('DELETE FROM policies WHERE scope = ?');
  const deleteStatuses = db.prepare(deleteSigningStatusesSql(() => '?'));
  const tagsStmt = db.prepare<[number], { tag_key: string; tag_value: string }>(
    'SELECT tag_key, tag_value FROM repository_resource_tags WHERE repository_id = ? ORDER BY tag_key',
  );
  const countTags = db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM repository_resource_tags WHERE repository_id = ?');
  const upsertTag = db.prepare(
    `INSERT INTO repository_resource_tags (repository_id, tag_key, tag_value) VALUES (?, ?, ?)
     ON CONFLICT (repository_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
  );
  const removeTag = db.prepare('DELETE FROM repository_resource_tags WHERE repository_id = ? AND tag_key = ?');
  const putPolicy = db.prepare(
    `INSERT INTO policies (scope, kind, document, updated_at, principal_ids) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (scope, kind) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, principal_ids = excluded.principal_ids`,
  );

  const countStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM repositories WHERE registry_id = ?');
  // In the creating (IMMEDIATE) transaction: no other writer runs between the count and the insert.
  const checkCount = (keyText: string, max: number | undefined) => {
    if (max !== undefined && countStmt.get(keyText)!.n >= max) throw new QuotaRefusal('repositoriesPerRegistry', max);
  };
  const ensure = db.transaction((keyText: string, name: string, now: number, max: number | undefined): RepositoryRow => {
    const found = findStmt.get(keyText, name);
    if (found) return found;
    checkCount(keyText, max);
    insertStmt.run(keyText, name, now, '{}');
    return findStmt.get(keyText, name)!;
  });
  const create = db.transaction(
    (
      keyText: string,
      name: string,
      settings: string,
      tags: ResourceTag[],
      policies: Array<{ kind: string; document: string; principalIds?: Record<string, string> }>,
      now: number,
      max: number | undefined,
    ) => {
      if (findStmt.get(keyText, name)) return undefined;
      checkCount(keyText, max);
      if (insertStmt.run(keyText, name, now, settings).changes === 0) return undefined;
      const row = findStmt.get(keyText, name)!;
      for (const t of tags) upsertTag.run(row.id, t.Key, t.Value);
      const scope = repositoryPolicyScope(parseRegistryKey(keyText), name);
      for (const p of policies) putPolicy.run(scope, p.kind, p.document, now, principalIdsText(p.principalIds));
      return row;
    },
  );
  const gc = createGcQueue(db);
  const remove = db.transaction((id: number, force: boolean, now: number): 'deleted' | 'notEmpty' | 'missing' => {
    const repo = existsStmt.get(id);
    if (!repo) return 'missing';
    if (!force && hasImages.get(id)) return 'notEmpty';
    deletePolicies.run(repositoryPolicyScope(parseRegistryKey(repo.registry_id), repo.name));
    deleteStatuses.run(repo.registry_id, ...statusNameRange(signingStatusPrefix(repo.name)));
    // Its links and references go with it (cascades): every blob they held is queued first.
    gc.queueRepositoryBlobs(id, now);
    deleteStmt.run(id);
    return 'deleted';
  });
  const putTags = db.transaction((id: number, tags: ResourceTag[], max: number): boolean => {
    for (const t of tags) upsertTag.run(id, t.Key, t.Value);
    if (countTags.get(id)!.n > max) throw new TooManyTags();
    return true;
  });

  return {
    async find(registryKey, name) {
      const key = registryKeyText(registryKey);
      const load = () => {
        const r = findStmt.get(key, name);
        return r && toRepository(r);
      };
      return cache ? cache.read(`repository\n${key}\n${name}`, load) : load();
    },
    async ensure(registryKey, name, now, maxRepositories) {
      const r = findStmt.get(registryKeyText(registryKey), name);
      if (r) return toRepository(r);
      return toRepository(ensure.immediate(registryKeyText(registryKey), name, now.getTime(), maxRepositories));
    },
    async create(input) {
      const r = create.immediate(
        registryKeyText(input.registryKey),
        input.name,
        JSON.stringify(input.settings),
        input.tags,
        input.policies ?? [],
        input.now.getTime(),
        input.maxRepositories,
      );
      return r && toRepository(r);
    },
    async updateSettings(id, settings) {
      settingsStmt.run(JSON.stringify(settings), id);
    },
    async list(registryKey, page: Page) {
      return listStmt.all(registryKeyText(registryKey), page.after ?? '', page.limit).map((r) => r.name);
    },
    async listRecords(registryKey, page: Page) {
      const shared = { key: registryKey, settings: new Map<string, RepositorySettings>() };
      return listStmt.all(registryKeyText(registryKey), page.after ?? '', page.limit).map((r) => toRepository(r, shared));
    },
    async delete(id, opts) {
      return remove.immediate(id, opts.force, opts.now.getTime());
    },
    async setLifecycleEvaluatedAt(id, at) {
      evaluatedStmt.run(at.getTime(), id);
    },
    async resourceTags(id) {
      return tagsStmt.all(id).map((r) => ({ Key: r.tag_key, Value: r.tag_value }));
    },
    async putResourceTags(id, tags, max) {
      try {
        return putTags.immediate(id, tags, max);
      } catch (e) {
        if (e instanceof TooManyTags) return false;
        throw e;
      }
    },
    async removeResourceTags(id, keys) {
      db.transaction(() => {
        for (const k of keys) removeTag.run(id, k);
      }).immediate();
    },
  };
}

/** Rolls back a tag write that would exceed the limit. */
class TooManyTags extends Error {}
