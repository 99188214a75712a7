/**
 * What an anonymous caller gets from each of Berth's doors but /v2 (whose anonymous reads of
 * public repositories are test/api/v2-scoped-access.test.ts's and bearer-tokens.test.ts's), as an
 * outside checker sends it: an unsigned request, and one signed by a key Berth never issued, to
 * IAM, STS, Secrets Manager, EventBridge, CloudTrail, ECR Public and the console's API. Each is
 * refused in its API's own words, creates nothing, and names nothing of what the registry holds.
 * (ECR's and KMS's unsigned refusals are test/e2e/auth.test.ts's and kms-api.test.ts's.)
 */
import assert from 'node:assert/strict';
import {
  CreateRepositoryCommand as CreatePublicRepositoryCommand,
  DescribeRepositoriesCommand as DescribePublicRepositoriesCommand,
  ECRPUBLICClient,
} from '@aws-sdk/client-ecr-public';
import { CreateRepositoryCommand, DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { EventBridgeClient, ListRulesCommand, PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { CreateUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { signedQuery } from './helpers/signed-json.js';

/** Names only the registry's owner knows: none may appear in an answer to a stranger. */
const PRIVATE = ['hidden/app', 'hidden-user', 'hidden-secret', 'hidden-rule', 'hidden-public'];
const UNKNOWN_KEY: Credentials = { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) };

const JSON_DOORS = [
  { target: 'secretsmanager.CreateSecret', body: { Name: 'anon-secret', SecretString: 'v' } },
  { target: 'secretsmanager.ListSecrets', body: {} },
  { target: 'secretsmanager.GetSecretValue', body: { SecretId: 'hidden-secret' } },
  { target: 'AWSEvents.PutRule', body: { Name: 'anon-rule', EventPattern: '{"source":["aws.ecr"]}' } },
  { target: 'AWSEvents.ListRules', body: {} },
  { target: 'AWSEvents.DescribeConnection', body: { Name: 'hidden-connection' } },
  { target: 'CloudTrail_20131101.LookupEvents', body: {} },
  { target: 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents', body: {} },
  { target: 'SpencerFrontendService.CreateRepository', body: { repositoryName: 'anon/public' } },
  { target: 'SpencerFrontendService.DescribeRepositories', body: {} },
  { target: 'SpencerFrontendService.GetAuthorizationToken', body: {} },
];

const STS_XMLNS = /<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/;
const IAM_XMLNS = /<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/">/;

const QUERY_DOORS = [
  'Action=CreateUser&Version=2010-05-08&UserName=anon-user',
  'Action=ListUsers&Version=2010-05-08',
  'Action=GetCallerIdentity&Version=2011-06-15',
  'Action=GetSessionToken&Version=2011-06-15',
  'Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::000000000000:role/hidden-role&RoleSessionName=anon',
];

describe('anonymous callers at the doors beside /v2', () => {
  let berth: BerthInProcess;
  const clients = (credentials: Credentials) => {
    const common = { endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 };
    return {
      iam: new IAMClient(common),
      sts: new STSClient(common),
      secrets: new SecretsManagerClient(common),
      events: new EventBridgeClient(common),
      ecrPublic: new ECRPUBLICClient({ ...common, region: 'us-east-1' }),
    };
  };

  before(async () => {
    berth = await startInProcess();
    const admin = clients(adminCredentials(berth));
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'hidden/app' }));
    await admin.iam.send(new CreateUserCommand({ UserName: 'hidden-user' }));
    await admin.secrets.send(new CreateSecretCommand({ Name: 'hidden-secret', SecretString: 'the-hidden-value' }));
    await admin.events.send(new PutRuleCommand({ Name: 'hidden-rule', EventPattern: '{"source":["aws.ecr"]}' }));
    await admin.ecrPublic.send(new CreatePublicRepositoryCommand({ repositoryName: 'hidden-public' }));
  });
  after(async () => berth?.cleanup());

  /** Whatever was refused made nothing: the owner still sees only what it made. */
  async function nothingMade(): Promise<void> {
    const admin = clients(adminCredentials(berth));
    assert.deepEqual(
      ((await admin.iam.send(new ListUsersCommand({}))).Users ?? []).map((u) => u.UserName),
      ['hidden-user'],
    );
    assert.deepEqual(
      ((await admin.secrets.send(new ListSecretsCommand({}))).SecretList ?? []).map((s) => s.Name),
      ['hidden-secret'],
    );
    assert.deepEqual(
      ((await admin.events.send(new ListRulesCommand({}))).Rules ?? []).map((r) => r.Name),
      ['hidden-rule'],
    );
    const publics = (await admin.ecrPublic.send(new DescribePublicRepositoriesCommand({}))).repositories ?? [];
    assert.deepEqual(
      publics.map((r) => r.repositoryName),
      ['hidden-public'],
    );
  }

  const namesNothing = (text: string) => {
    for (const name of [...PRIVATE, 'the-hidden-value']) assert.ok(!text.includes(name), `the answer names ${name}: ${text}`);
  };

  it('refuses every unsigned JSON-API call with MissingAuthenticationTokenException', async () => {
    for (const { target, body } of JSON_DOORS) {
      const r = await fetch(`${berth.url}/`, {
        method: 'POST',
        headers: { 'X-Amz-Target': target, 'Content-Type': 'application/x-amz-json-1.1' },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      assert.equal(r.status, 403, `${target}: ${text}`);
      assert.equal((JSON.parse(text) as { __type: string }).__type, 'MissingAuthenticationTokenException', target);
      namesNothing(text);
    }
    await nothingMade();
  });

  it('refuses every unsigned IAM and STS call with MissingAuthenticationToken, by POST and by GET', async () => {
    for (const form of QUERY_DOORS) {
      for (const r of [
        await fetch(`${berth.url}/`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form }),
        await fetch(`${berth.url}/?${form}`),
      ]) {
        const text = await r.text();
        assert.ok(r.status === 403 || r.status === 404, `${form}: ${r.status} ${text}`);
        if (r.status === 403) {
          assert.match(text, /<Code>MissingAuthenticationToken<\/Code>/, form);
          // Each service answers in its own XML namespace (the SDKs do not read it; other clients may).
          assert.match(text, form.includes('Version=2011-06-15') ? STS_XMLNS : IAM_XMLNS, form);
        }
        namesNothing(text);
      }
    }
    await nothingMade();
  });

  it("answers a refused STS call in STS's XML namespace and an IAM one in IAM's, signed or not", async () => {
    const sts = await signedQuery(berth, UNKNOWN_KEY, { form: new URLSearchParams('Action=GetCallerIdentity&Version=2011-06-15'), service: 'sts' });
    assert.equal(sts.type, 'InvalidClientTokenId', sts.text);
    assert.match(sts.text, STS_XMLNS);
    const iam = await signedQuery(berth, UNKNOWN_KEY, { form: new URLSearchParams('Action=ListUsers&Version=2010-05-08'), service: 'iam' });
    assert.equal(iam.type, 'InvalidClientTokenId', iam.text);
    assert.match(iam.text, IAM_XMLNS);
    // Unsigned and with no Version, an STS action is known by its name.
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const r = await fetch(`${berth.url}/`, { method: 'POST', headers: form, body: 'Action=GetCallerIdentity' });
    assert.equal(r.status, 403);
    assert.match(await r.text(), STS_XMLNS);
  });

  it('refuses calls signed by a key Berth never issued, on every SDK client', async () => {
    const stranger = clients(UNKNOWN_KEY);
    const refusals: Array<[string, () => Promise<unknown>]> = [
      ['iam CreateUser', () => stranger.iam.send(new CreateUserCommand({ UserName: 'anon-user' }))],
      ['sts GetCallerIdentity', () => stranger.sts.send(new GetCallerIdentityCommand({}))],
      ['secrets CreateSecret', () => stranger.secrets.send(new CreateSecretCommand({ Name: 'anon-secret', SecretString: 'v' }))],
      ['events ListRules', () => stranger.events.send(new ListRulesCommand({}))],
      ['ecr-public DescribeRepositories', () => stranger.ecrPublic.send(new DescribePublicRepositoriesCommand({}))],
      ['ecr-public CreateRepository', () => stranger.ecrPublic.send(new CreatePublicRepositoryCommand({ repositoryName: 'anon/public' }))],
    ];
    for (const [what, sent] of refusals) {
      await assert.rejects(sent(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.match(e.name, /^(UnrecognizedClientException|InvalidClientTokenId)$/, `${what}: ${e.name} ${e.message}`);
        // IAM and STS answer 403 InvalidClientTokenId; the JSON APIs 400 UnrecognizedClientException, as AWS's do.
        assert.equal(e.$metadata?.httpStatusCode, e.name === 'InvalidClientTokenId' ? 403 : 400, what);
        namesNothing(e.message);
        return true;
      });
    }
    await nothingMade();
  });

  it("refuses the console's API without a session: nothing listed, nothing done", async () => {
    const b = new ConsoleBrowser(berth.url);
    const calls = [
      b.request('/console/api/session'),
      b.request('/console/api/usage?days=30'),
      b.request('/console/api/ecr', {
        method: 'POST',
        headers: { 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', 'X-Berth-Csrf': 'x'.repeat(43) },
        body: '{}',
      }),
      b.request('/console/api/ecr', {
        method: 'POST',
        headers: { 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DeleteRepository' },
        body: JSON.stringify({ repositoryName: 'hidden/app', force: true }),
      }),
      b.request('/console/api/iam', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'Action=CreateUser&UserName=anon-user',
      }),
      b.request('/console/api/can', { method: 'POST', body: JSON.stringify({ checks: [{ action: 'ecr:DescribeRepositories' }] }) }),
      // A session id made up, or one of the right shape: neither opens a session.
      b.request('/console/api/session', { headers: { Cookie: 'berth_console=x' } }),
      b.request('/console/api/session', { headers: { Cookie: `berth_console=${'A'.repeat(43)}` } }),
    ];
    for (const a of await Promise.all(calls)) {
      assert.equal(a.status, 401, a.text);
      assert.equal(a.body.__type, 'NotSignedIn');
      namesNothing(a.text);
    }
    await ecrClient(berth).send(new DescribeRepositoriesCommand({ repositoryNames: ['hidden/app'] }));
    await nothingMade();
  });
});
