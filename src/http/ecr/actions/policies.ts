/** Set/Get/DeleteRepositoryPolicy and Put/Get/DeleteRegistryPolicy. */
import { z } from 'zod';
import { accountOf } from '../../../registry/context.js';
import { PolicyNotFound } from '../../../registry/policies.js';
import { registryKey, repoScope, type EcrAction } from '../context.js';
import { parseInput, registryId, repositoryName } from '../input.js';
import { EcrError } from '../protocol.js';

const policyText = z.string().min(1).max(10240);

/** Runs `fn`, answering a missing policy with the named ECR exception. */
async function orNotFound<T>(type: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PolicyNotFound) throw new EcrError(type, e.message);
    throw e;
  }
}

const repoInput = z.object({ registryId: registryId.optional(), repositoryName }).strict();

export const SetRepositoryPolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput.extend({ policyText, force: z.boolean().optional() }).strict(), call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  await call.registry.policies.setRepositoryPolicy(scope, input.policyText);
  return { registryId: accountOf(scope.registryId), repositoryName: scope.name, policyText: input.policyText };
};

export const GetRepositoryPolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound('RepositoryPolicyNotFoundException', () => call.registry.policies.repositoryPolicy(scope));
  return { registryId: accountOf(scope.registryId), repositoryName: scope.name, policyText: text };
};

export const DeleteRepositoryPolicy: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound('RepositoryPolicyNotFoundException', () => call.registry.policies.deleteRepositoryPolicy(scope));
  return { registryId: accountOf(scope.registryId), repositoryName: scope.name, policyText: text };
};

export const PutRegistryPolicy: EcrAction = async (call) => {
  const input = parseInput(z.object({ policyText }).strict(), call.body);
  await call.registry.policies.setRegistryPolicy(registryKey(call), input.policyText);
  return { registryId: call.accountId, policyText: input.policyText };
};

export const GetRegistryPolicy: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  const text = await orNotFound('RegistryPolicyNotFoundException', () => call.registry.policies.registryPolicy(registryKey(call)));
  return { registryId: call.accountId, policyText: text };
};

export const DeleteRegistryPolicy: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  const text = await orNotFound('RegistryPolicyNotFoundException', () => call.registry.policies.deleteRegistryPolicy(registryKey(call)));
  return { registryId: call.accountId, policyText: text };
};
