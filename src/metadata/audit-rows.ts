/**
 * The audit trail's rows (a CloudTrail event each) and the store that keeps them, with how rows
 * read back from either engine (pg is set to return BIGINT as numbers).
 */

/** The attributes LookupEvents filters on, as CloudTrail names them. */
export type AuditAttribute = 'EventId' | 'EventName' | 'ReadOnly' | 'Username' | 'ResourceType' | 'ResourceName' | 'EventSource' | 'AccessKeyId';

export interface AuditEventRow {
  eventId: string;
  /** The account whose trail holds the event. */
  accountId: string;
  eventTime: Date;
  eventName: string;
  eventSource: string;
  readOnly: boolean;
  username?: string;
  accessKeyId?: string;
  resourceType?: string;
  resourceName?: string;
  /** The CloudTrail event as JSON text, as LookupEvents hands it out. */
  record: string;
}

/** A stored row: `seq` orders rows of one instant and keys the next page. */
export interface StoredAuditEvent extends AuditEventRow {
  seq: number;
}

export interface AuditQuery {
  accountId: string;
  attribute?: { key: AuditAttribute; value: string };
  /** Inclusive bounds. */
  start?: Date;
  end?: Date;
  /** Rows strictly older than this position (the last row of the previous page). */
  before?: { time: number; seq: number };
  limit: number;
}

/**
 * Where a second connection to the same trail is opened (audit-appender.ts), on the thread that
 * builds and stores the records; plain data, since it crosses to that thread.
 */
export type AuditAppenderSpec = { engine: 'sqlite'; path: string } | { engine: 'postgres'; connectionString: string };

/** A trail's second connection, as the audit thread holds it. */
export interface AuditAppender {
  append(rows: readonly AuditEventRow[]): Promise<void>;
  close(): Promise<void>;
}

export interface AuditStore {
  /** Stores the rows in one transaction; a row whose eventId is stored already is skipped. */
  append(rows: readonly AuditEventRow[]): Promise<void>;
  /** How another thread opens its own connection to this trail; absent when none can (SQLite in memory). */
  readonly appender?: AuditAppenderSpec;
  /** One account's rows matching the query, newest first. */
  lookup(q: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Deletes up to `limit` rows older than `before`, in seq order (rows are written about in time order); returns how many. */
  prune(before: Date, limit: number): Promise<number>;
}

export interface AuditEventDbRow {
  seq: number;
  event_id: string;
  account_id: string;
  event_time: number;
  event_name: string;
  event_source: string;
  read_only: number;
  username: string | null;
  access_key_id: string | null;
  resource_type: string | null;
  resource_name: string | null;
  record: string;
}

export const AUDIT_COLUMNS =
  'event_id, account_id, event_time, event_name, event_source, read_only, username, access_key_id, resource_type, resource_name, record';

/** The column each attribute filters on; ReadOnly is compared as 0/1. */
export const AUDIT_ATTRIBUTE_COLUMNS: Record<AuditAttribute, string> = {
  EventId: 'event_id',
  EventName: 'event_name',
  ReadOnly: 'read_only',
  Username: 'username',
  ResourceType: 'resource_type',
  ResourceName: 'resource_name',
  EventSource: 'event_source',
  AccessKeyId: 'access_key_id',
};

/** The values bound for AUDIT_COLUMNS, in order. */
export function auditValues(r: AuditEventRow): unknown[] {
  return [
    r.eventId,
    r.accountId,
    r.eventTime.getTime(),
    r.eventName,
    r.eventSource,
    r.readOnly ? 1 : 0,
    r.username ?? null,
    r.accessKeyId ?? null,
    r.resourceType ?? null,
    r.resourceName ?? null,
    r.record,
  ];
}

/** The bound value of an attribute filter: ReadOnly's 'true'/'false' as 1/0 (anything else matches nothing). */
export function attributeValue(a: { key: AuditAttribute; value: string }): string | number {
  if (a.key !== 'ReadOnly') return a.value;
  return a.value === 'true' ? 1 : a.value === 'false' ? 0 : -1;
}

export function toAuditEvent(r: AuditEventDbRow): StoredAuditEvent {
  const e: StoredAuditEvent = {
    seq: r.seq,
    eventId: r.event_id,
    accountId: r.account_id,
    eventTime: new Date(r.event_time),
    eventName: r.event_name,
    eventSource: r.event_source,
    readOnly: r.read_only === 1,
    record: r.record,
  };
  if (r.username !== null) e.username = r.username;
  if (r.access_key_id !== null) e.accessKeyId = r.access_key_id;
  if (r.resource_type !== null) e.resourceType = r.resource_type;
  if (r.resource_name !== null) e.resourceName = r.resource_name;
  return e;
}
