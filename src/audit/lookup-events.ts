/**
 * CloudTrail's LookupEvents over the audit trail: one account's events, newest first, filtered
 * by at most one lookup attribute and a time range, in pages of MaxResults (1-50, default 50)
 * chained by an opaque NextToken that is valid only with the parameters it was issued for.
 */
import { createHash } from 'node:crypto';
import { CloudTrailCodes, type WireCode } from '../core/errors.js';
import type { AuditAttribute, AuditStore } from '../metadata/audit-rows.js';
import { recordJson } from './stored-call.js';

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

/** Answers LookupEvents for `accountId` with the request body as the caller sent it. */
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
  const rows = await store.lookup({
    accountId,
    ...(attribute && { attribute }),
    ...(start && { start }),
    ...(end && { end }),
    ...(before && { before }),
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    Events: page.map((r) => ({
      EventId: r.eventId,
      EventName: r.eventName,
      ReadOnly: String(r.readOnly),
      ...(r.accessKeyId !== undefined && { AccessKeyId: r.accessKeyId }),
      EventTime: r.eventTime,
      EventSource: r.eventSource,
      ...(r.username !== undefined && { Username: r.username }),
      Resources: r.resourceType !== undefined && r.resourceName !== undefined ? [{ ResourceType: r.resourceType, ResourceName: r.resourceName }] : [],
      CloudTrailEvent: recordJson(r),
    })),
    ...(rows.length > limit && last && { NextToken: encodeToken({ t: last.eventTime.getTime(), s: last.seq, b: binding }) }),
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

function encodeToken(t: { t: number; s: number; b: string }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(v: unknown, binding: string): { time: number; seq: number } {
  const invalid = new LookupEventsError(CloudTrailCodes.InvalidNextToken, 'Invalid NextToken: it is malformed or was issued for other parameters.');
  if (typeof v !== 'string' || v.length > 512) throw invalid;
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(v, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const { t: time, s: seq, b } = (t ?? {}) as { t?: unknown; s?: unknown; b?: unknown };
  if (b !== binding || !Number.isSafeInteger(time) || !Number.isSafeInteger(seq)) throw invalid;
  return { time: time as number, seq: seq as number };
}
