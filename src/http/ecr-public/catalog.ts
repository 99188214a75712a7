/** ECR Public's registry-level operations and catalog data; the logo a repository's catalog links to. */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { PUBLIC_REGION } from '../../core/arns.js';
import { Codes, RegistryError } from '../../core/errors.js';
import type { RepositoryCatalogData } from '../../registry/catalog-data.js';
import { accountOf, registryKey } from '../../core/registry-key.js';
import type { RepoScope } from '../../registry/context.js';
import type { Registry } from '../../registry/registry.js';
import { addressedRegistry, repoScope, type EcrAction, type EcrCall } from '../ecr/context.js';
import { parseInput, registryId } from '../ecr/input.js';
import { externalScheme } from '../request.js';
import { catalogDataInput, publicRepositoryName } from './input.js';

function baseUrl(call: EcrCall): string {
  return `${externalScheme(call.req)}://${call.registryHost}`;
}

export function catalogDataShape(call: EcrCall, scope: RepoScope, data: RepositoryCatalogData): Record<string, unknown> {
  const { logoImageBlob, ...rest } = data;
  return {
    ...rest,
    ...(logoImageBlob !== undefined && logoImageBlob.length > 0 && { logoUrl: `${baseUrl(call)}/catalog-logo/${accountOf(scope.registryKey)}/${scope.name}` }),
    marketplaceCertified: false,
  };
}

const repoInput = z.object({ registryId: registryId.optional(), repositoryName: publicRepositoryName }).strict();

export const GetRepositoryCatalogData: EcrAction = async (call) => {
  const input = parseInput(repoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  return { catalogData: catalogDataShape(call, scope, await call.registry.catalogData.repository(scope)) };
};

const putRepoInput = repoInput.extend({ catalogData: catalogDataInput }).strict();

export const PutRepositoryCatalogData: EcrAction = async (call) => {
  const input = parseInput(putRepoInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  return { catalogData: catalogDataShape(call, scope, await call.registry.catalogData.setRepository(scope, input.catalogData)) };
};

export const GetRegistryCatalogData: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  return { registryCatalogData: await call.registry.catalogData.registry(addressedRegistry(call)) };
};

export const PutRegistryCatalogData: EcrAction = async (call) => {
  const input = parseInput(z.object({ displayName: z.string().max(100).optional() }).strict(), call.body);
  return { registryCatalogData: await call.registry.catalogData.setRegistry(addressedRegistry(call), input) };
};

const describeRegistriesInput = z.object({ nextToken: z.string().max(4096).optional(), maxResults: z.number().int().min(1).max(1000).optional() }).strict();

/** Each account has one public registry, aliased by its account id. */
export const DescribeRegistries: EcrAction = async (call) => {
  parseInput(describeRegistriesInput, call.body);
  const alias = call.accountId;
  return {
    registries: [
      {
        registryId: call.accountId,
        registryArn: `arn:aws:ecr-public::${call.accountId}:registry/${call.accountId}`,
        registryUri: `${call.registryHost}/${alias}`,
        verified: false,
        aliases: [{ name: alias, status: 'ACTIVE', primaryRegistryAlias: true, defaultRegistryAlias: true }],
      },
    ],
  };
};

/** ECR Public answers with one object, not a list, and no proxy endpoint. */
export const GetAuthorizationToken: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  const { password, expiresAt } = call.loginTokens(call.principal);
  return { authorizationData: { authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'), expiresAt } };
};

/** `GET /catalog-logo/<account>/<name>`: public, like the repository it belongs to. */
export async function serveCatalogLogo(registry: Registry, path: string, res: ServerResponse): Promise<void> {
  const m = /^\/catalog-logo\/(\d{12})\/(.+)$/.exec(path);
  if (!m || publicRepositoryName.safeParse(m[2]).success === false) throw new RegistryError(Codes.NotFound, 'no such logo');
  const data = await registry.catalogData.repository({ registryKey: registryKey(m[1]!, PUBLIC_REGION), name: m[2]! });
  if (!data.logoImageBlob) throw new RegistryError(Codes.NotFound, 'no such logo');
  const bytes = Buffer.from(data.logoImageBlob, 'base64');
  const type = bytes.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))
    ? 'image/png'
    : bytes[0] === 0xff && bytes[1] === 0xd8
      ? 'image/jpeg'
      : 'application/octet-stream';
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': bytes.length, 'X-Content-Type-Options': 'nosniff' });
  res.end(bytes);
}
