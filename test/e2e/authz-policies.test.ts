/**
 * Issue #12, authorization: a policy Berth cannot evaluate is refused when it is put (IAM's
 * PutUserPolicy, ECR's SetRepositoryPolicy and PutRegistryPolicy), the operators it accepts are
 * evaluated (a Deny on a Date, Numeric or Null condition, or on aws:SecureTransport, bites), and the registry policy scope
 * (Put/GetAccountSetting REGISTRY_POLICY_SCOPE) limits what a registry policy names and governs.
 * Through the aws CLI and the SDKs.
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  GetAccountSettingCommand,
  GetRepositoryPolicyCommand,
  PutAccountSettingCommand,
  PutImageCommand,
  PutRegistryPolicyCommand,
  SetRepositoryPolicyCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { GetUserPolicyCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { pushBlob, sha256 } from './helpers/registry-http.js';

const run = promisify(execFile);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TOKEN = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };

/** Documents with one thing Berth cannot evaluate, and the name the refusal must carry. */
const deny = (extra: object) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:*', Resource: '*', ...extra }] });
const UNEVALUABLE: Array<[string, object, string]> = [
  ['a misspelt operator', deny({ Condition: { StringEqualz: { 'aws:PrincipalArn': 'x' } } }), 'StringEqualz'],
  ['an unknown operator', deny({ Condition: { Frobnicate: { 'aws:SourceIp': '10.0.0.0/8' } } }), 'Frobnicate'],
  ['an unknown statement element', deny({ Condtion: { StringEquals: { 'aws:PrincipalArn': 'x' } } }), 'Condtion'],
  ['an unknown top-level element', { ...deny({}), Statment: [] }, 'Statment'],
  ['an unknown version', { ...deny({}), Version: '2024-01-01' }, 'Version'],
  ['a non-numeric Numeric value', deny({ Condition: { NumericLessThan: { 'aws:EpochTime': 'soon' } } }), 'soon'],
  ['a bad date', deny({ Condition: { DateGreaterThan: { 'aws:CurrentTime': 'tomorrow' } } }), 'tomorrow'],
  ['a bad CIDR', deny({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/40' } } }), '10.0.0.0/40'],
  ['a Bool that is not true/false', deny({ Condition: { Bool: { 'aws:SecureTransport': 'maybe' } } }), 'maybe'],
  ['a Null that is not true/false', deny({ Condition: { Null: { 'aws:ResourceTag/team': 'sometimes' } } }), 'sometimes'],
];
/** The same things in a resource policy, and a principal type IAM does not have. */
const asResource = (doc: object) => {
  const d = doc as { Statement: Array<Record<string, unknown>> };
  return { ...d, Statement: d.Statement.map(({ Resource: _, ...s }) => ({ ...s, Principal: '*' })) };
};

describe('authorization: policies are refused when Berth cannot evaluate them', () => {
  let berth: BerthProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let manifest: string;
  const aws = async (...args: string[]) =>
    JSON.parse((await run('aws', [...args, '--output', 'json'], { env: awsCliEnv(berth) })).stdout || '{}') as Record<string, unknown>;
  const awsFails = async (...args: string[]): Promise<string> => {
    try {
      await run('aws', args, { env: awsCliEnv(berth) });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ${args.join(' ')} succeeded`);
  };

  before(async () => {
    berth = await startBerth();
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth) });
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'pol/app', tags: [{ Key: 'team', Value: 'blue' }] }));
    const config = Buffer.from('{"policies":1}');
    await pushBlob(berth.url, 'pol/app', config);
    manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
    });
    await admin.send(new PutImageCommand({ repositoryName: 'pol/app', imageManifest: manifest, imageTag: 'v1' }));
  });
  after(async () => berth?.cleanup());

  it('IAM PutUserPolicy answers MalformedPolicyDocument naming the offending thing, and stores nothing', async () => {
    await createUser(berth, iam, 'target', []);
    for (const [what, doc, name] of UNEVALUABLE) {
      await assert.rejects(
        iam.send(new PutUserPolicyCommand({ UserName: 'target', PolicyName: 'bad', PolicyDocument: JSON.stringify(doc) })),
        (e: Error) => e.name === 'MalformedPolicyDocumentException' && e.message.includes(name),
        what,
      );
    }
    await assert.rejects(iam.send(new GetUserPolicyCommand({ UserName: 'target', PolicyName: 'bad' })), { name: 'NoSuchEntityException' });
    const stderr = await awsFails(
      'iam',
      'put-user-policy',
      '--user-name',
      'target',
      '--policy-name',
      'cli',
      '--policy-document',
      JSON.stringify(UNEVALUABLE[0]![1]),
    );
    assert.match(stderr, /MalformedPolicyDocument.*StringEqualz/);
  });

  it('ECR SetRepositoryPolicy and PutRegistryPolicy answer InvalidParameterException naming it', async () => {
    const principals: Array<[object, string]> = [
      [{ Account: '000000000000' }, 'Account'],
      [{ AWS: 'alice' }, 'alice'],
    ];
    const docs: Array<[string, object, string]> = [
      ...UNEVALUABLE.map(([what, doc, name]): [string, object, string] => [what, asResource(doc), name]),
      ...principals.map(([p, name]): [string, object, string] => [
        `principal ${name}`,
        { Statement: [{ Effect: 'Allow', Principal: p, Action: 'ecr:BatchGetImage' }] },
        name,
      ]),
    ];
    for (const [what, doc, name] of docs) {
      const text = JSON.stringify(doc);
      await assert.rejects(
        admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'pol/app', policyText: text })),
        (e: Error) => {
          return e.name === 'InvalidParameterException' && e.message.includes('Invalid repository policy provided') && e.message.includes(name);
        },
        what,
      );
      await assert.rejects(
        admin.send(new PutRegistryPolicyCommand({ policyText: text })),
        (e: Error) => {
          return e.name === 'InvalidParameterException' && e.message.includes('Invalid registry policy provided') && e.message.includes(name);
        },
        what,
      );
    }
    await assert.rejects(admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'pol/app' })), { name: 'RepositoryPolicyNotFoundException' });
    const stderr = await awsFails(
      'ecr',
      'set-repository-policy',
      '--repository-name',
      'pol/app',
      '--policy-text',
      JSON.stringify(asResource(UNEVALUABLE[0]![1])),
    );
    assert.match(stderr, /InvalidParameterException.*StringEqualz/);
  });

  it('a Deny on the operators Berth did not evaluate before now bites', async () => {
    const allowPull = { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: '*' };
    const cases: Array<[string, object]> = [
      ['Date', { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } }],
      ['Numeric', { NumericGreaterThan: { 'aws:EpochTime': '946684800' } }],
      ['Null', { Null: { 'aws:ResourceTag/absent': 'true' } }],
      ['ForAnyValue/IfExists', { 'ForAnyValue:DateGreaterThanIfExists': { 'aws:CurrentTime': '2000-01-01' } }],
      // Keys Berth did not put in the context before, so Denies on them never matched.
      ['SecureTransport', { Bool: { 'aws:SecureTransport': 'false' } }],
      ['ecr ResourceTag', { StringEquals: { 'ecr:ResourceTag/team': 'blue' } }],
      ['RequestedRegion', { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } }],
      ['username', { StringLike: { 'aws:username': 'deny-*' }, StringEquals: { 'aws:PrincipalType': 'User' } }],
    ];
    for (const [name, condition] of cases) {
      const policy = {
        Version: '2012-10-17',
        Statement: [TOKEN, allowPull, { Effect: 'Deny', Action: 'ecr:BatchGetImage', Resource: '*', Condition: condition }],
      };
      const u = await createUser(berth, iam, `deny-${name.toLowerCase().replace(/\W/g, '-')}`, [], [policy]);
      await assert.rejects(
        u.ecr.send(new BatchGetImageCommand({ repositoryName: 'pol/app', imageIds: [{ imageTag: 'v1' }] })),
        { name: 'AccessDeniedException' },
        name,
      );
      assert.equal((await u.v2('/v2/pol/app/manifests/v1')).status, 403, name);
    }
    // The same statements whose conditions do not match leave the Allow alone.
    const future = {
      Version: '2012-10-17',
      Statement: [
        TOKEN,
        allowPull,
        { Effect: 'Deny', Action: 'ecr:BatchGetImage', Resource: '*', Condition: { DateLessThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } } },
      ],
    };
    const u = await createUser(berth, iam, 'deny-never', [], [future]);
    assert.equal((await u.v2('/v2/pol/app/manifests/v1')).status, 200);
  });

  it('registry policies take ECR actions only, and REGISTRY_POLICY_SCOPE says which and what they govern', async () => {
    const registryPolicy = (principal: unknown, actions: string[]) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: 'r', Effect: 'Allow', Principal: principal, Action: actions, Resource: 'arn:aws:ecr:us-east-1:000000000000:repository/*' }],
      });
    await assert.rejects(
      admin.send(new PutRegistryPolicyCommand({ policyText: registryPolicy({ AWS: 'arn:aws:iam::000000000000:root' }, ['s3:GetObject']) })),
      (e: Error) => e.name === 'InvalidParameterException' && e.message.includes('Invalid registry policy provided') && e.message.includes('s3:GetObject'),
    );
    assert.deepEqual(
      await aws('ecr', 'get-account-setting', '--name', 'REGISTRY_POLICY_SCOPE'),
      { name: 'REGISTRY_POLICY_SCOPE', value: 'V2' },
      "V2 is ECR's default",
    );

    // V2: any ECR action, enforced on every request.
    const tokenOnly = await createUser(berth, iam, 'registry-reader', [], [{ Version: '2012-10-17', Statement: [TOKEN] }]);
    const pull = () => tokenOnly.ecr.send(new BatchGetImageCommand({ repositoryName: 'pol/app', imageIds: [{ imageTag: 'v1' }] }));
    await assert.rejects(pull(), { name: 'AccessDeniedException' });
    await admin.send(
      new PutRegistryPolicyCommand({ policyText: registryPolicy({ AWS: 'arn:aws:iam::000000000000:user/registry-reader' }, ['ecr:BatchGetImage']) }),
    );
    assert.equal((await pull()).images?.length, 1);

    // V1: the registry policy governs only replication, import and creation; others are refused at put time.
    assert.deepEqual(await aws('ecr', 'put-account-setting', '--name', 'REGISTRY_POLICY_SCOPE', '--value', 'V1'), {
      name: 'REGISTRY_POLICY_SCOPE',
      value: 'V1',
    });
    await assert.rejects(pull(), { name: 'AccessDeniedException' }, 'under V1 the stored BatchGetImage grant no longer governs');
    await assert.rejects(
      admin.send(new PutRegistryPolicyCommand({ policyText: registryPolicy('*', ['ecr:BatchGetImage']) })),
      (e: Error) => e.name === 'InvalidParameterException' && e.message.includes('Invalid registry policy provided') && e.message.includes('ecr:BatchGetImage'),
    );
    await admin.send(
      new PutRegistryPolicyCommand({
        policyText: registryPolicy({ AWS: 'arn:aws:iam::000000000000:user/registry-reader' }, [
          'ecr:CreateRepository',
          'ecr:ReplicateImage',
          'ecr:BatchImportUpstreamImage',
        ]),
      }),
    );
    await tokenOnly.ecr.send(new CreateRepositoryCommand({ repositoryName: 'made/by-registry-policy' }));

    // Refusals, and authorization as ecr:Put/GetAccountSetting.
    assert.match(await awsFails('ecr', 'put-account-setting', '--name', 'REGISTRY_POLICY_SCOPE', '--value', 'V3'), /InvalidParameterException.*V1, V2/);
    assert.match(await awsFails('ecr', 'get-account-setting', '--name', 'NO_SUCH_SETTING'), /InvalidParameterException.*NO_SUCH_SETTING/);
    await assert.rejects(
      tokenOnly.ecr.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' })),
      (e: Error) => e.name === 'AccessDeniedException' && e.message.includes('ecr:GetAccountSetting'),
    );
    await assert.rejects(
      tokenOnly.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V2' })),
      (e: Error) => e.name === 'AccessDeniedException' && e.message.includes('ecr:PutAccountSetting'),
    );

    // Stored durably: a restart keeps V1.
    await berth.stop();
    berth = await startBerth({ dataDir: berth.dataDir });
    admin = ecrClient(berth);
    assert.equal((await admin.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' }))).value, 'V1');
    await admin.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V2' }));
    assert.equal((await admin.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' }))).value, 'V2');
  });
});
