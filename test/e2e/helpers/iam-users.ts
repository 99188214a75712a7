/**
 * Test identities made through real clients: IAM users created with `aws iam`'s API (the SDK)
 * and given managed or inline policies, and other accounts' users and roots made with
 * `berth admin`; each with its own ECR client and /v2 login.
 */
import { GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  type IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliPath, type BerthProcess } from './berth-process.js';
import { ecrClient, type Credentials } from './ecr-client.js';
import { request, type Fetched } from './registry-http.js';

const run = promisify(execFile);
/** A spawned Berth, or the in-process app (test/api) with its stores on disk for `berth admin`. */
type Server = Pick<BerthProcess, 'url' | 'dataDir' | 'region'>;
export const MANAGED = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistry';

export interface TestIdentity {
  keys: Credentials;
  ecr: ECRClient;
  /** `Basic ...` for /v2; undefined when the identity may not get a login token. */
  authorization: string | undefined;
  /** A raw /v2 request with this identity's login. */
  v2(path: string, init?: RequestInit): Promise<Fetched>;
}

async function identity(berth: Server, keys: Credentials): Promise<TestIdentity> {
  const ecr = ecrClient(berth, keys);
  let authorization: string | undefined;
  try {
    const t = await ecr.send(new GetAuthorizationTokenCommand({}));
    authorization = `Basic ${t.authorizationData![0]!.authorizationToken}`;
  } catch {
    // no ecr:GetAuthorizationToken
  }
  const v2 = (path: string, init: RequestInit = {}) =>
    request(`${berth.url}${path}`, { ...init, headers: { ...(authorization && { Authorization: authorization }), ...init.headers } });
  return { keys, ecr, authorization, v2 };
}

/** A user of the admin's account with the given managed policies (suffixes of MANAGED) and inline documents. */
export async function createUser(berth: Server, iam: IAMClient, name: string, managed: string[], inline: object[] = []): Promise<TestIdentity> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  for (const m of managed) await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn: MANAGED + m }));
  for (const [i, doc] of inline.entries()) {
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: `p${i}`, PolicyDocument: JSON.stringify(doc) }));
  }
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return identity(berth, { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! });
}

/** Deletes a user made by createUser with `inline` inline documents and no managed policies, as IAM requires: its key and inline policies first. */
export async function deleteUser(iam: IAMClient, name: string, u: TestIdentity, inline = 1): Promise<void> {
  await iam.send(new DeleteAccessKeyCommand({ UserName: name, AccessKeyId: u.keys.accessKeyId }));
  for (let i = 0; i < inline; i++) await iam.send(new DeleteUserPolicyCommand({ UserName: name, PolicyName: `p${i}` }));
  await iam.send(new DeleteUserCommand({ UserName: name }));
}

const admin = (berth: Server, args: string[]) => run(process.execPath, [cliPath, 'admin', ...args, '--data-dir', berth.dataDir]);

/** Creates another account (idempotently is not needed: call once per account). */
export async function createAccount(berth: Server, accountId: string): Promise<void> {
  await admin(berth, ['create-account', '--account-id', accountId]);
}

/** Another account's root (no user name) or one of its users with the given managed policies. */
export async function otherAccountIdentity(berth: Server, accountId: string, user?: { name: string; managed: string[] }): Promise<TestIdentity> {
  const who = user ? ['--user-name', user.name] : [];
  if (user) {
    await admin(berth, ['create-user', '--account-id', accountId, ...who]);
    for (const m of user.managed) await admin(berth, ['attach-policy', '--account-id', accountId, ...who, '--policy-arn', MANAGED + m]);
  }
  const { stdout } = await admin(berth, ['create-access-key', '--account-id', accountId, ...who]);
  const key = JSON.parse(stdout) as Credentials;
  return identity(berth, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
}
