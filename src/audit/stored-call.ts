/**
 * How the trail keeps a call: the columns LookupEvents filters on, and beside them the rest of
 * the call as one short JSON array, not its CloudTrail record. A record is a function of its
 * call (cloudTrailRecord), and most of it is constant (eventVersion, eventType, ...) or repeats
 * the columns (eventID, eventTime, eventName, readOnly, the account, the caller's ARN thrice,
 * the repository's ARN): a manifest GET's record is about 830 characters, its call about 200.
 * Building and serializing the record, and the larger row, were most of the audit thread's CPU
 * per call; LookupEvents now builds the record (up to 50 a page) with the same function as the
 * auditLog file does, so both give the same JSON.
 *
 * Rows stored before (migration 8's form) hold the record's JSON itself, an object; a stored call
 * is an array whose first element is its form's version.
 */
import type { AuditEventRow } from '../metadata/audit-rows.js';
import { cloudTrailRecord, lookupColumns, type AuditApi, type AuditedCall, type AuditIdentity } from './cloudtrail-record.js';

const FORM = 1;
/** As cloudTrailRecord cuts them: longer text is never stored. */
const MAX_TEXT = 1024;

/** The row that stores a call; undefined for a call that is not recorded. */
export function storedRow(call: AuditedCall): AuditEventRow | undefined {
  const row = lookupColumns(call);
  if (!row) return undefined;
  const p = call.principal;
  const role = p.session?.role;
  // The account, access key id, time and event id are columns; absent fields are written null.
  row.record = JSON.stringify([
    FORM,
    call.api,
    call.operation,
    call.method,
    p.arn,
    p.kind,
    p.userName,
    p.principalArn,
    role && [role.name, role.roleId, role.sessionName],
    call.params,
    call.error && [call.error.code, call.error.message.slice(0, MAX_TEXT)],
    call.requestId,
    call.region,
    call.sourceIp,
    call.userAgent?.slice(0, MAX_TEXT),
  ]);
  return row;
}

/** The CloudTrail record of a stored row, as JSON (what LookupEvents returns as CloudTrailEvent). */
export function recordJson(row: AuditEventRow): string {
  if (!row.record.startsWith('[')) return row.record;
  const call = storedCall(row);
  const record = cloudTrailRecord(call);
  if (!record) throw new Error(`audit event ${row.eventId}: its call (${call.api} ${call.operation}) makes no record`);
  return JSON.stringify(record);
}

type Stored = [
  form: number,
  api: AuditApi,
  operation: string,
  method: string,
  arn: string,
  kind: AuditIdentity['kind'],
  userName: string | null,
  principalArn: string | null,
  role: [name: string, roleId: string, sessionName: string] | null,
  params: Record<string, unknown> | null,
  error: [code: string, message: string] | null,
  requestId: string,
  region: string,
  sourceIp: string | null,
  userAgent: string | null,
];

/** The call a row was stored from, as storedRow was given it. */
export function storedCall(row: AuditEventRow): AuditedCall {
  const f = JSON.parse(row.record) as Stored;
  if (f[0] !== FORM) throw new Error(`audit event ${row.eventId}: unknown stored form ${String(f[0])}`);
  const [, api, operation, method, arn, kind, userName, principalArn, role, params, error, requestId, region, sourceIp, userAgent] = f;
  const principal: AuditIdentity = { arn, accountId: row.accountId, kind };
  if (userName !== null) principal.userName = userName;
  if (row.accessKeyId !== undefined) principal.accessKeyId = row.accessKeyId;
  if (principalArn !== null) principal.principalArn = principalArn;
  if (role !== null) principal.session = { role: { name: role[0], roleId: role[1], sessionName: role[2] } };
  const call: AuditedCall = { api, operation, method, principal, requestId, time: row.eventTime, region, eventId: row.eventId };
  if (params !== null) call.params = params;
  if (error !== null) call.error = { code: error[0], message: error[1] };
  if (sourceIp !== null) call.sourceIp = sourceIp;
  if (userAgent !== null) call.userAgent = userAgent;
  return call;
}
