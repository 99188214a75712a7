/**
 * Repository and registry policies name the users and roles they name as they were when the
 * policy was put, as IAM binds a principal ARN in a resource-based policy to the entity's unique
 * id: one deleted and made again under the same name (another id) is not the principal the policy
 * grants to, through the JSON API or /v2, until the policy is put again. A policy naming a user
 * or role that does not exist, in an account Berth serves, is refused as ECR refuses an invalid
 * policy. Before, these policies matched by the ARN's text. Real SDK clients, both doors.
 */
import { BatchGetImageCommand, type ECRClient, GetRepositoryPolicyCommand, PutRegistryPolicyCommand, SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateRepositoryCommand as CreatePublicRepositoryCommand,
  DescribeImageTagsCommand,
  ECRPUBLICClient,
  SetRepositoryPolicyCommand as SetPublicRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr-public';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, createUser, deleteUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { access, imageRepository, LOGIN_ONLY, roleSession } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import type { Credentials } from './helpers/temporary-credentials.js';

const ACCOUNT = '000000000000';
/** Another account Berth serves. */
const OTHER = '111111111111';
/** An account Berth serves only once a policy has named a user of it. */
const LATER = '999999999999';
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const granting = (principal: string, resource?: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: principal }, Action: PULL, ...(resource && { Resource: resource }) }],
  });
const userArn = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:user/${name}`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const canPull = { pull: true, v2pull: 200 };
const cannotPull = { pull: false, v2pull: 403 };
const pulls = async (u: TestIdentity, repo: string) => {
  const { pull, v2pull } = await access(u, repo);
  return { pull, v2pull };
};

describe('repository and registry policies name users and roles by their unique ids', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let admin: ECRClient;
  before(async () => {
    berth = await startInProcess({ onDisk: true });
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    admin = ecrClient(berth);
    for (const repo of ['by-user', 'by-role', 'by-registry', 'far']) await imageRepository(berth.url, admin, repo, Buffer.from(`{"repo":"${repo}"}`));
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('a user deleted and made again may not pull what the repository policy granted the old one, until it is set again', async () => {
    const text = granting(userArn('u'));
    const u = await createUser(berth, iam, 'u', [], LOGIN_ONLY);
    assert.deepEqual(await pulls(u, 'by-user'), cannotPull, 'no grant yet: the login alone pulls nothing');
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'by-user', policyText: text }));
    assert.deepEqual(await pulls(u, 'by-user'), canPull);
    await deleteUser(iam, 'u', u);
    const newU = await createUser(berth, iam, 'u', [], LOGIN_ONLY);
    assert.deepEqual(await pulls(newU, 'by-user'), cannotPull);
    assert.equal((await admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'by-user' }))).policyText, text, 'the document as given');
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'by-user', policyText: text }));
    assert.deepEqual(await pulls(newU, 'by-user'), canPull, 'set again, it names the u there is now');
  });

  it("a role deleted and made again: its sessions may not pull what the repository policy granted the old role's", async () => {
    const runner = await createUser(
      berth,
      iam,
      'runner',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }],
    );
    const makeRole = async () => {
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
      await iam.send(new CreateRoleCommand({ RoleName: 'puller', AssumeRolePolicyDocument: JSON.stringify(trust) }));
      await iam.send(new PutRolePolicyCommand({ RoleName: 'puller', PolicyName: 'login', PolicyDocument: JSON.stringify(LOGIN_ONLY[0]) }));
    };
    await makeRole();
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'by-role', policyText: granting(roleArn('puller')) }));
    assert.deepEqual(await pulls(await roleSession(berth, runner.keys, roleArn('puller')), 'by-role'), canPull);
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'puller', PolicyName: 'login' }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'puller' }));
    await makeRole();
    assert.deepEqual(await pulls(await roleSession(berth, runner.keys, roleArn('puller')), 'by-role'), cannotPull);
  });

  it('a user deleted and made again may not pull what the registry policy granted the old one', async () => {
    const r = await createUser(berth, iam, 'r', [], LOGIN_ONLY);
    const resource = `arn:aws:ecr:${berth.region}:${ACCOUNT}:repository/by-registry`;
    await admin.send(new PutRegistryPolicyCommand({ policyText: granting(userArn('r'), resource) }));
    assert.deepEqual(await pulls(r, 'by-registry'), canPull);
    await deleteUser(iam, 'r', r);
    const newR = await createUser(berth, iam, 'r', [], LOGIN_ONLY);
    assert.deepEqual(await pulls(newR, 'by-registry'), cannotPull);
  });

  it("ECR Public's repository policy: a user deleted and made again is not granted; one naming nobody is refused", async () => {
    const pub = (credentials: Credentials) => new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const admin = pub(adminCredentials(berth));
    await admin.send(new CreatePublicRepositoryCommand({ repositoryName: 'public-app' }));
    const grant = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: userArn('pub') }, Action: 'ecr-public:DescribeImageTags' }],
    });
    const describe = (who: TestIdentity) => pub(who.keys).send(new DescribeImageTagsCommand({ repositoryName: 'public-app' }));
    const first = await createUser(berth, iam, 'pub', [], LOGIN_ONLY);
    await admin.send(new SetPublicRepositoryPolicyCommand({ repositoryName: 'public-app', policyText: grant }));
    assert.deepEqual((await describe(first)).imageTagDetails, []);
    await deleteUser(iam, 'pub', first);
    const second = await createUser(berth, iam, 'pub', [], LOGIN_ONLY);
    assert.match(await refusal(describe(second)), /^AccessDeniedException: /);
    assert.match(
      await refusal(admin.send(new SetPublicRepositoryPolicyCommand({ repositoryName: 'public-app', policyText: grant.replace('user/pub', 'user/nobody') }))),
      /^InvalidParameterException: .*Invalid principal in policy/,
    );
  });

  it('refuses a policy naming a user or role that does not exist in an account Berth serves; binds one Berth does not serve to nobody', async () => {
    await createAccount(berth, OTHER);
    for (const principal of [userArn('nobody'), roleArn('nothing'), `arn:aws:iam::${ACCOUNT}:user/other/path/u`, userArn('nobody', OTHER)]) {
      assert.match(
        await refusal(admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'far', policyText: granting(principal) }))),
        /^InvalidParameterException: Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided' \(Invalid principal in policy/,
        principal,
      );
      const resource = `arn:aws:ecr:${berth.region}:${ACCOUNT}:repository/far`;
      assert.match(
        await refusal(admin.send(new PutRegistryPolicyCommand({ policyText: granting(principal, resource) }))),
        /^InvalidParameterException: .*'Invalid registry policy provided' \(Invalid principal in policy/,
        principal,
      );
    }
    // An account Berth does not serve: nobody there can call now, so the ARN names nobody. Not
    // refused (a policy may name principals of accounts elsewhere), and not matched by its text
    // either: a user made under it once the account is served is not the one the policy named.
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'far', policyText: granting(userArn('anyone', LATER)) }));
    await createAccount(berth, LATER);
    const anyone = await otherAccountIdentity(berth, LATER, { name: 'anyone', managed: ['ReadOnly'] });
    assert.match(
      await refusal(anyone.ecr.send(new BatchGetImageCommand({ registryId: ACCOUNT, repositoryName: 'far', imageIds: [{ imageTag: 'v1' }] }))),
      /^AccessDeniedException: /,
    );
    // A user of another account Berth serves is bound there, and pulls across accounts.
    const far = await otherAccountIdentity(berth, OTHER, { name: 'far', managed: ['ReadOnly'] });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'far', policyText: granting(userArn('far', OTHER)) }));
    const crossAccount = await far.ecr.send(new BatchGetImageCommand({ registryId: ACCOUNT, repositoryName: 'far', imageIds: [{ imageTag: 'v1' }] }));
    assert.equal(crossAccount.images?.length, 1);
  });
});
