/**
 * The events of a stored batch, as LookupEvents reads them: only the texts a key's chunk mask
 * names are inflated and parsed, and only the calls of the asking account that pass `keep` are
 * returned, each at its position (time, batch seq, index in the batch), which orders pages.
 */
import { legacyRows, unpackBlob, type AuditCandidate, type AuditEventRow } from '../metadata/audit-rows.js';
import { CALLS_PER_TEXT, unpackText } from './audit-batch.js';
import { cloudTrailRecord, lookupColumns } from './cloudtrail-record.js';
import { eventIdOf } from './event-id.js';
import { recordJson } from './stored-call.js';

export interface TrailEvent {
  time: number;
  seq: number;
  index: number;
  /** The lookup columns (record left empty). */
  cols: AuditEventRow;
  /** The CloudTrail record's JSON (built only for the events a page returns). */
  json(): string;
}

/** Newest first: time, then batch seq, then index, all descending. */
export function newerFirst(a: TrailEvent, b: TrailEvent): number {
  return b.time - a.time || b.seq - a.seq || b.index - a.index;
}

/** Whether `e` comes strictly after (is older than) the position `p` in newest-first order. */
export function olderThan(e: TrailEvent, p: { t: number; s: number; i: number }): boolean {
  return e.time < p.t || (e.time === p.t && (e.seq < p.s || (e.seq === p.s && e.index < p.i)));
}

export function eventsOf(c: AuditCandidate, accountId: string, keep: (cols: AuditEventRow) => boolean): TrailEvent[] {
  const out: TrailEvent[] = [];
  const texts = unpackBlob(c.calls, c.chunks);
  if (c.form === 1) {
    const rows = legacyRows(texts[0] ?? '[]');
    rows.forEach((row, index) => {
      if (row.accountId !== accountId || !keep(row)) return;
      out.push({ time: row.eventTime.getTime(), seq: c.seq, index, cols: { ...row, record: '' }, json: () => recordJson(row) });
    });
    return out;
  }
  if (c.form !== 2) throw new Error(`audit batch ${c.batchId}: unknown form ${c.form}`);
  texts.forEach((text, t) => {
    if (text === undefined) return;
    unpackText(text).forEach((call, k) => {
      if (call.principal.accountId !== accountId) return;
      const index = t * CALLS_PER_TEXT + k;
      const named = { ...call, eventId: eventIdOf(c.batchId, index) };
      const cols = lookupColumns(named);
      if (!cols || !keep(cols)) return;
      out.push({ time: call.time.getTime(), seq: c.seq, index, cols, json: () => JSON.stringify(cloudTrailRecord(named)) });
    });
  });
  return out;
}
