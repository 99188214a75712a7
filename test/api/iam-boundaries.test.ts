/**
 * IAM permissions boundaries over real HTTP, each refusal through both front doors (the ECR JSON
 * API and /v2 with a login token): a boundary caps what identity policies allow (a role's, its
 * sessions'; a user's, what it may assume), a repository policy naming the user's or the
 * session's own ARN is not capped but one naming the role's ARN or "*" is, the Put/Delete
 * actions and their refusals, GetUser/GetRole's answer, and the `iam:PermissionsBoundary`
 * condition key an administrator requires a boundary with. A Deny in a boundary needs a policy
 * with one, which Berth's managed policies are not: src/iam/evaluator.test.ts has that rule.
 * Sources: notes/2026-12-06-s29-boundary.md (the fact table).
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  type ECRClient,
  GetAuthorizationTokenCommand,
  InitiateLayerUploadCommand,
  PutImageCommand,
  SetRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPermissionsBoundaryCommand,
  GetRoleCommand,
  GetUserCommand,
  IAMClient,
  ListRolesCommand,
  ListUsersCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, pushBlob, request, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCOUNT = '000000000000';
const READ_ONLY = `${MANAGED}ReadOnly`;
const POWER_USER = `${MANAGED}PowerUser`;
const ALL_ECR = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:*', 'sts:AssumeRole'], Resource: '*' }] };
/** Any caller of the account may assume the role its identity policies let it. */
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});
const denied = (e: Error) => e.name === 'AccessDeniedException';
const iamDenied = (e: Error) => e.name === 'AccessDenied' || e.name === 'AccessDeniedException';

describe('IAM permissions boundaries', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let manifest: string;

  const repository = async (name: string) => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: name }));
    await pushBlob(berth.url, name, Buffer.from('{"pb":1}'));
    await admin.send(new PutImageCommand({ repositoryName: name, imageManifest: manifest, imageTag: 'v1' }));
  };
  const pull = (ecr: ECRClient, name: string) => ecr.send(new BatchGetImageCommand({ repositoryName: name, imageIds: [{ imageTag: 'v1' }] }));
  /** The /v2 requests: a manifest GET, the start of a push, a manifest DELETE. */
  const v2 = (u: TestIdentity, name: string) => ({
    pull: () => u.v2(`/v2/${name}/manifests/v1`, { headers: { accept: OCI_MANIFEST } }),
    push: () => u.v2(`/v2/${name}/blobs/uploads/`, { method: 'POST' }),
    delete: () => u.v2(`/v2/${name}/manifests/${sha256(manifest)}`, { method: 'DELETE' }),
  });
  /** A user whose identity policy allows every ECR action, created with `boundary`. */
  const boundedUser = async (name: string, boundary: string | undefined) => {
    await iam.send(new CreateUserCommand({ UserName: name, ...(boundary && { PermissionsBoundary: boundary }) }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'all', PolicyDocument: JSON.stringify(ALL_ECR) }));
    return keysOf(name);
  };
  const keysOf = async (name: string): Promise<TestIdentity> => {
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return identity({ accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
  };
  /** ECR and /v2 (with a login token) as `keys`. */
  const identity = async (keys: Credentials & { sessionToken?: string }): Promise<TestIdentity> => {
    const ecr = ecrClient(berth, keys);
    const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
    const authorization = `Basic ${authorizationData![0]!.authorizationToken}`;
    return { keys, ecr, authorization, v2: (path, init = {}) => request(`${berth.url}${path}`, { ...init, headers: { authorization, ...init.headers } }) };
  };
  /** The refusals a read-only boundary makes of a caller whose identity allows ecr:*, through both doors. */
  const assertReadOnly = async (u: TestIdentity, name: string) => {
    assert.equal((await pull(u.ecr, name)).images?.length, 1, 'the boundary allows pulls');
    assert.equal((await v2(u, name).pull()).status, 200);
    await assert.rejects(u.ecr.send(new InitiateLayerUploadCommand({ repositoryName: name })), denied, 'the boundary does not allow pushes');
    await assert.rejects(u.ecr.send(new PutImageCommand({ repositoryName: name, imageManifest: manifest, imageTag: 'v2' })), denied);
    assert.equal((await v2(u, name).push()).status, 403, '/v2 push');
    await assert.rejects(u.ecr.send(new DeleteRepositoryCommand({ repositoryName: name, force: true })), denied, 'nor DeleteRepository');
    assert.equal((await v2(u, name).delete()).status, 403, '/v2 manifest DELETE');
  };

  before(async () => {
    berth = await startInProcess();
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    manifest = configOnlyManifest(Buffer.from('{"pb":1}'));
  });
  after(async () => berth?.cleanup());

  it('a user created with a read-only boundary is refused pushes and deletes its identity policy allows', async () => {
    await repository('pb/user');
    const u = await boundedUser('pb-user', READ_ONLY);
    await assertReadOnly(u, 'pb/user');
    const got = (await iam.send(new GetUserCommand({ UserName: 'pb-user' }))).User!;
    assert.deepEqual(got.PermissionsBoundary, { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: READ_ONLY });
    // As IAM: ListUsers does not return a user's boundary.
    const listed = (await iam.send(new ListUsersCommand({}))).Users!.find((x) => x.UserName === 'pb-user')!;
    assert.equal(listed.PermissionsBoundary, undefined);
  });

  it('PutUserPermissionsBoundary caps an existing user at once, DeleteUserPermissionsBoundary lifts the cap', async () => {
    await repository('pb/put');
    const u = await boundedUser('pb-put', undefined);
    assert.equal((await v2(u, 'pb/put').push()).status, 202, 'no boundary yet');
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'pb-put', PermissionsBoundary: READ_ONLY }));
    await assertReadOnly(u, 'pb/put');
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'pb-put', PermissionsBoundary: POWER_USER }));
    assert.equal((await v2(u, 'pb/put').push()).status, 202, 'the power-user boundary allows pushes');
    await assert.rejects(u.ecr.send(new DeleteRepositoryCommand({ repositoryName: 'pb/put', force: true })), denied, 'not DeleteRepository');
    await iam.send(new DeleteUserPermissionsBoundaryCommand({ UserName: 'pb-put' }));
    assert.equal((await iam.send(new GetUserCommand({ UserName: 'pb-put' }))).User!.PermissionsBoundary, undefined);
    await u.ecr.send(new DeleteRepositoryCommand({ repositoryName: 'pb/put', force: true }));
  });

  it('a repository policy naming the user ARN is not capped by the boundary (AWS), one granting "*" is', async () => {
    await repository('pb/direct');
    await repository('pb/everyone');
    const u = await boundedUser('pb-direct', READ_ONLY);
    const grant = (principal: string) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'ecr:InitiateLayerUpload' }] });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'pb/direct', policyText: grant(`arn:aws:iam::${ACCOUNT}:user/pb-direct`) }));
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'pb/everyone', policyText: grant('*') }));
    assert.ok((await u.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'pb/direct' }))).uploadId);
    assert.equal((await v2(u, 'pb/direct').push()).status, 202);
    await assert.rejects(u.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'pb/everyone' })), denied);
    assert.equal((await v2(u, 'pb/everyone').push()).status, 403);
  });

  it("a role's boundary caps its sessions and what a repository policy grants the role's ARN, not the session's", async () => {
    await repository('pb/role');
    await repository('pb/session');
    const created = await iam.send(new CreateRoleCommand({ RoleName: 'pb-role', AssumeRolePolicyDocument: TRUST, PermissionsBoundary: READ_ONLY }));
    assert.equal(created.Role!.PermissionsBoundary?.PermissionsBoundaryArn, READ_ONLY);
    await iam.send(new PutRolePolicyCommand({ RoleName: 'pb-role', PolicyName: 'all', PolicyDocument: JSON.stringify(ALL_ECR) }));
    const assumer = await createUser(berth, iam, 'pb-assumer', [], [ALL_ECR]);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer.keys, maxAttempts: 1 });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/pb-role`, RoleSessionName: 's1' }))).Credentials!;
    const session = await identity({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    const ecr = session.ecr;
    await assertReadOnly(session, 'pb/role');
    const grant = (principal: string) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'ecr:InitiateLayerUpload' }] });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'pb/role', policyText: grant(`arn:aws:iam::${ACCOUNT}:role/pb-role`) }));
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'pb/session', policyText: grant(`arn:aws:sts::${ACCOUNT}:assumed-role/pb-role/s1`) }));
    await assert.rejects(ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'pb/role' })), denied, "a grant to the role's ARN is capped");
    assert.equal((await session.v2('/v2/pb/role/blobs/uploads/', { method: 'POST' })).status, 403);
    assert.ok((await ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'pb/session' }))).uploadId, "a grant to the session's ARN is not");
    assert.equal((await session.v2('/v2/pb/session/blobs/uploads/', { method: 'POST' })).status, 202);
    // The boundary goes with the role; one created again under the name has none.
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'pb-role', PolicyName: 'all' }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'pb-role' }));
    await iam.send(new CreateRoleCommand({ RoleName: 'pb-role', AssumeRolePolicyDocument: TRUST }));
    assert.equal((await iam.send(new GetRoleCommand({ RoleName: 'pb-role' }))).Role!.PermissionsBoundary, undefined);
    await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'pb-role', PermissionsBoundary: POWER_USER }));
    assert.equal((await iam.send(new GetRoleCommand({ RoleName: 'pb-role' }))).Role!.PermissionsBoundary?.PermissionsBoundaryArn, POWER_USER);
    const listed = (await iam.send(new ListRolesCommand({}))).Roles!.find((r) => r.RoleName === 'pb-role')!;
    assert.equal(listed.PermissionsBoundary, undefined, 'ListRoles does not return boundaries');
    await iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: 'pb-role' }));
    assert.equal((await iam.send(new GetRoleCommand({ RoleName: 'pb-role' }))).Role!.PermissionsBoundary, undefined);
  });

  it('a bounded user may not assume a role its boundary does not allow sts:AssumeRole for', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'pb-target', AssumeRolePolicyDocument: TRUST }));
    const u = await boundedUser('pb-assume', READ_ONLY);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: u.keys, maxAttempts: 1 });
    await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/pb-target`, RoleSessionName: 'pb' })), iamDenied);
  });

  it('refuses a boundary that is no managed policy, and changes nothing', async () => {
    const refused = async (p: Promise<unknown>, name: string, message: RegExp) => assert.rejects(p, (e: Error) => e.name === name && message.test(e.message));
    const missing = 'arn:aws:iam::aws:policy/NoSuchPolicy';
    await refused(
      iam.send(new CreateUserCommand({ UserName: 'pb-bad', PermissionsBoundary: missing })),
      'NoSuchEntityException',
      /Scope ARN: .*NoSuchPolicy does not exist or is not attachable/,
    );
    await refused(iam.send(new GetUserCommand({ UserName: 'pb-bad' })), 'NoSuchEntityException', /cannot be found/);
    const notPolicy = `arn:aws:iam::${ACCOUNT}:user/someone`;
    await refused(
      iam.send(new CreateRoleCommand({ RoleName: 'pb-bad', AssumeRolePolicyDocument: TRUST, PermissionsBoundary: notPolicy })),
      'InvalidInputException',
      /not valid/,
    );
    await iam.send(new CreateUserCommand({ UserName: 'pb-keep', PermissionsBoundary: READ_ONLY }));
    await refused(iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'pb-keep', PermissionsBoundary: missing })), 'NoSuchEntityException', /Scope ARN/);
    assert.equal((await iam.send(new GetUserCommand({ UserName: 'pb-keep' }))).User!.PermissionsBoundary?.PermissionsBoundaryArn, READ_ONLY);
    await refused(
      iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'pb-nobody', PermissionsBoundary: READ_ONLY })),
      'NoSuchEntityException',
      /pb-nobody/,
    );
    await refused(iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: 'pb-nobody' })), 'NoSuchEntityException', /pb-nobody/);
    // A user with a boundary is deleted with it, as IAM does (the boundary is no attached policy).
    await iam.send(new DeleteUserCommand({ UserName: 'pb-keep' }));
    await iam.send(new CreateUserCommand({ UserName: 'pb-keep' }));
    assert.equal((await iam.send(new GetUserCommand({ UserName: 'pb-keep' }))).User!.PermissionsBoundary, undefined);
  });

  it('iam:PermissionsBoundary lets an administrator create and change users only with a given boundary', async () => {
    const delegate = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['iam:CreateUser', 'iam:PutUserPermissionsBoundary', 'iam:AttachUserPolicy', 'iam:PutUserPolicy'],
          Resource: '*',
          Condition: { StringEquals: { 'iam:PermissionsBoundary': READ_ONLY } },
        },
        { Effect: 'Allow', Action: ['iam:GetUser', 'iam:CreateAccessKey'], Resource: '*' },
        { Effect: 'Deny', Action: ['iam:DeleteUserPermissionsBoundary'], Resource: '*' },
      ],
    };
    const zhang = await createUser(berth, iam, 'pb-zhang', [], [delegate]);
    const z = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: zhang.keys, maxAttempts: 1 });
    await assert.rejects(z.send(new CreateUserCommand({ UserName: 'pb-z1' })), iamDenied, 'no boundary');
    await assert.rejects(z.send(new CreateUserCommand({ UserName: 'pb-z1', PermissionsBoundary: POWER_USER })), iamDenied, 'another boundary');
    await z.send(new CreateUserCommand({ UserName: 'pb-z1', PermissionsBoundary: READ_ONLY }));
    await z.send(new AttachUserPolicyCommand({ UserName: 'pb-z1', PolicyArn: `${MANAGED}FullAccess` }));
    await assert.rejects(z.send(new PutUserPermissionsBoundaryCommand({ UserName: 'pb-z1', PermissionsBoundary: POWER_USER })), iamDenied);
    await assert.rejects(z.send(new DeleteUserPermissionsBoundaryCommand({ UserName: 'pb-z1' })), iamDenied);
    // A user without the boundary (made by the account's root) is not Zhang's to give policies.
    await iam.send(new CreateUserCommand({ UserName: 'pb-z2' }));
    await assert.rejects(z.send(new AttachUserPolicyCommand({ UserName: 'pb-z2', PolicyArn: `${MANAGED}FullAccess` })), iamDenied);
    await assert.rejects(z.send(new PutUserPolicyCommand({ UserName: 'pb-z2', PolicyName: 'x', PolicyDocument: JSON.stringify(ALL_ECR) })), iamDenied);
    await z.send(new PutUserPermissionsBoundaryCommand({ UserName: 'pb-z2', PermissionsBoundary: READ_ONLY }));
    await z.send(new AttachUserPolicyCommand({ UserName: 'pb-z2', PolicyArn: `${MANAGED}FullAccess` }));
    assert.equal((await z.send(new GetUserCommand({ UserName: 'pb-z2' }))).User!.PermissionsBoundary?.PermissionsBoundaryArn, READ_ONLY);
  });
});
