/**
 * What temporary credentials may not stretch, from outside with the SDK: a role chain's one-hour
 * cap (whatever the next role's MaxSessionDuration), DurationSeconds past the role's maximum on
 * every AssumeRole call, session policies that only ever narrow (an inline `*` or a managed
 * FullAccess gives a ReadOnly role nothing more), GetSessionToken from a session, and the parts
 * of two sessions mixed (one's key id and token signed with the other's secret). Each refusal is
 * STS's or ECR's error, and nothing is issued or created. Also what a session keeps, as on AWS:
 * a trust policy changed after AssumeRole does not end the sessions it admitted.
 */
import assert from 'node:assert/strict';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type AssumeRoleCommandInput, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { ECR_TARGET, signedFetch } from './helpers/signed-json.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { sessionKeys, type Credentials } from './helpers/temporary-credentials.js';

const ACCOUNT = '000000000000';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const trustAccount = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
};
const ALL_STS = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] };
const EVERYTHING = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

describe('what temporary credentials may not stretch', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let runner: TestIdentity;

  const sts = (c: Credentials) => new STSClient({ endpoint: berth.url, region: berth.region, credentials: c, maxAttempts: 1 });
  const ecr = (c: Credentials) => new ECRClient({ endpoint: berth.url, region: berth.region, credentials: c, maxAttempts: 1 });
  const assume = async (who: Credentials, role: string, extra: Partial<AssumeRoleCommandInput> = {}) =>
    sts(who).send(new AssumeRoleCommand({ RoleArn: roleArn(role), RoleSessionName: 'bounds', ...extra }));
  const lifetime = (c: { Expiration?: Date } | undefined) => (c!.Expiration!.getTime() - Date.now()) / 1000;
  const repositories = async () =>
    ((await ecr(adminCredentials(berth)).send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    runner = await createUser(berth, iam, 'runner', [], [ALL_STS]);
    for (const [name, policy] of [
      ['long', 'FullAccess'],
      ['reader', 'ReadOnly'],
    ] as const) {
      await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trustAccount), MaxSessionDuration: 43200 }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: MANAGED + policy }));
      await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'chain', PolicyDocument: JSON.stringify(ALL_STS) }));
    }
  });
  after(async () => berth?.cleanup());

  it("caps a role chain at one hour, whatever the next role's MaxSessionDuration", async () => {
    const first = sessionKeys((await assume(runner.keys, 'long', { DurationSeconds: 43200 })).Credentials);
    assert.match(
      await refusal(assume(first, 'reader', { DurationSeconds: 3601 })),
      /^ValidationError: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining\.$/,
    );
    const chained = (await assume(first, 'reader', { DurationSeconds: 3600 })).Credentials;
    assert.ok(lifetime(chained) <= 3600, `a chained session lives ${lifetime(chained)} s`);
    // Without DurationSeconds too (STS's default is the hour).
    assert.ok(lifetime((await assume(first, 'reader')).Credentials) <= 3600);
  });

  it("refuses DurationSeconds below 900 or past the role's MaxSessionDuration, issuing nothing", async () => {
    assert.match(await refusal(assume(runner.keys, 'long', { DurationSeconds: 43201 })), /^ValidationError: /);
    assert.match(await refusal(assume(runner.keys, 'long', { DurationSeconds: 899 })), /^ValidationError: /);
    assert.ok(lifetime((await assume(runner.keys, 'long', { DurationSeconds: 43200 })).Credentials) <= 43200);
  });

  it('never widens a role by a session policy: an inline * or a managed FullAccess leaves a ReadOnly role reading', async () => {
    const inline = sessionKeys((await assume(runner.keys, 'reader', { Policy: JSON.stringify(EVERYTHING) })).Credentials);
    const managed = sessionKeys((await assume(runner.keys, 'reader', { PolicyArns: [{ arn: `${MANAGED}FullAccess` }] })).Credentials);
    for (const [what, c] of [
      ['inline', inline],
      ['managed', managed],
    ] as const) {
      await ecr(c).send(new DescribeRepositoriesCommand({}));
      assert.match(
        await refusal(ecr(c).send(new CreateRepositoryCommand({ repositoryName: `wide/${what}` }))),
        /^AccessDeniedException: .*ecr:CreateRepository/,
        what,
      );
    }
    assert.deepEqual(
      (await repositories()).filter((n) => n?.startsWith('wide/')),
      [],
    );
  });

  it('refuses GetSessionToken with temporary credentials', async () => {
    const role = sessionKeys((await assume(runner.keys, 'long')).Credentials);
    const own = sessionKeys((await sts(runner.keys).send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials);
    for (const c of [role, own]) {
      assert.match(
        await refusal(sts(c).send(new GetSessionTokenCommand({ DurationSeconds: 900 }))),
        /^AccessDenied: Cannot call GetSessionToken with session credentials$/,
      );
    }
  });

  it("refuses one session's key id and token signed with another session's secret, and creates nothing", async () => {
    const [one, two] = [sessionKeys((await assume(runner.keys, 'long')).Credentials), sessionKeys((await assume(runner.keys, 'long')).Credentials)];
    const mixed = { accessKeyId: one.accessKeyId, secretAccessKey: two.secretAccessKey };
    const res = await signedFetch(berth, mixed, {
      target: `${ECR_TARGET}CreateRepository`,
      body: { repositoryName: 'mixed/app' },
      sessionToken: one.sessionToken!,
    });
    assert.deepEqual([res.status, res.json.__type], [400, 'InvalidSignatureException']);
    const swapped = await signedFetch(
      berth,
      { accessKeyId: two.accessKeyId, secretAccessKey: two.secretAccessKey },
      {
        target: `${ECR_TARGET}CreateRepository`,
        body: { repositoryName: 'mixed/app' },
        sessionToken: one.sessionToken!,
      },
    );
    assert.deepEqual([swapped.status, swapped.json.__type], [400, 'UnrecognizedClientException']);
    assert.ok(!(await repositories()).includes('mixed/app'));
  });

  it('keeps a session its trust policy admitted after the trust policy changes, as STS does, until it expires or the role goes', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'retrusted', AssumeRolePolicyDocument: JSON.stringify(trustAccount) }));
    const s = sessionKeys((await assume(runner.keys, 'retrusted')).Credentials);
    const nobody = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'retrusted', PolicyDocument: JSON.stringify(nobody) }));
    assert.match(await refusal(assume(runner.keys, 'retrusted')), /^AccessDenied: /, 'no new session');
    assert.equal((await sts(s).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/retrusted/bounds`);
  });
});
