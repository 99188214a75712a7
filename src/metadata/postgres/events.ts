/**
 * The event outbox and EventBridge resources on PostgreSQL (the twin of ../sqlite/events.ts).
 * Outbox rows are inserted inside the transactions of the changes they report. Several nodes
 * drain the outbox at once: a claim takes rows FOR UPDATE SKIP LOCKED (as jobs.ts claims jobs),
 * so no two nodes fan out the same event while both hold it; a node that dies lets its lock
 * lapse and another takes the rows (at-least-once).
 */
import { parseRegistryKey, registryKeyText } from '../../core/registry-key.js';
import { toEventResource, type EventResourceKind, type EventResourceRecord, type EventResourceRow } from '../event-resources.js';
import type { Digest } from '../../core/digest.js';
import type { EventOutboxStore, EventResourceStore, OutboxEvent, OutboxRecord, RemovalEvents } from '../types.js';
import { enqueueIn } from './jobs.js';
import { postgresNamedRows } from './named-rows.js';
import { changes, one, rows, withTransaction, type PgContext, type Queryable } from './pool.js';

/** Inserts events inside the caller's transaction: one statement whatever their number. */
export async function writeEventsIn(tx: Queryable, events: readonly OutboxEvent[], now: number): Promise<void> {
  if (events.length === 0) return;
  if (events.length === 1) {
    const e = events[0]!;
    await tx.query('INSERT INTO event_outbox (id, registry_id, detail_type, body, created_at) VALUES ($1, $2, $3, $4, $5)', [
      e.id,
      registryKeyText(e.registryKey),
      e.detailType,
      e.body,
      now,
    ]);
    return;
  }
  await tx.query(
    `INSERT INTO event_outbox (id, registry_id, detail_type, body, created_at)
     SELECT i, r, t, b, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(i, r, t, b, n) ORDER BY n`,
    [events.map((e) => e.id), events.map((e) => registryKeyText(e.registryKey)), events.map((e) => e.detailType), events.map((e) => e.body), now],
  );
}

/** Describes an image about to be removed (or untagged) and writes the events `build` makes of it. */
export async function writeRemovalEventsIn(
  tx: Queryable,
  repositoryId: number,
  digest: string,
  tag: string | undefined,
  untagged: boolean,
  build: RemovalEvents,
  now: number,
): Promise<void> {
  const m = await one<{ media_type: string; artifact_type: string | null; subject_digest: string | null }>(
    tx,
    'SELECT media_type, artifact_type, subject_digest FROM manifests WHERE repository_id = $1 AND digest = $2',
    [repositoryId, digest],
  );
  if (!m) return;
  const tags = (
    await rows<{ name: string }>(tx, 'SELECT name FROM tags WHERE repository_id = $1 AND digest = $2 ORDER BY name COLLATE "C"', [repositoryId, digest])
  ).map((r) => r.name);
  const events = build({
    digest: digest as Digest,
    ...(tag !== undefined && { tag }),
    tags,
    mediaType: m.media_type,
    ...(m.artifact_type !== null && { artifactType: m.artifact_type }),
    ...(m.subject_digest !== null && { subject: m.subject_digest as Digest }),
    untagged,
  });
  await writeEventsIn(tx, events, now);
}

interface OutboxRow {
  seq: number;
  id: string;
  registry_id: string;
  detail_type: string;
  body: string;
  created_at: number;
}

export function createPostgresEventOutbox({ pool }: PgContext): EventOutboxStore {
  return {
    async claim(holder, leaseMs, limit, now) {
      const t = now.getTime();
      const claimed = await rows<OutboxRow>(
        pool,
        `WITH picked AS (
           SELECT seq FROM event_outbox WHERE locked_until IS NULL OR locked_until < $1 ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
         UPDATE event_outbox SET locked_by = $2, locked_until = $3 FROM picked WHERE event_outbox.seq = picked.seq
         RETURNING event_outbox.seq, event_outbox.id, event_outbox.registry_id, event_outbox.detail_type, event_outbox.body, event_outbox.created_at`,
        [t, holder, t + leaseMs, limit],
      );
      claimed.sort((a, b) => a.seq - b.seq);
      return claimed.map(
        (r): OutboxRecord => ({
          seq: r.seq,
          id: r.id,
          registryKey: parseRegistryKey(r.registry_id),
          detailType: r.detail_type,
          body: r.body,
          createdAt: new Date(r.created_at),
        }),
      );
    },
    async dispatch(seqs, holder, deliveries, now) {
      await withTransaction(pool, async (tx) => {
        await enqueueIn(tx, deliveries, now.getTime());
        await tx.query('DELETE FROM event_outbox WHERE seq = ANY($1::bigint[]) AND locked_by = $2', [seqs, holder]);
      });
    },
    async pending() {
      return Number((await one<{ n: number }>(pool, 'SELECT COUNT(*) AS n FROM event_outbox'))!.n);
    },
  };
}

export function createPostgresEventResources(ctx: PgContext): EventResourceStore {
  const { pool, collate } = ctx;
  const { get, list } = postgresNamedRows<EventResourceRow, EventResourceKind, EventResourceRecord>(ctx, 'event_resources', toEventResource);
  return {
    get,
    list,
    async put(r, mayReplace) {
      const t = r.now.getTime();
      const sql = mayReplace
        ? `INSERT INTO event_resources (registry_id, kind, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT (registry_id, kind, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`
        : `INSERT INTO event_resources (registry_id, kind, name, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`;
      return (await changes(pool, sql, [registryKeyText(r.registryKey), r.kind, r.name, r.document, t])) > 0;
    },
    async delete(registryKey, kind, name) {
      const keyText = registryKeyText(registryKey);
      return withTransaction(pool, async (tx) => {
        if (kind === 'rule') await tx.query('DELETE FROM event_targets WHERE registry_id = $1 AND rule_name = $2', [keyText, name]);
        return (await changes(tx, 'DELETE FROM event_resources WHERE registry_id = $1 AND kind = $2 AND name = $3', [keyText, kind, name])) > 0;
      });
    },
    async putTargets(registryKey, rule, targets, max) {
      const keyText = registryKeyText(registryKey);
      return withTransaction(pool, async (tx) => {
        // The rule row, locked: two PutTargets on one rule count its targets one after the other.
        if (!(await one(tx, `SELECT 1 FROM event_resources WHERE registry_id = $1 AND kind = 'rule' AND name = $2 FOR UPDATE`, [keyText, rule]))) {
          return 'noRule' as const;
        }
        const ids = new Set(
          (await rows<{ target_id: string }>(tx, 'SELECT target_id FROM event_targets WHERE registry_id = $1 AND rule_name = $2', [keyText, rule])).map(
            (t) => t.target_id,
          ),
        );
        for (const t of targets) ids.add(t.id);
        if (ids.size > max) return 'limit' as const;
        for (const t of targets) {
          await tx.query(
            `INSERT INTO event_targets (registry_id, rule_name, target_id, document) VALUES ($1, $2, $3, $4)
             ON CONFLICT (registry_id, rule_name, target_id) DO UPDATE SET document = excluded.document`,
            [keyText, rule, t.id, t.document],
          );
        }
        return 'ok' as const;
      });
    },
    async removeTargets(registryKey, rule, ids) {
      const keyText = registryKeyText(registryKey);
      const removed = await rows<{ target_id: string }>(
        pool,
        'DELETE FROM event_targets WHERE registry_id = $1 AND rule_name = $2 AND target_id = ANY($3::text[]) RETURNING target_id',
        [keyText, rule, ids],
      );
      const gone = new Set(removed.map((r) => r.target_id));
      return ids.filter((id) => gone.has(id));
    },
    async targets(registryKey, rule) {
      const keyText = registryKeyText(registryKey);
      const found = await rows<{ target_id: string; document: string }>(
        pool,
        `SELECT target_id, document FROM event_targets WHERE registry_id = $1 AND rule_name = $2 ORDER BY target_id${collate}`,
        [keyText, rule],
      );
      return found.map((t) => ({ id: t.target_id, document: t.document }));
    },
  };
}
