/**
 * Temporary credentials belong to the deployment (region) whose STS issued them. Peer regions
 * share the server key for replication, but identities are per deployment: a GetSessionToken
 * session of one region's root or user must not act as the root or the same-named user of
 * another region, nor may a login token or a Bearer token bought with one. Two apps in process
 * with one server key, driven with the AWS SDK and fetch.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

type Creds = Credentials & { sessionToken?: string };

describe('temporary credentials stay in the region that issued them', () => {
  let east: BerthInProcess;
  let west: BerthInProcess;
  const serverKey = randomBytes(32).toString('base64');

  const sts = (at: BerthInProcess, credentials: Creds) => new STSClient({ endpoint: at.url, region: at.region, credentials, maxAttempts: 1 });
  const ecr = (at: BerthInProcess, credentials: Creds) => new ECRClient({ endpoint: at.url, region: at.region, credentials, maxAttempts: 1 });
  const sessionOf = async (at: BerthInProcess, credentials: Creds): Promise<Creds> => {
    const c = (await sts(at, credentials).send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
    return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
  };

  before(async () => {
    east = await startInProcess({ env: { BERTH_SERVER_KEY: serverKey, BERTH_REGION: 'us-east-1' } });
    west = await startInProcess({ env: { BERTH_SERVER_KEY: serverKey, BERTH_REGION: 'us-west-2' } });
    await ecr(west, adminCredentials(west)).send(new CreateRepositoryCommand({ repositoryName: 'west/only' }));
  });
  after(async () => {
    await west?.cleanup();
    await east?.cleanup();
  });

  it("refuses a session of one region's root in another region", async () => {
    const session = await sessionOf(east, adminCredentials(east));
    assert.match((await sts(east, session).send(new GetCallerIdentityCommand({}))).Arn!, /:root$/, 'at home it is the root');
    await assert.rejects(ecr(west, session).send(new DescribeRepositoriesCommand({})), { name: 'UnrecognizedClientException' });
    await assert.rejects(sts(west, session).send(new GetCallerIdentityCommand({})), { name: 'InvalidClientTokenId' });
  });

  it("refuses a session of one region's user in another region, where a user of its name exists", async () => {
    const reads = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
    let keys: Credentials | undefined;
    for (const at of [east, west]) {
      const iam = new IAMClient({ endpoint: at.url, region: at.region, credentials: adminCredentials(at), maxAttempts: 1 });
      await iam.send(new CreateUserCommand({ UserName: 'ci' }));
      await iam.send(new PutUserPolicyCommand({ UserName: 'ci', PolicyName: 'ecr', PolicyDocument: reads }));
      if (at === east) {
        const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'ci' }))).AccessKey!;
        keys = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
      }
    }
    const session = await sessionOf(east, keys!);
    assert.ok((await ecr(east, session).send(new DescribeRepositoriesCommand({}))).repositories);
    await assert.rejects(ecr(west, session).send(new DescribeRepositoriesCommand({})), { name: 'UnrecognizedClientException' });
  });

  it("refuses one region's login token, and the Bearer token bought with it, on another region's /v2 and /token", async () => {
    // The same root in both regions, and a repository west has: only the region tells them apart.
    const v2 = (at: BerthInProcess, authorization: string) => fetch(`${at.url}/v2/west/only/tags/list`, { headers: { authorization } });
    const bearerAt = async (at: BerthInProcess, login: string) => {
      const res = await fetch(`${at.url}/token?service=berth&scope=repository:west/only:pull`, { headers: { authorization: login } });
      return { status: res.status, token: ((await res.json()) as { token?: string }).token };
    };
    assert.equal((await v2(west, west.authorization)).status, 200, "west's own login reads it");
    assert.equal((await v2(west, east.authorization)).status, 401, "east's login");
    const eastBearer = await bearerAt(east, east.authorization);
    assert.equal(eastBearer.status, 200);
    assert.equal((await v2(west, `Bearer ${eastBearer.token}`)).status, 401, "east's Bearer token");
    const exchanged = await bearerAt(west, east.authorization);
    assert.deepEqual([exchanged.status, exchanged.token], [401, undefined], "west's /token exchanges no login of east");
  });

  it('refuses a good login token under a user name other than AWS', async () => {
    const token = Buffer.from(west.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .replace(/^AWS:/, '');
    for (const user of ['aws', 'admin', 'AWS ', '']) {
      const authorization = `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
      assert.equal((await fetch(`${west.url}/v2/west/only/tags/list`, { headers: { authorization } })).status, 401, JSON.stringify(user));
      assert.equal((await fetch(`${west.url}/token?service=berth`, { headers: { authorization } })).status, 401, JSON.stringify(user));
    }
    // containerd's OAuth form names the user in a field: the same rule.
    const form = (username: string) =>
      fetch(`${west.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', service: 'berth', username, password: token }) });
    assert.equal((await form('AWS')).status, 200);
    for (const user of ['aws', 'admin', 'AWS:x']) assert.equal((await form(user)).status, 401, user);
  });
});
