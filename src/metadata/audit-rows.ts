/**
 * The audit trail as the stores keep it (migration 20): one row per batch of calls, and index
 * rows ("keys") per distinct (account, attribute, value) in a batch. The store only keeps and
 * finds batches; what a batch's calls are, and which of them a LookupEvents asks for, is the
 * audit layer's (src/audit/trail-batch.ts). Also migration 8's one-row-per-call form, which
 * older Berths wrote and which is carried over into batches at open (legacyBatch).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** The attributes LookupEvents filters on, as CloudTrail names them. */
export type AuditAttribute = 'EventId' | 'EventName' | 'ReadOnly' | 'Username' | 'ResourceType' | 'ResourceName' | 'EventSource' | 'AccessKeyId';

/** audit_keys.attr: 0 is "any call of the account"; EventId keys exist for carried-over rows only. */
export const ATTR_CODES: Record<AuditAttribute, number> = {
  EventName: 1,
  ReadOnly: 2,
  Username: 3,
  ResourceType: 4,
  ResourceName: 5,
  EventSource: 6,
  AccessKeyId: 7,
  EventId: 8,
};

/**
 * The value a call holds for a LookupEvents attribute, as keys index it and lookups compare it:
 * the one rule both use, so a key and the filter it serves cannot disagree (ReadOnly as text).
 */
export function attributeValue(c: Omit<AuditEventRow, 'record' | 'eventId'>, attribute: Exclude<AuditAttribute, 'EventId'>): string | undefined {
  switch (attribute) {
    case 'EventName':
      return c.eventName;
    case 'ReadOnly':
      return c.readOnly ? 'true' : 'false';
    case 'Username':
      return c.username;
    case 'ResourceType':
      return c.resourceType;
    case 'ResourceName':
      return c.resourceName;
    case 'EventSource':
      return c.eventSource;
    case 'AccessKeyId':
      return c.accessKeyId;
  }
}

/** The attributes a batch's calls are keyed by (EventId keys only for carried-over rows). */
const CALL_ATTRIBUTES = ['EventName', 'ReadOnly', 'Username', 'ResourceType', 'ResourceName', 'EventSource', 'AccessKeyId'] as const;

/** A call's lookup columns (migration 8's row); `record` is its stored call or, older, its record's JSON. */
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
  record: string;
}

export interface AuditKeyRow {
  accountId: string;
  attr: number;
  value: string;
  firstTime: number;
  lastTime: number;
  /** Bit i: the batch's text i (or, from bit 30, any text from the 30th on) holds a call with this key. */
  chunks: number;
}

/** A batch as appended: stored once by `batchId`, whatever the number of tries. */
export interface AuditBatchRow {
  batchId: string;
  firstTime: number;
  lastTime: number;
  /** 2: packed calls (src/audit/audit-batch.ts); 1: migration 8's rows carried over. */
  form: 1 | 2;
  /** The texts, each deflated, length-prefixed (packBlob). */
  calls: Uint8Array;
  keys: AuditKeyRow[];
}

/** A batch found through one of its keys (or by id: then `chunks` is every text). */
export interface AuditCandidate {
  seq: number;
  batchId: string;
  form: number;
  calls: Uint8Array;
  /** The key's: the span and texts of the calls that have it. */
  firstTime: number;
  lastTime: number;
  chunks: number;
}

/** Keys of one (account, attr, value), newest first by (lastTime, seq). */
export interface AuditCandidateQuery {
  accountId: string;
  attr: number;
  value: string;
  /** Keys whose calls reach at least this time. */
  minLastTime?: number;
  /** Keys whose calls start at most at this time. */
  maxFirstTime?: number;
  /** Keyset position: keys at or (exclusive) after it in the order. */
  from?: { lastTime: number; seq: number; inclusive: boolean };
  limit: number;
}

/**
 * Where a second connection to the same trail is opened (audit-appender.ts), on the thread that
 * builds and stores the records; plain data, since it crosses to that thread.
 */
export type AuditAppenderSpec = { engine: 'sqlite'; path: string } | { engine: 'postgres'; connectionString: string };

/** A trail's second connection, as the audit thread holds it. */
export interface AuditAppender {
  append(batch: AuditBatchRow): Promise<void>;
  close(): Promise<void>;
}

export interface AuditStore {
  /** Stores the batch and its keys in one transaction; a batch whose id is stored already is skipped. */
  append(batch: AuditBatchRow): Promise<void>;
  /** How another thread opens its own connection to this trail; absent when none can (SQLite in memory). */
  readonly appender?: AuditAppenderSpec;
  candidates(q: AuditCandidateQuery): Promise<AuditCandidate[]>;
  batchById(batchId: string): Promise<AuditCandidate | undefined>;
  /** Deletes up to `limit` batches whose newest call is older than `before`, with their keys; returns how many. */
  prune(before: Date, limit: number): Promise<number>;
}

/** Every text of a batch, as a key's chunk mask. */
export const ALL_CHUNKS = 0x7fffffff;

export function chunkBit(i: number): number {
  return 1 << Math.min(i, 30);
}

/** The texts of a batch, each deflated (level 1: a GET flood's calls shrink about seven times), each after its length. */
export function packBlob(texts: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [];
  for (const t of texts) {
    const z = deflateRawSync(t, { level: 1 });
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(z.length);
    parts.push(len, z);
  }
  return Buffer.concat(parts);
}

/** The texts whose bit is in `mask`; the others are left undefined, not inflated. */
export function unpackBlob(blob: Uint8Array, mask: number): Array<string | undefined> {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const out: Array<string | undefined> = [];
  for (let at = 0, i = 0; at < buf.length; i++) {
    const len = buf.readUInt32BE(at);
    out.push((mask & chunkBit(i)) === 0 ? undefined : inflateRawSync(buf.subarray(at + 4, at + 4 + len)).toString('utf8'));
    at += 4 + len;
  }
  return out;
}

/**
 * Collects a batch's distinct keys. A flood repeats its values call after call, so each
 * attribute first compares with the previous call's value before it builds a map key.
 */
export class KeyCollector {
  readonly #keys = new Map<string, AuditKeyRow>();
  readonly #last: Array<AuditKeyRow | undefined> = [];

  add(accountId: string, attr: number, value: string | undefined, time: number, chunk: number): void {
    if (value === undefined) return;
    let k = this.#last[attr];
    if (k === undefined || k.value !== value || k.accountId !== accountId) {
      const id = `${accountId}\u0000${attr}\u0000${value}`;
      k = this.#keys.get(id);
      if (k === undefined) {
        k = { accountId, attr, value, firstTime: time, lastTime: time, chunks: 0 };
        this.#keys.set(id, k);
      }
      this.#last[attr] = k;
    }
    if (time < k.firstTime) k.firstTime = time;
    if (time > k.lastTime) k.lastTime = time;
    k.chunks |= chunkBit(chunk);
  }

  /** Every attribute of one call's columns (attr 0: any call of the account). */
  addColumns(c: Omit<AuditEventRow, 'record' | 'eventId'>, time: number, chunk: number): void {
    this.add(c.accountId, 0, '', time, chunk);
    for (const a of CALL_ATTRIBUTES) this.add(c.accountId, ATTR_CODES[a], attributeValue(c, a), time, chunk);
  }

  keys(): AuditKeyRow[] {
    return [...this.#keys.values()];
  }
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

/** Migration 8's columns, in the order a form-1 batch keeps each row's values. */
export const AUDIT_COLUMNS =
  'event_id, account_id, event_time, event_name, event_source, read_only, username, access_key_id, resource_type, resource_name, record';

/** Rows carried over per batch (and per transaction: the batch is written and the rows deleted together). */
export const LEGACY_ROWS_PER_BATCH = 500;

/**
 * Migration 8's rows (in seq order) as one form-1 batch: its text the JSON of the rows' values,
 * its id named after the first row's event id, so a batch copied twice is stored once.
 */
export function legacyBatch(rows: readonly AuditEventDbRow[]): AuditBatchRow {
  const keys = new KeyCollector();
  let firstTime = Number.POSITIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  const values = rows.map((r) => {
    const e = toAuditEvent(r);
    const t = r.event_time;
    firstTime = Math.min(firstTime, t);
    lastTime = Math.max(lastTime, t);
    keys.addColumns(e, t, 0);
    keys.add(r.account_id, ATTR_CODES.EventId, r.event_id, t, 0);
    return [r.event_id, r.account_id, t, r.event_name, r.event_source, r.read_only, r.username, r.access_key_id, r.resource_type, r.resource_name, r.record];
  });
  return { batchId: `legacy-${rows[0]!.event_id}`, firstTime, lastTime, form: 1, calls: packBlob([JSON.stringify(values)]), keys: keys.keys() };
}

/** A form-1 batch's rows, as legacyBatch wrote them. */
export function legacyRows(text: string): AuditEventRow[] {
  const values = JSON.parse(text) as Array<[string, string, number, string, string, number, ...Array<string | null>]>;
  return values.map((v) =>
    toAuditEvent({
      seq: 0,
      event_id: v[0],
      account_id: v[1],
      event_time: v[2],
      event_name: v[3],
      event_source: v[4],
      read_only: v[5],
      username: v[6] ?? null,
      access_key_id: v[7] ?? null,
      resource_type: v[8] ?? null,
      resource_name: v[9] ?? null,
      record: v[10] as string,
    }),
  );
}

function toAuditEvent(r: AuditEventDbRow): AuditEventRow {
  const e: AuditEventRow = {
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

/** The keys' values in audit_keys' column order, for a batch stored at `seq`. */
export function keyValues(k: AuditKeyRow, seq: number): unknown[] {
  return [k.accountId, k.attr, k.value, k.lastTime, seq, k.firstTime, k.chunks];
}

export const KEY_COLUMNS = 'account_id, attr, value, last_time, batch_seq, first_time, chunks';

export interface AuditCandidateDbRow {
  seq: number;
  batch_id: string;
  form: number;
  calls: Uint8Array;
  first_time: number;
  last_time: number;
  chunks: number;
}

export function toCandidate(r: AuditCandidateDbRow): AuditCandidate {
  return {
    seq: Number(r.seq),
    batchId: r.batch_id,
    form: r.form,
    calls: r.calls,
    firstTime: Number(r.first_time),
    lastTime: Number(r.last_time),
    chunks: r.chunks,
  };
}
