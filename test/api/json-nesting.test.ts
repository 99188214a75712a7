/**
 * A JSON body nested thousands deep, sent by each service's own SDK client (its body swapped
 * before signing) and by the console: a SerializationException (400) naming the nesting, and
 * nothing created — never the 500 of a stack overflow in a walker that recurses. A body nested
 * as deep as any model goes still reaches the model.
 */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import {
  CreateRepositoryCommand as CreatePublicRepositoryCommand,
  DescribeRepositoriesCommand as DescribePublicRepositoriesCommand,
  ECRPUBLICClient,
} from '@aws-sdk/client-ecr-public';
import { EventBridgeClient, ListRulesCommand, PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { CreateKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { CreateSecretCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

/** `[[[…]]]`, `depth` arrays deep: a few KiB, under every door's body limit. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const DEEP = 5000;

interface Swappable {
  middlewareStack: { add(mw: unknown, opts: { step: 'build'; name: string }): void };
}

/** The SDK's own request with its JSON body replaced before it is signed. */
function withBody<C extends Swappable>(client: C, body: string): C {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: { request: { body: string; headers: Record<string, string> } }) => {
      args.request.body = body;
      args.request.headers['content-length'] = String(Buffer.byteLength(body));
      return next(args);
    },
    { step: 'build', name: 'replaceBody' },
  );
  return client;
}

async function refusal(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  assert.fail('the call was accepted');
}

describe('JSON bodies nested too deep', () => {
  let berth: BerthInProcess;
  let admin: Credentials;
  const opts = () => ({ endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 });

  before(async () => {
    berth = await startInProcess();
    admin = adminCredentials(berth);
  });
  after(async () => berth?.cleanup());

  const TOO_DEEP = /nested more than 64 deep/;

  it('are refused by ECR with SerializationException, and no repository is made', async () => {
    const body = `{"repositoryName":"nest/deep","tags":${nested(DEEP)}}`;
    const r = await refusal(withBody(new ECRClient(opts()), body).send(new CreateRepositoryCommand({ repositoryName: 'nest/deep' })));
    assert.deepEqual([r.name, r.status], ['SerializationException', 400]);
    assert.match(r.message, TOO_DEEP);
    const listed = await new ECRClient(opts()).send(new DescribeRepositoriesCommand({}));
    assert.ok(!listed.repositories?.some((x) => x.repositoryName === 'nest/deep'), 'no repository was made');
  });

  it('are refused by ECR Public, KMS, Secrets Manager, EventBridge and CloudTrail the same way, and nothing is made', async () => {
    const pub = await refusal(
      withBody(new ECRPUBLICClient({ ...opts(), region: 'us-east-1' }), `{"repositoryName":"deep","catalogData":${nested(DEEP)}}`).send(
        new CreatePublicRepositoryCommand({ repositoryName: 'deep' }),
      ),
    );
    const kms = await refusal(withBody(new KMSClient(opts()), `{"Description":"deep","Tags":${nested(DEEP)}}`).send(new CreateKeyCommand({})));
    const sm = await refusal(
      withBody(new SecretsManagerClient(opts()), `{"Name":"deep","SecretString":"x","Tags":${nested(DEEP)}}`).send(new CreateSecretCommand({ Name: 'deep' })),
    );
    const ev = await refusal(withBody(new EventBridgeClient(opts()), `{"Name":"deep","Tags":${nested(DEEP)}}`).send(new PutRuleCommand({ Name: 'deep' })));
    const ct = await refusal(withBody(new CloudTrailClient(opts()), `{"LookupAttributes":${nested(DEEP)}}`).send(new LookupEventsCommand({})));
    for (const [door, r] of Object.entries({ pub, kms, sm, ev, ct })) {
      assert.deepEqual([r.name, r.status], ['SerializationException', 400], `${door}: ${r.message}`);
      assert.match(r.message, TOO_DEEP, door);
    }
    const publicRepos = await new ECRPUBLICClient({ ...opts(), region: 'us-east-1' }).send(new DescribePublicRepositoriesCommand({}));
    assert.equal(publicRepos.repositories?.length ?? 0, 0, 'no public repository was made');
    assert.equal((await new KMSClient(opts()).send(new ListKeysCommand({}))).Keys?.length ?? 0, 0, 'no key was made');
    assert.equal((await new SecretsManagerClient(opts()).send(new ListSecretsCommand({}))).SecretList?.length ?? 0, 0, 'no secret was made');
    assert.equal((await new EventBridgeClient(opts()).send(new ListRulesCommand({}))).Rules?.length ?? 0, 0, 'no rule was made');
  });

  it("are refused on the console's ECR door too", async () => {
    const b = new ConsoleBrowser(berth.url);
    assert.equal((await b.signIn(admin)).status, 200);
    const a = await b.request('/console/api/ecr', {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.CreateRepository', 'Content-Type': 'application/x-amz-json-1.1' },
      body: `{"repositoryName":"nest/console","tags":${nested(DEEP)}}`,
    });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.body.__type, 'SerializationException');
    assert.match(String(a.body.message), TOO_DEEP);
    const listed = await b.ecr('DescribeRepositories');
    assert.ok(!(listed.body.repositories as Array<{ repositoryName: string }>).some((x) => x.repositoryName === 'nest/console'), 'no repository was made');
  });

  it('leaves a body nested as deep as the models go to the model', async () => {
    // 64 levels is the bound: the model then judges the member, as for any wrong type.
    const r = await refusal(
      withBody(new ECRClient(opts()), `{"repositoryName":"nest/ok","tags":${nested(63)}}`).send(new CreateRepositoryCommand({ repositoryName: 'nest/ok' })),
    );
    assert.equal(r.name, 'SerializationException');
    assert.match(r.message, /Unexpected value type at 'tags\.1\.member': expected object/);
  });
});
