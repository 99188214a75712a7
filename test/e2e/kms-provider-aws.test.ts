/**
 * kmsProvider 'aws': a Berth whose KMS repositories take their keys from an AWS KMS endpoint.
 * The endpoint here is a second Berth serving the KMS API over real HTTP with SigV4 (the same
 * wire protocol AWS KMS speaks): the first node never sees the key, only data keys the KMS hands
 * out and opens, and disabling the key in the KMS stops the repository's pulls and pushes.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, ecrClient } from './helpers/ecr-client.js';
import { errorCode, getBlob, pushBlob, sha256 } from './helpers/registry-http.js';
import { createUser, type TestIdentity } from './helpers/iam-users.js';

describe('KMS keys from an AWS KMS endpoint (kmsProvider aws)', () => {
  let kmsNode: BerthProcess;
  let registry: BerthProcess;
  let kms: KMSClient;
  let ecr: ECRClient;
  let keyArn = '';

  before(async () => {
    kmsNode = await startBerth();
    const credentials = adminCredentials(kmsNode);
    kms = new KMSClient({ endpoint: kmsNode.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const created = await kms.send(new CreateKeyCommand({ Description: 'registry key held elsewhere' }));
    keyArn = created.KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/images', TargetKeyId: created.KeyMetadata!.KeyId! }));
    registry = await startBerth({
      env: {
        BERTH_KMS_PROVIDER: 'aws',
        BERTH_KMS_ENDPOINT: kmsNode.url,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        // Opened data keys are otherwise kept 5 s; 0 makes a disable in the KMS apply at once.
        BERTH_AUTHZ_CACHE_SECONDS: '0',
      },
    });
    ecr = ecrClient(registry);
  });
  after(async () => {
    await registry?.cleanup();
    await kmsNode?.cleanup();
  });

  it('checks the key with the KMS at creation and records its ARN', async () => {
    const r = await ecr.send(
      new CreateRepositoryCommand({ repositoryName: 'remote/app', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/images' } }),
    );
    assert.deepEqual(r.repository?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: keyArn });
    await assert.rejects(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'remote/none', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/missing' } })),
      (e: Error) => e.name === 'KmsException' && /NotFound/.test(e.message),
    );
    // The KMS's AWS managed key allows use only through its ECR, and this node shares no server
    // key with it to prove it is one (as against AWS KMS): KMS repositories here need a customer
    // key. (A node that shares it uses the key: test/e2e/kms-api.test.ts.)
    await assert.rejects(
      ecr.send(new CreateRepositoryCommand({ repositoryName: 'remote/managed', encryptionConfiguration: { encryptionType: 'KMS' } })),
      (e: Error) => e.name === 'KmsException' && /kms:GenerateDataKey on resource: arn:aws:kms:.* because no resource-based policy allows/.test(e.message),
    );
    await assert.rejects(
      ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['remote/managed'] })),
      (e: Error) => e.name === 'RepositoryNotFoundException',
    );
  });

  it("asks the creator for kms:DescribeKey and kms:CreateGrant on the KMS's key, from the registry's IAM policies", async () => {
    const iam = new IAMClient({ endpoint: registry.url, region: registry.region, credentials: adminCredentials(registry), maxAttempts: 1 });
    const ecrOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] };
    const onKey = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:DescribeKey', 'kms:CreateGrant'], Resource: keyArn }] };
    const create = (who: TestIdentity, repositoryName: string) =>
      who.ecr.send(new CreateRepositoryCommand({ repositoryName, encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/images' } }));
    const dev = await createUser(registry, iam, 'dev', [], [ecrOnly]);
    await assert.rejects(
      create(dev, 'remote/dev'),
      (e: Error) => e.name === 'KmsException' && /kms:DescribeKey on resource: arn:aws:kms:.*key\//.test(e.message),
    );
    await assert.rejects(
      ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['remote/dev'] })),
      (e: Error) => e.name === 'RepositoryNotFoundException',
    );
    const keyUser = await createUser(registry, iam, 'key-user', [], [ecrOnly, onKey]);
    const made = await create(keyUser, 'remote/key-user');
    assert.deepEqual(made.repository?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: keyArn });
  });

  it('records nothing of a key whose use was refused: the key is recorded by the first creation allowed to use it', async () => {
    const iam = new IAMClient({ endpoint: registry.url, region: registry.region, credentials: adminCredentials(registry), maxAttempts: 1 });
    const fresh = (await kms.send(new CreateKeyCommand({ Description: 'never used by the registry' }))).KeyMetadata!.Arn!;
    const ecrOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] };
    const onFresh = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:DescribeKey', 'kms:CreateGrant'], Resource: fresh }] };
    // The registry's own record of keys held by the KMS (its AWS_KMS rows), read from its database.
    const rows = () => {
      const db = new Database(join(registry.dataDir, 'metadata.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM kms_keys WHERE arn = ?').get(fresh) as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const create = (who: TestIdentity, repositoryName: string) =>
      who.ecr.send(new CreateRepositoryCommand({ repositoryName, encryptionConfiguration: { encryptionType: 'KMS', kmsKey: fresh } }));
    const refused = await createUser(registry, iam, 'no-fresh', [], [ecrOnly]);
    await assert.rejects(
      create(refused, 'remote/no-fresh'),
      (e: Error) => e.name === 'KmsException' && /not authorized to perform: kms:DescribeKey/.test(e.message),
    );
    assert.equal(rows(), 0, 'a refused creation records nothing of the key');
    const allowed = await createUser(registry, iam, 'fresh-user', [], [ecrOnly, onFresh]);
    assert.equal((await create(allowed, 'remote/fresh')).repository?.encryptionConfiguration?.kmsKey, fresh);
    assert.equal(rows(), 1);
  });

  it('seals blobs under a data key of the KMS key: pushed, pulled, nothing in the clear on disk', async () => {
    const data = randomBytes(150_000);
    assert.equal((await pushBlob(registry.url, 'remote/app', data, 'patch')).status, 201);
    const back = await getBlob(registry.url, 'remote/app', sha256(data));
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(data));
    const kmsDir = join(registry.dataDir, 'kms');
    const files = (await readdir(kmsDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    assert.ok(
      files.some((f) => f.name === sha256(data).slice(7)),
      "stored in the key's own store",
    );
    for (const f of files) assert.ok(!(await readFile(join(f.parentPath, f.name))).includes(data.subarray(5000, 5048)), f.name);
  });

  it('a key disabled in the KMS stops pulls and pushes until it is enabled again', async () => {
    const data = randomBytes(20_000);
    assert.equal((await pushBlob(registry.url, 'remote/app', data)).status, 201);
    await kms.send(new DisableKeyCommand({ KeyId: keyArn }));
    const denied = await getBlob(registry.url, 'remote/app', sha256(data));
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied), 'DENIED');
    assert.equal((await pushBlob(registry.url, 'remote/app', randomBytes(100))).status, 403);
    await kms.send(new EnableKeyCommand({ KeyId: keyArn }));
    const back = await getBlob(registry.url, 'remote/app', sha256(data));
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(data));
  });
});
