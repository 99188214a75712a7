/**
 * The console's `can` answers as the ECR call from the same browser is answered: a Deny keyed on
 * aws:UserAgent holds on both (AuthzTarget takes the request's whole origin, so no check can
 * leave a key out; the usage page and the pull-through import are tested with the same Deny in
 * console-sessions.test.ts and movement-authz.test.ts). In process, over real HTTP.
 */
import { CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const BLOCKED = { 'User-Agent': 'blocked-agent/1.0' };
const PLAIN = { 'User-Agent': 'plain-agent/1.0' };

describe("the console's can, with a Deny on aws:UserAgent", () => {
  let berth: BerthInProcess;
  let user: Credentials;

  before(async () => {
    berth = await startInProcess();
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'agent' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'agent',
        PolicyName: 'not-from-the-blocked-agent',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'ecr:*', Resource: '*' },
            { Effect: 'Deny', Action: 'ecr:DescribeRepositories', Resource: '*', Condition: { StringLike: { 'aws:UserAgent': 'blocked-agent*' } } },
          ],
        }),
      }),
    );
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'agent' }))).AccessKey!;
    user = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'origin/app' }));
  });
  after(async () => berth?.cleanup());

  it("answers the console's `can` as the ECR call from the same browser is answered", async () => {
    const b = new ConsoleBrowser(berth.url);
    assert.equal((await b.signIn(user)).status, 200);
    const can = (headers: Record<string, string>) =>
      b.request('/console/api/can', {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({ checks: [{ action: 'ecr:DescribeRepositories', resource: 'origin/app' }] }),
      });
    const describe = (headers: Record<string, string>) =>
      b.request('/console/api/ecr', {
        method: 'POST',
        headers: { ...headers, 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', 'Content-Type': 'application/x-amz-json-1.1' },
        body: JSON.stringify({ repositoryNames: ['origin/app'] }),
      });
    assert.equal((await describe(BLOCKED)).body.__type, 'AccessDeniedException');
    assert.deepEqual(
      ((await can(BLOCKED)).body.results as Array<{ allowed: boolean }>).map((r) => r.allowed),
      [false],
    );
    assert.equal((await describe(PLAIN)).status, 200);
    assert.deepEqual(
      ((await can(PLAIN)).body.results as Array<{ allowed: boolean }>).map((r) => r.allowed),
      [true],
    );
  });
});
