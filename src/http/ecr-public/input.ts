/**
 * ECR Public's input rules where its model differs from ECR's: shorter names whose pattern is a
 * model constraint (ValidationException, not ECR's InvalidParameterException), registry aliases,
 * catalog data; and ECR's actions run over these members (publicAction).
 */
import { z } from 'zod';
import { EcrCodes } from '../../core/errors.js';
import type { EcrAction } from '../ecr/context.js';
import { modelPattern, parseInput, type ParsedAction } from '../ecr/input.js';
import { blob } from '../model/constraints.js';
import { EcrError } from '../ecr/protocol.js';

export const publicRepositoryName = z.string().min(2).max(205).regex(modelPattern('(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'));

/** RegistryIdOrAlias: the push operations' `registryId` may name the registry by its alias. */
const registryIdOrAlias = z.string().min(2).max(50);

const MAX_LOGO_BYTES = 512_000;

export const catalogDataInput = z
  .object({
    description: z.string().max(1024).optional(),
    // Any text: ECR Public keeps a value the Gallery does not know (ARM, ARM 64, x86, x86-64;
    // Linux, Windows) and returns it, only not as a badge (API reference, RepositoryCatalogDataInput).
    architectures: z.array(z.string().min(1).max(50)).max(50).optional(),
    operatingSystems: z.array(z.string().min(1).max(50)).max(50).optional(),
    logoImageBlob: blob(0, MAX_LOGO_BYTES).optional(),
    aboutText: z.string().max(25600).optional(),
    usageText: z.string().max(25600).optional(),
  })
  .strict();

interface PublicMembers<S extends z.ZodObject> {
  /** `registryId` is a RegistryIdOrAlias in ECR Public's model (the push operations). */
  alias?: boolean;
  /** Members of ECR's input that ECR Public's model does not have. */
  without?: Array<keyof S['shape'] & string>;
}

/**
 * ECR's action over ECR Public's model of the same operation: ECR's (strict) schema with ECR
 * Public's names and registry ids, parsed here, then ECR's code runs. An alias is resolved to
 * the account it names before the action sees it.
 */
export function publicAction<S extends z.ZodObject>(action: ParsedAction<S>, members: PublicMembers<S> = {}): EcrAction {
  const shape: Record<string, z.ZodType> = { ...action.schema.shape };
  for (const k of members.without ?? []) delete shape[k];
  if ('repositoryName' in shape) shape.repositoryName = publicRepositoryName;
  if (members.alias) shape.registryId = registryIdOrAlias.optional();
  const schema = z.object(shape).strict();
  return async (call) => {
    // ECR's members of the same types, less `without` (optional ones): what `run` takes.
    const input = parseInput(schema, call.body) as z.infer<S> & { registryId?: string };
    return action.run(call, members.alias && input.registryId !== undefined ? { ...input, registryId: registryOfAlias(input.registryId) } : input);
  };
}

/** Each account's one public registry has the account id as its alias (DescribeRegistries). */
function registryOfAlias(alias: string): string {
  if (/^[0-9]{12}$/.test(alias)) return alias;
  throw new EcrError(EcrCodes.RegistryNotFound, `The registry with alias '${alias}' does not exist`);
}
