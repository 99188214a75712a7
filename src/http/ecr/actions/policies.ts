/** Set/Get/DeleteRepositoryPolicy, Put/Get/DeleteRegistryPolicy, and the registry policy scope (Put/GetAccountSetting). */
import { z } from 'zod';
import { accountOf } from '../../../core/registry-key.js';
import { Codes, EcrCodes, RegistryError, type WireCode } from '../../../core/errors.js';
import { PolicyNotFound, REGISTRY_POLICY_SCOPES, type RegistryPolicyScope } from '../../../registry/policies.js';
import { addressedRegistry, repoScope, type EcrAction } from '../context.js';
import { parseInput, parsedAction, registryId, repositoryName } from '../input.js';
import { EcrError } from '../protocol.js';

const policyText = z.string().min(1).max(10240);

/** Runs `fn`, answering a missing policy with the named ECR exception. */
async function orNotFound<T>(type: WireCode, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PolicyNotFound) throw new EcrError(type, e.message);
    throw e;
  }
}

const repoInput = z.object({ registryId: registryId.optional(), repositoryName }).strict();

export const SetRepositoryPolicy = parsedAction(repoInput.extend({ policyText, force: z.boolean().optional() }).strict(), async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  await call.registry.policies.setRepositoryPolicy(scope, input.policyText);
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, policyText: input.policyText };
});

export const GetRepositoryPolicy = parsedAction(repoInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound(EcrCodes.RepositoryPolicyNotFound, () => call.registry.policies.repositoryPolicy(scope));
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, policyText: text };
});

export const DeleteRepositoryPolicy = parsedAction(repoInput, async (call, input) => {
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const text = await orNotFound(EcrCodes.RepositoryPolicyNotFound, () => call.registry.policies.deleteRepositoryPolicy(scope));
  return { registryId: accountOf(scope.registryKey), repositoryName: scope.name, policyText: text };
});

export const PutRegistryPolicy: EcrAction = async (call) => {
  const input = parseInput(z.object({ policyText }).strict(), call.body);
  await call.registry.policies.setRegistryPolicy(addressedRegistry(call), input.policyText);
  return { registryId: call.accountId, policyText: input.policyText };
};

export const GetRegistryPolicy: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  const text = await orNotFound(EcrCodes.RegistryPolicyNotFound, () => call.registry.policies.registryPolicy(addressedRegistry(call)));
  return { registryId: call.accountId, policyText: text };
};

export const DeleteRegistryPolicy: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  const text = await orNotFound(EcrCodes.RegistryPolicyNotFound, () => call.registry.policies.deleteRegistryPolicy(addressedRegistry(call)));
  return { registryId: call.accountId, policyText: text };
};

// ECR has other account settings (BASIC_SCAN_TYPE_VERSION, BLOB_MOUNTING); Berth stores only this one.
const SCOPE_SETTING = 'REGISTRY_POLICY_SCOPE';
const settingName = z.string().min(1).max(64);

function checkSettingName(name: string): void {
  if (name !== SCOPE_SETTING) {
    throw new RegistryError(
      Codes.InvalidParameter,
      `Invalid parameter at 'name' failed to satisfy constraint: 'Account setting ${name.slice(0, 64)} is not supported; supported: ${SCOPE_SETTING}'`,
    );
  }
}

export const PutAccountSetting: EcrAction = async (call) => {
  const input = parseInput(z.object({ name: settingName, value: z.string() }).strict(), call.body);
  checkSettingName(input.name);
  if (!(REGISTRY_POLICY_SCOPES as readonly string[]).includes(input.value)) {
    throw new RegistryError(
      Codes.InvalidParameter,
      `Invalid parameter at 'value' failed to satisfy constraint: '${SCOPE_SETTING} must be one of ${REGISTRY_POLICY_SCOPES.join(', ')}'`,
    );
  }
  await call.registry.policies.setRegistryPolicyScope(addressedRegistry(call), input.value as RegistryPolicyScope);
  return { name: input.name, value: input.value };
};

export const GetAccountSetting: EcrAction = async (call) => {
  const input = parseInput(z.object({ name: settingName }).strict(), call.body);
  checkSettingName(input.name);
  return { name: input.name, value: await call.registry.policies.registryPolicyScope(addressedRegistry(call)) };
};
