/**
 * The event outbox and EventBridge resources on SQLite. Outbox rows are inserted by the
 * transactions of the changes they report (manifests, tags, scans), through the statements
 * prepared here; the deliverer claims them in IMMEDIATE transactions, as jobs are claimed: in
 * turns between accounts (../job-turns.ts), each account's oldest first.
 */
import { accountOf, parseRegistryKey, registryKeyText } from '../../core/registry-key.js';
import { fillTurns, OUTBOX_TURNS, TurnFill } from '../job-turns.js';
import { toEventResource, type EventResourceKind, type EventResourceRecord, type EventResourceRow } from '../event-resources.js';
import type { EventOutboxStore, EventResourceStore, JobRequest, OutboxEvent, OutboxRecord, RemovalEvents } from '../types.js';
import type { Digest } from '../../core/digest.js';
import { accountsSql, prepareTurns } from './account-turns.js';
import { prepareEnqueue } from './jobs.js';
import { sqliteNamedRows } from './named-rows.js';
import type { Db } from './open.js';

export interface OutboxWriter {
  /** Inserts events inside the caller's transaction. */
  write(events: readonly OutboxEvent[], now: number): void;
  /** Describes an image about to be removed (or untagged) and writes the events `build` makes of it. */
  removed(repositoryId: number, digest: string, tag: string | undefined, untagged: boolean, build: RemovalEvents, now: number): void;
}

export function prepareOutboxWriter(db: Db): OutboxWriter {
  const insert = db.prepare('INSERT INTO event_outbox (id, registry_id, account_id, detail_type, body, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const describe = db.prepare<[number, string], { media_type: string; artifact_type: string | null; subject_digest: string | null }>(
    'SELECT media_type, artifact_type, subject_digest FROM manifests WHERE repository_id = ? AND digest = ?',
  );
  const tagsOf = db.prepare<[number, string], { name: string }>('SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name');
  const write = (events: readonly OutboxEvent[], now: number) => {
    for (const e of events) insert.run(e.id, registryKeyText(e.registryKey), accountOf(e.registryKey), e.detailType, e.body, now);
  };
  return {
    write,
    removed(repositoryId, digest, tag, untagged, build, now) {
      const m = describe.get(repositoryId, digest);
      if (!m) return;
      const tags = tagsOf.all(repositoryId, digest).map((r) => r.name);
      write(
        build({
          digest: digest as Digest,
          ...(tag !== undefined && { tag }),
          tags,
          mediaType: m.media_type,
          ...(m.artifact_type !== null && { artifactType: m.artifact_type }),
          ...(m.subject_digest !== null && { subject: m.subject_digest as Digest }),
          untagged,
        }),
        now,
      );
    },
  };
}

interface OutboxRow {
  seq: number;
  id: string;
  registry_id: string;
  detail_type: string;
  body: string;
  created_at: number;
}

/** The accounts with events waiting and their last turn. Exported, as DUE_EVENTS_SQL is, for bench/outbox-claims.ts's query plans. */
export const OUTBOX_ACCOUNTS_SQL = accountsSql('event_outbox', `'${OUTBOX_TURNS}'`);

/** One account's oldest unclaimed events after the seq a previous pass read up to (event_outbox_account). */
export const DUE_EVENTS_SQL = `SELECT seq, id, registry_id, detail_type, body, created_at FROM event_outbox
  WHERE account_id = ? AND seq > ? AND (locked_until IS NULL OR locked_until < ?) ORDER BY seq LIMIT ?`;

export function createSqliteEventOutbox(db: Db): EventOutboxStore {
  const accounts = db.prepare<[], { account_id: string; turn: number }>(OUTBOX_ACCOUNTS_SQL);
  const due = db.prepare<[string, number, number, number], OutboxRow>(DUE_EVENTS_SQL);
  const lock = db.prepare('UPDATE event_outbox SET locked_by = ?, locked_until = ? WHERE seq = ?');
  const remove = db.prepare('DELETE FROM event_outbox WHERE seq = ? AND locked_by = ?');
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM event_outbox');
  const enqueue = prepareEnqueue(db);
  const turns = prepareTurns(db);
  const claim = db.transaction((holder: string, leaseMs: number, limit: number, now: number): OutboxRecord[] => {
    const turn = turns.next();
    // The outbox has no run_after: its sequence alone says which event is older.
    const fill = new TurnFill<string, { run_after: number; id: number; r: OutboxRow; account: string }>(
      accounts.all().map((a) => ({ account: a.account_id, turn: a.turn })),
      limit,
    );
    const taken = fillTurns(fill, (reads) =>
      reads.map(({ account, after, n }) => due.all(account, after?.id ?? 0, now, n).map((r) => ({ run_after: 0, id: r.seq, r, account }))),
    );
    for (const account of new Set(taken.map((t) => t.account))) turns.served(OUTBOX_TURNS, account, turn);
    return taken.map(({ r }) => {
      lock.run(holder, now + leaseMs, r.seq);
      return { seq: r.seq, id: r.id, registryKey: parseRegistryKey(r.registry_id), detailType: r.detail_type, body: r.body, createdAt: new Date(r.created_at) };
    });
  });
  const dispatch = db.transaction((seqs: number[], holder: string, deliveries: JobRequest[], now: number) => {
    for (const j of deliveries) enqueue(j, now);
    for (const s of seqs) remove.run(s, holder);
  });
  return {
    async claim(holder, leaseMs, limit, now) {
      return claim.immediate(holder, leaseMs, limit, now.getTime());
    },
    async dispatch(seqs, holder, deliveries, now) {
      dispatch.immediate(seqs, holder, deliveries, now.getTime());
    },
    async pending() {
      return count.get()!.n;
    },
  };
}

export function createSqliteEventResources(db: Db): EventResourceStore {
  const named = sqliteNamedRows<EventResourceRow, EventResourceKind, EventResourceRecord>(db, 'event_resources', toEventResource);
  const insert = db.prepare(
    'INSERT INTO event_resources (registry_id, kind, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const replace = db.prepare(
    `INSERT INTO event_resources (registry_id, kind, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (registry_id, kind, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
  );
  const deleteStmt = db.prepare('DELETE FROM event_resources WHERE registry_id = ? AND kind = ? AND name = ?');
  const deleteTargets = db.prepare('DELETE FROM event_targets WHERE registry_id = ? AND rule_name = ?');
  const targetsStmt = db.prepare<[string, string], { target_id: string; document: string }>(
    'SELECT target_id, document FROM event_targets WHERE registry_id = ? AND rule_name = ? ORDER BY target_id',
  );
  const upsertTarget = db.prepare(
    `INSERT INTO event_targets (registry_id, rule_name, target_id, document) VALUES (?, ?, ?, ?)
     ON CONFLICT (registry_id, rule_name, target_id) DO UPDATE SET document = excluded.document`,
  );
  const removeTarget = db.prepare('DELETE FROM event_targets WHERE registry_id = ? AND rule_name = ? AND target_id = ?');
  const del = db.transaction((keyText: string, kind: string, name: string) => {
    if (kind === 'rule') deleteTargets.run(keyText, name);
    return deleteStmt.run(keyText, kind, name).changes > 0;
  });
  const putTargets = db.transaction((keyText: string, rule: string, targets: Array<{ id: string; document: string }>, max: number) => {
    if (!named.row(keyText, 'rule', rule)) return 'noRule' as const;
    const ids = new Set(targetsStmt.all(keyText, rule).map((t) => t.target_id));
    for (const t of targets) ids.add(t.id);
    if (ids.size > max) return 'limit' as const;
    for (const t of targets) upsertTarget.run(keyText, rule, t.id, t.document);
    return 'ok' as const;
  });
  const removeTargets = db.transaction((keyText: string, rule: string, ids: string[]) => ids.filter((id) => removeTarget.run(keyText, rule, id).changes > 0));
  return {
    get: named.get,
    list: named.list,
    async put(r, mayReplace) {
      const t = r.now.getTime();
      if (mayReplace) {
        replace.run(registryKeyText(r.registryKey), r.kind, r.name, r.document, t, t);
        return true;
      }
      return insert.run(registryKeyText(r.registryKey), r.kind, r.name, r.document, t, t).changes > 0;
    },
    async delete(registryKey, kind, name) {
      const keyText = registryKeyText(registryKey);
      return del.immediate(keyText, kind, name);
    },
    async putTargets(registryKey, rule, targets, max) {
      const keyText = registryKeyText(registryKey);
      return putTargets.immediate(keyText, rule, targets, max);
    },
    async removeTargets(registryKey, rule, ids) {
      const keyText = registryKeyText(registryKey);
      return removeTargets.immediate(keyText, rule, ids);
    },
    async targets(registryKey, rule) {
      const keyText = registryKeyText(registryKey);
      return targetsStmt.all(keyText, rule).map((t) => ({ id: t.target_id, document: t.document }));
    },
  };
}
