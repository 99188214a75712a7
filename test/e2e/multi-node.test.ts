/**
 * Several `berth serve` processes on one PostgreSQL (a throwaway cluster) behave as one
 * registry: an upload started on one node is finished on another, even after the first node is
 * killed mid-upload; pushes on one are pulled from the other with skopeo; tag immutability holds
 * across nodes; a login whose access key is deleted on one node stops on the other within the
 * authorization cache's time. The nodes share the blob store directory (one machine); S3 is the
 * other way.
 */
import { CreateRepositoryCommand, DeleteRepositoryCommand, GetDownloadUrlForLayerCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { DeleteAccessKeyCommand, IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startS3TestServer, type S3TestServer } from '../../src/blobstore/s3/testing/s3-test-server.js';
import { startTestPostgres, type TestDatabase, type TestPostgres } from '../../src/metadata/postgres/testing/cluster.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, ecrClient } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import {
  asBody,
  errorCode,
  getManifest,
  makeImage,
  numberedManifest,
  pushBlob,
  pushManifest,
  request,
  sha256,
  startUpload,
  uploadUrl,
} from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const pg: TestPostgres | undefined = await startTestPostgres();
const s3 = await startS3TestServer();
const s3Unavailable = 'unavailable' in s3 ? s3.unavailable : undefined;
if (s3Unavailable && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server: ${s3Unavailable}`);
after(async () => {
  await pg?.stop();
  if (!('unavailable' in s3)) await s3.stop();
});

describe('several nodes on one PostgreSQL', { skip: pg ? false : 'PostgreSQL is not installed' }, () => {
  let db: TestDatabase;
  let a: BerthProcess;
  let b: BerthProcess;
  let skopeo: Skopeo;
  let env: Record<string, string>;

  before(async () => {
    db = await pg!.newDatabase();
    env = { BERTH_DATABASE_URL: db.connectionString, BERTH_LOG_LEVEL: 'warn' };
    a = await startBerth({ env });
    // The second node shares the first's directory: server key, admin credentials, blob files.
    b = await startBerth({ env, dataDir: a.dataDir });
    skopeo = await createSkopeo();
  });
  after(async () => {
    await skopeo?.cleanup();
    await b?.stop();
    await a?.cleanup();
    await db?.drop();
  });

  it('finishes on one node an upload started on another', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const location = await startUpload(a.url, 'multi/up');
    const first = await request(location, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${1024 * 1024 - 1}` },
      body: asBody(data.subarray(0, 1024 * 1024)),
    });
    assert.equal(first.status, 202);
    // Same session, same path, other node.
    const onB = uploadUrl(b.url, new URL(first.headers.get('location')!, a.url).pathname + new URL(first.headers.get('location')!, a.url).search);
    const second = await request(onB, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${1024 * 1024}-${data.length - 1}` },
      body: asBody(data.subarray(1024 * 1024)),
    });
    assert.equal(second.status, 202, second.body.toString());
    const done = await request(uploadUrl(b.url, new URL(second.headers.get('location')!, b.url).pathname, `digest=${sha256(data)}`), { method: 'PUT' });
    assert.equal(done.status, 201, done.body.toString());
    const got = await request(`${a.url}/v2/multi/up/blobs/${sha256(data)}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data));
    assert.ok(!existsSync(join(a.dataDir, 'metadata.db')), 'the metadata is in PostgreSQL, not a shared SQLite file');
  });

  it('pushes on one node and pulls from the other with skopeo, byte-exact', async () => {
    const dir = await tempDir('berth-layout-');
    const image = await buildImageLayout(join(dir, 'img'), { layers: 2, layerBytes: 256 * 1024, tag: 'v1' });
    const login = async (n: BerthProcess) =>
      skopeo.run(['login', '--tls-verify=false', '-u', 'AWS', '-p', Buffer.from(n.authorization.slice(6), 'base64').toString().slice(4), n.host]);
    await login(a);
    await login(b);
    await skopeo.copy(`oci:${join(dir, 'img')}:v1`, `docker://${a.host}/multi/app:v1`);
    const raw = await skopeo.inspectRaw(`docker://${b.host}/multi/app:v1`);
    assert.equal(sha256(raw), image.manifestDigest);
    await skopeo.copy(`docker://${b.host}/multi/app:v1`, `oci:${join(dir, 'out')}:v1`);
  });

  it('keeps tags immutable across nodes', async () => {
    await ecrClient(a).send(new CreateRepositoryCommand({ repositoryName: 'multi/frozen', imageTagMutability: 'IMMUTABLE' }));
    const config = Buffer.from('{"n":1}');
    await pushBlob(a.url, 'multi/frozen', config);
    const manifest = (n: number) => numberedManifest(config, n).toString();
    await ecrClient(a).send(new PutImageCommand({ repositoryName: 'multi/frozen', imageManifest: manifest(1), imageTag: 'v1' }));
    await assert.rejects(ecrClient(b).send(new PutImageCommand({ repositoryName: 'multi/frozen', imageManifest: manifest(2), imageTag: 'v1' })), {
      name: 'ImageTagAlreadyExistsException',
    });
  });

  // SQLite nodes cache what a manifest GET reads (read-cache.test.ts); a PostgreSQL node must not
  // serve a tag another node has moved, however often it has just served the old one.
  it('serves a tag moved on the other node at once, and a repository deleted there as NAME_UNKNOWN', async () => {
    const first = makeImage('multi/moved', 'v1', [randomBytes(1024)]);
    const second = makeImage('multi/moved', 'v1', [randomBytes(1024)]);
    const pushTo = async (node: BerthProcess, image: typeof first) => {
      for (const data of image.blobs.values()) assert.equal((await pushBlob(node.url, image.repo, data)).status, 201);
      assert.equal((await pushManifest(node.url, image.repo, 'v1', image.manifest, OCI_MANIFEST)).status, 201);
    };
    const served = async (node: BerthProcess) => (await getManifest(node.url, 'multi/moved', 'v1')).headers.get('docker-content-digest');
    await pushTo(a, first);
    for (let i = 0; i < 3; i++) assert.equal(await served(b), first.digest);
    await pushTo(a, second);
    assert.equal(await served(b), second.digest);
    await ecrClient(a).send(new DeleteRepositoryCommand({ repositoryName: 'multi/moved', force: true }));
    const gone = await getManifest(b.url, 'multi/moved', 'v1');
    assert.deepEqual([gone.status, errorCode(gone)], [404, 'NAME_UNKNOWN']);
  });

  it('refuses, on the other node too, a login whose access key was deleted on one (skopeo)', async () => {
    const image = makeImage('multi/revoked', 'v1', [randomBytes(1024)]);
    for (const data of image.blobs.values()) assert.equal((await pushBlob(a.url, image.repo, data)).status, 201);
    assert.equal((await pushManifest(a.url, image.repo, 'v1', image.manifest, OCI_MANIFEST)).status, 201);
    const iam = new IAMClient({ endpoint: a.url, region: a.region, credentials: adminCredentials(a), maxAttempts: 1 });
    const leaver = await createUser(a, iam, 'leaver', ['ReadOnly']);
    const password = Buffer.from(leaver.authorization!.slice('Basic '.length), 'base64').toString().slice('AWS:'.length);
    // `skopeo login` into an auth file of the leaver's own, as `docker login` stores a login.
    const authfile = join(await tempDir('berth-leaver-'), 'auth.json');
    for (const n of [a, b]) await skopeo.run(['login', '--authfile', authfile, '--tls-verify=false', '-u', 'AWS', '-p', password, n.host]);
    const inspect = (n: BerthProcess) => skopeo.run(['inspect', '--raw', '--authfile', authfile, '--tls-verify=false', `docker://${n.host}/multi/revoked:v1`]);
    const tagsOn = async (n: BerthProcess) =>
      (await request(`${n.url}/v2/multi/revoked/tags/list`, { headers: { authorization: leaver.authorization! } })).status;
    // Both nodes have checked the key (and keep the answer for authzCacheSeconds).
    for (const n of [a, b]) assert.equal(sha256((await inspect(n)).stdout), image.digest);

    await iam.send(new DeleteAccessKeyCommand({ UserName: 'leaver', AccessKeyId: leaver.keys.accessKeyId }));
    assert.equal(await tagsOn(a), 401, 'at once on the node that deleted it');
    await waitFor("the other node's refusal (within authzCacheSeconds)", async () => (await tagsOn(b)) === 401);
    for (const n of [a, b]) await assert.rejects(inspect(n), /unauthorized|authentication required/i);
  });

  it('lets a surviving node finish an upload whose node was killed mid-way', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const location = await startUpload(a.url, 'multi/crash');
    const half = data.length / 2;
    const first = await request(location, { method: 'PATCH', headers: { 'Content-Range': `0-${half - 1}` }, body: asBody(data.subarray(0, half)) });
    assert.equal(first.status, 202);
    const path = new URL(first.headers.get('location')!, a.url).pathname;
    await a.kill();
    const status = await request(uploadUrl(b.url, path));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${half - 1}`);
    const rest = await request(uploadUrl(b.url, path), {
      method: 'PATCH',
      headers: { 'Content-Range': `${half}-${data.length - 1}` },
      body: asBody(data.subarray(half)),
    });
    assert.equal(rest.status, 202);
    const done = await request(uploadUrl(b.url, path, `digest=${sha256(data)}`), { method: 'PUT' });
    assert.equal(done.status, 201, done.body.toString());
    assert.ok((await request(`${b.url}/v2/multi/crash/blobs/${sha256(data)}`)).body.equals(data));
  });
});

describe('nodes on PostgreSQL and S3', { skip: !pg ? 'PostgreSQL is not installed' : (s3Unavailable ?? false) }, () => {
  let db: TestDatabase;
  let a: BerthProcess;
  let b: BerthProcess;
  const server = s3 as S3TestServer;

  before(async () => {
    db = await pg!.newDatabase();
    const env = {
      BERTH_DATABASE_URL: db.connectionString,
      BERTH_STORAGE: `s3://${server.bucket}/berth-${randomBytes(4).toString('hex')}`,
      BERTH_S3_ENDPOINT: server.endpoint,
      BERTH_S3_REGION: server.region,
      BERTH_S3_ACCESS_KEY_ID: server.accessKeyId,
      BERTH_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
      BERTH_SERVER_KEY: randomBytes(32).toString('base64'),
    };
    a = await startBerth({ env });
    // Its own directory: nothing but the admin key file is shared with the first node.
    const dirB = await tempDir();
    copyFileSync(join(a.dataDir, 'admin-credentials'), join(dirB, 'admin-credentials'));
    b = await startBerth({ env: { ...env, BERTH_BLOB_REDIRECT: 'presign' }, dataDir: dirB });
  });
  after(async () => {
    await b?.cleanup();
    await a?.cleanup();
    await db?.drop();
  });

  it('continues an upload across nodes, keeps no blob on local disk, and serves presigned URLs', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 5);
    const location = await startUpload(a.url, 'cloud/app');
    const cut = 5 * 1024 * 1024 + 3;
    const first = await request(location, { method: 'PATCH', headers: { 'Content-Range': `0-${cut - 1}` }, body: asBody(data.subarray(0, cut)) });
    assert.equal(first.status, 202);
    const path = new URL(first.headers.get('location')!, a.url).pathname;
    const rest = await request(uploadUrl(b.url, path), {
      method: 'PATCH',
      headers: { 'Content-Range': `${cut}-${data.length - 1}` },
      body: asBody(data.subarray(cut)),
    });
    assert.equal(rest.status, 202, rest.body.toString());
    const done = await request(uploadUrl(b.url, path, `digest=${sha256(data)}`), { method: 'PUT' });
    assert.equal(done.status, 201, done.body.toString());

    const streamed = await request(`${a.url}/v2/cloud/app/blobs/${sha256(data)}`);
    assert.ok(streamed.body.equals(data), 'node A streams it from S3');
    const redirected = await request(`${b.url}/v2/cloud/app/blobs/${sha256(data)}`, { redirect: 'manual' });
    assert.equal(redirected.status, 307, 'node B redirects to the store');
    const direct = Buffer.from(await (await fetch(redirected.headers.get('location')!)).arrayBuffer());
    assert.ok(direct.equals(data), 'the presigned URL serves the exact bytes, no token needed');
    const { downloadUrl } = await ecrClient(a).send(new GetDownloadUrlForLayerCommand({ repositoryName: 'cloud/app', layerDigest: sha256(data) }));
    assert.match(downloadUrl!, new RegExp(`^${server.endpoint}/`));
    assert.ok(Buffer.from(await (await fetch(downloadUrl!)).arrayBuffer()).equals(data));
    for (const dir of [a.dataDir, b.dataDir]) assert.ok(!readdirSync(dir).includes('blobs'), `no blob files under ${dir}`);
  });
});
