/**
 * What a /v2 caller whose policies name only some repositories, or only some actions, can reach
 * of the rest: nothing. Blobs, manifests and referrers are a repository's, not the registry's,
 * whatever the caller knows of their digests; uploads and manifest pushes cannot bring in bytes the
 * caller may not read; listings and deletes need their own actions; anonymous callers only read
 * public repositories. Each case is the request that must be refused.
 */
import { CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand as CreatePublicRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MediaTypes } from '../e2e/helpers/oci-layout.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { makeImage, pushImage } from '../e2e/helpers/gc.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { asBody, errorCode, numberedManifest, pushBlob, pushManifest, request, sha256, type Fetched, type TestImage } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const OTHER = '111122223333';
const ARN = `arn:aws:ecr:us-east-1:${ACCOUNT}:repository`;
const both = (r: Fetched) => [r.status, errorCode(r)];

describe('/v2 callers reach only what their policies name', () => {
  let berth: BerthInProcess;
  let secret: TestImage;
  let signature: Buffer;
  let teamer: TestIdentity;
  let puller: TestIdentity;
  const anon = async (path: string, init: RequestInit = {}): Promise<Fetched> => {
    const res = await fetch(`${berth.url}${path}`, init);
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    for (const repositoryName of ['secret/app', 'team/app']) await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName }));
    secret = makeImage('secret/app', 'v1', [randomBytes(2048)]);
    await pushImage(berth.url, secret);
    await pushImage(berth.url, makeImage('team/app', 'v1', [randomBytes(1024)]));
    // A signature of the secret image, in its repository.
    const sigConfig = Buffer.from('{}');
    assert.equal((await pushBlob(berth.url, 'secret/app', sigConfig)).status, 201);
    signature = numberedManifest(sigConfig, 1, {
      configMediaType: 'application/vnd.oci.empty.v1+json',
      artifactType: 'application/vnd.test.sig',
      subject: secret.manifest,
    });
    assert.equal((await pushManifest(berth.url, 'secret/app', sha256(signature), signature, MediaTypes.manifest)).status, 201);
    const login = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
    teamer = await createUser(
      berth,
      iam,
      'teamer',
      [],
      [{ Version: '2012-10-17', Statement: [login, { Effect: 'Allow', Action: 'ecr:*', Resource: `${ARN}/team/*` }] }],
    );
    const reads = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:ListImages', 'ecr:DescribeRepositories'];
    puller = await createUser(berth, iam, 'puller', [], [{ Version: '2012-10-17', Statement: [login, { Effect: 'Allow', Action: reads, Resource: '*' }] }]);
  });
  after(async () => berth?.cleanup());

  const secretLayer = () => [...secret.blobs.keys()][1]!;

  it("reads no blob, manifest or referrer of another repository through its own repository's path", async () => {
    for (const method of ['GET', 'HEAD']) {
      const blob = await teamer.v2(`/v2/team/app/blobs/${secretLayer()}`, { method });
      assert.equal(blob.status, 404, `${method} blob`);
      if (method === 'GET') assert.equal(errorCode(blob), 'BLOB_UNKNOWN');
      const manifest = await teamer.v2(`/v2/team/app/manifests/${secret.digest}`, { method });
      assert.equal(manifest.status, 404, `${method} manifest`);
    }
    const referrers = await teamer.v2(`/v2/team/app/referrers/${secret.digest}`);
    assert.equal(referrers.status, 200);
    assert.deepEqual((JSON.parse(referrers.body.toString()) as { manifests: unknown[] }).manifests, []);
    for (const path of [`blobs/${secretLayer()}`, `manifests/${secret.digest}`, `referrers/${secret.digest}`, 'tags/list', 'tags/list?n=1&last=a']) {
      assert.deepEqual(both(await teamer.v2(`/v2/secret/app/${path}`)), [403, 'DENIED'], path);
    }
    assert.deepEqual(both(await teamer.v2('/v2/_catalog?n=1&last=a')), [403, 'DENIED'], 'the catalog lists every repository');
  });

  it('brings no unreadable blob into its repository by mount, upload or manifest', async () => {
    const mount = await teamer.v2(`/v2/team/app/blobs/uploads/?mount=${secretLayer()}&from=secret/app`, { method: 'POST' });
    assert.equal(mount.status, 202, 'a mount from an unreadable repository is an upload');
    const auto = await teamer.v2(`/v2/team/app/blobs/uploads/?mount=${secretLayer()}`, { method: 'POST' });
    assert.equal(auto.status, 202);
    const location = new URL(auto.headers.get('location')!, berth.url).pathname;
    const claimed = await teamer.v2(`${location}?digest=${secretLayer()}`, { method: 'PUT' });
    assert.deepEqual(both(claimed), [400, 'DIGEST_INVALID'], 'an empty upload completed under a known digest');
    const mono = await teamer.v2(`/v2/team/app/blobs/uploads/?digest=${secretLayer()}`, { method: 'POST', body: asBody(Buffer.from('not it')) });
    assert.deepEqual(both(mono), [400, 'DIGEST_INVALID']);
    assert.equal((await teamer.v2(`/v2/team/app/blobs/${secretLayer()}`, { method: 'HEAD' })).status, 404);
    const borrowed = makeImage('team/app', 'borrowed', []);
    const layers = [...secret.blobs.keys()];
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.manifest,
        config: { mediaType: MediaTypes.config, digest: layers[0], size: secret.blobs.get(layers[0]!)!.length },
        layers: [{ mediaType: MediaTypes.layer, digest: layers[1], size: secret.blobs.get(layers[1]!)!.length }],
      }),
    );
    const put = await teamer.v2('/v2/team/app/manifests/borrowed', { method: 'PUT', headers: { 'Content-Type': MediaTypes.manifest }, body: asBody(manifest) });
    assert.deepEqual(both(put), [400, 'MANIFEST_BLOB_UNKNOWN']);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.index,
        manifests: [{ mediaType: MediaTypes.manifest, digest: secret.digest, size: secret.manifest.length }],
      }),
    );
    const putIndex = await teamer.v2('/v2/team/app/manifests/borrowed', { method: 'PUT', headers: { 'Content-Type': MediaTypes.index }, body: asBody(index) });
    assert.equal(putIndex.status, 400, putIndex.body.toString());
    assert.equal((await teamer.v2(`/v2/team/app/manifests/${borrowed.tag}`, { method: 'HEAD' })).status, 404);
  });

  it("puts a referrer of another repository's image in its own repository only", async () => {
    const config = Buffer.from('{}');
    assert.equal((await teamer.v2(`/v2/team/app/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: asBody(config) })).status, 201);
    const sbom = numberedManifest(config, 2, {
      configMediaType: 'application/vnd.oci.empty.v1+json',
      artifactType: 'application/vnd.test.sbom',
      subject: secret.manifest,
    });
    const put = await teamer.v2(`/v2/team/app/manifests/${sha256(sbom)}`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaTypes.manifest },
      body: asBody(sbom),
    });
    assert.equal(put.status, 201, put.body.toString());
    const listed = await request(`${berth.url}/v2/secret/app/referrers/${secret.digest}`);
    const digests = (JSON.parse(listed.body.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest);
    assert.deepEqual(digests, [sha256(signature)], "the secret repository's referrers are its own");
  });

  it('continues no upload of another repository, under its path or its own', async () => {
    const started = await request(`${berth.url}/v2/secret/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    const path = new URL(started.headers.get('location')!, berth.url).pathname;
    const data = Buffer.from('appended');
    assert.deepEqual(both(await teamer.v2(path, { method: 'PATCH', body: asBody(data) })), [403, 'DENIED']);
    const moved = path.replace('/v2/secret/app/', '/v2/team/app/');
    for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
      const r = await teamer.v2(method === 'PUT' ? `${moved}?digest=${sha256('')}` : moved, { method, ...(method === 'PATCH' && { body: asBody(data) }) });
      assert.deepEqual(both(r), [404, 'BLOB_UPLOAD_UNKNOWN'], method);
    }
    assert.equal((await request(`${berth.url}${path}`)).status, 204, 'the session is untouched');
  });

  it('deletes and uploads nothing with pull permissions only', async () => {
    const refused = [
      ['DELETE', `/v2/secret/app/manifests/${secret.tag}`],
      ['DELETE', `/v2/secret/app/manifests/${secret.digest}`],
      ['DELETE', `/v2/secret/app/blobs/${secretLayer()}`],
      ['POST', '/v2/secret/app/blobs/uploads/'],
      ['POST', `/v2/secret/app/blobs/uploads/?mount=${secretLayer()}&from=team/app`],
      ['PUT', `/v2/secret/app/manifests/moved`],
    ] as const;
    for (const [method, path] of refused) {
      const init = method === 'PUT' ? { method, headers: { 'Content-Type': MediaTypes.manifest }, body: asBody(secret.manifest) } : { method };
      assert.deepEqual(both(await puller.v2(path, init)), [403, 'DENIED'], `${method} ${path}`);
    }
    assert.equal((await puller.v2(`/v2/secret/app/manifests/${secret.tag}`)).status, 200, 'the image and its tag are still there');
    assert.equal((await puller.v2(`/v2/secret/app/blobs/${secretLayer()}`, { method: 'HEAD' })).status, 200);
  });

  it('refuses anonymous writes and the catalog, on private and public repositories alike', async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/open' }));
    const open = makeImage(`${ACCOUNT}/tools/open`, 'v1', [randomBytes(512)]);
    await pushImage(berth.url, open);
    const layer = [...open.blobs.keys()][1]!;
    assert.equal((await anon(`/v2/${ACCOUNT}/tools/open/blobs/${layer}`)).status, 200, 'a public blob reads anonymously');
    for (const repo of [`${ACCOUNT}/tools/open`, 'secret/app']) {
      const refused = [
        ['POST', `/v2/${repo}/blobs/uploads/`],
        ['POST', `/v2/${repo}/blobs/uploads/?digest=${sha256('')}`],
        ['DELETE', `/v2/${repo}/manifests/v1`],
        ['DELETE', `/v2/${repo}/blobs/${layer}`],
        ['PUT', `/v2/${repo}/manifests/v2`],
      ] as const;
      for (const [method, path] of refused) {
        const init = method === 'PUT' ? { method, headers: { 'Content-Type': MediaTypes.manifest }, body: asBody(open.manifest) } : { method };
        assert.deepEqual(both(await anon(path, init)), [401, 'UNAUTHORIZED'], `${method} ${path}`);
      }
    }
    assert.deepEqual(both(await anon('/v2/_catalog')), [401, 'UNAUTHORIZED']);
    // A public blob is no way into a private repository for someone who may not push there.
    const mount = await puller.v2(`/v2/secret/app/blobs/uploads/?mount=${layer}&from=${ACCOUNT}/tools/open`, { method: 'POST' });
    assert.deepEqual(both(mount), [403, 'DENIED']);
    assert.equal((await request(`${berth.url}/v2/${ACCOUNT}/tools/open/manifests/v1`, { method: 'HEAD' })).status, 200, 'still there');
  });

  it("gives another account's root nothing of this registry without a policy, and no way to name it as a mount's source", async () => {
    await createAccount(berth, OTHER);
    const other = await otherAccountIdentity(berth, OTHER);
    const here = `/v2/account--${ACCOUNT}`;
    for (const [method, path] of [
      ['GET', `${here}/_catalog`],
      ['GET', `${here}/secret/app/tags/list`],
      ['GET', `${here}/secret/app/referrers/${secret.digest}`],
      ['HEAD', `${here}/secret/app/blobs/${secretLayer()}`],
      ['HEAD', `${here}/secret/app/manifests/${secret.digest}`],
      ['POST', `${here}/secret/app/blobs/uploads/`],
      ['DELETE', `${here}/secret/app/manifests/${secret.digest}`],
    ] as const) {
      const r = await other.v2(path, { method });
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    const named = await other.v2(`/v2/their/app/blobs/uploads/?mount=${secretLayer()}&from=account--${ACCOUNT}/secret/app`, { method: 'POST' });
    assert.deepEqual(both(named), [400, 'NAME_INVALID'], 'a mount never leaves the registry it is made in');
    const auto = await other.v2(`/v2/their/app/blobs/uploads/?mount=${secretLayer()}`, { method: 'POST' });
    assert.equal(auto.status, 202);
    assert.equal((await other.v2(`/v2/their/app/blobs/${secretLayer()}`, { method: 'HEAD' })).status, 404);
  });

  it('moves no tag that immutability with exclusion filters holds, by tag or by ?tag=, for a caller who may push', async () => {
    const ecr = ecrClient(berth);
    await ecr.send(
      new CreateRepositoryCommand({
        repositoryName: 'team/imm',
        imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest*' }],
      }),
    );
    await ecr.send(
      new CreateRepositoryCommand({
        repositoryName: 'team/mut',
        imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'release-*' }],
      }),
    );
    const config = Buffer.from('{}');
    const image = (n: number) => numberedManifest(config, n);
    const put = (repo: string, ref: string, m: Buffer, query = '') =>
      teamer.v2(`/v2/${repo}/manifests/${ref}${query}`, { method: 'PUT', headers: { 'Content-Type': MediaTypes.manifest }, body: asBody(m) });
    const digestOf = async (repo: string, tag: string) =>
      (await teamer.v2(`/v2/${repo}/manifests/${tag}`, { method: 'HEAD' })).headers.get('docker-content-digest');
    for (const [repo, held, free] of [
      ['team/imm', 'v1', 'latest-dev'],
      ['team/mut', 'release-1', 'dev'],
    ] as const) {
      assert.equal((await teamer.v2(`/v2/${repo}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: asBody(config) })).status, 201);
      const [first, second] = [image(10), image(11)];
      assert.equal((await put(repo, sha256(first), first, `?tag=${held}&tag=${free}`)).status, 201);
      assert.deepEqual(both(await put(repo, held, second)), [400, 'TAG_INVALID'], `${repo}: ${held} by tag`);
      const tagged = await put(repo, sha256(second), second, `?tag=${free}&tag=${held}`);
      assert.deepEqual(both(tagged), [400, 'TAG_INVALID'], `${repo}: ${held} among ?tag=`);
      assert.equal(await digestOf(repo, free), sha256(first), `${repo}: all or nothing, ${free} did not move either`);
      assert.equal(await digestOf(repo, held), sha256(first));
      assert.equal((await put(repo, free, second)).status, 201, `${repo}: ${free} is mutable`);
      assert.equal(await digestOf(repo, free), sha256(second));
    }
  });

  it("keeps a private repository named after another account's id its own when that account makes a public one of the same name", async () => {
    const third = '222233334444';
    await createAccount(berth, third);
    const owner = await otherAccountIdentity(berth, third);
    const name = `${ACCOUNT}/tools/shadow`;
    const mine = makeImage(name, 'v1', [randomBytes(300)]);
    for (const data of mine.blobs.values()) {
      assert.equal((await owner.v2(`/v2/${name}/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: asBody(data) })).status, 201);
    }
    const put = (m: Buffer, tag: string) =>
      owner.v2(`/v2/${name}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': MediaTypes.manifest }, body: asBody(m) });
    assert.equal((await put(mine.manifest, 'v1')).status, 201);
    // The account whose id the name begins with makes a public repository of the rest, and pushes.
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/shadow' }));
    const theirs = makeImage(name, 'v1', [randomBytes(300)]);
    await pushImage(berth.url, theirs);
    const served = async (r: Promise<Fetched>) => (await r).headers.get('docker-content-digest');
    assert.equal(await served(owner.v2(`/v2/${name}/manifests/v1`, { method: 'HEAD' })), mine.digest, "the owner's pull gets its own image");
    assert.equal((await put(mine.manifest, 'v2')).status, 201, "the owner's pushes still reach its repository");
    assert.equal(await served(anon(`/v2/${name}/manifests/v1`, { method: 'HEAD' })), theirs.digest, 'an anonymous pull gets the public one');
    assert.equal(await served(request(`${berth.url}/v2/${name}/manifests/v1`, { method: 'HEAD' })), theirs.digest, "and so does the public repository's owner");
  });
});
