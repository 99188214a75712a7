/**
 * Refusals around the features that move images between repositories and accounts (the
 * pull-through cache, replication, creation templates), where one party's permission is easy to
 * take for another's: a call is authorized on the registry it acts on, never on one a stray
 * member names. Driven with the ECR SDK and raw SigV4-signed JSON (for bodies an SDK command
 * would not send). Sources: notes/2026-12-07-s33-movement.md.
 */
import {
  BatchGetImageCommand,
  CreatePullThroughCacheRuleCommand,
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  DescribeImageReplicationStatusCommand,
  DeletePullThroughCacheRuleCommand,
  DescribePullThroughCacheRulesCommand,
  DescribeRepositoryCreationTemplatesCommand,
  type ECRClient,
  PutImageCommand,
  PutRegistryPolicyCommand,
  PutReplicationConfigurationCommand,
  UpdatePullThroughCacheRuleCommand,
  UpdateRepositoryCreationTemplateCommand,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { allowing, imageRepository } from './helpers/iam-access.js';
import { configOnlyManifest, pushBlob } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { ECR_TARGET, signedFetch } from './helpers/signed-json.js';

const ACCOUNT = '000000000000';
/** An account the tested user's account does not control: its root writes its own registry policy. */
const THEIRS = '333333333333';

describe('movement features: who is authorized, on which registry', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let dev: TestIdentity;
  let theirs: TestIdentity;

  const ruleNames = async () =>
    ((await admin.send(new DescribePullThroughCacheRulesCommand({}))).pullThroughCacheRules ?? []).map((r) => r.ecrRepositoryPrefix);

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    // dev may use ECR in general; this registry's own policy is the guardrail that says what not.
    dev = await createUser(berth, iam, 'dev', [], [JSON.parse(allowing(['ecr:*']))]);
    await admin.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'NoCacheRulesByDev',
              Effect: 'Deny',
              Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/dev` },
              Action: ['ecr:CreatePullThroughCacheRule', 'ecr:DeletePullThroughCacheRule', 'ecr:UpdatePullThroughCacheRule'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    // Another account whose root welcomes dev to anything in its own registry.
    await createAccount(berth, THEIRS);
    theirs = await otherAccountIdentity(berth, THEIRS);
    await theirs.ecr.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/dev` }, Action: 'ecr:*', Resource: '*' }],
        }),
      }),
    );
  });

  after(async () => {
    collector?.close();
    await berth?.cleanup();
  });

  /** A loopback "upstream" that asks for Basic credentials and keeps every Authorization it is sent. */
  let collector: Server | undefined;
  const collected: string[] = [];
  async function credentialCollector(): Promise<string> {
    collector = createServer((req, res) => {
      if (req.headers.authorization) collected.push(req.headers.authorization);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"', 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    });
    await new Promise<void>((res) => collector!.listen(0, '127.0.0.1', res));
    return `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
  }

  it("authorizes a pull-through rule change on the registry it changes, not on another account a stray 'resourceArn' names", async () => {
    const create = (extra: Record<string, unknown>) =>
      signedFetch(berth, dev.keys, {
        target: `${ECR_TARGET}CreatePullThroughCacheRule`,
        body: { ecrRepositoryPrefix: 'sneaky', upstreamRegistryUrl: 'http://127.0.0.1:9', ...extra },
      });
    const plain = await create({});
    assert.equal(plain.status, 400);
    assert.equal(plain.json.__type, 'AccessDeniedException', 'the registry policy denies dev');
    // The same call naming the other account's repository in a member CreatePullThroughCacheRule
    // does not have: the rule would still be made here, so it must be judged here.
    const redirected = await create({ resourceArn: `arn:aws:ecr:${berth.region}:${THEIRS}:repository/anything` });
    assert.equal(redirected.status, 400, JSON.stringify(redirected.json));
    assert.equal(redirected.json.__type, 'AccessDeniedException', 'judged by this registry, whose policy denies it');
    assert.deepEqual(await ruleNames(), [], 'no rule was made');
    // And the member is no part of the operation: refused as any other action refuses one.
    const stray = await signedFetch(berth, adminCredentials(berth), {
      target: `${ECR_TARGET}CreatePullThroughCacheRule`,
      body: { ecrRepositoryPrefix: 'stray', upstreamRegistryUrl: 'http://127.0.0.1:9', resourceArn: `arn:aws:ecr:${berth.region}:${ACCOUNT}:repository/x` },
    });
    assert.equal(stray.status, 400);
    assert.match(String(stray.json.__type), /ValidationException|SerializationException/);
    assert.deepEqual(await ruleNames(), [], 'nor by the admin with a stray member');
  });

  it('sends a secret to an upstream of no kind ECR names only for a caller who may read the secret', async () => {
    const secrets = new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const value = { username: 'hub-user', accessToken: 'hub-token-not-for-cacher' };
    const arn = String((await secrets.send(new CreateSecretCommand({ Name: 'ecr-pullthroughcache/hub', SecretString: JSON.stringify(value) }))).ARN);
    // May manage cache rules and pull through them; no Secrets Manager permission at all.
    const cacher = await createUser(berth, iam, 'cacher', [], [JSON.parse(allowing(['ecr:*']))]);
    const upstream = await credentialCollector();
    const rule = { ecrRepositoryPrefix: 'exfil', upstreamRegistryUrl: upstream, credentialArn: arn };
    const refused = await cacher.ecr.send(new CreatePullThroughCacheRuleCommand(rule)).then(
      () => 'created',
      (e: Error) => `${e.name}: ${e.message}`,
    );
    // Had it been made, this pull would hand the secret to the upstream the caller chose.
    await cacher.v2('/v2/exfil/app/manifests/v1');
    const leaked = Buffer.from(`${value.username}:${value.accessToken}`).toString('base64');
    assert.ok(!collected.some((h) => h.includes(leaked)), `the secret reached the caller's upstream (${refused})`);
    assert.match(refused, /AccessDeniedException/);
    assert.match(refused, /secretsmanager:GetSecretValue/);
    assert.deepEqual(await ruleNames(), [], 'no rule was made');

    // An upstream ECR names (the secret goes only to that registry): ECR asks no Secrets Manager permission.
    await cacher.ecr.send(
      new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: 'registry-1.docker.io', credentialArn: arn }),
    );
    await cacher.ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hub' }));
    // A caller who may read the secret may send it where they like; so may the account's root.
    const reader = await createUser(
      berth,
      iam,
      'secret-reader',
      [],
      [JSON.parse(allowing(['ecr:*'])), { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn }] }],
    );
    await reader.ecr.send(new CreatePullThroughCacheRuleCommand(rule));
    await admin.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'exfil' }));
    await admin.send(new CreatePullThroughCacheRuleCommand(rule));
    // Nor may the caller move an existing rule's credentials to that secret.
    await admin.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'exfil' }));
    await admin.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'exfil', upstreamRegistryUrl: upstream }));
    const moved = await refusal(cacher.ecr.send(new UpdatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'exfil', credentialArn: arn })));
    assert.match(moved, /AccessDeniedException/);
    const [kept] = (await admin.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['exfil'] }))).pullThroughCacheRules ?? [];
    assert.equal(kept?.credentialArn, undefined, 'the refused update changed nothing');
    await admin.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'exfil' }));
  });

  it("judges a pull-through import with the request's aws:UserAgent, as every other check of the pull", async () => {
    const agent = await createUser(
      berth,
      iam,
      'agent-limited',
      [],
      [
        JSON.parse(allowing(['ecr:*'])),
        {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Deny',
              Action: ['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
              Resource: '*',
              Condition: { StringLike: { 'aws:UserAgent': 'blocked-agent/*' } },
            },
          ],
        },
      ],
    );
    // An upstream nobody answers at: the import is judged before anything goes upstream.
    await admin.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'cache', upstreamRegistryUrl: 'http://127.0.0.1:9' }));
    try {
      const pull = (userAgent: string) =>
        agent.v2('/v2/cache/library/app/manifests/v1', { headers: { 'user-agent': userAgent, accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const blocked = await pull('blocked-agent/1.0');
      assert.equal(blocked.status, 403, 'the Deny on this User-Agent holds');
      assert.match(blocked.body.toString('utf8'), /DENIED/);
      const other = await pull('skopeo/1.13');
      assert.notEqual(other.status, 403, 'another User-Agent is let through to the (absent) upstream');
    } finally {
      await admin.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'cache' }));
    }
  });
  it('replicates into another account only as far as its registry policy goes, and never over its immutable tag', async () => {
    const DEST = '444444444444';
    await createAccount(berth, DEST);
    const dest = await otherAccountIdentity(berth, DEST);
    // The destination grants the source account ecr:ReplicateImage, and not ecr:CreateRepository.
    await dest.ecr.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
              Action: 'ecr:ReplicateImage',
              Resource: `arn:aws:ecr:${berth.region}:${DEST}:repository/*`,
            },
          ],
        }),
      }),
    );
    await admin.send(
      new PutReplicationConfigurationCommand({
        replicationConfiguration: {
          rules: [{ destinations: [{ region: berth.region, registryId: DEST }], repositoryFilters: [{ filter: 'shared', filterType: 'PREFIX_MATCH' }] }],
        },
      }),
    );
    const settled = (imageTag: string) =>
      waitFor(`the replication of shared/app:${imageTag}`, async () => {
        const s =
          (await admin.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'shared/app', imageId: { imageTag } }))).replicationStatuses ?? [];
        return s.length === 1 && s[0]!.status !== 'IN_PROGRESS' && s[0];
      });
    const destTag = async (imageTag: string) =>
      (await dest.ecr.send(new BatchGetImageCommand({ repositoryName: 'shared/app', imageIds: [{ imageTag }] }))).images?.[0]?.imageId?.imageDigest;
    const push = async (config: Buffer, imageTag: string) => {
      await pushBlob(berth.url, 'shared/app', config);
      return (await admin.send(new PutImageCommand({ repositoryName: 'shared/app', imageManifest: configOnlyManifest(config), imageTag }))).image!.imageId!
        .imageDigest!;
    };

    await imageRepository(berth.url, admin, 'shared/app', Buffer.from('{"replica":1}'));
    assert.deepEqual(
      await settled('v1'),
      { region: berth.region, registryId: DEST, status: 'FAILED', failureCode: 'ACCESS_DENIED' },
      'no repository without ecr:CreateRepository',
    );

    // The destination makes the repository itself, immutable, and tags v2 with an image of its own.
    await dest.ecr.send(new CreateRepositoryCommand({ repositoryName: 'shared/app', imageTagMutability: 'IMMUTABLE' }));
    const own = Buffer.from('{"destination":"own"}');
    const ownPush = await fetch(`${berth.url}/v2/shared/app/blobs/uploads/`, { method: 'POST', headers: { authorization: dest.authorization! } });
    const location = new URL(ownPush.headers.get('location')!, berth.url);
    location.searchParams.set('digest', `sha256:${createHash('sha256').update(own).digest('hex')}`);
    assert.equal(
      (await fetch(location, { method: 'PUT', body: own, headers: { authorization: dest.authorization!, 'content-type': 'application/octet-stream' } })).status,
      201,
    );
    const ownDigest = (await dest.ecr.send(new PutImageCommand({ repositoryName: 'shared/app', imageManifest: configOnlyManifest(own), imageTag: 'v2' })))
      .image!.imageId!.imageDigest!;

    await push(Buffer.from('{"replica":2}'), 'v2');
    assert.deepEqual(await settled('v2'), { region: berth.region, registryId: DEST, status: 'FAILED', failureCode: 'TAG_IMMUTABLE' });
    assert.equal(await destTag('v2'), ownDigest, "the destination's immutable tag was not moved");

    const v3 = await push(Buffer.from('{"replica":3}'), 'v3');
    assert.deepEqual(await settled('v3'), { region: berth.region, registryId: DEST, status: 'COMPLETE' });
    assert.equal(await destTag('v3'), v3, 'into an existing repository, ecr:ReplicateImage is enough');
  });
  it('asks an updated creation template for the policies it will carry, not only those the update names', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${THEIRS}:root` }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }],
    });
    await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'mirrored', appliedFor: ['REPLICATION'], repositoryPolicy: policy }));
    await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'plain', appliedFor: ['REPLICATION'] }));
    const editor = await createUser(
      berth,
      iam,
      'template-editor',
      [],
      [JSON.parse(allowing(['ecr:UpdateRepositoryCreationTemplate', 'ecr:DescribeRepositoryCreationTemplates', 'ecr:CreateRepository']))],
    );
    // Widening appliedFor hands the stored repository policy to every repository a push creates.
    const widened = await refusal(
      editor.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'mirrored', appliedFor: ['REPLICATION', 'CREATE_ON_PUSH'] })),
    );
    assert.match(widened, /AccessDeniedException.*ecr:SetRepositoryPolicy/);
    const [kept] = (await admin.send(new DescribeRepositoryCreationTemplatesCommand({ prefixes: ['mirrored'] }))).repositoryCreationTemplates ?? [];
    assert.deepEqual(kept?.appliedFor, ['REPLICATION'], 'the refused update changed nothing');
    // A template that carries no policy is the editor's to change.
    const changed = await editor.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'plain', appliedFor: ['REPLICATION', 'CREATE_ON_PUSH'] }));
    assert.deepEqual(changed.repositoryCreationTemplate?.appliedFor, ['REPLICATION', 'CREATE_ON_PUSH']);
  });
  it("names a template's customRoleArn only for a caller who may pass that role to ECR (iam:PassRole)", async () => {
    const role = `arn:aws:iam::${ACCOUNT}:role/ecr-templates`;
    const templates = [
      'ecr:CreateRepositoryCreationTemplate',
      'ecr:UpdateRepositoryCreationTemplate',
      'ecr:DescribeRepositoryCreationTemplates',
      'ecr:CreateRepository',
    ];
    const passing = (service: string) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: role, Condition: { StringEquals: { 'iam:PassedToService': service } } }],
    });
    const none = await createUser(berth, iam, 'no-pass', [], [JSON.parse(allowing(templates))]);
    const elsewhere = await createUser(berth, iam, 'pass-to-ecs', [], [JSON.parse(allowing(templates)), passing('ecs-tasks.amazonaws.com')]);
    const toEcr = await createUser(berth, iam, 'pass-to-ecr', [], [JSON.parse(allowing(templates)), passing('ecr.amazonaws.com')]);
    const create = (u: TestIdentity, prefix: string) =>
      u.ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix, appliedFor: ['REPLICATION'], customRoleArn: role }));
    for (const [u, prefix] of [
      [none, 'role-a'],
      [elsewhere, 'role-b'],
    ] as const) {
      assert.match(await refusal(create(u, prefix)), /AccessDeniedException.*iam:PassRole on resource: arn:aws:iam::000000000000:role\/ecr-templates/);
    }
    const prefixes = async () =>
      ((await admin.send(new DescribeRepositoryCreationTemplatesCommand({}))).repositoryCreationTemplates ?? []).map((t) => t.prefix);
    assert.ok(!(await prefixes()).some((p) => p?.startsWith('role-')), 'the refused calls made nothing');
    await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'role-c', appliedFor: ['REPLICATION'] }));
    assert.match(
      await refusal(none.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'role-c', customRoleArn: role }))),
      /AccessDeniedException.*iam:PassRole/,
    );
    assert.equal((await create(toEcr, 'role-d')).repositoryCreationTemplate?.customRoleArn, role);
    // Clearing the role passes none.
    assert.equal(
      (await none.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'role-d', customRoleArn: '' }))).repositoryCreationTemplate?.customRoleArn,
      undefined,
    );
  });
});
