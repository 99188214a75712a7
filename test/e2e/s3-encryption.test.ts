/**
 * Encryption at rest on S3 (a real Ceph RGW): KMS repositories with kmsProvider 's3' are written
 * with SSE-KMS under the repository's key (what the S3 server's KMS holds), and still served by
 * presigned URL; with Berth's own KMS keys the objects are sealed by Berth, so what the bucket
 * holds is ciphertext and blob GETs stream through Berth instead of redirecting.
 */
import { CreateRepositoryCommand, GetDownloadUrlForLayerCommand } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startS3TestServer, type S3TestServer } from '../../src/blobstore/s3/testing/s3-test-server.js';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, ecrClient } from './helpers/ecr-client.js';
import { createUser, type TestIdentity } from './helpers/iam-users.js';
import { berthCli } from './helpers/gc.js';
import { errorCode, pushBlob, request, sha256 } from './helpers/registry-http.js';

const s3 = await startS3TestServer();
const unavailable = 'unavailable' in s3 ? s3.unavailable : undefined;
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server: ${unavailable}`);
after(async () => {
  if (!('unavailable' in s3)) await s3.stop();
});

describe('encryption at rest on S3', { skip: unavailable ?? false }, () => {
  const server = s3 as S3TestServer;
  const prefix = `berth-enc-${randomBytes(4).toString('hex')}`;
  const raw = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  let viaS3: BerthProcess;
  let viaBerth: BerthProcess;

  const env = (sub: string) => ({
    BERTH_STORAGE: `s3://${server.bucket}/${prefix}/${sub}`,
    BERTH_S3_ENDPOINT: server.endpoint,
    BERTH_S3_REGION: server.region,
    BERTH_S3_ACCESS_KEY_ID: server.accessKeyId,
    BERTH_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
    BERTH_BLOB_REDIRECT: 'presign',
  });

  /** Keys under `<prefix>/<sub>/` ending in the digest's hex (listing is fine in a test). */
  async function objectsOf(sub: string, digest: string): Promise<string[]> {
    const res = await raw.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/${sub}/` }));
    return (res.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith(`/${digest.slice(7)}`));
  }

  before(async () => {
    viaS3 = await startBerth({ env: { ...env('s3kms'), BERTH_KMS_PROVIDER: 's3' } });
    viaBerth = await startBerth({ env: env('berthkms') });
  });
  after(async () => {
    await viaS3?.cleanup();
    await viaBerth?.cleanup();
  });

  it("kmsProvider s3: blobs are written with SSE-KMS under the repository's key and served presigned", async (t) => {
    if (server.kmsKeys.length === 0) return t.skip('the S3 server has no KMS keys configured');
    const kmsKey = server.kmsKeys[0]!;
    const ecr = ecrClient(viaS3);
    const created = await ecr.send(new CreateRepositoryCommand({ repositoryName: 'sse/app', encryptionConfiguration: { encryptionType: 'KMS', kmsKey } }));
    assert.deepEqual(created.repository?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey });
    const data = randomBytes(6 * 1024 * 1024 + 3);
    const digest = sha256(data);
    assert.equal((await pushBlob(viaS3.url, 'sse/app', data, 'patch')).status, 201);

    const [key, ...more] = await objectsOf('s3kms', digest);
    assert.ok(key && more.length === 0, 'stored once');
    assert.match(key!, /\/kms\/[0-9a-f-]{36}\/blobs\/sha256\//);
    const head = await raw.send(new HeadObjectCommand({ Bucket: server.bucket, Key: key }));
    assert.deepEqual([head.ServerSideEncryption, head.SSEKMSKeyId], ['aws:kms', kmsKey]);

    const redirected = await request(`${viaS3.url}/v2/sse/app/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(redirected.status, 307);
    assert.ok(Buffer.from(await (await fetch(redirected.headers.get('location')!)).arrayBuffer()).equals(data));
    const { downloadUrl } = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'sse/app', layerDigest: digest }));
    assert.ok(Buffer.from(await (await fetch(downloadUrl!)).arrayBuffer()).equals(data));

    // The object store's KMS judges the key on first use: a refusal is the owner's to fix, a 403.
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'sse/wrong', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'no-such-key' } }));
    const refused = await pushBlob(viaS3.url, 'sse/wrong', randomBytes(1000));
    assert.equal(refused.status, 403, refused.body.toString());
    assert.equal(errorCode(refused), 'DENIED');
  });

  it("kmsProvider s3: the creator is asked for kms:DescribeKey and kms:CreateGrant on the store's key", async () => {
    const kmsKey = server.kmsKeys[0] ?? 'testing-key';
    const iam = new IAMClient({ endpoint: viaS3.url, region: viaS3.region, credentials: adminCredentials(viaS3), maxAttempts: 1 });
    const ecrOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] };
    const kmsToo = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:DescribeKey', 'kms:CreateGrant'], Resource: '*' }] };
    const create = (who: TestIdentity, repositoryName: string) =>
      who.ecr.send(new CreateRepositoryCommand({ repositoryName, encryptionConfiguration: { encryptionType: 'KMS', kmsKey } }));
    const dev = await createUser(viaS3, iam, 'dev', [], [ecrOnly]);
    await assert.rejects(create(dev, 'sse/dev'), (e: Error) => e.name === 'KmsException' && /is not authorized to perform: kms:DescribeKey/.test(e.message));
    const keyUser = await createUser(viaS3, iam, 'key-user', [], [ecrOnly, kmsToo]);
    assert.deepEqual((await create(keyUser, 'sse/key-user')).repository?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey });
  });

  it("Berth's KMS keys on S3: the bucket holds ciphertext, and GETs stream through Berth", async () => {
    const out = await berthCli(['admin', 'create-kms-key', '--alias', 'alias/s3-team', '--data-dir', viaBerth.dataDir], env('berthkms'));
    const key = (JSON.parse(out.stdout) as { KeyMetadata: { KeyId: string; Arn: string } }).KeyMetadata;
    const ecr = ecrClient(viaBerth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'sealed/app', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/s3-team' } }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'plain/app' }));
    const data = randomBytes(300_000);
    const digest = sha256(data);
    assert.equal((await pushBlob(viaBerth.url, 'sealed/app', data)).status, 201);
    assert.equal((await pushBlob(viaBerth.url, 'plain/app', data)).status, 201);

    const stored = (await objectsOf('berthkms', digest)).sort();
    assert.deepEqual(
      stored,
      [`${prefix}/berthkms/blobs/sha256/${digest.slice(7)}`, `${prefix}/berthkms/kms/${key.KeyId}/blobs/sha256/${digest.slice(7)}`].sort(),
    );
    const sealed = await raw.send(new GetObjectCommand({ Bucket: server.bucket, Key: stored.find((k) => k.includes('/kms/')) }));
    const bytes = Buffer.from(await sealed.Body!.transformToByteArray());
    assert.ok(!bytes.includes(data.subarray(1000, 1048)), 'no plaintext in the sealed object');

    const streamed = await request(`${viaBerth.url}/v2/sealed/app/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(streamed.status, 200, 'sealed bytes cannot be presigned: streamed');
    assert.ok(streamed.body.equals(data));
    const plain = await request(`${viaBerth.url}/v2/plain/app/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(plain.status, 307, 'the AES256 (SSE-S3) copy is presigned');
  });
});
