/**
 * Temporary credentials end at their expiry, on every door: the SDKs (ECR, STS) are refused with
 * ExpiredTokenException / ExpiredToken, and a /v2 login token minted from them stops with them.
 * The app runs in process with a clock the test moves, so no test waits 15 minutes; the SDK
 * clients' own clock offset follows, so their signatures stay current and only the session ends.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/core/clock.js';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { request } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('role sessions expire', () => {
  let berth: BerthInProcess;
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };

  before(async () => {
    berth = await startInProcess({ clock });
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('refuses a session past its expiry on ECR, STS and /v2 (login token included)', async () => {
    const creds = adminCredentials(berth);
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: creds });
    await new ECRClient({ endpoint: berth.url, region: berth.region, credentials: creds }).send(new CreateRepositoryCommand({ repositoryName: 'exp/app' }));
    const user = await createUser(
      berth,
      iam,
      'runner',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }],
    );
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'sts:AssumeRole' }] };
    await iam.send(new CreateRoleCommand({ RoleName: 'short', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    const reader = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['ecr:DescribeRepositories', 'ecr:GetAuthorizationToken', 'ecr:ListImages'], Resource: '*' }],
    };
    await iam.send(new PutRolePolicyCommand({ RoleName: 'short', PolicyName: 'read', PolicyDocument: JSON.stringify(reader) }));

    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: user.keys, maxAttempts: 1 });
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/short', RoleSessionName: 'brief', DurationSeconds: 900 }));
    const c = assumed.Credentials!;
    const session = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    const ecr = new ECRClient({ endpoint: berth.url, region: berth.region, credentials: session, maxAttempts: 1 });
    const stsAsRole = new STSClient({ endpoint: berth.url, region: berth.region, credentials: session, maxAttempts: 1 });
    assert.equal((await stsAsRole.send(new GetCallerIdentityCommand({}))).Arn, 'arn:aws:sts::000000000000:assumed-role/short/brief');
    await ecr.send(new DescribeRepositoriesCommand({}));
    const login = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    assert.ok(login.expiresAt!.getTime() <= c.Expiration!.getTime(), 'the login token ends no later than the session');
    const authorization = `Basic ${login.authorizationToken}`;
    assert.equal((await request(`${berth.url}/v2/exp/app/tags/list`, { headers: { authorization } })).status, 200);

    // Just past the session's end (the token's at most as long).
    offsetMs = c.Expiration!.getTime() - Date.now() + 1000;
    for (const client of [ecr, stsAsRole]) client.config.systemClockOffset = offsetMs;
    await assert.rejects(ecr.send(new DescribeRepositoriesCommand({})), (e: Error) => e.name === 'ExpiredTokenException');
    await assert.rejects(stsAsRole.send(new GetCallerIdentityCommand({})), (e: Error) => e.name === 'ExpiredToken');
    const v2 = await request(`${berth.url}/v2/exp/app/tags/list`, { headers: { authorization } });
    assert.equal(v2.status, 401);
  });

  it('a trust policy condition on sts:ExternalId refuses a caller without the right ExternalId', async () => {
    offsetMs = 0;
    const creds = adminCredentials(berth);
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: creds });
    const user = await createUser(berth, iam, 'deputy', [], []);
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:user/deputy' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': 'tenant-7' } },
        },
      ],
    };
    await iam.send(new CreateRoleCommand({ RoleName: 'guarded', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: user.keys, maxAttempts: 1 });
    const RoleArn = 'arn:aws:iam::000000000000:role/guarded';
    await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn, RoleSessionName: 'job-1' })), (e: Error) => e.name === 'AccessDenied');
    await assert.rejects(
      sts.send(new AssumeRoleCommand({ RoleArn, RoleSessionName: 'job-1', ExternalId: 'tenant-8' })),
      (e: Error) => e.name === 'AccessDenied',
    );
    const ok = await sts.send(new AssumeRoleCommand({ RoleArn, RoleSessionName: 'job-1', ExternalId: 'tenant-7' }));
    assert.equal(ok.AssumedRoleUser?.Arn, 'arn:aws:sts::000000000000:assumed-role/guarded/job-1');
  });
});
