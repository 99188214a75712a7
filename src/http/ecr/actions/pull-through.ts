/**
 * Create/Describe/Update/Delete/ValidatePullThroughCacheRule, over the pull-through cache's
 * rules (pullthrough/rules.ts). Authorized on the registry ("*"), as ECR authorizes them.
 */
import { z } from 'zod';
import { Codes, PullThroughCodes } from '../../../core/errors.js';
import { accountOf } from '../../../core/registry-key.js';
import { isPullThroughError } from '../../../pullthrough/errors.js';
import { UPSTREAM_REGISTRIES, type PullThroughRule, type PullThroughRules } from '../../../pullthrough/rules.js';
import { addressedRegistry, type EcrAction, type EcrCall } from '../context.js';
import { decodeToken, encodeToken, maxResults, modelPattern, nextToken, parseInput, registryId } from '../input.js';
import { EcrError } from '../protocol.js';

// As the model writes them, anchors included: the refusal quotes the model's text.
const PREFIX = modelPattern('^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$');
const CREDENTIAL = modelPattern('^arn:aws(-\\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\\-pullthroughcache\\/[a-zA-Z0-9\\/_+=.@-]+$');
const prefix = z.string().min(2).max(30).regex(PREFIX);
const credentialArn = z.string().min(50).max(612).regex(CREDENTIAL);
/** A trailing slash names the same prefix. */
const normal = (p: string) => (p.endsWith('/') ? p.slice(0, -1) : p);

function rules(call: EcrCall): PullThroughRules {
  if (!call.pullThrough) throw new EcrError(Codes.InvalidParameter, 'This Berth server has no pull-through cache');
  return call.pullThrough;
}

/** The domain's refusals in ECR's words. */
async function wire<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (isPullThroughError(e)) throw new EcrError(e.wire, e.message);
    throw e;
  }
}

function ruleShape(rule: PullThroughRule, registry: string) {
  return {
    ecrRepositoryPrefix: rule.ecrRepositoryPrefix,
    upstreamRegistryUrl: rule.upstreamRegistryUrl,
    createdAt: new Date(rule.createdAt),
    registryId: registry,
    ...(rule.credentialArn !== undefined && { credentialArn: rule.credentialArn }),
    ...(rule.upstreamRepositoryPrefix !== undefined && { upstreamRepositoryPrefix: rule.upstreamRepositoryPrefix }),
    ...(rule.upstreamRegistry !== undefined && { upstreamRegistry: rule.upstreamRegistry }),
    updatedAt: new Date(rule.updatedAt),
  };
}

export const CreatePullThroughCacheRule: EcrAction = async (call) => {
  const input = parseInput(
    z
      .object({
        ecrRepositoryPrefix: prefix,
        upstreamRegistryUrl: z.string().min(1).max(512),
        registryId: registryId.optional(),
        upstreamRegistry: z.enum(UPSTREAM_REGISTRIES).optional(),
        credentialArn: credentialArn.optional(),
        customRoleArn: z.string().max(2048).optional(),
        upstreamRepositoryPrefix: prefix.optional(),
      })
      .strict(),
    call.body,
  );
  if (input.customRoleArn !== undefined) throw new EcrError(PullThroughCodes.InvalidParameter, 'Berth does not assume roles: customRoleArn is not supported.');
  const key = addressedRegistry(call, input.registryId);
  const rule = await wire(
    rules(call).create(
      key,
      {
        ecrRepositoryPrefix: normal(input.ecrRepositoryPrefix),
        upstreamRegistryUrl: input.upstreamRegistryUrl,
        ...(input.upstreamRegistry !== undefined && { upstreamRegistry: input.upstreamRegistry }),
        ...(input.credentialArn !== undefined && { credentialArn: input.credentialArn }),
        ...(input.upstreamRepositoryPrefix !== undefined && { upstreamRepositoryPrefix: normal(input.upstreamRepositoryPrefix) }),
      },
      call.secretUse?.(key),
    ),
  );
  const { updatedAt: _u, ...shape } = ruleShape(rule, accountOf(key));
  return shape;
};

export const DescribePullThroughCacheRules: EcrAction = async (call) => {
  const input = parseInput(
    z
      .object({
        registryId: registryId.optional(),
        ecrRepositoryPrefixes: z.array(prefix).min(1).max(100).optional(),
        nextToken: nextToken.optional(),
        maxResults: maxResults(1000).optional(),
      })
      .strict(),
    call.body,
  );
  const key = addressedRegistry(call, input.registryId);
  const registry = accountOf(key);
  if (input.ecrRepositoryPrefixes !== undefined) {
    const found = await wire(Promise.all(input.ecrRepositoryPrefixes.map((p) => rules(call).get(key, normal(p)))));
    return { pullThroughCacheRules: found.map((r) => ruleShape(r, registry)) };
  }
  const limit = input.maxResults ?? 100;
  const after = decodeToken('DescribePullThroughCacheRules', input.nextToken);
  const page = await rules(call).list(key, limit + 1, after);
  const more = page.length > limit;
  const items = page.slice(0, limit);
  return {
    pullThroughCacheRules: items.map((r) => ruleShape(r, registry)),
    ...(more && { nextToken: encodeToken('DescribePullThroughCacheRules', items.at(-1)!.ecrRepositoryPrefix) }),
  };
};

export const UpdatePullThroughCacheRule: EcrAction = async (call) => {
  const input = parseInput(
    z
      .object({
        registryId: registryId.optional(),
        ecrRepositoryPrefix: prefix,
        credentialArn: credentialArn.optional(),
        customRoleArn: z.string().max(2048).optional(),
      })
      .strict(),
    call.body,
  );
  if (input.customRoleArn !== undefined) throw new EcrError(PullThroughCodes.InvalidParameter, 'Berth does not assume roles: customRoleArn is not supported.');
  const key = addressedRegistry(call, input.registryId);
  const rule = await wire(rules(call).update(key, normal(input.ecrRepositoryPrefix), input.credentialArn, call.secretUse?.(key)));
  return {
    ecrRepositoryPrefix: rule.ecrRepositoryPrefix,
    registryId: accountOf(key),
    updatedAt: new Date(rule.updatedAt),
    ...(rule.credentialArn !== undefined && { credentialArn: rule.credentialArn }),
    ...(rule.upstreamRepositoryPrefix !== undefined && { upstreamRepositoryPrefix: rule.upstreamRepositoryPrefix }),
  };
};

export const DeletePullThroughCacheRule: EcrAction = async (call) => {
  const input = parseInput(z.object({ ecrRepositoryPrefix: prefix, registryId: registryId.optional() }).strict(), call.body);
  const key = addressedRegistry(call, input.registryId);
  const rule = await wire(rules(call).delete(key, normal(input.ecrRepositoryPrefix)));
  const { updatedAt: _u, upstreamRegistry: _k, ...shape } = ruleShape(rule, accountOf(key));
  return shape;
};

export const ValidatePullThroughCacheRule: EcrAction = async (call) => {
  const input = parseInput(z.object({ ecrRepositoryPrefix: prefix, registryId: registryId.optional() }).strict(), call.body);
  const key = addressedRegistry(call, input.registryId);
  const checked = await wire(rules(call).validate(key, normal(input.ecrRepositoryPrefix)));
  const r = checked.rule;
  return {
    ecrRepositoryPrefix: r.ecrRepositoryPrefix,
    registryId: accountOf(key),
    upstreamRegistryUrl: r.upstreamRegistryUrl,
    ...(r.credentialArn !== undefined && { credentialArn: r.credentialArn }),
    ...(r.upstreamRepositoryPrefix !== undefined && { upstreamRepositoryPrefix: r.upstreamRepositoryPrefix }),
    isValid: checked.isValid,
    ...(checked.failure !== undefined && { failure: checked.failure }),
  };
};
