/** Create/Describe/Update/DeleteRepositoryCreationTemplate(s): the JSON door over registry/creation-templates.ts. */
import { z } from 'zod';
import { ENCRYPTION_TYPES, TAG_MUTABILITIES } from '../../../core/repository-settings.js';
import { APPLIED_FOR, grantedActions, type CreationTemplate } from '../../../registry/creation-templates.js';
import { addressedRegistry, type EcrAction } from '../context.js';
import { decodeToken, encodeToken, maxResults, modelPattern, mutabilityFilters, nextToken, parseInput } from '../input.js';

const OP_DESCRIBE = 'DescribeRepositoryCreationTemplates';

const prefix = z.string().min(1).max(256).regex(modelPattern('^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$'));

const templateFields = {
  description: z.string().max(256).optional(),
  encryptionConfiguration: z
    .object({
      encryptionType: z.enum(ENCRYPTION_TYPES),
      kmsKey: z.string().max(2048).regex(modelPattern('^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\\/[a-z0-9-]+')).optional(),
    })
    .strict()
    .optional(),
  // The model bounds neither key nor value: the core's tag rules answer (InvalidTagParameterException).
  resourceTags: z.array(z.object({ Key: z.string(), Value: z.string() }).strict()).optional(),
  imageTagMutability: z.enum(TAG_MUTABILITIES).optional(),
  imageTagMutabilityExclusionFilters: mutabilityFilters.optional(),
  repositoryPolicy: z.string().max(10240).optional(),
  lifecyclePolicy: z.string().max(30720).optional(),
  appliedFor: z.array(z.enum(APPLIED_FOR)).optional(),
  customRoleArn: z.string().max(2048).optional(),
};

const createInput = z.object({ prefix, ...templateFields, appliedFor: z.array(z.enum(APPLIED_FOR)) }).strict();
const updateInput = z.object({ prefix, ...templateFields }).strict();
const deleteInput = z.object({ prefix }).strict();
const describeInput = z.object({ prefixes: z.array(prefix).optional(), nextToken: nextToken.optional(), maxResults: maxResults().optional() }).strict();

/** Text fields where '' means "none" (the model allows length 0); an empty one on create is simply absent. */
function withoutEmpty<T extends Record<string, unknown>>(input: T): T {
  const out = { ...input };
  for (const k of ['description', 'repositoryPolicy', 'lifecyclePolicy', 'customRoleArn'] as const) if (out[k] === '') delete out[k];
  return out;
}

export function templateShape(t: CreationTemplate): Record<string, unknown> {
  const shape: Record<string, unknown> = {
    prefix: t.prefix,
    ...(t.description !== undefined && { description: t.description }),
    encryptionConfiguration: t.encryptionConfiguration,
    resourceTags: t.resourceTags,
    imageTagMutability: t.imageTagMutability,
    ...(t.imageTagMutabilityExclusionFilters && { imageTagMutabilityExclusionFilters: t.imageTagMutabilityExclusionFilters }),
    ...(t.repositoryPolicy !== undefined && { repositoryPolicy: t.repositoryPolicy }),
    ...(t.lifecyclePolicy !== undefined && { lifecyclePolicy: t.lifecyclePolicy }),
    appliedFor: t.appliedFor,
    ...(t.customRoleArn !== undefined && { customRoleArn: t.customRoleArn }),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
  return shape;
}

export const CreateRepositoryCreationTemplate: EcrAction = async (call) => {
  const { prefix: p, ...fields } = parseInput(createInput, call.body);
  const template = await call.registry.creationTemplates.create(addressedRegistry(call), p, withoutEmpty(fields));
  return { registryId: call.accountId, repositoryCreationTemplate: templateShape(template) };
};

export const UpdateRepositoryCreationTemplate: EcrAction = async (call) => {
  const { prefix: p, ...fields } = parseInput(updateInput, call.body);
  const template = await call.registry.creationTemplates.update(addressedRegistry(call), p, fields, call.mayOnRegistry);
  return { registryId: call.accountId, repositoryCreationTemplate: templateShape(template) };
};

export const DeleteRepositoryCreationTemplate: EcrAction = async (call) => {
  const input = parseInput(deleteInput, call.body);
  const template = await call.registry.creationTemplates.delete(addressedRegistry(call), input.prefix);
  return { registryId: call.accountId, repositoryCreationTemplate: templateShape(template) };
};

export const DescribeRepositoryCreationTemplates: EcrAction = async (call) => {
  const input = parseInput(describeInput, call.body);
  const limit = input.maxResults ?? 100;
  const after = decodeToken(OP_DESCRIBE, input.nextToken);
  const page = await call.registry.creationTemplates.describe(addressedRegistry(call), {
    ...(input.prefixes && { prefixes: input.prefixes }),
    ...(after !== undefined && { after }),
    limit: limit + 1,
  });
  const items = page.slice(0, limit);
  const out: Record<string, unknown> = { registryId: call.accountId, repositoryCreationTemplates: items.map(templateShape) };
  if (page.length > limit) out.nextToken = encodeToken(OP_DESCRIBE, items[items.length - 1]!.prefix);
  return out;
};

/**
 * What a template grants beyond its own action, asked of the caller as ECR documents it: the
 * repositories it will create, and the lifecycle and repository policies they will carry.
 */
export function templateImpliedActions(op: string, body: Record<string, unknown>): string[] {
  if (op !== 'CreateRepositoryCreationTemplate' && op !== 'UpdateRepositoryCreationTemplate') return [];
  const given = (k: string) => typeof body[k] === 'string' && body[k] !== '';
  // An update is asked again in the core for the template as it will be (CreationTemplates.update).
  return grantedActions({ ...(given('lifecyclePolicy') && { lifecyclePolicy: 'given' }), ...(given('repositoryPolicy') && { repositoryPolicy: 'given' }) });
}

/** The role a template names (customRoleArn), which its creator passes to ECR: iam:PassRole on it, as ECR documents. */
export function templatePassedRole(op: string, body: Record<string, unknown>): string | undefined {
  if (op !== 'CreateRepositoryCreationTemplate' && op !== 'UpdateRepositoryCreationTemplate') return undefined;
  return typeof body.customRoleArn === 'string' && body.customRoleArn !== '' ? body.customRoleArn : undefined;
}
