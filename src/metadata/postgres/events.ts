/**
 * The event outbox and EventBridge resources on PostgreSQL (the twin of ../sqlite/events.ts).
 * Outbox rows are inserted inside the transactions of the changes they report. Several nodes
 * drain the outbox at once: a claim takes rows FOR UPDATE SKIP LOCKED (as jobs.ts claims jobs),
 * so no two nodes fan out the same event while both hold it; a node that dies lets its lock
 * lapse and another takes the rows (at-least-once). Accounts take turns (../job-turns.ts), as
 * in the job claim: one account's burst of events does not hold back every other's. As there,
 * the candidates are read first, in bounded passes, and the claim proper is one statement that
 * locks them SKIP LOCKED and re-checks them.
 */
import { accountOf, parseRegistryKey, registryKeyText } from '../../core/registry-key.js';
import { fillTurnsAsync, OUTBOX_TURNS, TurnFill } from '../job-turns.js';
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
    await tx.query('INSERT INTO event_outbox (id, registry_id, detail_type, body, created_at, account_id) VALUES ($1, $2, $3, $4, $5, $6)', [
      e.id,
      registryKeyText(e.registryKey),
      e.detailType,
      e.body,
      now,
      accountOf(e.registryKey),
    ]);
    return;
  }
  await tx.query(
    `INSERT INTO event_outbox (id, registry_id, detail_type, body, created_at, account_id)
     SELECT i, r, t, b, $5, a FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::text[]) WITH ORDINALITY AS e(i, r, t, b, a, n) ORDER BY n`,
    [
      events.map((e) => e.id),
      events.map((e) => registryKeyText(e.registryKey)),
      events.map((e) => e.detailType),
      events.map((e) => e.body),
      now,
      events.map((e) => accountOf(e.registryKey)),
    ],
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

/**
 * A claim's first statement ($1 now, $2 candidates wanted, $3 the outbox's name in job_turns):
 * the accounts with events (one index probe each) with their last turns, and each one's oldest
 * unclaimed events, ceil($2 / accounts) of them (at least 1): the first pass of a TurnFill
 * (../job-turns.ts), `per` saying how many it asked for. Exported for bench/outbox-claims.ts.
 */
export const FIRST_EVENTS_SQL = `
WITH RECURSIVE
  accounts(account_id) AS (
    SELECT min(account_id) FROM event_outbox
    UNION ALL
    SELECT (SELECT min(o.account_id) FROM event_outbox o WHERE o.account_id > a.account_id) FROM accounts a WHERE a.account_id IS NOT NULL),
  listed AS (
    SELECT a.account_id, coalesce(t.turn, 0) AS turn FROM accounts a
    LEFT JOIN job_turns t ON t.kind = $3 AND t.account_id = a.account_id
    WHERE a.account_id IS NOT NULL),
  per AS (SELECT greatest(1, ceil($2::numeric / nullif(count(*), 0)))::int AS n FROM listed)
SELECT l.account_id, l.turn, p.n AS per, d.seq
FROM listed l CROSS JOIN per p
CROSS JOIN LATERAL (
  SELECT o.seq FROM event_outbox o
  WHERE o.account_id = l.account_id AND (o.locked_until IS NULL OR o.locked_until < $1)
  ORDER BY o.seq LIMIT p.n) d`;

/** A later pass: each account's next $3[i] unclaimed events after seq $2[i]; $4 now. */
export const PASS_EVENTS_SQL = `
SELECT s.ord::int, d.seq
FROM unnest($1::text[], $2::bigint[], $3::int[]) WITH ORDINALITY AS s(account_id, after, n, ord)
CROSS JOIN LATERAL (
  SELECT o.seq FROM event_outbox o
  WHERE o.account_id = s.account_id AND o.seq > s.after AND (o.locked_until IS NULL OR o.locked_until < $4)
  ORDER BY o.seq LIMIT s.n) d`;

/**
 * The claim proper ($1 the candidates' seqs in turn order, $2 now, $3 holder, $4 lock end, $5
 * limit, $6 the outbox's name in job_turns): the first $5 candidates still unclaimed, locked SKIP
 * LOCKED in that order and leased; the accounts served recorded in job_turns, in key order (two
 * claims cannot deadlock there). The unclaimed test is made here, where the rows are locked: only
 * here is it re-checked on a row another claim changed since the candidates were read.
 */
export const LOCK_EVENTS_SQL = `
WITH
  candidates AS (SELECT seq, ord FROM unnest($1::bigint[]) WITH ORDINALITY AS c(seq, ord)),
  picked AS (
    SELECT o.seq, c.ord FROM candidates c JOIN event_outbox o ON o.seq = c.seq
    WHERE o.locked_until IS NULL OR o.locked_until < $2
    ORDER BY c.ord LIMIT $5
    FOR UPDATE OF o SKIP LOCKED),
  claimed AS (
    UPDATE event_outbox SET locked_by = $3, locked_until = $4 FROM picked WHERE event_outbox.seq = picked.seq
    RETURNING event_outbox.seq, event_outbox.id, event_outbox.registry_id, event_outbox.account_id, event_outbox.detail_type,
              event_outbox.body, event_outbox.created_at, picked.ord),
  next_turn AS (SELECT coalesce((SELECT max(turn) FROM job_turns), 0) + 1 AS turn),
  turns AS (
    INSERT INTO job_turns (kind, account_id, turn)
    SELECT DISTINCT $6::text, c.account_id, n.turn FROM claimed c CROSS JOIN next_turn n ORDER BY c.account_id
    ON CONFLICT (kind, account_id) DO UPDATE SET turn = greatest(job_turns.turn, excluded.turn))
SELECT seq, id, registry_id, detail_type, body, created_at, ord::int FROM claimed`;

interface Candidate {
  /** The outbox has no run_after: its sequence alone says which event is older. */
  run_after: 0;
  id: number;
}

/** Up to `wanted` candidates in turn order, read in passes (TurnFill): bounded reads however many accounts are deep. */
async function candidates(pool: Queryable, now: number, wanted: number): Promise<number[]> {
  const first = await rows<{ account_id: string; turn: string; per: number; seq: string }>(pool, FIRST_EVENTS_SQL, [now, wanted, OUTBOX_TURNS]);
  const accounts = new Map<string, { account: string; turn: number; due: Candidate[] }>();
  for (const r of first) {
    const a = accounts.get(r.account_id) ?? { account: r.account_id, turn: Number(r.turn), due: [] };
    a.due.push({ run_after: 0, id: Number(r.seq) });
    accounts.set(r.account_id, a);
  }
  const fill = new TurnFill<string, Candidate>([...accounts.values()], wanted, first[0]?.per ?? 1);
  const taken = await fillTurnsAsync(fill, async (reads) => {
    const got = await rows<{ ord: number; seq: string }>(pool, PASS_EVENTS_SQL, [
      reads.map((r) => r.account),
      reads.map((r) => r.after!.id),
      reads.map((r) => r.n),
      now,
    ]);
    const byRead = reads.map((): Candidate[] => []);
    for (const g of got) byRead[g.ord - 1]!.push({ run_after: 0, id: Number(g.seq) });
    return byRead;
  });
  return taken.map((c) => c.id);
}

export function createPostgresEventOutbox({ pool }: PgContext): EventOutboxStore {
  return {
    async claim(holder, leaseMs, limit, now) {
      if (limit <= 0) return [];
      const t = now.getTime();
      // Candidates: a few claims' worth, so that a claim racing another (which skips the rows
      // the other is taking) still finds some events to take.
      const seqs = await candidates(pool, t, limit * 4);
      if (seqs.length === 0) return [];
      const claimed = await rows<OutboxRow & { ord: number }>(pool, LOCK_EVENTS_SQL, [seqs, t, holder, t + leaseMs, limit, OUTBOX_TURNS]);
      // RETURNING has no order: the candidates', as SQLite returns them.
      claimed.sort((a, b) => a.ord - b.ord);
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
