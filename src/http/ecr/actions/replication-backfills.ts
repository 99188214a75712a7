/**
 * StartReplicationBackfill, StopReplicationBackfill, ListReplicationBackfills,
 * DescribeReplicationBackfillResults: the JSON door over registry/replication-backfills.ts.
 */
import { z } from 'zod';
import { accountOf } from '../../../core/registry-key.js';
import { backfillKey, type BackfillItem, type BackfillRecord } from '../../../metadata/replication-backfills.js';
import { addressedRegistry, type EcrAction } from '../context.js';
import { decodeToken, encodeToken, maxResults, modelPattern, nextToken, parseInput, registryId } from '../input.js';

const OP_LIST = 'ListReplicationBackfills';
const OP_RESULTS = 'DescribeReplicationBackfillResults';

const destination = z.object({ region: z.string().min(2).max(25).regex(modelPattern('[0-9a-z-]{2,25}')), registryId }).strict();
const backfillId = z.string().min(1).max(256);

const startInput = z.object({ registryId: registryId.optional(), destination }).strict();
const stopInput = z.object({ registryId: registryId.optional(), replicationBackfillId: backfillId }).strict();
const listInput = z.object({ registryId: registryId.optional(), maxResults: maxResults(50).optional(), nextToken: nextToken.optional() }).strict();
const resultsInput = z
  .object({
    registryId: registryId.optional(),
    replicationBackfillId: backfillId,
    resultStatusFilter: z.enum(['COMPLETE', 'FAILED']).optional(),
    maxResults: maxResults().optional(),
    nextToken: nextToken.optional(),
  })
  .strict();

function summary(b: BackfillRecord): Record<string, unknown> {
  return {
    replicationBackfillId: b.id,
    destination: b.destination,
    status: b.status,
    ...(b.failureCode !== undefined && { failureCode: b.failureCode }),
    ...(b.progress && {
      progress: {
        totalReplicationCount: b.progress.total,
        completedReplicationCount: b.progress.completed,
        failedReplicationCount: b.progress.failed,
        failureCodes: b.progress.failureCodes,
      },
    }),
    startedAt: b.startedAt,
    ...(b.endedAt && { endedAt: b.endedAt }),
  };
}

function result(i: BackfillItem): Record<string, unknown> {
  return {
    repositoryName: i.repository,
    imageId: { imageDigest: i.digest, ...(i.tag !== undefined && { imageTag: i.tag }) },
    status: i.status,
    ...(i.failureCode !== undefined && { failureCode: i.failureCode }),
  };
}

export const StartReplicationBackfill: EcrAction = async (call) => {
  const input = parseInput(startInput, call.body);
  const key = addressedRegistry(call, input.registryId);
  const b = await call.registry.backfills.start(key, input.destination);
  return { replicationBackfillId: b.id, registryId: accountOf(key), destination: b.destination, status: b.status, startedAt: b.startedAt };
};

export const StopReplicationBackfill: EcrAction = async (call) => {
  const input = parseInput(stopInput, call.body);
  const key = addressedRegistry(call, input.registryId);
  const b = await call.registry.backfills.stop(key, input.replicationBackfillId);
  return { registryId: accountOf(key), replicationBackfillId: b.id, destination: b.destination, status: b.status, startedAt: b.startedAt };
};

export const ListReplicationBackfills: EcrAction = async (call) => {
  const input = parseInput(listInput, call.body);
  const key = addressedRegistry(call, input.registryId);
  const limit = input.maxResults ?? 25;
  const after = decodeToken(OP_LIST, input.nextToken);
  const page = await call.registry.backfills.list(key, { ...(after !== undefined && { after }), limit: limit + 1 });
  const items = page.slice(0, limit);
  return {
    registryId: accountOf(key),
    backfills: items.map(summary),
    ...(page.length > limit && { nextToken: encodeToken(OP_LIST, backfillKey(items[items.length - 1]!)) }),
  };
};

export const DescribeReplicationBackfillResults: EcrAction = async (call) => {
  const input = parseInput(resultsInput, call.body);
  const key = addressedRegistry(call, input.registryId);
  const b = await call.registry.backfills.get(key, input.replicationBackfillId);
  const limit = input.maxResults ?? 100;
  const after = decodeToken(`${OP_RESULTS}/${b.id}`, input.nextToken);
  const page = await call.registry.backfills.results(b, {
    ...(input.resultStatusFilter !== undefined && { status: input.resultStatusFilter }),
    afterSeq: after === undefined ? 0 : Number(after),
    limit: limit + 1,
  });
  const items = page.slice(0, limit);
  return {
    registryId: accountOf(key),
    ...summary(b),
    results: items.map(result),
    ...(page.length > limit && { nextToken: encodeToken(`${OP_RESULTS}/${b.id}`, String(items[items.length - 1]!.seq)) }),
  };
};
