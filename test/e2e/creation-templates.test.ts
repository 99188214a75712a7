/**
 * Repository creation templates with the real AWS CLI and skopeo: create, describe (filtered,
 * paginated), update and delete; every bad input refused with ECR's exception and nothing
 * changed; refused without the permissions ECR documents; and a skopeo push that creates its
 * repository gets the matching CREATE_ON_PUSH template's mutability, lifecycle policy,
 * repository policy and resource tags, as describe-repositories, get-lifecycle-policy,
 * get-repository-policy and list-tags-for-resource report them.
 *
 * The CLI makes at least one call of each operation (create, describe with its own pages and
 * tokens, update, delete), the refusals it shapes itself, a denial, and the reads of what a push
 * created that print a repository's shapes; the other calls go through the ECR SDK, another real
 * client, at a thousandth of a CLI process's CPU (~0.9 s each on a 2-core machine).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  type CreateRepositoryCreationTemplateCommandInput,
  DeleteRepositoryCreationTemplateCommand,
  DescribeRepositoryCreationTemplatesCommand,
  type ECRClient,
  GetLifecyclePolicyCommand,
  GetRepositoryPolicyCommand,
  type ImageTagMutability,
  ListTagsForResourceCommand,
  type RCTAppliedFor,
  UpdateRepositoryCreationTemplateCommand,
  type UpdateRepositoryCreationTemplateCommandInput,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { refusal } from './helpers/refusal.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);

const LIFECYCLE = JSON.stringify({
  rules: [
    {
      rulePriority: 1,
      description: 'expire untagged images after a day',
      selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 },
      action: { type: 'expire' },
    },
  ],
});
// Nobody may delete images from what the template creates: a policy that visibly takes effect.
const NO_DELETES = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'NoDeletes', Effect: 'Deny', Principal: '*', Action: ['ecr:BatchDeleteImage'] }],
});

interface Template {
  prefix: string;
  description?: string;
  appliedFor: string[];
  imageTagMutability: string;
  imageTagMutabilityExclusionFilters?: Array<{ filterType: string; filter: string }>;
  resourceTags: Array<{ Key: string; Value: string }>;
  encryptionConfiguration: { encryptionType: string; kmsKey?: string };
  lifecyclePolicy?: string;
  repositoryPolicy?: string;
  customRoleArn?: string;
  createdAt: number;
  updatedAt: number;
}

describe('repository creation templates with the AWS CLI and skopeo', () => {
  let berth: BerthProcess;
  let env: NodeJS.ProcessEnv;
  let skopeo: Skopeo;
  let account: string;
  let ecr: ECRClient;
  const cli = async (e: NodeJS.ProcessEnv, args: string[]) =>
    JSON.parse((await run('aws', ['ecr', ...args, '--output', 'json'], { env: e })).stdout || '{}') as Record<string, unknown>;
  const aws = (...args: string[]) => cli(env, args);
  const failsWith = async (e: NodeJS.ProcessEnv, args: string[]): Promise<string> => {
    try {
      await run('aws', ['ecr', ...args], { env: e });
    } catch (err) {
      return (err as { stderr: string }).stderr;
    }
    return assert.fail(`aws ecr ${args.join(' ')} succeeded`);
  };
  const awsFails = (...args: string[]) => failsWith(env, args);
  /** Every field a template has (but encryption, left to ECR's default); the tests' "apps" template has them too. */
  const fullTemplate = () => [
    '--applied-for',
    'CREATE_ON_PUSH',
    'REPLICATION',
    '--description',
    'applications',
    '--image-tag-mutability',
    'IMMUTABLE_WITH_EXCLUSION',
    '--image-tag-mutability-exclusion-filters',
    'filterType=WILDCARD,filter=latest',
    '--resource-tags',
    'Key=team,Value=apps',
    '--lifecycle-policy',
    LIFECYCLE,
    '--repository-policy',
    NO_DELETES,
    '--custom-role-arn',
    `arn:aws:iam::${account}:role/ecr-templates`,
  ];
  /** The same template, as the SDK takes it. */
  const fullTemplateInput = (prefix: string): CreateRepositoryCreationTemplateCommandInput => ({
    prefix,
    appliedFor: ['CREATE_ON_PUSH', 'REPLICATION'],
    description: 'applications',
    imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
    imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest' }],
    resourceTags: [{ Key: 'team', Value: 'apps' }],
    lifecyclePolicy: LIFECYCLE,
    repositoryPolicy: NO_DELETES,
    customRoleArn: `arn:aws:iam::${account}:role/ecr-templates`,
  });
  const templates = async (...args: string[]) => (await aws('describe-repository-creation-templates', ...args)).repositoryCreationTemplates as Template[];
  /** The prefixes DescribeRepositoryCreationTemplates lists (through the SDK), every page followed. */
  const prefixesOf = async (prefixes?: string[]): Promise<string[]> => {
    const out: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecr.send(new DescribeRepositoryCreationTemplatesCommand({ ...(prefixes && { prefixes }), nextToken }));
      out.push(...(page.repositoryCreationTemplates ?? []).map((t) => t.prefix!));
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  };
  const createTemplate = (input: CreateRepositoryCreationTemplateCommandInput) => ecr.send(new CreateRepositoryCreationTemplateCommand(input));
  const deleteTemplate = (prefix: string) => ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix }));

  before(async () => {
    [berth, skopeo] = await Promise.all([startBerth(), createSkopeo()]);
    env = awsCliEnv(berth);
    ecr = ecrClient(berth);
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    account = (await sts.send(new GetCallerIdentityCommand({}))).Account!;
    // Each test may use it: the push test, the refusals (a taken prefix), the permissions.
    await createTemplate(fullTemplateInput('apps'));
  });
  after(async () => {
    await skopeo?.cleanup();
    await berth?.cleanup();
  });

  it('creates, describes (by prefix, in pages), updates and deletes templates', async () => {
    const created = await aws('create-repository-creation-template', '--prefix', 'full/', ...fullTemplate());
    assert.equal(created.registryId, account);
    const t = created.repositoryCreationTemplate as Template;
    assert.equal(t.prefix, 'full', 'the trailing slash is implicit');
    assert.deepEqual(t.appliedFor, ['CREATE_ON_PUSH', 'REPLICATION']);
    assert.equal(t.description, 'applications');
    assert.equal(t.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.deepEqual(t.imageTagMutabilityExclusionFilters, [{ filterType: 'WILDCARD', filter: 'latest' }]);
    assert.deepEqual(t.resourceTags, [{ Key: 'team', Value: 'apps' }]);
    assert.deepEqual(t.encryptionConfiguration, { encryptionType: 'AES256' }, "ECR's default");
    assert.equal(t.lifecyclePolicy, LIFECYCLE);
    assert.equal(t.repositoryPolicy, NO_DELETES);
    assert.equal(t.customRoleArn, `arn:aws:iam::${account}:role/ecr-templates`);
    assert.equal(typeof t.createdAt, 'number');

    for (const prefix of ['zeta', 'ROOT', 'alpha/beta', 'mid']) await createTemplate({ prefix, appliedFor: ['PULL_THROUGH_CACHE'] });
    const all = await templates();
    assert.deepEqual(
      all.map((x) => x.prefix),
      ['ROOT', 'alpha/beta', 'apps', 'full', 'mid', 'zeta'],
    );
    // The CLI follows nextToken across pages of one.
    assert.deepEqual(
      (await templates('--page-size', '1')).map((x) => x.prefix),
      all.map((x) => x.prefix),
    );
    const firstPage = await aws('describe-repository-creation-templates', '--max-items', '2');
    assert.equal((firstPage.repositoryCreationTemplates as Template[]).length, 2);
    assert.equal(typeof firstPage.NextToken, 'string');
    assert.deepEqual(await prefixesOf(['zeta', 'full/', 'nothing']), ['full', 'zeta']);

    const updated = (await aws('update-repository-creation-template', '--prefix', 'mid', '--description', 'middle', '--image-tag-mutability', 'IMMUTABLE'))
      .repositoryCreationTemplate as Template;
    assert.equal(updated.description, 'middle');
    assert.equal(updated.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(updated.appliedFor, ['PULL_THROUGH_CACHE'], 'fields not given are kept');
    assert.ok(updated.updatedAt >= updated.createdAt);

    const deleted = (await aws('delete-repository-creation-template', '--prefix', 'zeta')).repositoryCreationTemplate as Template;
    assert.equal(deleted.prefix, 'zeta');
    assert.deepEqual(await prefixesOf(), ['ROOT', 'alpha/beta', 'apps', 'full', 'mid']);
    for (const prefix of ['ROOT', 'alpha/beta', 'full', 'mid']) await deleteTemplate(prefix);
  });

  it('refuses bad input with ECR exceptions and changes nothing', async () => {
    /** Every template, whole (through the SDK: the CLI's describe is checked above). */
    const everything = async () => JSON.stringify((await ecr.send(new DescribeRepositoryCreationTemplatesCommand({}))).repositoryCreationTemplates);
    const before = await everything();
    // What the CLI itself shapes (an empty list, its own pagination token) through the CLI; the
    // rest of the refusals through the SDK, a real client at a thousandth of a CLI run's CPU (the
    // refusals are the server's, whichever client asks).
    const viaCli: Array<[string, () => Promise<string>]> = [
      ['InvalidParameterException', () => awsFails('create-repository-creation-template', '--prefix', 'new', '--applied-for')],
      ['InvalidParameterException', () => awsFails('describe-repository-creation-templates', '--starting-token', 'bm90IGEgdG9rZW4')],
    ];
    for (const [exception, call] of viaCli) assert.match(await call(), new RegExp(`\\(${exception}\\)`));
    /** The exception the SDK raises for a call that must be refused. */
    const refused = async (call: () => Promise<unknown>): Promise<string> => {
      try {
        await call();
      } catch (e) {
        return (e as Error).name;
      }
      return assert.fail('the call succeeded');
    };
    const create = (input: Partial<CreateRepositoryCreationTemplateCommandInput>) =>
      refused(() => ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'new', appliedFor: ['REPLICATION'], ...input })));
    const update = (input: Partial<UpdateRepositoryCreationTemplateCommandInput>) =>
      refused(() => ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'apps', ...input })));
    const cases: Array<[string, () => Promise<string>]> = [
      ['TemplateAlreadyExistsException', () => create({ prefix: 'apps' })],
      ['InvalidParameterException', () => create({ appliedFor: [] })],
      ['InvalidParameterException', () => update({ appliedFor: [] })],
      ['TemplateNotFoundException', () => refused(() => deleteTemplate('absent'))],
      ['ValidationException', () => create({ prefix: 'Apps' })],
      ['ValidationException', () => create({ appliedFor: ['SOMETIMES' as RCTAppliedFor] })],
      ['ValidationException', () => create({ imageTagMutability: 'FROZEN' as ImageTagMutability })],
      ['ValidationException', () => create({ description: 'x'.repeat(257) })],
      ['ValidationException', () => create({ encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/mine' } })],
      ['InvalidParameterException', () => create({ imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' })],
      ['InvalidParameterException', () => create({ lifecyclePolicy: '{"rules": "none of them"}' })],
      ['InvalidParameterException', () => create({ repositoryPolicy: '{"Statement": 42}' })],
      ['InvalidParameterException', () => create({ customRoleArn: 'arn:aws:iam::999999999999:role/elsewhere' })],
      ['InvalidParameterException', () => create({ customRoleArn: 'not-an-arn' })],
      [
        'InvalidParameterException',
        () => create({ encryptionConfiguration: { encryptionType: 'AES256', kmsKey: `arn:aws:kms:us-east-1:${account}:key/abc` } }),
      ],
      ['InvalidTagParameterException', () => create({ resourceTags: [{ Key: 'aws:owned', Value: 'x' }] })],
      ['TemplateNotFoundException', () => update({ prefix: 'absent', description: 'x' })],
      ['InvalidParameterException', () => update({ imageTagMutability: 'MUTABLE_WITH_EXCLUSION' })],
      ['InvalidParameterException', () => update({ lifecyclePolicy: '{"rules": []}' })],
    ];
    for (const [exception, call] of cases) assert.equal(await call(), exception);
    assert.equal(await everything(), before, 'nothing changed');
  });

  it('needs the template actions, and CreateRepository, PutLifecyclePolicy and SetRepositoryPolicy for what a template grants', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    const powerUser = await createUser(berth, iam, 'power-user', ['PowerUser']);
    const templateAdmin = await createUser(
      berth,
      iam,
      'template-admin',
      [],
      [
        {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['ecr:CreateRepositoryCreationTemplate', 'ecr:DescribeRepositoryCreationTemplates', 'ecr:CreateRepository', 'ecr:PutLifecyclePolicy'],
              Resource: '*',
            },
          ],
        },
      ],
    );
    const asTemplateAdmin = awsCliEnv(berth, templateAdmin.keys);
    // The CLI prints `(AccessDeniedException)`, the SDK's refusal `AccessDeniedException:`.
    const denied = /\(?AccessDeniedException\)?.*not authorized to perform: ecr:(\w+)/;
    const power = powerUser.ecr;
    assert.equal(denied.exec(await refusal(power.send(new DescribeRepositoryCreationTemplatesCommand({}))))?.[1], 'DescribeRepositoryCreationTemplates');
    assert.equal(
      denied.exec(await refusal(power.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'p', appliedFor: ['REPLICATION'] }))))?.[1],
      'CreateRepositoryCreationTemplate',
    );
    assert.equal(
      denied.exec(await refusal(power.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'apps' }))))?.[1],
      'DeleteRepositoryCreationTemplate',
    );
    assert.equal(
      denied.exec(
        await failsWith(asTemplateAdmin, [
          'create-repository-creation-template',
          '--prefix',
          'p',
          '--applied-for',
          'REPLICATION',
          '--repository-policy',
          NO_DELETES,
        ]),
      )?.[1],
      'SetRepositoryPolicy',
    );
    assert.equal(
      denied.exec(await refusal(templateAdmin.ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'apps', description: 'mine' }))))?.[1],
      'UpdateRepositoryCreationTemplate',
    );
    assert.deepEqual(await prefixesOf(), ['apps'], 'nothing created by the refused calls');
    const made = await templateAdmin.ecr.send(
      new CreateRepositoryCreationTemplateCommand({ prefix: 'p', appliedFor: ['REPLICATION'], lifecyclePolicy: LIFECYCLE }),
    );
    assert.equal(made.repositoryCreationTemplate?.prefix, 'p');
    await deleteTemplate('p');
  });

  it('a skopeo push that creates its repository gets the matching CREATE_ON_PUSH template', async () => {
    // ROOT for pushes elsewhere; apps/team only for replication, so apps' applies under it.
    await createTemplate({ prefix: 'ROOT', appliedFor: ['CREATE_ON_PUSH'], resourceTags: [{ Key: 'origin', Value: 'root' }] });
    await createTemplate({ prefix: 'apps/team', appliedFor: ['REPLICATION'], imageTagMutability: 'MUTABLE' });
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'apps/existing' }));

    const home = await tempDir('berth-rct-');
    const push = async (repository: string, tag: string) => {
      const layout = join(home, `${repository.replace(/\//g, '_')}-${tag}-${Math.random().toString(36).slice(2)}`);
      await buildImageLayout(layout, { layers: 1, layerBytes: 4096, tag });
      await skopeo.copy(`oci:${layout}:${tag}`, `docker://${berth.host}/${repository}:${tag}`);
    };
    await push('apps/team/api', 'v1');
    await push('apps/existing', 'v1');
    await push('tools/lint', 'v1');

    const repos = (await aws('describe-repositories', '--repository-names', 'apps/team/api', 'apps/existing', 'tools/lint')).repositories as Array<{
      repositoryName: string;
      repositoryArn: string;
      imageTagMutability: string;
      imageTagMutabilityExclusionFilters?: unknown;
    }>;
    const [api, existing, lint] = repos;
    assert.equal(api!.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.deepEqual(api!.imageTagMutabilityExclusionFilters, [{ filterType: 'WILDCARD', filter: 'latest' }]);
    assert.equal((await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'apps/team/api' }))).lifecyclePolicyText, LIFECYCLE);
    assert.equal((await ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'apps/team/api' }))).policyText, NO_DELETES);
    assert.deepEqual((await aws('list-tags-for-resource', '--resource-arn', api!.repositoryArn)).tags, [{ Key: 'team', Value: 'apps' }]);
    const tagsOf = async (resourceArn: string) => (await ecr.send(new ListTagsForResourceCommand({ resourceArn }))).tags;

    // The template's settings rule the repository from its first push on.
    await push('apps/team/api', 'latest');
    await push('apps/team/api', 'latest');
    await assert.rejects(push('apps/team/api', 'v1'), /cannot be overwritten because the repository is immutable/);
    assert.match(
      await refusal(ecr.send(new BatchDeleteImageCommand({ repositoryName: 'apps/team/api', imageIds: [{ imageTag: 'v1' }] }))),
      /AccessDeniedException/,
    );

    // A repository that existed is left as it was; elsewhere, ROOT's template.
    assert.equal(existing!.imageTagMutability, 'MUTABLE');
    assert.match(await refusal(ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'apps/existing' }))), /RepositoryPolicyNotFoundException/);
    assert.deepEqual(await tagsOf(existing!.repositoryArn), []);
    assert.equal(lint!.imageTagMutability, 'MUTABLE');
    assert.deepEqual(await tagsOf(lint!.repositoryArn), [{ Key: 'origin', Value: 'root' }]);
    assert.match(await refusal(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'tools/lint' }))), /LifecyclePolicyNotFoundException/);
  });
});
