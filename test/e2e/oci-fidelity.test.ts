/**
 * OCI protocol fidelity (issue #12, points 5 and 6) through real clients: skopeo pushes a
 * multi-platform index whose children /v2 (raw HTTP) and BatchDeleteImage (the ECR SDK) must
 * both refuse to delete; reads of a tag that cannot exist; referrers of a repository nobody
 * pushed to yet, still behind authorization; and manifest PUT with `?tag=` parameters.
 */
import { BatchDeleteImageCommand, CreateRepositoryCommand, GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, ecrClient } from './helpers/ecr-client.js';
import { buildIndexLayout, MediaTypes, readLayoutRef, type BuiltIndex } from './helpers/oci-layout.js';
import { errorCode, getManifest, listTags, pushBlob, pushManifest, request, sha256, type Fetched } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function message(r: Fetched): string {
  return (JSON.parse(r.body.toString()) as { errors: Array<{ message: string }> }).errors[0]!.message;
}

describe('OCI protocol fidelity', () => {
  let berth: BerthProcess;
  let base: string;
  let skopeo: Skopeo;
  let admin: ECRClient;
  let work: string;
  let multi: BuiltIndex;
  const docker = (ref: string) => `docker://${berth.host}/${ref}`;

  before(async () => {
    work = await tempDir('berth-fidelity-');
    multi = await buildIndexLayout(join(work, 'src'), {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      layers: 1,
      layerBytes: 4096,
      tag: 'multi',
    });
    [berth, skopeo] = await Promise.all([startBerth(), createSkopeo()]);
    base = berth.url;
    admin = ecrClient(berth);
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Pushes a small single-platform image's blobs; returns its manifest (not pushed) and digest. */
  async function imageParts(repo: string) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(4).toString('hex') }));
    const layer = randomBytes(500);
    assert.equal((await pushBlob(base, repo, config)).status, 201);
    assert.equal((await pushBlob(base, repo, layer)).status, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
      }),
    );
    return { manifest, digest: sha256(manifest) };
  }

  const del = (repo: string, ref: string) => request(`${base}/v2/${repo}/manifests/${ref}`, { method: 'DELETE' });

  describe('a manifest an index lists is not deleted, through either door', () => {
    it('/v2 DELETE of a child is 409 naming the index; the index stays pullable; index first, then the child, works', async () => {
      await skopeo.copy(`oci:${join(work, 'src')}:multi`, docker('fid/multi:v1'), ['--all', '--preserve-digests']);
      const [amd64, arm64] = multi.images.map((i) => i.manifestDigest) as [string, string];

      const refused = await del('fid/multi', amd64);
      assert.equal(refused.status, 409, refused.body.toString());
      assert.equal(errorCode(refused), 'DENIED');
      assert.match(message(refused), new RegExp(`referenced by the index ${multi.indexDigest}`));
      await assert.rejects(skopeo.delete(docker(`fid/multi@${arm64}`)), 'skopeo sees the refusal too');

      // Nothing changed: skopeo pulls the whole index back, every child byte for byte.
      const out = join(work, 'out');
      await skopeo.copy(docker('fid/multi:v1'), `oci:${out}:v1`, ['--all', '--preserve-digests']);
      assert.equal((await readLayoutRef(out, 'v1')).digest, multi.indexDigest);
      for (const img of multi.images) {
        const r = await getManifest(base, 'fid/multi', img.manifestDigest);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, img.manifest);
      }

      assert.equal((await del('fid/multi', multi.indexDigest)).status, 202);
      assert.equal((await del('fid/multi', amd64)).status, 202);
      assert.equal(errorCode(await getManifest(base, 'fid/multi', amd64)), 'MANIFEST_UNKNOWN');
      await skopeo.delete(docker(`fid/multi@${arm64}`));
      assert.equal(errorCode(await getManifest(base, 'fid/multi', arm64)), 'MANIFEST_UNKNOWN');
    });

    it('BatchDeleteImage reports the child as ImageReferencedByManifestList and deletes the rest in order', async () => {
      await skopeo.copy(`oci:${join(work, 'src')}:multi`, docker('fid/batch:v1'), ['--all', '--preserve-digests']);
      const [amd64, arm64] = multi.images.map((i) => i.manifestDigest) as [string, string];
      const first = await admin.send(new BatchDeleteImageCommand({ repositoryName: 'fid/batch', imageIds: [{ imageDigest: amd64 }] }));
      assert.deepEqual(first.imageIds, []);
      assert.deepEqual(first.failures, [
        {
          imageId: { imageDigest: amd64 },
          failureCode: 'ImageReferencedByManifestList',
          failureReason: `Requested image referenced by manifest list: [${multi.indexDigest}]`,
        },
      ]);
      assert.equal((await getManifest(base, 'fid/batch', amd64)).status, 200);
      // Within one call, the index goes first and frees its children for the ids after it.
      const second = await admin.send(
        new BatchDeleteImageCommand({
          repositoryName: 'fid/batch',
          imageIds: [{ imageDigest: multi.indexDigest }, { imageDigest: amd64 }, { imageDigest: arm64 }],
        }),
      );
      assert.deepEqual(second.failures, []);
      assert.deepEqual(
        second.imageIds?.map((i) => i.imageDigest),
        [multi.indexDigest, amd64, arm64],
      );
    });
  });

  describe('reads by a tag that cannot exist', () => {
    it('GET and HEAD are 404 MANIFEST_UNKNOWN; a PUT of it stays 400 TAG_INVALID', async () => {
      const img = await imageParts('fid/tags');
      assert.equal((await pushManifest(base, 'fid/tags', 'v1', img.manifest, OCI_MANIFEST)).status, 201);
      for (const bad of ['-bad-tag', '.dot', 'a'.repeat(129), 'sp%20ace']) {
        const get = await getManifest(base, 'fid/tags', bad);
        assert.equal(get.status, 404, `GET ${bad}: ${get.body.toString()}`);
        assert.equal(errorCode(get), 'MANIFEST_UNKNOWN');
        assert.equal((await getManifest(base, 'fid/tags', bad, 'HEAD')).status, 404, `HEAD ${bad}`);
      }
      const put = await pushManifest(base, 'fid/tags', '-bad-tag', img.manifest, OCI_MANIFEST);
      assert.equal(put.status, 400);
      assert.equal(errorCode(put), 'TAG_INVALID');
      assert.deepEqual((await listTags(base, 'fid/tags')).tags, ['v1']);
      // A malformed digest is still the client's mistake.
      assert.equal(errorCode(await getManifest(base, 'fid/tags', 'sha256:xyz')), 'DIGEST_INVALID');
    });
  });

  describe('referrers of a repository that does not exist yet', () => {
    it('are an empty image index (200), for a caller allowed ecr:BatchGetImage only', async () => {
      const r = await request(`${base}/v2/fid/never-pushed/referrers/${sha256('subject')}`);
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers.get('content-type'), OCI_INDEX);
      assert.deepEqual(JSON.parse(r.body.toString()), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
      const filtered = await request(`${base}/v2/fid/never-pushed/referrers/${sha256('subject')}?artifactType=application/x-sig`);
      assert.equal(filtered.status, 200);
      assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
      assert.equal(errorCode(await request(`${base}/v2/fid/never-pushed/referrers/sha256:xyz`)), 'DIGEST_INVALID');

      // Authorization still comes first: anonymous is 401, a user without ecr:BatchGetImage 403.
      const anonymous = await fetch(`${base}/v2/fid/never-pushed/referrers/${sha256('subject')}`);
      assert.equal(anonymous.status, 401);
      const iam = new IAMClient({ endpoint: base, region: 'us-east-1', credentials: adminCredentials(berth) });
      const login = async (name: string, actions: string[]) => {
        await iam.send(new CreateUserCommand({ UserName: name }));
        const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] };
        await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: JSON.stringify(policy) }));
        const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
        const ecr = ecrClient(berth, { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
        const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
        return { authorization: `Basic ${token}` };
      };
      const noRead = await login('fid-no-read', ['ecr:GetAuthorizationToken']);
      const denied = await request(`${base}/v2/fid/never-pushed/referrers/${sha256('subject')}`, { headers: { Authorization: noRead.authorization } });
      assert.equal(denied.status, 403);
      assert.equal(errorCode(denied), 'DENIED');
      const reader = await login('fid-reader', ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage']);
      const allowed = await request(`${base}/v2/fid/never-pushed/referrers/${sha256('subject')}`, { headers: { Authorization: reader.authorization } });
      assert.equal(allowed.status, 200);
      assert.deepEqual(JSON.parse(allowed.body.toString()).manifests, []);
    });
  });

  describe('manifest PUT by digest with ?tag= parameters', () => {
    const put = (repo: string, ref: string, manifest: Buffer, query: string) =>
      request(`${base}/v2/${repo}/manifests/${ref}${query}`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest.toString() });

    it('stores the manifest and points every tag at it, confirming each in OCI-Tag', async () => {
      const img = await imageParts('fid/multitag');
      const tags = ['latest', '1', '1.2', '1.2.3', ...Array.from({ length: 10 }, (_, i) => `extra-${i}`)];
      const r = await put('fid/multitag', img.digest, img.manifest, `?${tags.map((t) => `tag=${t}`).join('&')}&tag=latest`);
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers.get('docker-content-digest'), img.digest);
      assert.deepEqual(r.headers.get('oci-tag')?.split(', '), tags, 'each accepted tag once');
      assert.deepEqual((await listTags(base, 'fid/multitag')).tags, [...tags].sort());
      for (const t of tags) assert.equal((await getManifest(base, 'fid/multitag', t)).headers.get('docker-content-digest'), img.digest);
      // Without ?tag= nothing is confirmed.
      const plain = await put('fid/multitag', img.digest, img.manifest, '');
      assert.equal(plain.status, 201);
      assert.equal(plain.headers.get('oci-tag'), null);
    });

    it('refuses an invalid tag, or tags on a push by tag, with 400 TAG_INVALID and writes nothing', async () => {
      const img = await imageParts('fid/badtag');
      for (const query of ['?tag=good&tag=-bad', '?tag=', `?tag=${'x'.repeat(129)}`]) {
        const r = await put('fid/badtag', img.digest, img.manifest, query);
        assert.equal(r.status, 400, `${query}: ${r.body.toString()}`);
        assert.equal(errorCode(r), 'TAG_INVALID');
      }
      const byTag = await put('fid/badtag', 'v1', img.manifest, '?tag=v2');
      assert.equal(byTag.status, 400);
      assert.equal(errorCode(byTag), 'TAG_INVALID');
      assert.match(message(byTag), /only on a push by digest/);
      assert.equal(errorCode(await getManifest(base, 'fid/badtag', img.digest)), 'MANIFEST_UNKNOWN');
      assert.deepEqual((await listTags(base, 'fid/badtag')).tags, []);
    });

    it('obeys tag immutability for every tag: one held tag refuses the whole push', async () => {
      await admin.send(new CreateRepositoryCommand({ repositoryName: 'fid/immutable', imageTagMutability: 'IMMUTABLE' }));
      const first = await imageParts('fid/immutable');
      assert.equal((await put('fid/immutable', first.digest, first.manifest, '?tag=v1&tag=stable')).status, 201);
      const second = await imageParts('fid/immutable');
      const refused = await put('fid/immutable', second.digest, second.manifest, '?tag=v2&tag=stable');
      assert.equal(refused.status, 400, refused.body.toString());
      assert.equal(errorCode(refused), 'TAG_INVALID');
      assert.match(message(refused), /'stable' already exists/);
      assert.equal(errorCode(await getManifest(base, 'fid/immutable', second.digest)), 'MANIFEST_UNKNOWN', 'the manifest is not stored');
      assert.deepEqual((await listTags(base, 'fid/immutable')).tags, ['stable', 'v1'], 'v2 is not written');
      assert.equal((await getManifest(base, 'fid/immutable', 'stable')).headers.get('docker-content-digest'), first.digest);
      // The same digest again under its own tags is accepted, and a new tag added with them.
      const again = await put('fid/immutable', first.digest, first.manifest, '?tag=stable&tag=v1.0');
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('oci-tag'), 'stable, v1.0');
      assert.deepEqual((await listTags(base, 'fid/immutable')).tags, ['stable', 'v1', 'v1.0']);
    });
  });

  it('an index pushed by digest with ?tag= over raw HTTP holds its children the same way', async () => {
    const children = [await imageParts('fid/rawindex'), await imageParts('fid/rawindex')];
    for (const c of children) assert.equal((await pushManifest(base, 'fid/rawindex', c.digest, c.manifest, OCI_MANIFEST)).status, 201);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.index,
        manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.manifest.length })),
      }),
    );
    const r = await request(`${base}/v2/fid/rawindex/manifests/${sha256(index)}?tag=v1`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_INDEX },
      body: index.toString(),
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('oci-tag'), 'v1');
    const refused = await del('fid/rawindex', children[0]!.digest);
    assert.equal(refused.status, 409);
    assert.equal((await getManifest(base, 'fid/rawindex', 'v1')).status, 200);
  });
});
