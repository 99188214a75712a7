/**
 * Pull-time update exclusions (ECR's Register/Deregister/ListPullTimeUpdateExclusions) through
 * the SDK, and what they are for: a pull by an excluded IAM user (skopeo, and BatchGetImage) or
 * by a session of an excluded role (its /v2 login, and BatchGetImage) leaves the image's
 * lastRecordedPullTime as it was, while another principal's pull moves it. Pull times are
 * written in batches, so the test waits for the non-excluded pull, made after the excluded ones,
 * to show: by then every earlier pull was written or dropped.
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeregisterPullTimeUpdateExclusionCommand,
  DescribeImagesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ListPullTimeUpdateExclusionsCommand,
  PutImageCommand,
  RegisterPullTimeUpdateExclusionCommand,
} from '@aws-sdk/client-ecr';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, pushBlob, request } from '../e2e/helpers/registry-http.js';
import { createSkopeo, type Skopeo } from '../e2e/helpers/skopeo.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { allowing, named } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const REPO = 'pulls/app';
const PULLER = ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('pull-time update exclusions', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let skopeo: Skopeo;

  before(async () => {
    berth = await startInProcess();
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    skopeo = await createSkopeo();
  });
  after(async () => {
    await skopeo?.cleanup();
    await berth?.cleanup();
  });

  it('registers, lists in pages and deregisters; refuses duplicates, unknown ones, bad ARNs and the 101st', async () => {
    const arn = `arn:aws:iam::${ACCOUNT}:role/ci/scanner`;
    const added = await admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: arn }));
    assert.equal(added.principalArn, arn);
    assert.ok(added.createdAt instanceof Date && Math.abs(added.createdAt.getTime() - Date.now()) < 60_000);
    await assert.rejects(admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: arn })), named('ExclusionAlreadyExistsException'));
    await assert.rejects(
      admin.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${ACCOUNT}:user/nobody` })),
      named('ExclusionNotFoundException'),
    );
    for (const bad of [`arn:aws:sts::${ACCOUNT}:assumed-role/scanner/s1`, `arn:aws:iam::${ACCOUNT}:root`, `arn:aws:iam::${ACCOUNT}:group/g`, 'scanner']) {
      await assert.rejects(admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: bad })), named('ValidationException'), bad);
    }
    for (let i = 1; i < 100; i++)
      await admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${ACCOUNT}:user/u${String(i).padStart(3, '0')}` }));
    await assert.rejects(
      admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${ACCOUNT}:user/one-too-many` })),
      named('LimitExceededException'),
    );
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await admin.send(new ListPullTimeUpdateExclusionsCommand({ maxResults: 40, ...(nextToken && { nextToken }) }));
      seen.push(...(page.pullTimeUpdateExclusions ?? []));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    assert.equal(pages, 3);
    assert.equal(seen.length, 100);
    assert.ok(seen.includes(arn));
    await assert.rejects(admin.send(new ListPullTimeUpdateExclusionsCommand({ nextToken: 'bogus' })), named('InvalidParameterException'));
    for (const e of seen) assert.equal((await admin.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn: e }))).principalArn, e);
    assert.deepEqual((await admin.send(new ListPullTimeUpdateExclusionsCommand({}))).pullTimeUpdateExclusions, []);
  });

  it("an excluded user's or role's pulls leave lastRecordedPullTime; another's move it; deregistering ends it", async () => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    for (const tag of ['by-user', 'by-role', 'by-other']) {
      const config = Buffer.from(JSON.stringify({ tag }));
      await pushBlob(berth.url, REPO, config);
      await admin.send(new PutImageCommand({ repositoryName: REPO, imageManifest: configOnlyManifest(config), imageTag: tag }));
    }
    const scanner = await createUser(berth, iam, 'scanner', [], [JSON.parse(allowing(PULLER)) as object]);
    const deployer = await createUser(berth, iam, 'deployer', [], [JSON.parse(allowing(PULLER)) as object]);
    const runner = await createUser(berth, iam, 'runner', [], [JSON.parse(allowing(['sts:AssumeRole'])) as object]);
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    await iam.send(new CreateRoleCommand({ RoleName: 'scan-role', Path: '/ci/', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: 'scan-role', PolicyName: 'pull', PolicyDocument: allowing(PULLER) }));
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: runner.keys, maxAttempts: 1 });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ci/scan-role`, RoleSessionName: 'nightly' }))).Credentials!;
    const role = new ECRClient({
      endpoint: berth.url,
      region: berth.region,
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
      maxAttempts: 1,
    });
    const roleLogin = `Basic ${(await role.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken}`;

    // The user's ARN, and the role's (not the session's assumed-role ARN), as ECR documents.
    await admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${ACCOUNT}:user/scanner` }));
    await admin.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${ACCOUNT}:role/ci/scan-role` }));

    const pulled = async (tag: string) =>
      (await admin.send(new DescribeImagesCommand({ repositoryName: REPO, imageIds: [{ imageTag: tag }] }))).imageDetails![0]!.lastRecordedPullTime;
    const batchGet = async (who: ECRClient | TestIdentity, tag: string) => {
      const client = who instanceof ECRClient ? who : who.ecr;
      const got = await client.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: tag }] }));
      assert.equal(got.images?.length, 1);
    };
    await skopeoPull(scanner, 'by-user');
    await batchGet(scanner, 'by-user');
    assert.equal((await request(`${berth.url}/v2/${REPO}/manifests/by-role`, { headers: { authorization: roleLogin, accept: OCI_MANIFEST } })).status, 200);
    await batchGet(role, 'by-role');
    await batchGet(deployer, 'by-other');
    await waitFor("the other principal's pull to be recorded", () => pulled('by-other'));
    assert.equal(await pulled('by-user'), undefined, "the excluded user's pulls (skopeo, BatchGetImage) were not recorded");
    assert.equal(await pulled('by-role'), undefined, "the excluded role's session pulls (/v2, BatchGetImage) were not recorded");

    await admin.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn: `arn:aws:iam::${ACCOUNT}:user/scanner` }));
    await skopeoPull(scanner, 'by-user');
    await waitFor("the no longer excluded user's pull to be recorded", () => pulled('by-user'));
    assert.equal(await pulled('by-role'), undefined);
  });

  it("refuses each operation to a principal not allowed it; a repository-scoped grant, or the user guide's Create/Delete names, is no grant", async () => {
    const none = await createUser(berth, iam, 'bystander', [], [JSON.parse(allowing(['ecr:DescribeRepositories'])) as object]);
    const scoped = await createUser(
      berth,
      iam,
      'scoped',
      [],
      [
        {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['ecr:RegisterPullTimeUpdateExclusion', 'ecr:DeregisterPullTimeUpdateExclusion', 'ecr:ListPullTimeUpdateExclusions'],
              Resource: `arn:aws:ecr:${berth.region}:${ACCOUNT}:repository/*`,
            },
          ],
        },
      ],
    );
    // The ECR user guide names the permissions ecr:CreatePullTimeUpdateExclusion and
    // ecr:DeletePullTimeUpdateExclusion; the Service Authorization Reference (the actions IAM
    // knows) has ecr:RegisterPullTimeUpdateExclusion and ecr:DeregisterPullTimeUpdateExclusion only,
    // so a policy naming the guide's words grants nothing, in AWS as here.
    const guideNames = await createUser(
      berth,
      iam,
      'guide-reader',
      [],
      [JSON.parse(allowing(['ecr:CreatePullTimeUpdateExclusion', 'ecr:DeletePullTimeUpdateExclusion'])) as object],
    );
    const principalArn = `arn:aws:iam::${ACCOUNT}:user/deployer`;
    for (const u of [none, scoped, guideNames]) {
      await assert.rejects(u.ecr.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn })), named('AccessDeniedException'));
      await assert.rejects(u.ecr.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn })), named('AccessDeniedException'));
      await assert.rejects(u.ecr.send(new ListPullTimeUpdateExclusionsCommand({})), named('AccessDeniedException'));
    }
    assert.deepEqual((await admin.send(new ListPullTimeUpdateExclusionsCommand({}))).pullTimeUpdateExclusions, [`arn:aws:iam::${ACCOUNT}:role/ci/scan-role`]);
    const allowed = await createUser(
      berth,
      iam,
      'curator',
      [],
      [JSON.parse(allowing(['ecr:RegisterPullTimeUpdateExclusion', 'ecr:DeregisterPullTimeUpdateExclusion', 'ecr:ListPullTimeUpdateExclusions'])) as object],
    );
    await allowed.ecr.send(new RegisterPullTimeUpdateExclusionCommand({ principalArn }));
    assert.equal((await allowed.ecr.send(new ListPullTimeUpdateExclusionsCommand({}))).pullTimeUpdateExclusions?.length, 2);
    await allowed.ecr.send(new DeregisterPullTimeUpdateExclusionCommand({ principalArn }));
  });

  /** skopeo reads the manifest over /v2 as `who`, with its login token as docker would. */
  async function skopeoPull(who: TestIdentity, tag: string): Promise<void> {
    const [user, password] = Buffer.from(who.authorization!.slice('Basic '.length), 'base64').toString().split(':');
    const raw = await skopeo.run(['inspect', '--raw', '--tls-verify=false', '--creds', `${user}:${password}`, `docker://${berth.host}/${REPO}:${tag}`]);
    assert.ok(raw.stdout.includes('schemaVersion'));
  }
});
