/**
 * Pull-through cache rules through the real `aws ecr` CLI, with upstream credentials made with
 * `aws secretsmanager`: the reference registry (`docker-registry`) as upstream without auth and
 * behind htpasswd (Basic), and a small token server (Bearer, docker's token flow) in this
 * process; ValidatePullThroughCacheRule really asks them, also when one is stopped. Refusals in
 * ECR's words, each changing nothing.
 *
 * The CLI makes at least one call of each operation (create, describe, validate, update, delete)
 * and one refusal, so botocore's view of each shape stays checked; the other calls go through the
 * ECR and Secrets Manager SDKs, other real clients, at a thousandth of a CLI process's CPU (~0.9 s
 * each on a 2-core machine).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CreatePullThroughCacheRuleCommand,
  type CreatePullThroughCacheRuleCommandInput,
  DeletePullThroughCacheRuleCommand,
  DescribePullThroughCacheRulesCommand,
  type ECRClient,
  type UpstreamRegistry as UpstreamKind,
  ValidatePullThroughCacheRuleCommand,
} from '@aws-sdk/client-ecr';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { adminCredentials, awsCliEnv, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../e2e/helpers/upstream-registry.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);

describe('pull-through cache rules', () => {
  let berth: BerthInProcess;
  let admin: Credentials;
  let ecr: ECRClient;
  let open: UpstreamRegistry;
  let locked: UpstreamRegistry;
  let tokens: Server;
  let tokenUrl: string;
  const tokenRequests: string[] = [];

  const env = (): NodeJS.ProcessEnv => awsCliEnv(berth, admin);
  const aws = async (args: string[]): Promise<Record<string, unknown>> => {
    const { stdout } = await run('aws', [...args, '--output', 'json'], { env: env() });
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  };
  const awsFails = async (args: string[]): Promise<string> => {
    try {
      await run('aws', args, { env: env() });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ${args.join(' ')} succeeded`);
  };
  const secret = async (Name: string, SecretString: string) =>
    String(
      (await new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials: admin }).send(new CreateSecretCommand({ Name, SecretString })))
        .ARN,
    );
  // As JSON: the CLI (v1) would fetch an http:// parameter value as a "URL parameter".
  const input = (o: Record<string, string>) => ['--cli-input-json', JSON.stringify(o)];
  const rules = async () => ((await aws(['ecr', 'describe-pull-through-cache-rules'])).pullThroughCacheRules as Array<Record<string, unknown>>) ?? [];
  /** Through the SDK. */
  const createRule = (o: Record<string, string>) =>
    ecr.send(
      new CreatePullThroughCacheRuleCommand({
        ...o,
        ...(o.upstreamRegistry && { upstreamRegistry: o.upstreamRegistry as UpstreamKind }),
      } as CreatePullThroughCacheRuleCommandInput),
    );
  const validate = (ecrRepositoryPrefix: string) => ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix }));
  const sdkRules = async () => (await ecr.send(new DescribePullThroughCacheRulesCommand({}))).pullThroughCacheRules ?? [];

  before(async () => {
    berth = await startInProcess();
    admin = adminCredentials(berth);
    ecr = ecrClient(berth);
    open = await startUpstreamRegistry();
    locked = await startUpstreamRegistry({ user: 'puller', password: 'upstream-pw' });
    // docker's token flow: /v2/ challenges with Bearer; /token hands a token for Basic puller:tok-pw.
    tokens = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        tokenRequests.push(`${url.searchParams.get('service')}|${req.headers.authorization ?? ''}`);
        const ok = req.headers.authorization === `Basic ${Buffer.from('puller:tok-pw').toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token: 'good', expires_in: 300 }) : '{}');
        return;
      }
      if (req.headers.authorization === 'Bearer good') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokenUrl}/token",service="fake-registry"` }).end();
    });
    await new Promise<void>((r) => tokens.listen(0, '127.0.0.1', r));
    const addr = tokens.address();
    tokenUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    tokens?.close();
    await open?.cleanup();
    await locked?.cleanup();
    await berth?.cleanup();
  });

  it('creates, describes, validates and deletes a rule for an open upstream', async () => {
    const created = await aws(['ecr', 'create-pull-through-cache-rule', ...input({ ecrRepositoryPrefix: 'mirror', upstreamRegistryUrl: open.url })]);
    assert.equal(created.ecrRepositoryPrefix, 'mirror');
    assert.equal(created.upstreamRegistryUrl, open.url);
    assert.equal(created.registryId, '000000000000');
    assert.equal(typeof created.createdAt, 'number');
    const described = (await rules()).find((r) => r.ecrRepositoryPrefix === 'mirror');
    assert.equal(described?.upstreamRegistryUrl, open.url);
    const valid = await aws(['ecr', 'validate-pull-through-cache-rule', '--ecr-repository-prefix', 'mirror']);
    assert.equal(valid.isValid, true);
    assert.match(await refusal(createRule({ ecrRepositoryPrefix: 'mirror', upstreamRegistryUrl: locked.url })), /PullThroughCacheRuleAlreadyExistsException/);
    assert.equal((await sdkRules()).find((r) => r.ecrRepositoryPrefix === 'mirror')?.upstreamRegistryUrl, open.url, 'the refused create changed nothing');

    await open.stop();
    try {
      const down = await validate('mirror');
      assert.equal(down.isValid, false);
      assert.match(String(down.failure), new RegExp(`${open.url.replace(/[.]/g, '\\.')} could not be reached`));
    } finally {
      await open.start();
    }

    const deleted = await aws(['ecr', 'delete-pull-through-cache-rule', '--ecr-repository-prefix', 'mirror']);
    assert.equal(deleted.upstreamRegistryUrl, open.url);
    assert.match(await refusal(ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'mirror' }))), /PullThroughCacheRuleNotFoundException/);
    assert.match(
      await refusal(ecr.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['mirror'] }))),
      /PullThroughCacheRuleNotFoundException/,
    );
  });

  it('validates with Basic credentials from a secret, and updates them', async () => {
    const good = await secret('ecr-pullthroughcache/locked-good', JSON.stringify({ username: 'puller', accessToken: 'upstream-pw' }));
    const bad = await secret('ecr-pullthroughcache/locked-bad', JSON.stringify({ username: 'puller', accessToken: 'wrong' }));
    await createRule({ ecrRepositoryPrefix: 'locked', upstreamRegistryUrl: locked.url, credentialArn: good });
    assert.equal((await validate('locked')).isValid, true);
    const updated = await aws(['ecr', 'update-pull-through-cache-rule', '--ecr-repository-prefix', 'locked', '--credential-arn', bad]);
    assert.equal(updated.credentialArn, bad);
    const refused = await validate('locked');
    assert.equal(refused.isValid, false);
    assert.match(String(refused.failure), /401/);
  });

  it("follows a Bearer challenge to the upstream's token service", async () => {
    const creds = await secret('ecr-pullthroughcache/tokens', JSON.stringify({ username: 'puller', accessToken: 'tok-pw' }));
    await createRule({ ecrRepositoryPrefix: 'tokens', upstreamRegistryUrl: tokenUrl, credentialArn: creds });
    assert.equal((await validate('tokens')).isValid, true);
    assert.ok(tokenRequests.includes(`fake-registry|Basic ${Buffer.from('puller:tok-pw').toString('base64')}`), tokenRequests.join('\n'));
  });

  it('refuses what ECR refuses, changing nothing', async () => {
    const before = (await sdkRules()).length;
    // One refusal through the CLI; the rest through the SDK (the refusals are the server's).
    assert.match(
      await awsFails(['ecr', 'create-pull-through-cache-rule', ...input({ ecrRepositoryPrefix: 'plain', upstreamRegistryUrl: 'http://registry.example.com' })]),
      /InvalidParameterException.*HTTP/,
    );
    const create = (o: Record<string, string>) => refusal(createRule(o));
    assert.match(await create({ ecrRepositoryPrefix: 'Bad_Prefix', upstreamRegistryUrl: open.url }), /ValidationException/);
    assert.match(
      await create({
        ecrRepositoryPrefix: 'wrongname',
        upstreamRegistryUrl: open.url,
        credentialArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:other/creds-abcdef',
      }),
      /ValidationException/,
    );
    assert.match(
      await create({
        ecrRepositoryPrefix: 'nosecret',
        upstreamRegistryUrl: open.url,
        credentialArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/missing-abcdef',
      }),
      /SecretNotFoundException/,
    );
    const notJson = await secret('ecr-pullthroughcache/not-json', 'just a password');
    assert.match(await create({ ecrRepositoryPrefix: 'notjson', upstreamRegistryUrl: open.url, credentialArn: notJson }), /UnableToAccessSecretException/);
    assert.match(await create({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: 'registry-1.docker.io' }), /InvalidParameterException.*credentialArn/);
    assert.match(
      await create({ ecrRepositoryPrefix: 'quay', upstreamRegistryUrl: 'registry-1.docker.io', upstreamRegistry: 'quay' }),
      /UnsupportedUpstreamRegistryException/,
    );
    assert.match(await refusal(validate('nothere')), /PullThroughCacheRuleNotFoundException/);
    assert.equal((await sdkRules()).length, before);
  });
});
