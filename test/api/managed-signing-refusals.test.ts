/**
 * What managed signing must refuse: each new permission's request without it (ECR's four
 * actions, Signer's four), hostile signing configurations (another account's or region's
 * profile), and Signer requests that are malformed, unsigned or for what Berth does not serve.
 * Every refusal leaves the configuration and the profiles as they were.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateRepositoryCommand,
  DeleteSigningConfigurationCommand,
  DescribeImageSigningStatusCommand,
  type ECRClient,
  GetSigningConfigurationCommand,
  PutImageCommand,
  PutSigningConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, pushBlob, pushManifest, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { signedRest } from './helpers/signed-rest.js';

const PLATFORM = 'Notation-OCI-SHA384-ECDSA';
const allow = (actions: string[], resource = '*') => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }] });

describe('managed signing refusals', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let adminKeys: Credentials;
  let reader: TestIdentity;
  let nobody: TestIdentity;
  let pusher: TestIdentity;
  let signingPusher: TestIdentity;
  let arn: string;
  let otherArn: string;
  let account: string;
  let digest: string;
  let config: unknown;

  const signer = (keys: Credentials, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: Record<string, unknown>, query?: Record<string, string>) =>
    signedRest(berth, keys, { method, path, ...(body && { body }), ...(query && { query }) });
  const unchanged = async () => {
    assert.deepEqual((await admin.send(new GetSigningConfigurationCommand({}))).signingConfiguration, config);
    for (const name of ['refusal_a', 'refusal_b']) assert.equal((await signer(adminKeys, 'GET', `/signing-profiles/${name}`)).json.status, 'Active');
  };

  before(async () => {
    berth = await startInProcess();
    adminKeys = adminCredentials(berth);
    admin = ecrClient(berth, adminKeys);
    arn = String((await signer(adminKeys, 'PUT', '/signing-profiles/refusal_a', { platformId: PLATFORM })).json.arn);
    otherArn = String((await signer(adminKeys, 'PUT', '/signing-profiles/refusal_b', { platformId: PLATFORM })).json.arn);
    account = arn.split(':')[4]!;
    config = (await admin.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: arn }] } }))).signingConfiguration;
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'guarded/app' }));
    const cfg = Buffer.from('{"refusals":1}');
    await pushBlob(berth.url, 'guarded/app', cfg);
    const manifest = configOnlyManifest(cfg);
    assert.equal((await pushManifest(berth.url, 'guarded/app', 'v1', Buffer.from(manifest), 'application/vnd.oci.image.manifest.v1+json')).status, 201);
    digest = sha256(manifest);
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminKeys });
    reader = await createUser(
      berth,
      iam,
      'signing-reader',
      [],
      [
        allow(['ecr:GetSigningConfiguration', 'ecr:DescribeImageSigningStatus', 'signer:ListSigningProfiles']),
        // One profile only: the other is refused.
        allow(['signer:GetSigningProfile'], arn),
      ],
    );
    nobody = await createUser(berth, iam, 'signing-nobody', []);
    // Both may push; only the second may sign with the profile, as ECR signs with the pusher's identity.
    pusher = await createUser(berth, iam, 'signing-pusher', [], [allow(['ecr:*'])]);
    signingPusher = await createUser(berth, iam, 'signing-pusher2', [], [allow(['ecr:*']), allow(['signer:SignPayload'], arn)]);
  });
  after(async () => berth?.cleanup());

  it('refuses each ECR signing action to a principal without its permission', async () => {
    const denied = { name: 'AccessDeniedException' };
    await assert.rejects(reader.ecr.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [] } })), denied);
    await assert.rejects(reader.ecr.send(new DeleteSigningConfigurationCommand({})), denied);
    await assert.rejects(nobody.ecr.send(new GetSigningConfigurationCommand({})), denied);
    const describe = new DescribeImageSigningStatusCommand({ repositoryName: 'guarded/app', imageId: { imageDigest: digest } });
    await assert.rejects(nobody.ecr.send(describe), denied);
    // What the reader may do, it can.
    assert.deepEqual((await reader.ecr.send(new GetSigningConfigurationCommand({}))).signingConfiguration, config);
    assert.equal((await reader.ecr.send(describe)).repositoryName, 'guarded/app');
    await unchanged();
  });

  it('signs a push only when its pusher may signer:SignPayload on the profile, through both doors', async () => {
    const signatures = async (digest: string) => {
      const res = await fetch(`${berth.url}/v2/guarded/app/referrers/${digest}`, { headers: { authorization: berth.authorization } });
      return ((await res.json()) as { manifests: unknown[] }).manifests.length;
    };
    const settled = (who: TestIdentity, digest: string) =>
      waitFor('the signing status', async () => {
        const out = await who.ecr.send(new DescribeImageSigningStatusCommand({ repositoryName: 'guarded/app', imageId: { imageDigest: digest } }));
        const s = out.signingStatuses ?? [];
        return s.length > 0 && s.every((x) => x.status !== 'IN_PROGRESS') && s;
      });
    let n = 0;
    for (const [who, expected] of [
      [pusher, 'FAILED'],
      [signingPusher, 'COMPLETE'],
    ] as const) {
      for (const via of ['PutImage', 'v2'] as const) {
        const cfg = Buffer.from(JSON.stringify({ pushedBy: expected, n: n++ }));
        await pushBlob(berth.url, 'guarded/app', cfg);
        const manifest = configOnlyManifest(cfg);
        if (via === 'PutImage') await who.ecr.send(new PutImageCommand({ repositoryName: 'guarded/app', imageManifest: manifest }));
        else
          assert.equal(
            (
              await who.v2(`/v2/guarded/app/manifests/${sha256(manifest)}`, {
                method: 'PUT',
                body: manifest,
                headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
              })
            ).status,
            201,
          );
        const [status] = await settled(who, sha256(manifest));
        assert.equal(status?.status, expected, `${via} by ${expected === 'FAILED' ? 'a pusher without' : 'a pusher with'} signer:SignPayload`);
        if (expected === 'FAILED') assert.equal(status?.failureCode, 'ACCESS_DENIED');
        assert.equal(await signatures(sha256(manifest)), expected === 'FAILED' ? 0 : 1);
      }
    }
  });

  it('refuses each Signer action to a principal without its permission, with 403', async () => {
    const refused = async (p: Promise<{ status: number; type?: string }>) => {
      const r = await p;
      assert.equal(r.status, 403);
      assert.equal(r.type, 'AccessDeniedException');
    };
    await refused(signer(reader.keys, 'PUT', '/signing-profiles/sneaky', { platformId: PLATFORM }));
    await refused(signer(reader.keys, 'DELETE', '/signing-profiles/refusal_a'));
    await refused(signer(reader.keys, 'GET', '/signing-profiles/refusal_b'));
    await refused(signer(nobody.keys, 'GET', '/signing-profiles/refusal_a'));
    await refused(signer(nobody.keys, 'GET', '/signing-profiles'));
    assert.equal((await signer(reader.keys, 'GET', '/signing-profiles/refusal_a')).status, 200);
    assert.equal(((await signer(reader.keys, 'GET', '/signing-profiles')).json.profiles as unknown[]).length, 2);
    assert.equal((await signer(adminKeys, 'GET', '/signing-profiles/sneaky')).status, 404);
    await unchanged();
  });

  it("refuses a rule naming another account's or another region's profile, changing nothing", async () => {
    const foreign = [
      `arn:aws:signer:${berth.region}:999999999999:/signing-profiles/refusal_a`,
      `arn:aws:signer:eu-west-3:${account}:/signing-profiles/refusal_a`,
      `arn:aws-cn:signer:${berth.region}:${account}:/signing-profiles/refusal_a`,
    ];
    for (const signingProfileArn of foreign.slice(0, 2)) {
      await assert.rejects(
        admin.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: otherArn }, { signingProfileArn }] } })),
        {
          name: 'InvalidParameterException',
          message: /must name a signing profile of account/,
        },
      );
    }
    // The model's pattern admits other partitions; Berth's signer serves aws only.
    await assert.rejects(admin.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: foreign[2] }] } })), {
      name: 'InvalidParameterException',
    });
    await assert.rejects(admin.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: `${arn}/x` }] } })), {
      name: 'ValidationException',
    });
    // A profile another account owns is not found through profileOwner (no cross-account permissions).
    const other = await signer(adminKeys, 'GET', '/signing-profiles/refusal_a', undefined, { profileOwner: '999999999999' });
    assert.equal(other.status, 404);
    assert.equal(other.type, 'ResourceNotFoundException');
    await unchanged();
  });

  it('refuses malformed Signer requests with ValidationException and what it does not serve with UnknownOperationException', async () => {
    const validation = async (path: string, body: Record<string, unknown>, why: RegExp) => {
      const r = await signer(adminKeys, 'PUT', path, body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.type, 'ValidationException');
      assert.match(String(r.json.message), why);
    };
    await validation('/signing-profiles/a', { platformId: PLATFORM }, /profileName/);
    await validation('/signing-profiles/bad-name', { platformId: PLATFORM }, /profileName/);
    await validation('/signing-profiles/lambda_one', { platformId: 'AWSLambda-SHA384-ECDSA' }, /Notation-OCI-SHA384-ECDSA platform only/);
    await validation(
      '/signing-profiles/too_long',
      { platformId: PLATFORM, signatureValidityPeriod: { value: 12, type: 'YEARS' } },
      /between 1 day and 135 months/,
    );
    await validation(
      '/signing-profiles/zero_days',
      { platformId: PLATFORM, signatureValidityPeriod: { value: 0, type: 'DAYS' } },
      /between 1 day and 135 months/,
    );
    await validation('/signing-profiles/refusal_a', { platformId: PLATFORM }, /already exists/);
    await validation('/signing-profiles/tagged', { platformId: PLATFORM, tags: { 'aws:owner': 'me' } }, /tags/);
    await validation('/signing-profiles/extra', { platformId: PLATFORM, signingMaterial: { certificateArn: 'arn:aws:acm:x' } }, /signingMaterial/);
    const listing = await signer(adminKeys, 'GET', '/signing-profiles', undefined, { maxResults: '26' });
    assert.equal(listing.type, 'ValidationException');
    const unknown = await signedRest(berth, adminKeys, { method: 'POST', path: '/signing-profiles/refusal_a/permissions', body: {} });
    assert.equal(unknown.type, 'UnknownOperationException');
    const unsigned = await fetch(`${berth.url}/signing-profiles`);
    assert.equal(unsigned.status, 403);
    // A path that is no valid percent-encoding is a client's mistake, never a 500.
    const badEscape = await fetch(`${berth.url}/signing-profiles/%E0%A4%A`);
    assert.equal(badEscape.status, 403);
    // A signature for another service is not one for Signer.
    const wrongService = await signedRest(berth, adminKeys, { method: 'GET', path: '/signing-profiles', service: 'ecr' });
    assert.notEqual(wrongService.status, 200);
    await unchanged();
  });
});
