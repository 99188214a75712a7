/**
 * AccessDenied messages name the policy type that denied or failed to allow, as AWS words them
 * (IAM User Guide, "Access denied error messages"; ECR's and KMS's answers quoted in
 * notes/2026-12-06-s29-leftovers.md), through every door: ECR's JSON API, /v2, KMS and IAM;
 * STS's AssumeRole names none, as AWS's STS does.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand, SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, ListUsersCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { MANAGED } from '../e2e/helpers/iam-users.js';
import { request } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:*', 'kms:*', 'iam:*'], Resource: '*' }] };
const refusal = (pattern: RegExp) => (e: Error) => {
  assert.match(e.message, pattern);
  return true;
};

describe('AccessDenied messages name the policy type', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  /** A user with `policies` inline and an optional boundary, and its keys. */
  const user = async (name: string, policies: object[], boundary?: string): Promise<Credentials> => {
    await iam.send(new CreateUserCommand({ UserName: name, ...(boundary && { PermissionsBoundary: boundary }) }));
    for (const [i, p] of policies.entries())
      await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: `p${i}`, PolicyDocument: JSON.stringify(p) }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  };
  const clients = (keys: Credentials) => ({
    ecr: ecrClient(berth, keys),
    kms: new KMSClient({ endpoint: berth.url, region: berth.region, credentials: keys, maxAttempts: 1 }),
    iam: new IAMClient({ endpoint: berth.url, region: berth.region, credentials: keys, maxAttempts: 1 }),
  });

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'denials/app' }));
  });
  after(async () => berth?.cleanup());

  it('a permissions boundary that does not allow: "because no permissions boundary allows the X action", in ECR, /v2, KMS and IAM', async () => {
    const c = clients(await user('dm-bounded', [ALLOW_ALL], `${MANAGED}ReadOnly`));
    const arn = `arn:aws:iam::${ACCOUNT}:user/dm-bounded`;
    await assert.rejects(
      c.ecr.send(new CreateRepositoryCommand({ repositoryName: 'denials/new' })),
      refusal(
        new RegExp(
          `^User: ${arn} is not authorized to perform: ecr:CreateRepository on resource: \\S+ because no permissions boundary allows the ecr:CreateRepository action$`,
        ),
      ),
    );
    await assert.rejects(
      c.kms.send(new ListKeysCommand({})),
      refusal(/^User: \S+ is not authorized to perform: kms:ListKeys on resource: \* because no permissions boundary allows the kms:ListKeys action$/),
    );
    await assert.rejects(
      c.iam.send(new ListUsersCommand({})),
      refusal(/^User: \S+ is not authorized to perform: iam:ListUsers on resource: \* because no permissions boundary allows the iam:ListUsers action$/),
    );
    // /v2 with a login token (the boundary allows ecr:GetAuthorizationToken): a push refused in the same words.
    const { authorizationData } = await c.ecr.send(new GetAuthorizationTokenCommand({}));
    const res = await request(`${berth.url}/v2/denials/app/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Basic ${authorizationData![0]!.authorizationToken}` },
    });
    assert.equal(res.status, 403);
    assert.match(res.body.toString(), /because no permissions boundary allows the ecr:InitiateLayerUpload action/);
  });

  it('no identity-based Allow, an identity Deny, a repository policy Deny: each named', async () => {
    const none = clients(await user('dm-none', []));
    await assert.rejects(
      none.ecr.send(new DescribeRepositoriesCommand({})),
      refusal(/ecr:DescribeRepositories on resource: \S+ because no identity-based policy allows the ecr:DescribeRepositories action$/),
    );
    await assert.rejects(none.kms.send(new ListKeysCommand({})), refusal(/because no identity-based policy allows the kms:ListKeys action$/));
    await assert.rejects(none.iam.send(new ListUsersCommand({})), refusal(/because no identity-based policy allows the iam:ListUsers action$/));
    const denyKms = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: ['kms:ListKeys', 'iam:ListUsers', 'ecr:DescribeRepositories'], Resource: '*' }],
    };
    const denied = clients(await user('dm-denied', [ALLOW_ALL, denyKms]));
    await assert.rejects(denied.kms.send(new ListKeysCommand({})), refusal(/kms:ListKeys on resource: \* with an explicit deny in an identity-based policy$/));
    await assert.rejects(
      denied.iam.send(new ListUsersCommand({})),
      refusal(/iam:ListUsers on resource: \* with an explicit deny in an identity-based policy$/),
    );
    await assert.rejects(denied.ecr.send(new DescribeRepositoriesCommand({})), refusal(/with an explicit deny in an identity-based policy$/));
    const repoDeny = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/dm-repo` }, Action: 'ecr:DescribeRepositories' }],
    };
    // The user first: a policy naming a user that does not exist is refused, as in ECR.
    const repo = clients(await user('dm-repo', [ALLOW_ALL]));
    await ecrClient(berth).send(new SetRepositoryPolicyCommand({ repositoryName: 'denials/app', policyText: JSON.stringify(repoDeny) }));
    await assert.rejects(
      repo.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['denials/app'] })),
      refusal(/ecr:DescribeRepositories on resource: \S+repository\/denials\/app with an explicit deny in a resource-based policy$/),
    );
  });

  it("STS's AssumeRole names no policy type, as AWS's STS words it, and a missing role reads the same", async () => {
    const trustsOther = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'sts:AssumeRole' }],
    };
    const trustsAccount = { ...trustsOther, Statement: [{ ...trustsOther.Statement[0], Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } }] };
    await iam.send(new CreateRoleCommand({ RoleName: 'dm-foreign', AssumeRolePolicyDocument: JSON.stringify(trustsOther) }));
    await iam.send(new CreateRoleCommand({ RoleName: 'dm-account', AssumeRolePolicyDocument: JSON.stringify(trustsAccount) }));
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: await user('dm-assumer', []), maxAttempts: 1 });
    const arn = `arn:aws:iam::${ACCOUNT}:user/dm-assumer`;
    // Refused by the trust policy, by the caller's own policies (the trust names the account), and no role at all.
    for (const role of ['dm-foreign', 'dm-account', 'dm-missing']) {
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/${role}`;
      await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 's1' })), (e: Error) => {
        assert.equal(e.name, 'AccessDenied');
        assert.equal(e.message, `User: ${arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
        return true;
      });
    }
  });
});
