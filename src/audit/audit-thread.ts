/**
 * The audit thread: makes each batch of queued calls into the trail's stored batch (and the
 * auditLog's record lines) and stores it through its own connection to the trail
 * (metadata/audit-appender.ts), so that this costs the event loop one message per batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openAuditAppender } from '../metadata/audit-appender.js';
import type { AuditAppenderSpec } from '../metadata/audit-rows.js';
import { storedBatch, type AuditBatch, type AuditBatchResult } from './audit-batch.js';

const appender = openAuditAppender((workerData as { spec: AuditAppenderSpec }).spec);
// One batch at a time, in order: the writer sends the next only after this one's answer.
parentPort!.on('message', async (m: AuditBatch) => {
  let built: ReturnType<typeof storedBatch> | undefined;
  let result: AuditBatchResult;
  try {
    built = storedBatch(m.batchId, m, m.lines);
    if (built.batch) await appender.append(built.batch);
    result = { id: m.id };
  } catch (e) {
    result = { id: m.id, error: (e as Error).message };
  }
  if (built?.lines !== undefined) result.lines = built.lines;
  parentPort!.postMessage(result);
});
