/**
 * CloudTrail's LookupEvents over the audit trail: one account's events, newest first, filtered
 * by at most one lookup attribute and a time range, in pages of MaxResults (1-50, default 50)
 * chained by an opaque NextToken that is valid only with the parameters it was issued for.
 */
import { createHash } from 'node:crypto';
import { CloudTrailCodes, type WireCode } from '../core/errors.js';
import { ATTR_CODES, attributeValue, chunkBit, type AuditAttribute, type AuditEventRow, type AuditStore } from '../metadata/audit-rows.js';
import { CALLS_PER_TEXT } from './audit-batch.js';
import { batchOfEventId } from './event-id.js';
import { eventsOf, newerFirst, olderThan, type TrailEvent } from './trail-events.js';

/** A LookupEvents refusal, in CloudTrail's names; the door renders it. */
export class LookupEventsError extends Error {
  constructor(
    readonly code: WireCode,
    message: string,
  ) {
    super(message);
  }
}

const ATTRIBUTES: ReadonlySet<string> = new Set<AuditAttribute>([
  'EventId',
  'EventName',
  'ReadOnly',
  'Username',
  'ResourceType',
  'ResourceName',
  'EventSource',
  'AccessKeyId',
]);
const MAX_RESULTS = 50;
const MAX_VALUE_CHARS = 2000;

export interface LookupEventsOutput {
  Events: Array<{
    EventId: string;
    EventName: string;
    ReadOnly: string;
    AccessKeyId?: string;
    EventTime: Date;
    EventSource: string;
    Username?: string;
    Resources: Array<{ ResourceType: string; ResourceName: string }>;
    CloudTrailEvent: string;
  }>;
  NextToken?: string;
}

/** Keys (each with its batch's calls) read per query: a page mostly ends within a batch or two of where it starts, so the first query reads two. */
const KEYS_FIRST = 2;
const KEYS_PER_FETCH = 8;

interface Position {
  t: number;
  s: number;
  i: number;
  /** The key (last time, batch seq) the next page's scan starts at: the first that may hold older events. */
  kt: number;
  ks: number;
}

/**
 * Answers LookupEvents for `accountId` with the request body as the caller sent it. Walks the
 * keys of the asked attribute (or of the account) newest first, reads the events of their
 * batches that match, and stops once it holds more than a page and the next key's calls are all
 * older than the page's last event. A page may end inside a batch; its NextToken names the last
 * event's position and the first key whose batch still holds older events, where the next page
 * resumes.
 */
export async function lookupEvents(store: AuditStore, accountId: string, body: Record<string, unknown>): Promise<LookupEventsOutput> {
  const attribute = lookupAttribute(body.LookupAttributes);
  const start = timeOf(body.StartTime, 'StartTime');
  const end = timeOf(body.EndTime, 'EndTime');
  if (start && end && start.getTime() > end.getTime())
    throw new LookupEventsError(CloudTrailCodes.InvalidTimeRange, 'Start time must be on or before end time.');
  const limit = maxResults(body.MaxResults);
  if (body.EventCategory !== undefined && body.EventCategory !== 'insight') {
    throw new LookupEventsError(CloudTrailCodes.InvalidEventCategory, 'EventCategory must be insight.');
  }
  // The tokens are bound to everything but MaxResults, as CloudTrail's are.
  const binding = fingerprint({ accountId, attribute, start: start?.getTime(), end: end?.getTime(), category: body.EventCategory });
  const before = body.NextToken === undefined ? undefined : decodeToken(body.NextToken, binding);
  // Berth records management events only: there are never Insights events to return.
  if (body.EventCategory === 'insight') return { Events: [] };
  const keep = matcher(attribute, start?.getTime(), end?.getTime());
  const found =
    attribute?.key === 'EventId'
      ? (await byEventId(store, accountId, attribute.value, keep)).filter((e) => !before || olderThan(e, before)).map((e): Found => ({ e, k: 0 }))
      : await scan(store, accountId, attribute, start?.getTime(), end?.getTime(), before, limit, keep);
  found.sort((a, b) => newerFirst(a.e, b.e));
  const page = found.slice(0, limit).map((f) => f.e);
  const last = page.at(-1);
  let token: Position | undefined;
  if (found.length > limit && last && attribute?.key !== 'EventId') {
    const k = found.slice(limit).reduce((min, f) => Math.min(min, f.k), Number.POSITIVE_INFINITY);
    const key = found.find((f) => f.k === k)!.key!;
    token = { t: last.time, s: last.seq, i: last.index, kt: key.lastTime, ks: key.seq };
  }
  return {
    Events: page.map((e) => {
      const r = e.cols;
      return {
        EventId: r.eventId,
        EventName: r.eventName,
        ReadOnly: String(r.readOnly),
        ...(r.accessKeyId !== undefined && { AccessKeyId: r.accessKeyId }),
        EventTime: r.eventTime,
        EventSource: r.eventSource,
        ...(r.username !== undefined && { Username: r.username }),
        Resources: r.resourceType !== undefined && r.resourceName !== undefined ? [{ ResourceType: r.resourceType, ResourceName: r.resourceName }] : [],
        CloudTrailEvent: e.json(),
      };
    }),
    ...(token && { NextToken: encodeToken({ ...token, b: binding }) }),
  };
}

type Found = { e: TrailEvent; k: number; key?: { lastTime: number; seq: number } };

async function scan(
  store: AuditStore,
  accountId: string,
  attribute: { key: AuditAttribute; value: string } | undefined,
  start: number | undefined,
  end: number | undefined,
  before: Position | undefined,
  limit: number,
  keep: (cols: AuditEventRow) => boolean,
): Promise<Found[]> {
  const upper = Math.min(end ?? Number.POSITIVE_INFINITY, before?.t ?? Number.POSITIVE_INFINITY);
  const query = {
    accountId,
    attr: attribute ? ATTR_CODES[attribute.key] : 0,
    value: attribute?.value ?? '',
    ...(start !== undefined && { minLastTime: start }),
    ...(upper !== Number.POSITIVE_INFINITY && { maxFirstTime: upper }),
  };
  const found: Found[] = [];
  let from = before && { lastTime: before.kt, seq: before.ks, inclusive: true };
  let visited = 0;
  for (;;) {
    const take = visited === 0 ? KEYS_FIRST : KEYS_PER_FETCH;
    const keys = await store.candidates({ ...query, ...(from && { from }), limit: take });
    // The token's key must be one of this account's for this query: a token cannot point a page elsewhere.
    if (visited === 0 && before && (keys[0]?.lastTime !== before.kt || keys[0]?.seq !== before.ks)) throw invalidToken();
    for (const c of keys) {
      if (found.length > limit) {
        found.sort((a, b) => newerFirst(a.e, b.e));
        // Every call of this key and the ones after it is older than the page's (limit+1)-th event.
        if (c.lastTime < found[limit]!.e.time) return found;
      }
      const k = visited++;
      const key = { lastTime: c.lastTime, seq: c.seq };
      for (const e of eventsOf(c, accountId, keep)) if (!before || olderThan(e, before)) found.push({ e, k, key });
    }
    if (keys.length < take) return found;
    const last = keys.at(-1)!;
    from = { lastTime: last.lastTime, seq: last.seq, inclusive: false };
  }
}

/** An event by id: a batch's call (the id names the batch), or a carried-over row (an EventId key). */
async function byEventId(store: AuditStore, accountId: string, id: string, keep: (cols: AuditEventRow) => boolean): Promise<TrailEvent[]> {
  const candidates = await store.candidates({ accountId, attr: ATTR_CODES.EventId, value: id, limit: 2 });
  const named = batchOfEventId(id);
  const batch = named && (await store.batchById(named.batchId));
  if (batch && named) candidates.push({ ...batch, chunks: chunkBit(Math.floor(named.index / CALLS_PER_TEXT)) });
  return candidates.flatMap((c) => eventsOf(c, accountId, keep));
}

function matcher(attribute: { key: AuditAttribute; value: string } | undefined, start: number | undefined, end: number | undefined) {
  const v = attribute?.value;
  const field = (r: AuditEventRow): string | undefined => (attribute!.key === 'EventId' ? r.eventId : attributeValue(r, attribute!.key));
  return (r: AuditEventRow): boolean => {
    const t = r.eventTime.getTime();
    if ((start !== undefined && t < start) || (end !== undefined && t > end)) return false;
    return attribute === undefined || field(r) === v;
  };
}

function lookupAttribute(v: unknown): { key: AuditAttribute; value: string } | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new LookupEventsError(CloudTrailCodes.InvalidLookupAttributes, 'LookupAttributes must be a list.');
  if (v.length === 0) return undefined;
  if (v.length > 1) throw new LookupEventsError(CloudTrailCodes.InvalidLookupAttributes, 'You can only specify one lookup attribute.');
  const a = v[0] as { AttributeKey?: unknown; AttributeValue?: unknown } | null;
  const key = a?.AttributeKey;
  const value = a?.AttributeValue;
  if (typeof key !== 'string' || !ATTRIBUTES.has(key)) {
    throw new LookupEventsError(
      CloudTrailCodes.InvalidLookupAttributes,
      `AttributeKey must be one of ${[...ATTRIBUTES].join(', ')}; got ${String(key).slice(0, 100)}.`,
    );
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_VALUE_CHARS) {
    throw new LookupEventsError(CloudTrailCodes.InvalidLookupAttributes, `AttributeValue must be 1 to ${MAX_VALUE_CHARS} characters.`);
  }
  return { key: key as AuditAttribute, value };
}

/** AWS JSON timestamps are epoch seconds (fractions allowed). */
function timeOf(v: unknown, name: string): Date | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 253402300799) {
    throw new LookupEventsError(CloudTrailCodes.InvalidTimeRange, `${name} must be a timestamp.`);
  }
  return new Date(Math.round(v * 1000));
}

function maxResults(v: unknown): number {
  if (v === undefined || v === null) return MAX_RESULTS;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_RESULTS) {
    throw new LookupEventsError(CloudTrailCodes.InvalidMaxResults, `MaxResults must be an integer from 1 to ${MAX_RESULTS}.`);
  }
  return v;
}

function fingerprint(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('base64url').slice(0, 22);
}

function encodeToken(t: Position & { b: string }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function invalidToken(): LookupEventsError {
  return new LookupEventsError(CloudTrailCodes.InvalidNextToken, 'Invalid NextToken: it is malformed, expired, or was issued for other parameters.');
}

function decodeToken(v: unknown, binding: string): Position {
  if (typeof v !== 'string' || v.length > 512) throw invalidToken();
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(v, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken();
  }
  // Tokens of the one-row-per-call trail ({t, s}) name rows that were carried into batches: refused.
  const p = (t ?? {}) as Record<string, unknown>;
  if (p.b !== binding || !['t', 's', 'i', 'kt', 'ks'].every((k) => Number.isSafeInteger(p[k]))) throw invalidToken();
  return { t: p.t as number, s: p.s as number, i: p.i as number, kt: p.kt as number, ks: p.ks as number };
}
