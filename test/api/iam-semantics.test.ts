// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside plain strings
/**
 * IAM's documented rules that Berth once got wrong, each as the request AWS refuses, sent over
 * real HTTP with real clients (the ECR and STS SDKs, /v2 with a login token): a session policy
 * bounds what a resource policy grants the role (not the session), a session policy's Deny on a
 * repository's tags, NotPrincipal with Allow, what a Deny's NotPrincipal excepts,
 * DescribeRepositories by name, policy variables.
 * Sources: notes/2026-12-06-s28-iam.md (the fact table).
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageCommand,
  SetRepositoryPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-ecr';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, pushBlob, request, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCOUNT = '000000000000';
const repoArn = (name: string) => `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/${name}`;
const denied = (e: Error) => e.name === 'AccessDeniedException';

describe('IAM semantics as AWS documents them', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let manifest: string;

  /** A repository holding one image tagged v1, with the given tags. */
  const repository = async (name: string, tags: Array<{ Key: string; Value: string }> = []) => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: name, ...(tags.length > 0 && { tags }) }));
    await pushBlob(berth.url, name, Buffer.from('{"iam":1}'));
    await admin.send(new PutImageCommand({ repositoryName: name, imageManifest: manifest, imageTag: 'v1' }));
  };
  const pull = (ecr: ECRClient, name: string) => ecr.send(new BatchGetImageCommand({ repositoryName: name, imageIds: [{ imageTag: 'v1' }] }));
  /** A /v2 manifest GET with a login token minted by `ecr`'s credentials. */
  const v2Pull = async (ecr: ECRClient, name: string) => {
    const login = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
    return request(`${berth.url}/v2/${name}/manifests/v1`, { headers: { authorization: `Basic ${login.authorizationToken}`, accept: OCI_MANIFEST } });
  };

  /** A session of role `name` (created with `rolePolicy` and `roleTags`), assumed by a user of the account, with an optional session policy. */
  const session = async (name: string, rolePolicy: object, sessionPolicy?: object, roleTags?: Array<{ Key: string; Value: string }>): Promise<ECRClient> => {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust), ...(roleTags && { Tags: roleTags }) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'p', PolicyDocument: JSON.stringify(rolePolicy) }));
    const assumer = await createUser(
      berth,
      iam,
      `${name}-assumer`,
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }],
    );
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: assumer.keys, maxAttempts: 1 });
    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/${name}`,
        RoleSessionName: 's1',
        ...(sessionPolicy && { Policy: JSON.stringify(sessionPolicy) }),
      }),
    );
    const c = assumed.Credentials!;
    return new ECRClient({
      endpoint: berth.url,
      region: berth.region,
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
      maxAttempts: 1,
    });
  };

  before(async () => {
    berth = await startInProcess();
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    manifest = configOnlyManifest(Buffer.from('{"iam":1}'));
  });
  after(async () => berth?.cleanup());

  it("a session policy bounds what a repository policy grants the role's ARN, not what it grants the session's", async () => {
    await repository('sess/role');
    await repository('sess/session');
    const login = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] };
    const ecr = await session('bounded', login, login);
    const grant = (principal: string) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'ecr:BatchGetImage' }] });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'sess/role', policyText: grant(`arn:aws:iam::${ACCOUNT}:role/bounded`) }));
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'sess/session', policyText: grant(`arn:aws:sts::${ACCOUNT}:assumed-role/bounded/s1`) }));
    await assert.rejects(pull(ecr, 'sess/role'), denied, 'the session policy does not allow ecr:BatchGetImage');
    assert.equal((await v2Pull(ecr, 'sess/role')).status, 403);
    assert.equal((await pull(ecr, 'sess/session')).images?.length, 1, 'a grant to the session ARN is not bounded by the session policy');
    assert.equal((await v2Pull(ecr, 'sess/session')).status, 200);
  });

  it("a session policy's Deny on the repository's tags bites", async () => {
    await repository('tags/secret', [{ Key: 'secret', Value: 'yes' }]);
    await repository('tags/open');
    const all = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] };
    const sessionPolicy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:*', Resource: '*' },
        { Effect: 'Deny', Action: 'ecr:BatchGetImage', Resource: '*', Condition: { StringEquals: { 'ecr:ResourceTag/secret': 'yes' } } },
      ],
    };
    const ecr = await session('tag-bounded', all, sessionPolicy);
    await assert.rejects(pull(ecr, 'tags/secret'), denied);
    assert.equal((await v2Pull(ecr, 'tags/secret')).status, 403);
    assert.equal((await pull(ecr, 'tags/open')).images?.length, 1);
  });

  it("a role's own tags are its sessions' aws:PrincipalTag", async () => {
    await repository('ptag/app');
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:*', Resource: '*' },
        { Effect: 'Deny', Action: 'ecr:BatchGetImage', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'contractors' } } },
      ],
    };
    const ecr = await session('contractor', policy, undefined, [{ Key: 'team', Value: 'contractors' }]);
    await assert.rejects(pull(ecr, 'ptag/app'), denied);
    assert.equal((await v2Pull(ecr, 'ptag/app')).status, 403);
    const staff = await session('staff', policy, undefined, [{ Key: 'team', Value: 'staff' }]);
    assert.equal((await pull(staff, 'ptag/app')).images?.length, 1);
  });

  it('NotPrincipal with Allow is refused in repository and trust policies (AWS does not support it)', async () => {
    await repository('notp/app');
    const everyoneBut = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:user/mallory` }, Action: 'ecr:BatchGetImage' }],
    };
    await assert.rejects(admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'notp/app', policyText: JSON.stringify(everyoneBut) })), {
      name: 'InvalidParameterException',
    });
    const nobody = await createUser(
      berth,
      iam,
      'notp-nobody',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] }],
    );
    await assert.rejects(pull(nobody.ecr, 'notp/app'), denied, 'nothing was stored that grants');
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    await assert.rejects(iam.send(new CreateRoleCommand({ RoleName: 'notp', AssumeRolePolicyDocument: JSON.stringify(trust) })), {
      name: 'MalformedPolicyDocumentException',
    });
  });

  it("a Deny with NotPrincipal naming a user and its account excepts that user, not the account's other users", async () => {
    // IAM's NotPrincipal page: this pair denies "all principals except the user named Bob".
    await repository('notp-acct/app');
    const allEcr = [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] }];
    const keeper = await createUser(berth, iam, 'np-keeper', [], allEcr);
    const other = await createUser(berth, iam, 'np-other', [], allEcr);
    const allBut = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', NotPrincipal: { AWS: [`arn:aws:iam::${ACCOUNT}:user/np-keeper`, `arn:aws:iam::${ACCOUNT}:root`] }, Action: 'ecr:BatchGetImage' },
      ],
    };
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'notp-acct/app', policyText: JSON.stringify(allBut) }));
    assert.equal((await pull(keeper.ecr, 'notp-acct/app')).images?.length, 1);
    assert.equal((await pull(admin, 'notp-acct/app')).images?.length, 1, 'the root, named as the account');
    await assert.rejects(pull(other.ecr, 'notp-acct/app'), denied);
    assert.equal((await v2Pull(other.ecr, 'notp-acct/app')).status, 403);
  });

  it('a policy repeating a key in one object is refused (JSON.parse would keep the last and drop a condition)', async () => {
    await repository('dup/app');
    const u = await createUser(berth, iam, 'dup-user', [], []);
    const document = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*",
      "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`;
    await assert.rejects(iam.send(new PutUserPolicyCommand({ UserName: 'dup-user', PolicyName: 'dup', PolicyDocument: document })), {
      name: 'MalformedPolicyDocumentException',
    });
    await assert.rejects(pull(u.ecr, 'dup/app'), denied, 'nothing was stored');
    const repositoryPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`;
    await assert.rejects(admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'dup/app', policyText: repositoryPolicy })), {
      name: 'InvalidParameterException',
    });
  });

  it("UntagResource's aws:TagKeys are the keys it removes", async () => {
    await admin.send(
      new CreateRepositoryCommand({
        repositoryName: 'untag/app',
        tags: [
          { Key: 'owner', Value: 'ops' },
          { Key: 'note', Value: 'x' },
        ],
      }),
    );
    const u = await createUser(
      berth,
      iam,
      'untagger',
      ['FullAccess'],
      [
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: 'ecr:UntagResource', Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'owner' } } }],
        },
      ],
    );
    const resourceArn = repoArn('untag/app');
    await assert.rejects(u.ecr.send(new UntagResourceCommand({ resourceArn, tagKeys: ['owner'] })), denied);
    await u.ecr.send(new UntagResourceCommand({ resourceArn, tagKeys: ['note'] }));
    const tags = (await admin.send(new ListTagsForResourceCommand({ resourceArn }))).tags?.map((t) => t.Key);
    assert.deepEqual(tags, ['owner']);
  });

  it('a multivalued key under an operator without ForAllValues/ForAnyValue: every value must satisfy an Allow, any value a Deny', async () => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'multi/app' }));
    const resourceArn = repoArn('multi/app');
    const tagging = (condition: object, deny?: object) => ({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecr:TagResource'], Resource: '*', Condition: condition },
        ...(deny ? [{ Effect: 'Deny', Action: 'ecr:TagResource', Resource: '*', Condition: deny }] : []),
      ],
    });
    const tag = (u: { ecr: ECRClient }, keys: string[]) => u.ecr.send(new TagResourceCommand({ resourceArn, tags: keys.map((Key) => ({ Key, Value: 'v' })) }));
    // AWS says multivalued keys "require" a set operator and documents no result without one: an
    // Allow reads as ForAllValues (fails closed), a Deny as ForAnyValue (fails closed).
    const listed = await createUser(berth, iam, 'multi-a', [], [tagging({ StringEquals: { 'aws:TagKeys': ['team', 'env'] } })]);
    await tag(listed, ['team', 'env']);
    await assert.rejects(tag(listed, ['team', 'secret']), denied, 'one key outside the Allow');
    const notSecret = await createUser(berth, iam, 'multi-b', [], [tagging({ StringNotEquals: { 'aws:TagKeys': 'secret' } })]);
    await tag(notSecret, ['team']);
    await assert.rejects(tag(notSecret, ['team', 'secret']), denied, "a negated Allow: 'team' is not 'secret', 'secret' is");
    const denyOutside = await createUser(berth, iam, 'multi-c', [], [tagging({}, { StringNotEquals: { 'aws:TagKeys': ['team', 'env'] } })]);
    await tag(denyOutside, ['team', 'env']);
    await assert.rejects(tag(denyOutside, ['team', 'other']), denied, 'a Deny: any key outside the list');
    const denyOne = await createUser(berth, iam, 'multi-d', [], [tagging({}, { StringEquals: { 'aws:TagKeys': 'secret' } })]);
    await assert.rejects(tag(denyOne, ['team', 'secret']), denied, 'a Deny: any key in the list');
    const tags = (await admin.send(new ListTagsForResourceCommand({ resourceArn }))).tags?.map((t) => t.Key);
    assert.deepEqual(tags?.sort(), ['env', 'team'], 'no refused request tagged');
  });

  it('a Principal with a wildcard in its ARN is refused (IAM matches principals exactly)', async () => {
    await repository('pwild/app');
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/*` }, Action: 'ecr:*' }] };
    await assert.rejects(admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'pwild/app', policyText: JSON.stringify(policy) })), {
      name: 'InvalidParameterException',
    });
  });

  it('DescribeRepositories naming a repository is authorized on that repository', async () => {
    await repository('desc/secret');
    await repository('desc/open');
    const u = await createUser(
      berth,
      iam,
      'describer',
      ['FullAccess'],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:DescribeRepositories', Resource: repoArn('desc/secret') }] }],
    );
    await assert.rejects(u.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['desc/secret'] })), denied);
    const open = await u.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['desc/open'] }));
    assert.equal(open.repositories?.[0]?.repositoryName, 'desc/open');
    const scoped = await createUser(
      berth,
      iam,
      'describer2',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: repoArn('desc/open') }] }],
    );
    const named = await scoped.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['desc/open'] }));
    assert.equal(named.repositories?.length, 1, 'an Allow on the repository suffices to describe it by name');
    await assert.rejects(scoped.ecr.send(new DescribeRepositoriesCommand({})), denied, 'listing them all is repository/*');
  });

  it('a /v2 upload that carries bytes is UploadLayerPart, and one that completes in the same request CompleteLayerUpload', async () => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'mono/app' }));
    const allow = (actions: string[]) => ({ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', ...actions], Resource: '*' });
    const noComplete = await createUser(
      berth,
      iam,
      'mono-a',
      [],
      [{ Version: '2012-10-17', Statement: [allow(['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart'])] }],
    );
    const data = Buffer.from('a monolithic layer');
    const monolithic = (u: typeof noComplete) => u.v2(`/v2/mono/app/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: new Uint8Array(data) });
    assert.equal((await monolithic(noComplete)).status, 403, 'POST ?digest= completes the upload');
    const noPart = await createUser(
      berth,
      iam,
      'mono-b',
      [],
      [{ Version: '2012-10-17', Statement: [allow(['ecr:InitiateLayerUpload', 'ecr:CompleteLayerUpload'])] }],
    );
    assert.equal((await monolithic(noPart)).status, 403, 'POST ?digest= uploads the bytes');
    const started = await noPart.v2('/v2/mono/app/blobs/uploads/', { method: 'POST' });
    assert.equal(started.status, 202);
    const location = new URL(started.headers.get('location')!, berth.url);
    location.searchParams.set('digest', sha256(data));
    const put = await noPart.v2(location.pathname + location.search, { method: 'PUT', body: new Uint8Array(data) });
    assert.equal(put.status, 403, 'a PUT with the bytes uploads them');
    const all = await createUser(
      berth,
      iam,
      'mono-c',
      [],
      [{ Version: '2012-10-17', Statement: [allow(['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload'])] }],
    );
    assert.equal((await monolithic(all)).status, 201);
  });

  it('policy variables are resolved in Resource and in condition values', async () => {
    await repository('vars/carol', [{ Key: 'blocked', Value: 'dave' }]);
    await repository('vars/dave');
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: 'ecr:BatchGetImage', Resource: 'arn:aws:ecr:*:*:repository/vars/${aws:username}' },
        { Effect: 'Allow', Action: 'ecr:BatchGetImage', Resource: 'arn:aws:ecr:*:*:repository/vars/carol' },
        { Effect: 'Deny', Action: 'ecr:*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/blocked': '${aws:username}' } } },
      ],
    };
    const dave = await createUser(berth, iam, 'dave', [], [policy]);
    assert.equal((await pull(dave.ecr, 'vars/dave')).images?.length, 1, '${aws:username} is dave');
    await assert.rejects(pull(dave.ecr, 'vars/carol'), denied, 'the Deny names dave through the variable');
    assert.equal((await v2Pull(dave.ecr, 'vars/carol')).status, 403);
    const erin = await createUser(berth, iam, 'erin', [], [policy]);
    assert.equal((await pull(erin.ecr, 'vars/carol')).images?.length, 1);
    await assert.rejects(pull(erin.ecr, 'vars/dave'), denied, 'vars/${aws:username} is vars/erin for erin');
  });
});

describe('aws:SourceIp on a dual-stack listener', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ host: '::' });
  });
  after(async () => berth?.cleanup());

  it('an IPv4 client (::ffff:127.0.0.1 to the socket) is matched by an IPv4 CIDR', async () => {
    const admin = ecrClient(berth);
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'ip/app' }));
    const u = await createUser(
      berth,
      iam,
      'from-loopback',
      ['FullAccess'],
      [
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: 'ecr:ListImages', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }],
        },
      ],
    );
    await assert.rejects(u.ecr.send(new ListImagesCommand({ repositoryName: 'ip/app' })), denied);
    assert.equal((await u.v2('/v2/ip/app/tags/list')).status, 403);
    await u.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['ip/app'] }));
  });
});
