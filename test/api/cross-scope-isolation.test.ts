/**
 * Where a digest, an upload id or a URL crosses from one repository or account to another, as an
 * outside checker would probe it: a user U of account A whose identity policy allows `ecr:*` on
 * `a/one` only; `a/two` beside it in A; account B's private `b/secret`. Blobs are stored once for
 * the whole deployment, so every probe is a way U might reach bytes (or facts about them) it may
 * not read. Driven over real HTTP: @aws-sdk/client-ecr on the JSON API, fetch on /v2. Each case is
 * the request that must be refused, then a check that nothing changed. The /v2 probes within one
 * account are in v2-scoped-access.test.ts; these are the JSON API's, another account's, and the
 * scanner's. Sources: notes/2026-12-07-s36-audit.md.
 */
import {
  BatchCheckLayerAvailabilityCommand,
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeImageScanFindingsCommand,
  DescribeRepositoriesCommand,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  PutImageCommand,
  StartImageScanCommand,
  UploadLayerPartCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import {
  BatchCheckLayerAvailabilityCommand as PublicBatchCheckLayerAvailabilityCommand,
  CreateRepositoryCommand as CreatePublicRepositoryCommand,
  ECRPUBLICClient,
  InitiateLayerUploadCommand as PublicInitiateLayerUploadCommand,
  PutImageCommand as PublicPutImageCommand,
  UploadLayerPartCommand as PublicUploadLayerPartCommand,
} from '@aws-sdk/client-ecr-public';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { importAdvisories } from '../../src/scan/vulndb.js';
import { tar } from '../../src/scan/layers/testing/tar-writer.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { MediaTypes } from '../e2e/helpers/oci-layout.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { asBody, errorCode, makeImage, numberedManifest, request, sha256, type Fetched, type TestImage } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const A = '000000000000';
const B = '111122223333';
const ARN = `arn:aws:ecr:us-east-1:${A}:repository`;
const both = (r: Fetched) => [r.status, errorCode(r)];
const NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';

/** A Debian layer with one vulnerable package: what a scan of it would report. */
const SECRET_LAYER = gzipSync(
  tar([
    { path: 'etc/os-release', data: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' },
    {
      path: 'var/lib/dpkg/status',
      data: 'Package: secretlib\nStatus: install ok installed\nArchitecture: amd64\nSource: secretlib\nVersion: 1.0-1\nDescription: x\n',
    },
  ]),
);
const ADVISORY = {
  id: 'DEBIAN-CVE-2026-0036',
  modified: '2026-01-01T00:00:00Z',
  aliases: ['CVE-2026-0036'],
  summary: 'secretlib is vulnerable',
  affected: [{ package: { ecosystem: 'Debian:12', name: 'secretlib' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0-1' }] }] }],
};

/** Pushes an image's blobs and manifest as `who` over /v2 (`prefix`: the path form naming its registry). */
async function pushAs(who: TestIdentity, img: TestImage, prefix = ''): Promise<void> {
  for (const data of img.blobs.values()) {
    const r = await who.v2(`/v2/${prefix}${img.repo}/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: asBody(data) });
    assert.equal(r.status, 201, r.body.toString());
  }
  const put = await who.v2(`/v2/${prefix}${img.repo}/manifests/${img.tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': MediaTypes.manifest },
    body: asBody(img.manifest),
  });
  assert.equal(put.status, 201, put.body.toString());
}

describe('identifiers from one repository or account reach nothing in another', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let u: TestIdentity;
  let v: TestIdentity;
  let b: TestIdentity;
  let two: TestImage;
  let secret: TestImage;
  const layerOf = (img: TestImage) => [...img.blobs.keys()][1]!;
  const configOf = (img: TestImage) => [...img.blobs.keys()][0]!;
  const manifestOf = (config: string, configSize: number, layers: Array<{ mediaType: string; digest: string; size: number }>) =>
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.manifest, config: { mediaType: MediaTypes.config, digest: config, size: configSize }, layers });

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    admin = ecrClient(berth);
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const login = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
    const only = (repo: string) => [{ Version: '2012-10-17', Statement: [login, { Effect: 'Allow', Action: 'ecr:*', Resource: `${ARN}/${repo}` }] }];
    for (const repositoryName of ['a/one', 'a/two']) await admin.send(new CreateRepositoryCommand({ repositoryName }));
    u = await createUser(berth, iam, 'u', [], only('a/one'));
    v = await createUser(berth, iam, 'v', [], only('a/two'));
    two = makeImage('a/two', 'v1', [randomBytes(1500)]);
    await pushAs(v, two);
    await createAccount(berth, B);
    b = await otherAccountIdentity(berth, B);
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b/secret' }));
    secret = makeImage('b/secret', 'v1', [SECRET_LAYER]);
    await pushAs(b, secret);
    // The operator's advisory database (`berth vulndb import`), against which scans match.
    const dir = join(berth.dataDir, 'osv');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${ADVISORY.id}.json`), JSON.stringify(ADVISORY));
    const { meta, clock } = berth.app.registry.ctx;
    assert.equal((await importAdvisories(meta, clock, dir, 'fixtures')).changed, 1);
  });
  after(async () => berth?.cleanup());

  it('finds no layer of another repository or account through its own, on /v2 or the JSON API', async () => {
    for (const [whose, layer] of [
      ['a/two', layerOf(two)],
      ['b/secret', layerOf(secret)],
    ] as const) {
      assert.deepEqual(both(await u.v2(`/v2/a/one/blobs/${layer}`)), [404, 'BLOB_UNKNOWN'], `GET ${whose}'s layer`);
      assert.equal((await u.v2(`/v2/a/one/blobs/${layer}`, { method: 'HEAD' })).status, 404, `HEAD ${whose}'s layer`);
      assert.match(
        await refusal(u.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'a/one', layerDigest: layer }))),
        /^LayersNotFoundException/,
        `GetDownloadUrlForLayer of ${whose}'s layer`,
      );
      const check = await u.ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'a/one', layerDigests: [layer] }));
      assert.deepEqual(check.layers, [{ layerDigest: layer, layerAvailability: 'UNAVAILABLE' }], `BatchCheckLayerAvailability of ${whose}'s layer`);
    }
  });

  it('mounts nothing from a repository it may not read, whichever way the source is named', async () => {
    for (const from of ['a/two', `${B}/b/secret`, 'b/secret']) {
      const layer = from === 'a/two' ? layerOf(two) : layerOf(secret);
      const r = await u.v2(`/v2/a/one/blobs/uploads/?mount=${layer}&from=${from}`, { method: 'POST' });
      assert.equal(r.status, 202, `from=${from}: an upload session, not a mount`);
    }
    const named = await u.v2(`/v2/a/one/blobs/uploads/?mount=${layerOf(secret)}&from=account--${B}/b/secret`, { method: 'POST' });
    assert.deepEqual(both(named), [400, 'NAME_INVALID'], "a mount never names another account's registry");
    for (const layer of [layerOf(two), layerOf(secret)]) assert.equal((await u.v2(`/v2/a/one/blobs/${layer}`, { method: 'HEAD' })).status, 404);
  });

  it('refuses a PutImage whose config, layers or child manifests are only in another repository or account', async () => {
    for (const img of [two, secret]) {
      const borrowed = manifestOf(configOf(img), img.blobs.get(configOf(img))!.length, [
        { mediaType: MediaTypes.layer, digest: layerOf(img), size: img.blobs.get(layerOf(img))!.length },
      ]);
      assert.match(
        await refusal(u.ecr.send(new PutImageCommand({ repositoryName: 'a/one', imageManifest: borrowed, imageTag: 'borrowed' }))),
        /^LayersNotFoundException/,
        img.repo,
      );
      const index = JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.index,
        manifests: [{ mediaType: MediaTypes.manifest, digest: img.digest, size: img.manifest.length }],
      });
      assert.match(
        await refusal(u.ecr.send(new PutImageCommand({ repositoryName: 'a/one', imageManifest: index, imageTag: 'borrowed' }))),
        /^ReferencedImagesNotFoundException/,
        `an index of ${img.repo}'s image`,
      );
    }
    assert.match(
      await refusal(u.ecr.send(new DescribeImagesCommand({ repositoryName: 'a/one', imageIds: [{ imageTag: 'borrowed' }] }))),
      /^ImageNotFoundException/,
    );
    for (const layer of [configOf(two), layerOf(two), configOf(secret), layerOf(secret)]) {
      assert.equal((await u.v2(`/v2/a/one/blobs/${layer}`, { method: 'HEAD' })).status, 404);
    }
  });

  it("never reads another account's layer that a manifest names as non-distributable: not served, not scanned", async () => {
    // A non-distributable (foreign) layer is one the registry is not expected to hold, so a
    // manifest may name one without uploading it. Naming b/secret's layer that way must not make
    // its bytes, or what a scan finds in them, reachable through a/one.
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    assert.equal((await u.v2(`/v2/a/one/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: asBody(config) })).status, 201);
    const named = (digest: string) =>
      manifestOf(sha256(config), config.length, [{ mediaType: NONDISTRIBUTABLE, digest, size: SECRET_LAYER.length, urls: ['https://example.com/l'] } as never]);
    const put = await u.ecr.send(new PutImageCommand({ repositoryName: 'a/one', imageManifest: named(layerOf(secret)), imageTag: 'foreign' }));
    assert.ok(put.image?.imageId?.imageDigest);
    assert.equal((await u.v2(`/v2/a/one/blobs/${layerOf(secret)}`, { method: 'HEAD' })).status, 404, 'not served');
    assert.match(
      await refusal(u.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'a/one', layerDigest: layerOf(secret) }))),
      /^LayersNotFoundException/,
    );
    // The same manifest naming a digest nobody holds: the two scans must not tell the two apart.
    await u.ecr.send(new PutImageCommand({ repositoryName: 'a/one', imageManifest: named(sha256(randomBytes(16))), imageTag: 'nowhere' }));
    const scanned = async (who: TestIdentity, repositoryName: string, imageTag: string) => {
      await who.ecr.send(new StartImageScanCommand({ repositoryName, imageId: { imageTag } }));
      return waitFor(`the scan of ${repositoryName}:${imageTag}`, async () => {
        const r = await who.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: { imageTag } }));
        return r.imageScanStatus?.status !== 'IN_PROGRESS' && r;
      });
    };
    const [foreign, nowhere] = [await scanned(u, 'a/one', 'foreign'), await scanned(u, 'a/one', 'nowhere')];
    assert.deepEqual(foreign.imageScanFindings?.findings ?? [], [], "b/secret's packages are not a/one's findings");
    // Only its own config is left to read: no file system at all, whatever the digest named.
    assert.equal(foreign.imageScanStatus?.status, 'UNSUPPORTED_IMAGE', foreign.imageScanStatus?.description);
    assert.deepEqual(nowhere.imageScanStatus, foreign.imageScanStatus, 'the scan is no oracle of which digests exist elsewhere');
    // b/secret's own scan still finds what is in its layer (the advisory matches).
    const own = await scanned(b, 'b/secret', 'v1');
    assert.deepEqual(
      own.imageScanFindings?.findings?.map((f) => f.name),
      ['CVE-2026-0036'],
    );
  });

  it('continues no upload of another repository, user or account, and leaves the session whole for its owner', async () => {
    // An upload id of a/two, sent by U under a/one.
    const { uploadId: theirs } = await v.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'a/two' }));
    const part = Buffer.from('part of a layer');
    const partOf = (who: TestIdentity, repositoryName: string, uploadId: string, registryId?: string) =>
      who.ecr.send(
        new UploadLayerPartCommand({
          repositoryName,
          uploadId,
          partFirstByte: 0,
          partLastByte: part.length - 1,
          layerPartBlob: part,
          ...(registryId && { registryId }),
        }),
      );
    assert.match(await refusal(partOf(u, 'a/one', theirs!)), /^UploadNotFoundException/);
    // With a part in it, short of the minimum every part but the last needs (ECR's 5 MiB; here,
    // as `berth admin set-quota` would set it, 100 bytes): its count is a/two's upload's, never an
    // answer to a part sent for a/one.
    await berth.app.registry.quotas.set(A, 'minLayerPartBytes', 100);
    try {
      await partOf(v, 'a/two', theirs!);
      assert.match(await refusal(partOf(u, 'a/one', theirs!)), /^UploadNotFoundException/, 'a part of another upload');
    } finally {
      await berth.app.registry.quotas.set(A, 'minLayerPartBytes', undefined);
    }
    assert.match(
      await refusal(u.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'a/one', uploadId: theirs!, layerDigests: [sha256(part)] }))),
      /^UploadNotFoundException/,
    );
    assert.deepEqual(both(await u.v2(`/v2/a/one/blobs/uploads/${theirs}`)), [404, 'BLOB_UPLOAD_UNKNOWN']);
    // U's own upload in a/one: V (same account, no rights on a/one) and B (its own path, and A's) get nothing of it.
    const { uploadId: mine } = await u.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'a/one' }));
    await partOf(u, 'a/one', mine!);
    assert.match(await refusal(partOf(v, 'a/one', mine!)), /^AccessDeniedException/);
    assert.match(await refusal(partOf(v, 'a/two', mine!)), /^UploadNotFoundException/);
    assert.match(await refusal(partOf(b, 'b/secret', mine!)), /^UploadNotFoundException/);
    assert.match(await refusal(partOf(b, 'a/one', mine!, A)), /^AccessDeniedException/);
    for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
      const init = { method, ...(method === 'PATCH' && { body: asBody(part) }) };
      const query = method === 'PUT' ? `?digest=${sha256(part)}` : '';
      assert.deepEqual(both(await b.v2(`/v2/b/secret/blobs/uploads/${mine}${query}`, init)), [404, 'BLOB_UPLOAD_UNKNOWN'], `B ${method} under b/secret`);
      assert.deepEqual(both(await b.v2(`/v2/account--${A}/a/one/blobs/uploads/${mine}${query}`, init)), [403, 'DENIED'], `B ${method} under a/one`);
      assert.deepEqual(both(await v.v2(`/v2/a/one/blobs/uploads/${mine}${query}`, init)), [403, 'DENIED'], `V ${method} under a/one`);
    }
    const done = await u.ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'a/one', uploadId: mine!, layerDigests: [sha256(part)] }));
    assert.equal(done.layerDigest, sha256(part), 'the owner completes its upload, all its bytes there');
    const check = await v.ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'a/two', layerDigests: [sha256(part)] }));
    assert.equal(check.layers?.[0]?.layerAvailability, 'UNAVAILABLE', "a/one's new layer is not a/two's");
  });

  it('finds no manifest or referrer of another repository or account by digest', async () => {
    // A signature of b/secret's image, in b/secret.
    const sigConfig = Buffer.from('{}');
    assert.equal((await b.v2(`/v2/b/secret/blobs/uploads/?digest=${sha256(sigConfig)}`, { method: 'POST', body: asBody(sigConfig) })).status, 201);
    const sig = numberedManifest(sigConfig, 36, {
      configMediaType: 'application/vnd.oci.empty.v1+json',
      artifactType: 'application/vnd.test.sig',
      subject: secret.manifest,
    });
    const put = await b.v2(`/v2/b/secret/manifests/${sha256(sig)}`, { method: 'PUT', headers: { 'Content-Type': MediaTypes.manifest }, body: asBody(sig) });
    assert.equal(put.status, 201, put.body.toString());
    for (const img of [two, secret]) {
      assert.deepEqual(both(await u.v2(`/v2/a/one/manifests/${img.digest}`)), [404, 'MANIFEST_UNKNOWN'], img.repo);
      const got = await u.ecr.send(new BatchGetImageCommand({ repositoryName: 'a/one', imageIds: [{ imageDigest: img.digest }] }));
      assert.deepEqual(got.images, [], img.repo);
      assert.equal(got.failures?.[0]?.failureCode, 'ImageNotFound', img.repo);
      assert.match(
        await refusal(u.ecr.send(new DescribeImagesCommand({ repositoryName: 'a/one', imageIds: [{ imageDigest: img.digest }] }))),
        /^ImageNotFoundException/,
      );
      const imageId = { imageDigest: img.digest };
      assert.match(await refusal(u.ecr.send(new StartImageScanCommand({ repositoryName: 'a/one', imageId }))), /^ImageNotFoundException/);
      assert.match(await refusal(u.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'a/one', imageId }))), /^ImageNotFoundException/);
      const deleted = await u.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'a/one', imageIds: [imageId] }));
      assert.deepEqual(deleted.imageIds, [], img.repo);
      assert.equal(deleted.failures?.[0]?.failureCode, 'ImageNotFound', img.repo);
    }
    assert.equal((await v.v2(`/v2/a/two/manifests/${two.digest}`, { method: 'HEAD' })).status, 200, "a/two's image is still there");
    assert.equal((await b.v2(`/v2/b/secret/manifests/${secret.digest}`, { method: 'HEAD' })).status, 200, "b/secret's image is still there");
    const referrers = await u.v2(`/v2/a/one/referrers/${secret.digest}`);
    assert.equal(referrers.status, 200);
    assert.deepEqual((JSON.parse(referrers.body.toString()) as { manifests: unknown[] }).manifests, []);
    const theirs = await b.v2(`/v2/b/secret/referrers/${secret.digest}`);
    assert.deepEqual(
      (JSON.parse(theirs.body.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest),
      [sha256(sig)],
      "b/secret's own referrers are there",
    );
  });

  it("lists no other account's names, on any page, and refuses another account's repositories without a policy", async () => {
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'a/onf' }));
    await pushAs(b, makeImage('a/onf', 'v9', [randomBytes(100)]));
    const names = async (who: (path: string) => Promise<Fetched>, path: string, key: 'repositories' | 'tags') => {
      const seen: string[] = [];
      let next: string | null = `${path}?n=1`;
      while (next) {
        const page = await who(next);
        assert.equal(page.status, 200, page.body.toString());
        seen.push(...((JSON.parse(page.body.toString()) as Record<string, string[]>)[key] ?? []));
        const link = page.headers.get('link');
        next = link ? /<([^>]+)>/.exec(link)![1]! : null;
      }
      return seen;
    };
    const asAdmin = (path: string) => request(`${berth.url}${path}`);
    assert.deepEqual(await names(asAdmin, '/v2/_catalog', 'repositories'), ['a/one', 'a/two']);
    assert.deepEqual(await names(b.v2, '/v2/_catalog', 'repositories'), ['a/onf', 'b/secret']);
    const lastPage = await asAdmin('/v2/_catalog?n=5&last=a/one');
    assert.deepEqual(JSON.parse(lastPage.body.toString()), { repositories: ['a/two'] }, "after a/one comes a/two, never B's a/onf");
    const tags = await u.v2('/v2/a/one/tags/list?n=10&last=v1');
    assert.equal(tags.status, 200);
    assert.ok(!(JSON.parse(tags.body.toString()) as { tags: string[] }).tags.includes('v9'), "B's a/onf's tag is not a/one's");
    for (const who of [u.ecr, admin]) {
      assert.match(await refusal(who.send(new DescribeRepositoriesCommand({ registryId: B }))), /^AccessDeniedException/);
      assert.match(await refusal(who.send(new DescribeRepositoriesCommand({ registryId: B, repositoryNames: ['b/secret'] }))), /^AccessDeniedException/);
    }
  });

  it("serves a GetDownloadUrlForLayer URL only for its caller's own reads: not another user, digest, repository or account", async () => {
    const layer = randomBytes(700);
    assert.equal((await u.v2(`/v2/a/one/blobs/uploads/?digest=${sha256(layer)}`, { method: 'POST', body: asBody(layer) })).status, 201);
    const { downloadUrl } = await u.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'a/one', layerDigest: sha256(layer) }));
    const path = new URL(downloadUrl!).pathname;
    assert.equal(path, `/v2/a/one/blobs/${sha256(layer)}`);
    const mine = await u.v2(path);
    assert.equal(mine.status, 200);
    assert.ok(mine.body.equals(layer));
    assert.deepEqual(both(await v.v2(path)), [403, 'DENIED'], 'another user of the account');
    assert.deepEqual(both(await b.v2(path)), [404, 'NAME_UNKNOWN'], 'another account: the path names its own registry, which has no a/one');
    assert.deepEqual(both(await b.v2(`/v2/account--${A}/a/one/blobs/${sha256(layer)}`)), [403, 'DENIED'], "another account naming A's registry");
    assert.deepEqual(both(await u.v2(path.replace(sha256(layer), layerOf(secret)))), [404, 'BLOB_UNKNOWN'], 'another digest');
    assert.deepEqual(both(await u.v2(path.replace('a/one', 'a/two'))), [403, 'DENIED'], 'another repository');
    const anonymous = await fetch(`${berth.url}${path}`);
    assert.deepEqual(
      both({ status: anonymous.status, headers: anonymous.headers, body: Buffer.from(await anonymous.arrayBuffer()) }),
      [401, 'UNAUTHORIZED'],
      'no login',
    );
  });

  it("keeps the account's public registry apart from its private one: no layer, upload id or manifest reference crosses", async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'pub/app' }));
    const layers = [layerOf(two), layerOf(secret)];
    const check = await pub.send(new PublicBatchCheckLayerAvailabilityCommand({ repositoryName: 'pub/app', layerDigests: layers }));
    assert.deepEqual(
      check.layers?.map((l) => l.layerAvailability),
      ['UNAVAILABLE', 'UNAVAILABLE'],
    );
    const part = Buffer.from('a public part');
    const partIn = (client: ECRClient | ECRPUBLICClient, repositoryName: string, uploadId: string) =>
      client instanceof ECRPUBLICClient
        ? client.send(new PublicUploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 0, partLastByte: part.length - 1, layerPartBlob: part }))
        : client.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 0, partLastByte: part.length - 1, layerPartBlob: part }));
    const { uploadId: privateId } = await admin.send(new InitiateLayerUploadCommand({ repositoryName: 'a/one' }));
    const { uploadId: publicId } = await pub.send(new PublicInitiateLayerUploadCommand({ repositoryName: 'pub/app' }));
    assert.match(await refusal(partIn(pub, 'pub/app', privateId!)), /^UploadNotFoundException/, 'a private upload id on the public registry');
    assert.match(await refusal(partIn(admin, 'a/one', publicId!)), /^UploadNotFoundException/, 'a public upload id on the private registry');
    const borrowed = manifestOf(configOf(two), two.blobs.get(configOf(two))!.length, [
      { mediaType: MediaTypes.layer, digest: layerOf(two), size: two.blobs.get(layerOf(two))!.length },
    ]);
    assert.match(
      await refusal(pub.send(new PublicPutImageCommand({ repositoryName: 'pub/app', imageManifest: borrowed, imageTag: 'v1' }))),
      /^LayersNotFoundException/,
      "a private repository's layers are not the public one's",
    );
    for (const layer of layers) {
      const anonymous = await fetch(`${berth.url}/v2/${A}/pub/app/blobs/${layer}`);
      assert.equal(anonymous.status, 404, 'nothing readable anonymously');
    }
  });
});
