/**
 * For the IAM tests that check a decision through both front doors: a repository holding one
 * image, and what an identity may do with it through the ECR JSON API and /v2 (its login token).
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  type ECRClient,
  GetAuthorizationTokenCommand,
  InitiateLayerUploadCommand,
  PutImageCommand,
} from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { ecrClient } from '../../e2e/helpers/ecr-client.js';
import type { TestIdentity } from '../../e2e/helpers/iam-users.js';
import assert from 'node:assert/strict';
import { configOnlyManifest, pushBlob, pushManifest, request } from '../../e2e/helpers/registry-http.js';
import type { BerthInProcess } from './in-process.js';
import { type Credentials, sessionKeys } from './temporary-credentials.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** An identity policy allowing `actions` on everything. */
export const allowing = (actions: string[]): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] });

/** Only a login token, as an inline policy: what /v2 then allows is what the policy under test does. */
export const LOGIN_ONLY = [JSON.parse(allowing(['ecr:GetAuthorizationToken'])) as object];

/** Matches an SDK error by its name. */
export const named = (name: string) => (e: Error) => e.name === name;

const denied = named('AccessDeniedException');

/** Makes `name` with one image tagged v1 (its config `config`), as `admin`. */
export async function imageRepository(url: string, admin: ECRClient, name: string, config: Buffer): Promise<void> {
  await admin.send(new CreateRepositoryCommand({ repositoryName: name }));
  await pushBlob(url, name, config);
  await admin.send(new PutImageCommand({ repositoryName: name, imageManifest: configOnlyManifest(config), imageTag: 'v1' }));
}

/** The admin's /v2 push of one image tagged v1 into `name`, which creates it (a creation template's CREATE_ON_PUSH). */
export async function pushCreating(url: string, name: string): Promise<void> {
  const config = Buffer.from(`{"repo":"${name}"}`);
  assert.equal((await pushBlob(url, name, config)).status, 201);
  assert.equal((await pushManifest(url, name, 'v1', Buffer.from(configOnlyManifest(config)), OCI_MANIFEST)).status, 201);
}

/** What `u` may do with `repo`'s v1, through both doors: ECR's pull and push start, /v2's statuses. */
export async function access(u: TestIdentity, repo: string): Promise<{ pull: boolean; v2pull: number; push: boolean; v2push: number }> {
  const refused = (e: Error) => (denied(e) ? false : Promise.reject(e));
  return {
    pull: await u.ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v1' }] })).then((r) => r.images?.length === 1, refused),
    v2pull: (await u.v2(`/v2/${repo}/manifests/v1`, { headers: { accept: OCI_MANIFEST } })).status,
    push: await u.ecr.send(new InitiateLayerUploadCommand({ repositoryName: repo })).then(() => true, refused),
    v2push: (await u.v2(`/v2/${repo}/blobs/uploads/`, { method: 'POST' })).status,
  };
}

/** A session of the role `roleArn`, assumed by `who`, as a TestIdentity: its ECR client and its /v2 login. */
export async function roleSession(berth: BerthInProcess, who: Credentials, roleArn: string): Promise<TestIdentity> {
  const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: who, maxAttempts: 1 });
  const keys = sessionKeys((await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'puller' }))).Credentials);
  const ecr = ecrClient(berth, keys);
  const token = await ecr.send(new GetAuthorizationTokenCommand({}));
  const authorization = `Basic ${token.authorizationData![0]!.authorizationToken}`;
  const v2 = (path: string, init: RequestInit = {}) => request(`${berth.url}${path}`, { ...init, headers: { Authorization: authorization, ...init.headers } });
  return { keys, ecr, authorization, v2 };
}
