/**
 * Opens the audit trail's second connection from the description its store gives
 * (AuditStore.appender). Called on the audit thread (src/audit/audit-thread.ts), so that storing
 * the trail never runs on the event loop, whichever engine keeps it.
 */
import type { AuditAppender, AuditAppenderSpec } from './audit-rows.js';
import { openPostgresAuditAppender } from './postgres/audit.js';
import { openSqliteAuditAppender } from './sqlite/audit.js';

export function openAuditAppender(spec: AuditAppenderSpec): AuditAppender {
  return spec.engine === 'sqlite' ? openSqliteAuditAppender(spec.path) : openPostgresAuditAppender(spec.connectionString);
}
