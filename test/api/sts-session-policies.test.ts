/**
 * Session policies only narrow, whichever way they are passed: AssumeRole's and
 * AssumeRoleWithWebIdentity's managed session policies (`PolicyArns`) bound the role's policies
 * on every door (ECR's JSON API, a /v2 login token minted from the session, a further
 * AssumeRole), as the inline `Policy` does; an ARN naming no policy of the role's account is
 * refused. Real SDK clients against the app in process; the OIDC issuer is on loopback.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AttachRolePolicyCommand, CreateOpenIDConnectProviderCommand, CreatePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { startIssuer, type TestIssuer } from '../e2e/helpers/oidc-issuer.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { request } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { sessionKeys, type Credentials } from './helpers/temporary-credentials.js';

const ACCOUNT = '000000000000';
const FULL = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess';
const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const trustAccount = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };

describe('managed session policies (PolicyArns)', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let runner: TestIdentity;
  let issuer: TestIssuer;

  const ecrAs = (c: Credentials) => new ECRClient({ endpoint: berth.url, region: berth.region, credentials: c, maxAttempts: 1 });
  const stsAs = (c?: Credentials) => new STSClient({ endpoint: berth.url, region: berth.region, maxAttempts: 1, ...(c && { credentials: c }) });
  /** A /v2 login minted from the credentials, starting a blob upload (a push) into `repo`. */
  const v2Push = async (c: Credentials, repo: string) => {
    const login = (await ecrAs(c).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    return (await request(`${berth.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { authorization: `Basic ${login.authorizationToken}` } }))
      .status;
  };

  before(async () => {
    berth = await startInProcess();
    issuer = await startIssuer();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    await ecrAs(adminCredentials(berth)).send(new CreateRepositoryCommand({ repositoryName: 'sp/app' }));
    runner = await createUser(berth, iam, 'runner', [], [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }]);
    // A role that may do anything in ECR and assume roles.
    await iam.send(new CreateRoleCommand({ RoleName: 'builder', AssumeRolePolicyDocument: JSON.stringify(trustAccount) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'builder', PolicyArn: FULL }));
    await iam.send(
      new CreatePolicyCommand({
        PolicyName: 'describe-only',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] }),
      }),
    );
  });
  after(async () => {
    await issuer?.close();
    await berth?.cleanup();
  });

  const assume = (PolicyArns?: string[], RoleArn = roleArn('builder'), who: Credentials = runner.keys) =>
    stsAs(who).send(new AssumeRoleCommand({ RoleArn, RoleSessionName: 'narrowed', ...(PolicyArns && { PolicyArns: PolicyArns.map((arn) => ({ arn })) }) }));

  it('without a session policy the role session creates repositories and pushes (the control)', async () => {
    const c = sessionKeys((await assume()).Credentials);
    await ecrAs(c).send(new CreateRepositoryCommand({ repositoryName: 'sp/control' }));
    assert.equal(await v2Push(c, 'sp/app'), 202);
  });

  it('an AWS managed policy ARN narrows the session to it on the JSON API and /v2', async () => {
    const c = sessionKeys((await assume([READ_ONLY])).Credentials);
    await ecrAs(c).send(new DescribeRepositoriesCommand({}));
    assert.match(
      await refusal(ecrAs(c).send(new CreateRepositoryCommand({ repositoryName: 'sp/escaped' }))),
      /^AccessDeniedException: .*ecr:CreateRepository.* session policy/,
    );
    assert.equal(await v2Push(c, 'sp/app'), 403);
  });

  it('a customer managed policy ARN narrows it too, and two ARNs allow what either does', async () => {
    const describeOnly = `arn:aws:iam::${ACCOUNT}:policy/describe-only`;
    const only = sessionKeys((await assume([describeOnly])).Credentials);
    await ecrAs(only).send(new DescribeRepositoriesCommand({}));
    assert.match(await refusal(ecrAs(only).send(new GetAuthorizationTokenCommand({}))), /^AccessDeniedException: .*ecr:GetAuthorizationToken/);
    const both = sessionKeys((await assume([describeOnly, READ_ONLY])).Credentials);
    await ecrAs(both).send(new GetAuthorizationTokenCommand({}));
    assert.match(await refusal(ecrAs(both).send(new CreateRepositoryCommand({ repositoryName: 'sp/escaped' }))), /^AccessDeniedException/);
  });

  it('a session narrowed by PolicyArns may not chain to a role its session policy does not allow assuming', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'next', AssumeRolePolicyDocument: JSON.stringify(trustAccount) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'builder', PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/describe-only` }));
    const narrowed = sessionKeys((await assume([READ_ONLY])).Credentials);
    const wide = sessionKeys((await assume()).Credentials);
    // The role's own policies do not allow sts:AssumeRole either: give it, then only the narrowed session is refused.
    await iam.send(
      new CreatePolicyCommand({
        PolicyName: 'chain',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }),
      }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'builder', PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/chain` }));
    await assume(undefined, roleArn('next'), wide);
    assert.match(await refusal(assume(undefined, roleArn('next'), narrowed)), /^AccessDenied: .*sts:AssumeRole/);
  });

  it("refuses an ARN that names no managed policy of the role's account, handing out nothing", async () => {
    for (const arn of [
      `arn:aws:iam::${ACCOUNT}:policy/no-such-policy`,
      'arn:aws:iam::111111111111:policy/describe-only',
      'arn:aws:iam::aws:policy/NoSuchAwsPolicy',
    ]) {
      assert.match(await refusal(assume([arn])), /^MalformedPolicyDocumentException: .*does not exist/, arn);
    }
  });

  it("AssumeRoleWithWebIdentity with PolicyArns narrows the web identity's session", async () => {
    const provider = await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['sts.amazonaws.com'] }));
    const trust = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Federated: provider.OpenIDConnectProviderArn }, Action: 'sts:AssumeRoleWithWebIdentity' }],
    };
    await iam.send(new CreateRoleCommand({ RoleName: 'gha', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'gha', PolicyArn: FULL }));
    const now = Math.floor(Date.now() / 1000);
    const exchange = (PolicyArns?: string[]) =>
      stsAs().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: roleArn('gha'),
          RoleSessionName: 'run-1',
          WebIdentityToken: issuer.token({ sub: 'repo:acme/app', aud: 'sts.amazonaws.com', iat: now, exp: now + 300 }),
          ...(PolicyArns && { PolicyArns: PolicyArns.map((arn) => ({ arn })) }),
        }),
      );
    assert.equal(await v2Push(sessionKeys((await exchange()).Credentials), 'sp/app'), 202);
    const c = sessionKeys((await exchange([READ_ONLY])).Credentials);
    await ecrAs(c).send(new DescribeRepositoriesCommand({}));
    assert.match(await refusal(ecrAs(c).send(new CreateRepositoryCommand({ repositoryName: 'sp/escaped' }))), /^AccessDeniedException/);
    assert.equal(await v2Push(c, 'sp/app'), 403);
  });
});
