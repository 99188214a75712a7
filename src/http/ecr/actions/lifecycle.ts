/** PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy. */
import { z } from 'zod';
import { accountOf } from '../../../registry/context.js';
import { PolicyNotFound } from '../../../registry/policies.js';
import { repoScope, type EcrAction } from '../context.js';
import { parseInput, registryId, repositoryName } from '../input.js';
import { EcrError } from '../protocol.js';

const repoInput = z.object({ registryId: registryId.optional(), repositoryName }).strict();

async function orNotFound<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PolicyNotFound) throw new EcrError('LifecyclePolicyNotFoundException', e.message);
    throw e;
  }
}

export const PutLifecyclePolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput.extend({ lifecyclePolicyText: z.string().max(30720) }).strict(), call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  await call.registry.lifecyclePolicies.put(scope, input.lifecyclePolicyText);
  return { registryId: accountOf(scope.registryId), repositoryName: scope.name, lifecyclePolicyText: input.lifecyclePolicyText };
};

export const GetLifecyclePolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound(() => call.registry.lifecyclePolicies.get(scope));
  return { registryId: accountOf(scope.registryId), repositoryName: scope.name, lifecyclePolicyText: text };
};

export const DeleteLifecyclePolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound(() => call.registry.lifecyclePolicies.delete(scope));
  return { registryId: accountOf(scope.registryId), repositoryName: scope.name, lifecyclePolicyText: text };
};
