/**
 * The audit thread: makes each batch of queued calls into CloudTrail records and stores them
 * through its own connection to the trail (metadata/audit-appender.ts). Building a record and
 * its JSON, and the insert with its indexes, cost several times what serving a manifest GET does
 * on the event loop; here they cost the event loop nothing but one message per batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openAuditAppender } from '../metadata/audit-appender.js';
import type { AuditAppenderSpec } from '../metadata/audit-rows.js';
import { rowsOf, unpackCalls, type AuditBatch, type AuditBatchResult } from './audit-batch.js';

const appender = openAuditAppender((workerData as { spec: AuditAppenderSpec }).spec);
// One batch at a time, in order: the writer sends the next only after this one's answer.
parentPort!.on('message', async (m: AuditBatch) => {
  let built: ReturnType<typeof rowsOf> | undefined;
  let result: AuditBatchResult;
  try {
    built = rowsOf(unpackCalls(m.calls), m.lines);
    await appender.append(built.rows);
    result = { id: m.id };
  } catch (e) {
    result = { id: m.id, error: (e as Error).message };
  }
  if (built?.lines !== undefined) result.lines = built.lines;
  parentPort!.postMessage(result);
});
