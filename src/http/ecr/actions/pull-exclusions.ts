/** Register/DeregisterPullTimeUpdateExclusion, ListPullTimeUpdateExclusions: the JSON door over registry/pull-exclusions.ts. */
import { z } from 'zod';
import { addressedRegistry, type EcrAction } from '../context.js';
import { decodeToken, encodeToken, maxResults, modelPattern, nextToken, parseInput } from '../input.js';

const OP_LIST = 'ListPullTimeUpdateExclusions';

/** The model's PrincipalArn: an IAM user or role, never a session's assumed-role ARN. */
const principalArn = z.string().max(200).regex(modelPattern('^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\\w+=,.@-]+(/[\\w+=,.@-]+)*$'));

const changeInput = z.object({ principalArn }).strict();
const listInput = z.object({ maxResults: maxResults().optional(), nextToken: nextToken.optional() }).strict();

export const RegisterPullTimeUpdateExclusion: EcrAction = async (call) => {
  const input = parseInput(changeInput, call.body);
  const added = await call.registry.pullExclusions.register(addressedRegistry(call), input.principalArn);
  return { principalArn: added.principalArn, createdAt: added.createdAt };
};

export const DeregisterPullTimeUpdateExclusion: EcrAction = async (call) => {
  const input = parseInput(changeInput, call.body);
  await call.registry.pullExclusions.deregister(addressedRegistry(call), input.principalArn);
  return { principalArn: input.principalArn };
};

export const ListPullTimeUpdateExclusions: EcrAction = async (call) => {
  const input = parseInput(listInput, call.body);
  const limit = input.maxResults ?? 100;
  const after = decodeToken(OP_LIST, input.nextToken);
  const page = await call.registry.pullExclusions.list(addressedRegistry(call), { ...(after !== undefined && { after }), limit: limit + 1 });
  const items = page.slice(0, limit);
  return {
    pullTimeUpdateExclusions: items.map((e) => e.principalArn),
    ...(page.length > limit && { nextToken: encodeToken(OP_LIST, items[items.length - 1]!.principalArn) }),
  };
};
