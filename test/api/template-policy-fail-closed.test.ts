/**
 * A creation template's policy fails closed for a user or role that does not exist yet when a
 * repository is born from it (iam/principal-bindings.ts boundMayName): the ARN is bound to
 * nobody, so it grants nobody (an Allow's Principal, the exception of a Deny's NotPrincipal), but
 * a Deny naming it still refuses whoever is made under it later. A user that existed at the birth
 * keeps IAM's rule: made again, it is another principal, in every statement. The same holds for a
 * repository born by push, by pull-through and by replication, the three ways a template applies.
 * Real SDK clients and /v2; the push case on SQLite and PostgreSQL.
 */
import {
  CreatePullThroughCacheRuleCommand,
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  DescribeImagesCommand,
  type ECRClient,
  GetRepositoryPolicyCommand,
  PutImageCommand,
  PutReplicationConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand as CreatePublicRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { makeImage, pushImage } from '../e2e/helpers/gc.js';
import { createUser, deleteUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, manifestAccept, pushBlob, request } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { onEachStore } from './helpers/each-store.js';
import { access, allowing, LOGIN_ONLY, named, pushCreating, roleSession } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
/** An identity policy allowing every ECR action: only a repository policy's Deny stops it. */
const ALL_ECR = [JSON.parse(allowing(['ecr:*'])) as object];
const userArn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const denying = (...users: string[]) => ({ Sid: 'deny', Effect: 'Deny', Principal: { AWS: users.map(userArn) }, Action: 'ecr:*' });
const refused = { pull: false, v2pull: 403, push: false, v2push: 403 };
const allowed = { pull: true, v2pull: 200, push: true, v2push: 202 };

const iamOf = (berth: BerthInProcess) => new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
const pulls = async (u: TestIdentity, repo: string) => {
  const { pull, v2pull } = await access(u, repo);
  return { pull, v2pull };
};

await onEachStore(pushSuite);

function pushSuite(name: string, store: () => Promise<Record<string, string>>, skip: string | false): void {
  describe(`a template policy's principals that do not exist yet fail closed (${name})`, { skip }, () => {
    let berth: BerthInProcess;
    let iam: IAMClient;
    let admin: ECRClient;

    before(async () => {
      const env = await store();
      berth = await startInProcess({ onDisk: Object.keys(env).length > 0, env });
      iam = iamOf(berth);
      admin = ecrClient(berth);
    });
    after(async () => {
      await berth?.cleanup();
    });

    it('a Deny naming a user made after the repository refuses it; an Allow naming one does not grant it', async () => {
      const text = policy(denying('contractor', 'c0'), { Sid: 'pull', Effect: 'Allow', Principal: { AWS: userArn('newcomer') }, Action: PULL });
      await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'guard', appliedFor: ['CREATE_ON_PUSH'], repositoryPolicy: text }));
      const c0 = await createUser(berth, iam, 'c0', [], ALL_ECR);
      await pushCreating(berth.url, 'guard/app');
      assert.equal((await admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'guard/app' }))).policyText, text, 'the template policy, as given');

      const contractor = await createUser(berth, iam, 'contractor', [], ALL_ECR);
      assert.deepEqual(await access(contractor, 'guard/app'), refused, 'made after the repository, under the denied ARN');
      const other = await createUser(berth, iam, 'other', [], ALL_ECR);
      assert.deepEqual(await access(other, 'guard/app'), allowed, 'the Deny names no one else');
      const newcomer = await createUser(berth, iam, 'newcomer', [], LOGIN_ONLY);
      assert.deepEqual(await pulls(newcomer, 'guard/app'), { pull: false, v2pull: 403 }, 'the Allow grants nobody made later');

      // c0 existed at the birth: the Deny names that user, and not another made under the name (IAM's rule).
      assert.deepEqual(await access(c0, 'guard/app'), refused);
      await deleteUser(iam, 'c0', c0);
      assert.deepEqual(await access(await createUser(berth, iam, 'c0', [], ALL_ECR), 'guard/app'), allowed, 'made again: another principal');
    });

    it("a Deny's NotPrincipal excepts no user made after the repository, and a user made again is no longer excepted", async () => {
      const text = policy({ Sid: 'only', Effect: 'Deny', NotPrincipal: { AWS: [userArn('keeper'), userArn('k0')] }, Action: 'ecr:BatchGetImage' });
      await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'except', appliedFor: ['CREATE_ON_PUSH'], repositoryPolicy: text }));
      const k0 = await createUser(berth, iam, 'k0', [], ALL_ECR);
      await pushCreating(berth.url, 'except/app');
      assert.deepEqual(await pulls(k0, 'except/app'), { pull: true, v2pull: 200 }, 'excepted: existed at the birth');
      const keeper = await createUser(berth, iam, 'keeper', [], ALL_ECR);
      assert.deepEqual(await pulls(keeper, 'except/app'), { pull: false, v2pull: 403 }, 'made after the repository: not excepted');
      await deleteUser(iam, 'k0', k0);
      assert.deepEqual(await pulls(await createUser(berth, iam, 'k0', [], ALL_ECR), 'except/app'), { pull: false, v2pull: 403 }, 'made again');
    });

    it("a Deny naming a role made after the repository refuses the role's sessions", async () => {
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/ops`;
      const text = policy({ Sid: 'deny', Effect: 'Deny', Principal: { AWS: roleArn }, Action: 'ecr:*' });
      await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'roles', appliedFor: ['CREATE_ON_PUSH'], repositoryPolicy: text }));
      await pushCreating(berth.url, 'roles/app');
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
      await iam.send(new CreateRoleCommand({ RoleName: 'ops', AssumeRolePolicyDocument: JSON.stringify(trust) }));
      await iam.send(new PutRolePolicyCommand({ RoleName: 'ops', PolicyName: 'ecr', PolicyDocument: JSON.stringify(ALL_ECR[0]) }));
      const runner = await createUser(berth, iam, 'runner', [], [JSON.parse(allowing(['sts:AssumeRole'])) as object]);
      assert.deepEqual(await access(await roleSession(berth, runner.keys, roleArn), 'roles/app'), refused);
    });

    it('a template whose Allow has a NotPrincipal is refused, and applies to nothing', async () => {
      const text = policy({ Effect: 'Allow', NotPrincipal: { AWS: userArn('nobody-yet') }, Action: PULL });
      await assert.rejects(
        admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'open', appliedFor: ['CREATE_ON_PUSH'], repositoryPolicy: text })),
        (e: Error) => e.name === 'InvalidParameterException' && /NotPrincipal is supported only with "Effect": "Deny"/.test(e.message),
      );
      await pushCreating(berth.url, 'open/app');
      await assert.rejects(admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'open/app' })), named('RepositoryPolicyNotFoundException'));
    });
  });
}

describe('a Deny naming a user made later, in a repository born by pull-through', () => {
  let upstream: BerthInProcess;
  let cache: BerthInProcess;

  before(async () => {
    [upstream, cache] = await Promise.all([startInProcess(), startInProcess()]);
    const pub = new ECRPUBLICClient({ endpoint: upstream.url, region: 'us-east-1', credentials: adminCredentials(upstream), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    await pushImage(upstream.url, makeImage(`${ACCOUNT}/tools/hello`, 'v1', [Buffer.from('a layer\n')]));
    const ecr = ecrClient(cache);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'pub', upstreamRegistryUrl: upstream.url }));
    await ecr.send(
      new CreateRepositoryCreationTemplateCommand({ prefix: 'pub', appliedFor: ['PULL_THROUGH_CACHE'], repositoryPolicy: policy(denying('contractor')) }),
    );
  });
  after(async () => {
    await cache?.cleanup();
    await upstream?.cleanup();
  });

  it('refuses it', async () => {
    const repo = `pub/${ACCOUNT}/tools/hello`;
    const first = await request(`${cache.url}/v2/${repo}/manifests/v1`, { headers: { Authorization: cache.authorization, Accept: manifestAccept } });
    assert.equal(first.status, 200, 'the admin pull creates the repository from the template');
    const contractor = await createUser(cache, iamOf(cache), 'contractor', [], ALL_ECR);
    assert.deepEqual(await pulls(contractor, repo), { pull: false, v2pull: 403 });
  });
});

describe('a Deny naming a user made later, in a repository born by replication', () => {
  let us: BerthInProcess;
  let eu: BerthInProcess;

  before(async () => {
    const serverKey = randomBytes(32).toString('base64');
    eu = await startInProcess({ env: { BERTH_REGION: 'eu-west-1', BERTH_SERVER_KEY: serverKey } });
    us = await startInProcess({
      env: { BERTH_REGION: 'us-east-1', BERTH_SERVER_KEY: serverKey, BERTH_REGIONS: JSON.stringify({ 'eu-west-1': { endpoint: eu.url } }) },
    });
    await ecrClient(eu).send(
      new CreateRepositoryCreationTemplateCommand({ prefix: 'prod', appliedFor: ['REPLICATION'], repositoryPolicy: policy(denying('contractor')) }),
    );
    await ecrClient(us).send(
      new PutReplicationConfigurationCommand({
        replicationConfiguration: {
          rules: [{ destinations: [{ region: 'eu-west-1', registryId: ACCOUNT }], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] }],
        },
      }),
    );
  });
  after(async () => {
    await us?.cleanup();
    await eu?.cleanup();
  });

  it('refuses it', async () => {
    const usEcr = ecrClient(us);
    await usEcr.send(new CreateRepositoryCommand({ repositoryName: 'prod/app' }));
    const config = Buffer.from('{"repo":"prod/app"}');
    await pushBlob(us.url, 'prod/app', config);
    await usEcr.send(new PutImageCommand({ repositoryName: 'prod/app', imageManifest: configOnlyManifest(config), imageTag: 'v1' }));
    const euEcr = ecrClient(eu);
    await waitFor('prod/app:v1 replicated to eu-west-1', () =>
      euEcr.send(new DescribeImagesCommand({ repositoryName: 'prod/app' })).then(
        (r) => r.imageDetails?.some((d) => d.imageTags?.includes('v1')),
        () => false,
      ),
    );
    const contractor = await createUser(eu, iamOf(eu), 'contractor', [], ALL_ECR);
    assert.deepEqual(await pulls(contractor, 'prod/app'), { pull: false, v2pull: 403 });
  });
});
