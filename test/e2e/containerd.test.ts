/**
 * containerd, what Kubernetes nodes pull with, against a running Berth: `ctr` (containerd's own
 * registry client: its resolver, its Basic auth answer to the challenge, HEAD-then-GET, parallel
 * layer fetches, pushes that mount from the repository content came from) pulls and pushes over
 * plain HTTP with `aws ecr get-login-password` credentials. Every blob containerd stores is
 * compared byte for byte with what was pushed, and the access log shows what it asked and got.
 */
import { ECRPUBLICClient, CreateRepositoryCommand as CreatePublicRepositoryCommand } from '@aws-sdk/client-ecr-public';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { accessLog, type Access } from './helpers/access-lines.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { containerdUnavailable, startContainerd, type Containerd } from './helpers/containerd.js';
import { adminCredentials, awsCliEnv } from './helpers/ecr-client.js';
import { createUser, type TestIdentity } from './helpers/iam-users.js';
import { blobPath, buildImageLayout, buildIndexLayout, MediaTypes, type BuiltImage, type BuiltIndex } from './helpers/oci-layout.js';
import { catalog, errorCode, getBlob, getManifest, listTags, sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const ACCOUNT = '000000000000';

const unavailable = containerdUnavailable();
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_CONTAINERD)) throw new Error(`containerd is required here: ${unavailable}`);

describe('containerd against Berth', { skip: unavailable ?? false }, () => {
  let berth: BerthProcess;
  let ctrd: Containerd;
  let skopeo: Skopeo;
  let work: string;
  let accessPath: string;
  let password: string; // aws ecr get-login-password
  let app: BuiltImage; // in Berth as team/app:v1
  let multi: BuiltIndex; // in Berth as team/multi:v1
  let made: BuiltImage; // only in a tar that containerd imports
  let iam: IAMClient;
  const src = () => join(work, 'src');
  const ref = (name: string) => `${berth.host}/${name}`;
  const withUser = (user: string | undefined) => (user === undefined ? [] : ['--user', user]);
  const pull = (args: string[], user: string | undefined = `AWS:${password}`) => ctrd.ctr(['images', 'pull', '--plain-http', ...withUser(user), ...args]);
  const push = (name: string, user = `AWS:${password}`) => ctrd.ctr(['images', 'push', '--plain-http', ...withUser(user), ref(name)]);
  /** `AWS:<token>` of an identity's login (what get-login-password prints, with the user name). */
  const loginOf = (who: TestIdentity) => Buffer.from(who.authorization!.replace(/^Basic /, ''), 'base64').toString();

  const accessSince = (from: number, prefix: string, done: (lines: Access[]) => boolean) => accessLog(accessPath).since(from, prefix, done);
  const mark = () => accessLog(accessPath, berth.url).mark();
  /**
   * Only the login challenge may be refused (containerd asks without credentials, then answers
   * the 401), and, in a push, the HEADs that find a blob or manifest not there yet (404).
   */
  const assertOnlyChallenges = (lines: Access[], opts: { pushing?: boolean } = {}) => {
    for (const l of lines) {
      if (l.status < 400) continue;
      if (opts.pushing && l.method === 'HEAD' && l.status === 404 && l.principal !== 'anonymous') continue;
      assert.deepEqual([l.status, l.principal], [401, 'anonymous'], `${l.method} ${l.path}`);
    }
  };
  /** True once every blob of `image` was answered to a GET from `repo`. */
  const fetchedAll = (repo: string, image: BuiltImage) => (lines: Access[]) =>
    [image.configDigest, ...image.layers.map((l) => l.digest)].every((d) =>
      lines.some((l) => l.method === 'GET' && l.status === 200 && l.path === `/v2/${repo}/blobs/${d}`),
    );
  /** True once the manifest PUT of `repo:tag` was answered. */
  const putManifest = (repo: string, tag: string) => (lines: Access[]) => lines.some((l) => l.method === 'PUT' && l.path === `/v2/${repo}/manifests/${tag}`);

  /** Every blob of `image` is in containerd's content store with exactly the bytes of the layout. */
  async function assertHolds(image: BuiltImage, layout = src()): Promise<void> {
    for (const digest of [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]) {
      const held = await ctrd.content(digest);
      assert.equal(sha256(held), digest, `containerd's ${digest} hashes to its digest`);
      assert.ok(held.equals(await readFile(blobPath(layout, digest))), `containerd's ${digest} is the pushed bytes`);
    }
  }
  const digestsOf = (image: BuiltImage) => [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)];

  before(async () => {
    work = await tempDir('berth-containerd-work-');
    // One layer above 8 MiB: more than one read/write buffer on both sides.
    app = await buildImageLayout(src(), { layers: 3, layerBytes: [9 * MiB, 64 * 1024, 1000], tag: 'app' });
    multi = await buildIndexLayout(src(), {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      layers: 2,
      layerBytes: [2 * MiB, 4096],
      tag: 'multi',
    });
    made = await buildImageLayout(join(work, 'made'), { layers: 2, layerBytes: [3 * MiB, 2000], tag: 'v1' });
    await run('tar', ['-C', join(work, 'made'), '-cf', join(work, 'made.tar'), '.']);
    accessPath = join(work, 'access.log');
    // Each is kept as soon as it started, so that `after` stops the daemons even if another failed.
    const started = await Promise.allSettled([
      startBerth({ env: { BERTH_ACCESS_LOG: accessPath } }).then((b) => (berth = b)),
      startContainerd().then((c) => (ctrd = c)),
      createSkopeo().then((s) => (skopeo = s)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    await skopeo.copy(`oci:${src()}:app`, `docker://${ref('team/app:v1')}`, ['--preserve-digests']);
    await skopeo.copy(`oci:${src()}:multi`, `docker://${ref('team/multi:v1')}`, ['--all', '--preserve-digests']);
    await accessSince(0, 'team/multi/', putManifest('team/multi', 'v1'));
    password = (await run('aws', ['ecr', 'get-login-password'], { env: awsCliEnv(berth) })).stdout.trim();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
  });

  after(async () => {
    await ctrd?.stop();
    await berth?.cleanup();
    await skopeo?.cleanup();
  });

  it('pulls and unpacks an image by tag: HEAD the tag, GET the manifest by digest, GET each blob once', async () => {
    const from = await mark();
    const { stdout } = await pull([ref('team/app:v1')]);
    assert.match(stdout.toString(), new RegExp(`unpacking linux/amd64 ${app.manifestDigest}\\.\\.\\.\\s*done`));
    assert.ok((await ctrd.images()).includes(ref('team/app:v1')));
    await assertHolds(app);

    const blobs = [app.configDigest, ...app.layers.map((l) => l.digest)];
    const lines = await accessSince(from, 'team/app/', fetchedAll('team/app', app));
    assertOnlyChallenges(lines);
    const answered = lines.filter((l) => l.status === 200).map((l) => `${l.method} ${l.path}`);
    assert.deepEqual(answered.slice(0, 2), ['HEAD /v2/team/app/manifests/v1', `GET /v2/team/app/manifests/${app.manifestDigest}`]);
    assert.deepEqual(answered.slice(2).sort(), blobs.map((d) => `GET /v2/team/app/blobs/${d}`).sort(), 'each blob fetched once');
    // With credentials containerd follows the Bearer challenge with the OAuth form: its login token buys a Bearer token.
    const tokens = (await accessLog(accessPath).lines()).slice(from).filter((l) => l.path.startsWith('/token'));
    assert.ok(
      tokens.some((l) => l.method === 'POST' && l.status === 200 && l.principal === 'arn:aws:iam::000000000000:root'),
      JSON.stringify(tokens),
    );
  });

  it('pulls by digest after removing the image and its content', async () => {
    await ctrd.ctr(['images', 'rm', '--sync', ref('team/app:v1')]);
    const held = await ctrd.contentDigests();
    for (const d of digestsOf(app)) assert.ok(!held.has(d), `${d} was collected`);

    const from = await mark();
    await pull([ref(`team/app@${app.manifestDigest}`)]);
    assert.ok((await ctrd.images()).includes(ref(`team/app@${app.manifestDigest}`)));
    await assertHolds(app);
    const lines = await accessSince(from, 'team/app/', fetchedAll('team/app', app));
    assertOnlyChallenges(lines);
    assert.ok(!lines.some((l) => l.path.endsWith('/manifests/v1')), 'no tag was asked for');
  });

  it('pulls one platform of an index, then every platform with content fetch', async () => {
    const [amd64, arm64] = multi.images as [BuiltImage, BuiltImage];
    await pull(['--platform', 'linux/arm64/v8', ref('team/multi:v1')]);
    let held = await ctrd.contentDigests();
    assert.ok(held.has(multi.indexDigest));
    assert.ok((await ctrd.content(multi.indexDigest)).equals(multi.index), 'the index is the pushed bytes');
    await assertHolds(arm64);
    for (const d of digestsOf(amd64)) assert.ok(!held.has(d), `the amd64 image's ${d} was not fetched`);

    await ctrd.ctr(['content', 'fetch', '--plain-http', '--user', `AWS:${password}`, '--all-platforms', ref('team/multi:v1')]);
    held = await ctrd.contentDigests();
    await assertHolds(amd64);
    await assertHolds(arm64);
  });

  it('pushes an image it imported: POST, then PUT with the bytes, and Berth serves them back', async () => {
    await ctrd.ctr(['images', 'import', '--no-unpack', '--base-name', ref('made/app'), join(work, 'made.tar')]);
    const from = await mark();
    await push('made/app:v1');

    const m = await getManifest(berth.url, 'made/app', 'v1');
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('docker-content-digest'), made.manifestDigest);
    assert.ok(m.body.equals(made.manifest), 'the manifest is byte for byte the one imported');
    for (const d of [made.configDigest, ...made.layers.map((l) => l.digest)]) {
      const b = await getBlob(berth.url, 'made/app', d);
      assert.equal(b.status, 200);
      assert.ok(b.body.equals(await readFile(blobPath(join(work, 'made'), d))), `blob ${d} is the bytes containerd pushed`);
    }
    const lines = await accessSince(from, 'made/app/', putManifest('made/app', 'v1'));
    assertOnlyChallenges(lines, { pushing: true });
    assert.equal(lines.filter((l) => l.operation === 'upload-complete' && l.status === 201).length, 3, 'config and two layers uploaded');
  });

  it("pushes and pulls back an image in Docker's format (docker save, imported): its media types and bytes kept", async () => {
    const archive = join(work, 'docker.tar');
    await skopeo.run(['copy', '-q', `oci:${join(work, 'made')}:v1`, `docker-archive:${archive}:${ref('docker/app:v1')}`]);
    await ctrd.ctr(['images', 'import', '--no-unpack', '--compress-blobs', archive]);
    const listed = (await ctrd.ctr(['images', 'ls'])).stdout
      .toString()
      .split('\n')
      .find((l) => l.startsWith(`${ref('docker/app:v1')} `));
    const [, type, digest] = listed!.split(/\s+/) as [string, string, string];
    assert.equal(type, 'application/vnd.docker.distribution.manifest.v2+json');
    const manifest = await ctrd.content(digest);
    const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
    assert.ok(parsed.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    const pushed = new Map<string, Buffer>();
    for (const d of [digest, parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) pushed.set(d, await ctrd.content(d));
    await push('docker/app:v1');

    const served = await getManifest(berth.url, 'docker/app', 'v1');
    assert.equal(served.headers.get('content-type'), type);
    assert.equal(served.headers.get('docker-content-digest'), digest);
    assert.ok(served.body.equals(manifest));
    await ctrd.ctr(['images', 'rm', '--sync', ref('docker/app:v1')]);
    await pull([ref('docker/app:v1')]);
    for (const [d, bytes] of pushed) assert.ok((await ctrd.content(d)).equals(bytes), `${d} pulled back as pushed`);
    // It shares its config with made/app; the anonymous pull below must fetch every blob.
    await ctrd.ctr(['images', 'rm', '--sync', ref('docker/app:v1')]);
  });

  it('pushes a pulled image and index into other repositories by mounting their blobs', async () => {
    await ctrd.ctr(['images', 'tag', ref(`team/app@${app.manifestDigest}`), ref('mirror/app:v1')]);
    await ctrd.ctr(['images', 'tag', ref('team/multi:v1'), ref('mirror/multi:v1')]);
    const from = await mark();
    await push('mirror/app:v1');
    await push('mirror/multi:v1');

    assert.equal((await getManifest(berth.url, 'mirror/app', 'v1')).headers.get('docker-content-digest'), app.manifestDigest);
    const index = await getManifest(berth.url, 'mirror/multi', 'v1');
    assert.equal(index.headers.get('docker-content-digest'), multi.indexDigest);
    assert.ok(index.body.equals(multi.index));
    const lines = await accessSince(from, 'mirror/', putManifest('mirror/multi', 'v1'));
    assertOnlyChallenges(lines, { pushing: true });
    const mounts = lines.filter((l) => l.operation === 'upload-start');
    assert.equal(mounts.length, 4 + 2 * 3, 'one mount per blob: app 4, multi 2 × 3');
    for (const l of mounts)
      assert.match(`${l.status} ${l.path}`, /^201 \/v2\/mirror\/(app|multi)\/blobs\/uploads\/\?mount=sha256:[0-9a-f]{64}&from=team\/(app|multi)$/);
    assert.ok(!lines.some((l) => l.operation === 'upload-complete'), 'no blob was uploaded again');
  });

  it('pulls from an ECR Public repository without credentials', async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    await ctrd.ctr(['images', 'tag', ref('made/app:v1'), ref(`${ACCOUNT}/tools/hello:v1`)]);
    let from = await mark();
    await push(`${ACCOUNT}/tools/hello:v1`);
    await accessSince(from, `${ACCOUNT}/tools/hello/`, putManifest(`${ACCOUNT}/tools/hello`, 'v1'));
    await ctrd.ctr(['images', 'rm', '--sync', ref('made/app:v1'), ref(`${ACCOUNT}/tools/hello:v1`)]);
    const held = await ctrd.contentDigests();
    for (const d of digestsOf(made)) assert.ok(!held.has(d), `${d} is fetched again`);

    from = await mark();
    await pull([ref(`${ACCOUNT}/tools/hello:v1`)], undefined);
    await assertHolds(made, join(work, 'made'));
    const lines = await accessSince(from, `${ACCOUNT}/tools/hello/`, fetchedAll(`${ACCOUNT}/tools/hello`, made));
    for (const l of lines) assert.deepEqual([l.status, l.principal], [200, 'anonymous'], `${l.method} ${l.path}`);

    // Reading is public, writing is not: an anonymous push of a new tag is refused and adds nothing.
    await ctrd.ctr(['images', 'tag', ref(`${ACCOUNT}/tools/hello:v1`), ref(`${ACCOUNT}/tools/hello:anon`)]);
    from = await mark();
    // containerd takes an anonymous token, finds every blob there (public reads), and retries the refused manifest PUT.
    assert.match(await ctrd.ctrFails(['images', 'push', '--plain-http', ref(`${ACCOUNT}/tools/hello:anon`)]), /failed to copy after \d+ retries/);
    const refusedPush = await accessSince(from, `${ACCOUNT}/tools/hello/`, putManifest(`${ACCOUNT}/tools/hello`, 'anon'));
    // Refused, or (containerd cancels an attempt as it retries) abandoned before any answer: never accepted.
    const puts = refusedPush.filter((x) => x.method === 'PUT');
    for (const l of puts) assert.ok([401, 499].includes(l.status) && l.principal === 'anonymous', JSON.stringify(l));
    assert.ok(
      puts.some((l) => l.status === 401),
      'the manifest PUT was refused',
    );
    const tags = await fetch(`${berth.url}/v2/${ACCOUNT}/tools/hello/tags/list`);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['v1']);
  });

  it('a repository or tag that does not exist is "not found" to containerd (404 NAME_UNKNOWN, MANIFEST_UNKNOWN)', async () => {
    for (const [name, code] of [
      ['nope/none:v1', 'NAME_UNKNOWN'],
      ['team/app:nope', 'MANIFEST_UNKNOWN'],
    ] as const) {
      const err = await ctrd.ctrFails(['images', 'pull', '--plain-http', '--user', `AWS:${password}`, ref(name)]);
      // Its last line; containerd logs "trying next host - response was http.StatusNotFound" before.
      assert.equal(err.trim().split('\n').at(-1), `ctr: failed to resolve reference "${ref(name)}": ${ref(name)}: not found`);
      const raw = await getManifest(berth.url, name.split(':')[0]!, name.split(':')[1]!);
      assert.deepEqual([raw.status, errorCode(raw)], [404, code]);
    }
  });

  it('refuses a pull without credentials or with a wrong password (401), and containerd stores nothing', async () => {
    const before = [await ctrd.images(), await ctrd.contentDigests()];
    const tampered = `AWS:${password.slice(0, -2)}${password.endsWith('xx') ? 'yy' : 'xx'}`;
    // Without credentials containerd's anonymous token is refused the manifest; with a wrong
    // password the token endpoint refuses containerd's OAuth form (and its GET fallback).
    for (const [user, refusal] of [
      [
        undefined,
        /failed to resolve reference ".*made\/app:v1": pulling from host 127\.0\.0\.1:\d+ failed with status code \[manifests v1\]: 401 Unauthorized/,
      ],
      [tampered, /failed to resolve reference ".*made\/app:v1": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized/],
    ] as const) {
      const from = await mark();
      const err = await ctrd.ctrFails(['images', 'pull', '--plain-http', ...withUser(user), ref('made/app:v1')]);
      assert.match(err, refusal);
      const lines = await accessSince(from, 'made/app/', (ls) => ls.some((l) => l.path === '/v2/made/app/manifests/v1'));
      // containerd retries its HEAD a few times; each is the same refusal.
      for (const l of lines) assert.deepEqual([l.method, l.path, l.status, l.principal], ['HEAD', '/v2/made/app/manifests/v1', 401, 'anonymous']);
    }
    assert.deepEqual([await ctrd.images(), await ctrd.contentDigests()], before);
    // ctr prints only the status; the body it was given is the OCI error with the Bearer challenge.
    const raw = await fetch(`${berth.url}/v2/made/app/manifests/v1`, { method: 'GET' });
    assert.equal(raw.status, 401);
    assert.match(raw.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/.+\/token",/);
    assert.equal(errorCode({ status: raw.status, headers: raw.headers, body: Buffer.from(await raw.arrayBuffer()) }), 'UNAUTHORIZED');
  });

  it('a pull-only user pulls, and its pushes are refused (403 DENIED) with nothing changed', async () => {
    const reader = await createUser(berth, iam, 'reader', ['ReadOnly']);
    await pull([ref('team/app:v1')], loginOf(reader));

    // A new tag on an existing repository: every blob is there, the manifest PUT is refused.
    await ctrd.ctr(['images', 'tag', ref('team/app:v1'), ref('team/app:reader')]);
    let from = await mark();
    assert.match(
      await ctrd.ctrFails(['images', 'push', '--plain-http', '--user', loginOf(reader), ref('team/app:reader')]),
      /unexpected status: 403 Forbidden/,
    );
    let lines = await accessSince(from, 'team/app/', (ls) => ls.some((l) => l.status === 403));
    assert.deepEqual(
      lines.filter((l) => l.status === 403).map((l) => [l.method, l.path, l.deniedAction]),
      [['PUT', '/v2/team/app/manifests/reader', 'ecr:PutImage']],
    );
    assert.deepEqual((await listTags(berth.url, 'team/app')).tags, ['v1']);

    // A new repository: the upload is refused, and no repository is made.
    await ctrd.ctr(['images', 'tag', ref('team/app:v1'), ref('reader/new:v1')]);
    from = await mark();
    assert.match(await ctrd.ctrFails(['images', 'push', '--plain-http', '--user', loginOf(reader), ref('reader/new:v1')]), /403 Forbidden/);
    lines = await accessSince(from, 'reader/new/', (ls) => ls.some((l) => l.status === 403));
    for (const l of lines.filter((x) => x.status === 403)) assert.deepEqual([l.method, l.deniedAction], ['POST', 'ecr:InitiateLayerUpload']);
    assert.ok(!(await catalog(berth.url)).includes('reader/new'));
    const raw = await reader.v2('/v2/reader/new/blobs/uploads/', { method: 'POST' });
    assert.equal(raw.status, 403);
    assert.equal(errorCode(raw), 'DENIED');
    assert.match(raw.body.toString(), /user\/reader is not authorized to perform: ecr:InitiateLayerUpload/);
  });
  it('a user who may push only to dest/* pushes an image pulled from team/app: the mount from a repository it may not read is an upload', async () => {
    const token = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
    const dest = { Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:${berth.region}:${ACCOUNT}:repository/dest/*` };
    const ci = await createUser(berth, iam, 'ci', [], [{ Version: '2012-10-17', Statement: [token, dest] }]);
    // containerd remembers where it pulled from and asks to mount from there; the spec's answer
    // when a mount cannot be made is 202 and an upload session (containerd retries without the
    // mount only after a 401, and fails the push on anything else).
    await ctrd.ctr(['images', 'tag', ref('team/app:v1'), ref('dest/app:v1')]);
    const from = await mark();
    await push('dest/app:v1', loginOf(ci));

    const m = await ci.v2('/v2/dest/app/manifests/v1', { headers: { Accept: MediaTypes.manifest } });
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('docker-content-digest'), app.manifestDigest);
    const lines = await accessSince(from, 'dest/app/', putManifest('dest/app', 'v1'));
    assertOnlyChallenges(lines, { pushing: true });
    const mounts = lines.filter((l) => l.operation === 'upload-start');
    assert.equal(mounts.length, 4);
    for (const l of mounts) assert.match(`${l.status} ${l.path}`, /^202 \/v2\/dest\/app\/blobs\/uploads\/\?mount=sha256:[0-9a-f]{64}&from=team\/app$/);
    assert.equal(lines.filter((l) => l.operation === 'upload-complete' && l.status === 201).length, 4, 'every blob uploaded by the pusher');
  });
});
