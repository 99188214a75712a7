/** Put/Get/DeleteLifecyclePolicy and Start/GetLifecyclePolicyPreview. */
import { z } from 'zod';
import { Codes, EcrCodes } from '../../../core/errors.js';
import type { PlannedAction } from '../../../lifecycle/engine.js';
import { PreviewInProgress, PreviewNotFound, type PreviewView } from '../../../lifecycle/previews.js';
import { accountOf } from '../../../core/registry-key.js';
import type { RepoScope } from '../../../registry/context.js';
import { PolicyNotFound } from '../../../registry/policies.js';
import type { Registry } from '../../../registry/registry.js';
import { repoScope, type EcrAction } from '../context.js';
import { decodeToken, encodeToken, imageIds, maxResults, nextToken, parseInput, registryId, repositoryName, tagStatusFilter } from '../input.js';
import { EcrError } from '../protocol.js';

const repoInput = z.object({ registryId: registryId.optional(), repositoryName }).strict();

async function orNotFound<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PolicyNotFound) throw new EcrError(EcrCodes.LifecyclePolicyNotFound, e.message);
    throw e;
  }
}

export const PutLifecyclePolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput.extend({ lifecyclePolicyText: z.string().min(100).max(30720) }).strict(), call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  await call.registry.lifecyclePolicies.put(scope, input.lifecyclePolicyText);
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, lifecyclePolicyText: input.lifecyclePolicyText };
};

export const GetLifecyclePolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound(() => call.registry.lifecyclePolicies.get(scope));
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, lifecyclePolicyText: text, ...(await evaluatedAt(call.registry, scope)) };
};

/** As ECR: always present, the epoch (0) until the policy has been evaluated once. */
async function evaluatedAt(registry: Registry, scope: RepoScope): Promise<{ lastEvaluatedAt: Date }> {
  const repo = await registry.repositories.get(scope);
  return { lastEvaluatedAt: repo.lifecycleEvaluatedAt ?? new Date(0) };
}

export const DeleteLifecyclePolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const evaluated = await evaluatedAt(call.registry, scope);
  const text = await orNotFound(() => call.registry.lifecyclePolicies.delete(scope));
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, lifecyclePolicyText: text, ...evaluated };
};

export const StartLifecyclePolicyPreview: EcrAction = async (call) => {
  const input = parseInput(repoInput.extend({ lifecyclePolicyText: z.string().min(100).max(30720).optional() }).strict(), call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  try {
    const started = await orNotFound(() => call.lifecyclePreviews.start(scope, input.lifecyclePolicyText));
    return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, lifecyclePolicyText: started.policyText, status: 'IN_PROGRESS' };
  } catch (e) {
    if (e instanceof PreviewInProgress) throw new EcrError(EcrCodes.LifecyclePolicyPreviewInProgress, e.message);
    throw e;
  }
};

const previewInput = repoInput
  .extend({
    imageIds: imageIds.optional(),
    nextToken: nextToken.optional(),
    maxResults: maxResults(100).optional(),
    filter: tagStatusFilter.pick({ tagStatus: true }).optional(),
  })
  .strict();

export const GetLifecyclePolicyPreview: EcrAction = async (call) => {
  const input = parseInput(previewInput, call.body);
  if (input.imageIds && (input.nextToken !== undefined || input.maxResults !== undefined)) {
    throw new EcrError(Codes.InvalidParameter, 'imageIds cannot be used together with nextToken or maxResults');
  }
  const scope = repoScope(call, input.repositoryName, input.registryId);
  let preview: PreviewView;
  try {
    preview = await call.lifecyclePreviews.get(scope);
  } catch (e) {
    if (e instanceof PreviewNotFound) throw new EcrError(EcrCodes.LifecyclePolicyPreviewNotFound, e.message);
    throw e;
  }
  const tagStatus = input.filter?.tagStatus ?? 'ANY';
  const wanted = input.imageIds;
  const matching = preview.actions.filter(
    (a) =>
      (tagStatus === 'ANY' || (tagStatus === 'TAGGED') === a.tags.length > 0) &&
      (!wanted ||
        wanted.some((id) => (id.imageDigest === undefined || id.imageDigest === a.digest) && (id.imageTag === undefined || a.tags.includes(id.imageTag)))),
  );
  const start = Number(decodeToken('GetLifecyclePolicyPreview', input.nextToken) ?? '0');
  if (!Number.isSafeInteger(start) || start < 0)
    throw new EcrError(Codes.InvalidParameter, "Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
  const limit = input.maxResults ?? 100;
  const page = matching.slice(start, start + limit);
  const transitioning = matching.filter((a) => a.action === 'transition').length;
  return {
    registryId: accountOf(scope.registryKey),
    repositoryName: scope.name,
    lifecyclePolicyText: preview.policyText,
    status: preview.status,
    previewResults: page.map(previewResult),
    ...(start + limit < matching.length && { nextToken: encodeToken('GetLifecyclePolicyPreview', String(start + limit)) }),
    summary: {
      expiringImageTotalCount: matching.length - transitioning,
      ...(transitioning > 0 && { transitioningImageTotalCounts: [{ targetStorageClass: 'ARCHIVE', imageTotalCount: transitioning }] }),
    },
  };
};

function previewResult(a: PlannedAction): Record<string, unknown> {
  return {
    ...(a.tags.length > 0 && { imageTags: a.tags }),
    imageDigest: a.digest,
    imagePushedAt: a.pushedAt,
    action: a.action === 'expire' ? { type: 'EXPIRE' } : { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' },
    appliedRulePriority: a.rulePriority,
    storageClass: a.storageClass,
  };
}
