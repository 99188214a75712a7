/**
 * podman and buildah against a running Berth: Debian's podman 4.3 and buildah 1.28 with a private
 * store and login file (helpers/podman.ts). They share containers/image with skopeo, but add their
 * own flows: `podman login --password-stdin` fed by the AWS CLI, `--format oci|v2s2`, zstd layers,
 * manifest lists built locally and pushed with `--all`, `--platform` pulls, `podman search` (the
 * catalog and tag lists) and buildah's from/add/commit/push. Digests and bytes are compared after
 * every round trip, and the access log shows what the client asked and got.
 */
import { BatchGetImageCommand, CreateRepositoryCommand, DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, CreateRepositoryCommand as CreatePublicRepositoryCommand } from '@aws-sdk/client-ecr-public';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { accessLog, assertOnlyChallenges, fetchedAll, type AccessLog } from './helpers/access-lines.js';
import { lowercaseTempDir, startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient, type Credentials } from './helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity } from './helpers/iam-users.js';
import { assertLoginEndsWithKey } from './helpers/key-revocation.js';
import { blobPath, buildImageLayout, type BuiltImage } from './helpers/oci-layout.js';
import { catalog, getBlob, getManifest, listTags, sha256 } from './helpers/registry-http.js';
import { createPodman, podmanUnavailable, type Podman, type PodmanRun } from './helpers/podman.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const ACCOUNT = '000000000000';
const OTHER = '111122223333';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ZSTD_LAYER = 'application/vnd.oci.image.layer.v1.tar+zstd';

const unavailable = podmanUnavailable();
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_PODMAN)) throw new Error(`podman is required here: ${unavailable}`);

interface Manifest {
  mediaType?: string;
  config: { digest: string; size: number; mediaType: string };
  layers: { digest: string; size: number; mediaType: string }[];
}

describe('podman and buildah against Berth', { skip: unavailable ?? false }, () => {
  let berth: BerthProcess;
  let pm: Podman;
  let work: string;
  let log: AccessLog;
  let made: BuiltImage; // in podman's store as team/app:v1, pulled from an OCI layout
  const pushed: Record<string, string> = {}; // tag of team/app → the digest `--digestfile` recorded
  const manifests: Record<string, Manifest> = {}; // tag of team/app → the manifest Berth serves
  let iam: IAMClient;
  let files = 0;
  const ref = (name: string) => `${berth.host}/${name}`;
  const podman = (args: string[], opts?: PodmanRun) => pm.podman(args, opts);
  /** The README's login, piped: the AWS CLI with `keys` gets the password, podman stores it. */
  const login = (client: string, keys: Credentials = adminCredentials(berth)) =>
    pm.shell(`aws ecr get-login-password | podman login -u AWS --password-stdin ${berth.host}`, { client, env: awsCliEnv(berth, keys) });
  const storedAuths = async (client = pm.client) =>
    (JSON.parse(await readFile(pm.authFile(client), 'utf8')) as { auths: Record<string, { auth?: string }> }).auths;
  const inspect = async (name: string) =>
    (JSON.parse((await podman(['image', 'inspect', ref(name)])).stdout) as { Id: string; Digest: string; RepoDigests: string[]; Architecture: string }[])[0]!;
  const removeAll = () => podman(['rmi', '--all', '--force']);
  /** Pushes with `args` and returns the manifest digest podman wrote to its digest file. */
  async function push(args: string[], opts?: PodmanRun, tool: 'podman' | 'buildah' = 'podman'): Promise<string> {
    const file = join(work, `digest-${++files}`);
    await (tool === 'podman' ? podman : pm.buildah)(['push', '--digestfile', file, ...args], opts);
    return (await readFile(file, 'utf8')).trim();
  }
  /** The manifest Berth serves for repo:ref, checked against the digest the client recorded. */
  async function served(repo: string, reference: string, digest: string): Promise<{ type: string | null; body: Buffer }> {
    const m = await getManifest(berth.url, repo, reference);
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('docker-content-digest'), digest);
    assert.equal(sha256(m.body), digest, 'Berth serves the manifest podman pushed, byte for byte');
    return { type: m.headers.get('content-type'), body: m.body };
  }
  /** The layers and config podman holds for `name` are the layout's, byte for byte. */
  async function assertHolds(name: string, image: BuiltImage, layout: string) {
    const back = await pm.saved(ref(name));
    assert.ok(back.config.equals(await readFile(blobPath(layout, image.configDigest))), 'the config is the layout bytes');
    assert.deepEqual(
      back.layers.map((l) => sha256(l)),
      image.layers.map((l) => l.diffId),
    );
  }
  /** True once every blob of `m` was answered to a GET from `repo`. */
  const fetchedImage = (repo: string, m: Manifest) =>
    fetchedAll(
      repo,
      [m.config, ...m.layers].map((b) => b.digest),
    );

  before(async () => {
    work = await lowercaseTempDir('berth-podman-work-'); // the layouts' paths name the images pulled from them
    // One layer above 8 MiB: more than one read/write buffer on both sides.
    made = await buildImageLayout(join(work, 'made'), { layers: 2, layerBytes: [9 * MiB, 2000], tag: 'v1' });
    const accessPath = join(work, 'access.log');
    // Two repositories a page: podman search must follow the catalog's Link header.
    berth = await startBerth({ env: { BERTH_ACCESS_LOG: accessPath, BERTH_MAX_PAGE_SIZE: '2' } });
    log = accessLog(accessPath, berth.url);
    pm = await createPodman(berth.host);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    await pm.load(join(work, 'made'), 'v1', ref('team/app:v1'));
  });

  after(async () => {
    await pm?.cleanup();
    await berth?.cleanup();
  });

  it('logs in as the README says (aws ecr get-login-password | podman login) and keeps the login in auth.json', async () => {
    const { stdout } = await login(pm.client);
    assert.match(stdout, /Login Succeeded/);
    const auths = await storedAuths();
    assert.deepEqual(Object.keys(auths), [berth.host]);
    assert.match(Buffer.from(auths[berth.host]!.auth!, 'base64').toString(), /^AWS:\S+$/);

    // A wrong password is refused, and nothing is stored.
    const client = await pm.newClient();
    const err = await pm.podmanFails(['login', '-u', 'AWS', '--password-stdin', berth.host], { client, input: 'not-a-token\n' });
    assert.match(err, /invalid username\/password/);
    assert.deepEqual(await storedAuths(client), {});
  });

  it('pushes --format v2s2 and --format oci: each manifest as podman recorded it, the config kept, the layers as podman compressed them', async () => {
    assert.equal((await inspect('team/app:v1')).Id, made.configDigest.slice('sha256:'.length), 'the image ID is the config digest');
    const from = await log.mark();
    for (const [tag, format, type] of [
      ['v1', 'v2s2', DOCKER_MANIFEST],
      ['oci', 'oci', OCI_MANIFEST],
      ['latest', 'v2s2', DOCKER_MANIFEST], // a third tag: the tag list takes two pages
    ] as const) {
      pushed[tag] = await push(['--format', format, ref('team/app:v1'), ref(`team/app:${tag}`)]);
      const m = await served('team/app', tag, pushed[tag]!);
      assert.equal(m.type, type);
      const manifest = (manifests[tag] = JSON.parse(m.body.toString()) as Manifest);
      assert.equal(manifest.config.digest, made.configDigest, 'the config is the same bytes in both formats');
      // podman pushes layers it compressed itself; uncompressed, each is the layout's layer.
      assert.deepEqual(
        await Promise.all(manifest.layers.map(async (l) => sha256(gunzipSync((await getBlob(berth.url, 'team/app', l.digest)).body)))),
        made.layers.map((l) => l.diffId),
      );
    }
    assert.notEqual(pushed.v1, pushed.oci);
    assert.equal(pushed.latest, pushed.v1);
    const config = await getBlob(berth.url, 'team/app', made.configDigest);
    assert.ok(config.body.equals(await readFile(blobPath(join(work, 'made'), made.configDigest))), 'the config is the layout bytes');
    const lines = await log.since(from, 'team/app/', (ls) => ls.some((l) => l.method === 'PUT' && l.path.endsWith('/manifests/oci')));
    assertOnlyChallenges(lines);
    assert.equal(lines.filter((l) => l.operation === 'upload-complete' && l.status === 201).length, 3, 'config and two layers uploaded once');
  });

  it('pulls by tag and by digest: the same digest, and podman save gives back the layout bytes', async () => {
    await removeAll();
    let from = await log.mark();
    await podman(['pull', '-q', ref('team/app:v1')]);
    // Its last lines must be in before the pull by digest marks where its own begin.
    await log.since(from, 'team/app/', fetchedImage('team/app', manifests.v1!));
    let image = await inspect('team/app:v1');
    assert.equal(`sha256:${image.Id}`, made.configDigest);
    assert.equal(image.Digest, pushed.v1);
    await assertHolds('team/app:v1', made, join(work, 'made'));

    await removeAll();
    from = await log.mark();
    await podman(['pull', '-q', ref(`team/app@${pushed.oci}`)]);
    image = await inspect(`team/app@${pushed.oci}`);
    assert.equal(`sha256:${image.Id}`, made.configDigest);
    assert.deepEqual(image.RepoDigests, [ref(`team/app@${pushed.oci}`)]);
    const lines = await log.since(from, 'team/app/', fetchedImage('team/app', manifests.oci!));
    assertOnlyChallenges(lines);
    assert.ok(
      !lines.some((l) => /\/manifests\/(v1|oci)$/.test(l.path)),
      `no tag was asked for: ${JSON.stringify(lines.map((l) => [l.method, l.path, l.status]))}`,
    );
    await assertHolds(`team/app@${pushed.oci}`, made, join(work, 'made'));

    assert.match(await pm.podmanFails(['pull', ref('team/app:nope')]), /reading manifest nope in .*: manifest unknown/);
    assert.match(await pm.podmanFails(['pull', ref('nope/app:v1')]), /name unknown: The repository with name 'nope\/app' does not exist/);
  });

  it('pushes to a second repository by mounting the layers from the first', async () => {
    const from = await log.mark();
    const digest = await push([ref(`team/app@${pushed.oci}`), ref('mirror/app:v1')]);
    assert.equal(digest, pushed.oci, 'the same manifest');
    await served('mirror/app', 'v1', digest);
    const lines = await log.since(from, 'mirror/app/', (ls) => ls.some((l) => l.method === 'PUT' && l.path.endsWith('/manifests/v1')));
    assertOnlyChallenges(lines);
    // containers/image remembers where it pushed each layer and mounts from there; the config it uploads again.
    const layers = manifests.oci!.layers.map((l) => l.digest);
    const mounts = lines.filter((l) => l.operation === 'upload-start' && l.path.includes('mount='));
    assert.deepEqual(
      mounts.map((l) => [l.status, new URL(l.path, berth.url).searchParams.get('from'), new URL(l.path, berth.url).searchParams.get('mount')]).sort(),
      layers.map((d) => [201, 'team/app', d]).sort(),
    );
    const uploaded = lines.filter((l) => l.operation === 'upload-complete').map((l) => new URL(l.path, berth.url).searchParams.get('digest'));
    assert.deepEqual(uploaded, [made.configDigest]);
  });

  it('pulls --all-tags, following the tag list over its pages', async () => {
    await removeAll();
    const from = await log.mark();
    await podman(['pull', '-q', '--all-tags', ref('team/app')]);
    const { stdout } = await podman(['images', '--format', '{{.Tag}}', ref('team/app')]);
    assert.deepEqual(stdout.split('\n').filter(Boolean).sort(), ['latest', 'oci', 'v1']);
    const pages = (await log.since(from, 'team/app/tags/', (ls) => ls.length >= 2)).map((l) => [l.status, new URL(l.path, berth.url).search]);
    assert.deepEqual(pages, [
      [200, ''],
      [200, '?n=2&last=oci'],
    ]);
  });

  it('pushes zstd layers (--compression-format zstd) and pulls them back; ECR describes the image it stored', async () => {
    // A fresh image: podman reuses a layer it already pushed gzipped rather than compress it again.
    const z = await buildImageLayout(join(work, 'zstd'), { layers: 2, layerBytes: [3 * MiB, 1000], tag: 'v1' });
    await pm.load(join(work, 'zstd'), 'v1', ref('team/zstd:v1'));
    const digest = await push(['--format', 'oci', '--compression-format', 'zstd', ref('team/zstd:v1')]);
    const m = await served('team/zstd', 'v1', digest);
    assert.equal(m.type, OCI_MANIFEST);
    const manifest = JSON.parse(m.body.toString()) as Manifest;
    assert.deepEqual(
      manifest.layers.map((l) => l.mediaType),
      [ZSTD_LAYER, ZSTD_LAYER],
    );
    for (const [i, l] of manifest.layers.entries()) {
      const blob = (await getBlob(berth.url, 'team/zstd', l.digest)).body;
      assert.equal(blob.readUInt32LE(0), 0xfd2fb528, 'a zstd frame');
      assert.equal(sha256(zstdDecompressSync(blob)), z.layers[i]!.diffId);
    }

    const ecr = ecrClient(berth);
    const [detail] = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/zstd', imageIds: [{ imageTag: 'v1' }] }))).imageDetails!;
    assert.equal(detail!.imageDigest, digest);
    assert.equal(detail!.imageManifestMediaType, OCI_MANIFEST);
    assert.equal(detail!.imageSizeInBytes, manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0));
    const batch = await ecr.send(new BatchGetImageCommand({ repositoryName: 'team/zstd', imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(batch.failures, []);
    assert.equal(batch.images![0]!.imageManifest, m.body.toString(), 'BatchGetImage gives the pushed bytes, zstd media types and all');

    await removeAll();
    await podman(['pull', '-q', ref(`team/zstd@${digest}`)]);
    assert.equal(`sha256:${(await inspect(`team/zstd@${digest}`)).Id}`, z.configDigest);
    await assertHolds(`team/zstd@${digest}`, z, join(work, 'zstd'));
  });

  it('pushes a two-platform manifest list built with podman manifest, and pulls one platform (--platform)', async () => {
    const image = async (name: string, platform: { os: string; architecture: string; variant?: string }) => {
      const built = await buildImageLayout(join(work, name), { layers: 1, layerBytes: 256 * 1024, tag: 'v1', platform });
      await pm.load(join(work, name), 'v1', `localhost/${name}:v1`);
      return built;
    };
    const amd64 = await image('amd64', { os: 'linux', architecture: 'amd64' });
    const arm64 = await image('arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    await podman(['manifest', 'create', 'localhost/multi:v1']);
    for (const name of ['amd64', 'arm64']) await podman(['manifest', 'add', 'localhost/multi:v1', `containers-storage:localhost/${name}:v1`]);
    const file = join(work, 'list-digest');
    await podman(['manifest', 'push', '--all', '--digestfile', file, 'localhost/multi:v1', `docker://${ref('team/multi:v1')}`]);
    const listDigest = (await readFile(file, 'utf8')).trim();

    const reads = await log.mark();
    const m = await served('team/multi', 'v1', listDigest);
    assert.equal(m.type, OCI_INDEX, 'podman lists OCI manifests in an OCI index');
    const index = JSON.parse(m.body.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(
      index.manifests.map((d) => d.platform.architecture),
      ['amd64', 'arm64'],
    );
    const children = await Promise.all(
      index.manifests.map(async (d) => JSON.parse((await getManifest(berth.url, 'team/multi', d.digest)).body.toString()) as Manifest),
    );
    assert.deepEqual(
      children.map((c) => c.config.digest),
      [amd64.configDigest, arm64.configDigest],
    );
    // A remote inspect reads the index Berth serves (podman 4.3 prints any list as a Docker list).
    const remote = JSON.parse((await podman(['manifest', 'inspect', ref('team/multi:v1')])).stdout) as typeof index;
    assert.deepEqual(remote.manifests, index.manifests);
    // Those reads (two of the tag, one of each child) must be in before the pull marks where its own begin.
    await log.since(
      reads,
      'team/multi/',
      (ls) => ls.filter((l) => l.path.endsWith('/manifests/v1')).length >= 2 && index.manifests.every((d) => ls.some((l) => l.path.endsWith(d.digest))),
    );

    await removeAll();
    const from = await log.mark();
    await podman(['pull', '-q', '--platform', 'linux/arm64/v8', ref('team/multi:v1')]);
    const pulled = await inspect('team/multi:v1');
    assert.deepEqual([`sha256:${pulled.Id}`, pulled.Architecture], [arm64.configDigest, 'arm64']);
    assert.equal(pulled.Digest, listDigest);
    const lines = await log.since(from, 'team/multi/', fetchedImage('team/multi', children[1]!));
    assertOnlyChallenges(lines);
    const amd = [index.manifests[0]!.digest, children[0]!.config.digest, ...children[0]!.layers.map((l) => l.digest)];
    for (const d of amd) assert.ok(!lines.some((l) => l.path.endsWith(d)), `the amd64 image's ${d} was not fetched`);
  });

  it('builds with buildah (from scratch, add, commit) and pushes; podman pulls the file back', async () => {
    const container = (await pm.buildah(['from', 'scratch'])).stdout.trim();
    await writeFile(join(work, 'note.txt'), 'built by buildah\n');
    await pm.buildah(['add', container, join(work, 'note.txt'), '/note.txt']);
    await pm.buildah(['commit', '-q', container, ref('team/built:v1')]);
    await pm.buildah(['rm', container]);
    const digest = await push([ref('team/built:v1')], {}, 'buildah');
    const manifest = JSON.parse((await served('team/built', 'v1', digest)).body.toString()) as Manifest;
    assert.equal(manifest.mediaType ?? OCI_MANIFEST, OCI_MANIFEST, "buildah's default format is OCI");

    await removeAll();
    await podman(['pull', '-q', ref('team/built:v1')]);
    const { layers } = await pm.saved(ref('team/built:v1'));
    assert.equal(layers.length, 1);
    const out = join(work, 'built');
    await mkdir(out);
    await writeFile(join(out, 'layer.tar'), layers[0]!);
    await run('tar', ['-C', out, '-xf', join(out, 'layer.tar')]);
    assert.equal(await readFile(join(out, 'note.txt'), 'utf8'), 'built by buildah\n');
  });

  it("podman search lists the repositories of the caller's registry (every page) and their tags; nothing of another account", async () => {
    const names = (out: string) => out.split('\n').filter(Boolean).sort();
    const search = (term: string, opts?: PodmanRun) => podman(['search', '--limit', '100', '--format', '{{.Name}}', ref(term)], opts);
    /** `podman search --list-tags` (4.3 ignores --format there): its table's TAG column. */
    const searchTags = async (repo: string, opts?: PodmanRun) =>
      names((await podman(['search', '--list-tags', '--limit', '100', ref(repo)], opts)).stdout)
        .filter((l) => l.startsWith(ref(repo)))
        .map((l) => l.split(/\s+/)[1]!);
    const all = (await catalog(berth.url)).sort();
    assert.ok(all.length > 2, 'more than one page of two');
    assert.deepEqual(names((await search('')).stdout), all.map(ref));
    assert.deepEqual(names((await search('team/')).stdout), all.filter((r) => r.includes('team/')).map(ref));
    assert.deepEqual(await searchTags('team/app'), (await listTags(berth.url, 'team/app')).tags.sort());

    // Another account's root sees its own registry on the same host, not this one.
    await createAccount(berth, OTHER);
    const other = await otherAccountIdentity(berth, OTHER);
    await other.ecr.send(new CreateRepositoryCommand({ repositoryName: 'other/app' }));
    const client = await pm.newClient();
    await login(client, other.keys);
    assert.deepEqual(names((await search('', { client })).stdout), [ref('other/app')]);

    // A user who may read team/app but not list the registry: its search is refused.
    const reader = await createUser(
      berth,
      iam,
      'lister',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecr:ListImages'], Resource: '*' }] }],
    );
    const narrow = await pm.newClient();
    await login(narrow, reader.keys);
    const from = await log.mark();
    // podman prints only the status, not Berth's `denied` body; the access log names the action.
    assert.match(await pm.podmanFails(['search', ref('team')], { client: narrow }), /couldn't search registry .*403 \(Forbidden\)/);
    const denied = await log.since(from, '_catalog', (ls) => ls.some((l) => l.status === 403));
    assert.deepEqual(
      denied.map((l) => [l.method, l.status, l.deniedAction]),
      [['GET', 403, 'ecr:DescribeRepositories']],
    );
    assert.deepEqual(await searchTags('team/app', { client: narrow }), (await listTags(berth.url, 'team/app')).tags.sort());
  });

  it('pulls from an ECR Public repository with no login', async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    await podman(['pull', '-q', ref('team/app:v1')]);
    let from = await log.mark();
    const digest = await push([ref('team/app:v1'), ref(`${ACCOUNT}/tools/hello:v1`)]);
    const hello = JSON.parse((await served(`${ACCOUNT}/tools/hello`, 'v1', digest)).body.toString()) as Manifest;
    // The push's lines and the read above must be in before the pull marks where its own begin.
    await log.since(from, `${ACCOUNT}/tools/hello/`, (ls) => ls.some((l) => l.method === 'GET' && l.principal !== 'anonymous'));
    await removeAll();

    const client = await pm.newClient();
    from = await log.mark();
    await podman(['pull', '-q', ref(`${ACCOUNT}/tools/hello:v1`)], { client });
    assert.equal((await inspect(`${ACCOUNT}/tools/hello:v1`)).Digest, digest);
    const lines = await log.since(from, `${ACCOUNT}/tools/hello/`, fetchedImage(`${ACCOUNT}/tools/hello`, hello));
    for (const l of lines) assert.deepEqual([l.status, l.principal], [200, 'anonymous'], `${l.method} ${l.path}`);
    assert.deepEqual(await storedAuths(client), {}, 'the anonymous client holds no login');
  });

  it("a pull-only IAM user logs in and pulls; its pushes are refused ('denied') and change nothing", async () => {
    const reader = await createUser(berth, iam, 'reader', ['ReadOnly']);
    const client = await pm.newClient();
    await login(client, reader.keys);
    await removeAll();
    await podman(['pull', '-q', ref('team/app:v1')], { client });
    const before = (await listTags(berth.url, 'team/app')).tags;

    let from = await log.mark();
    let err = await pm.podmanFails(['push', ref('team/app:v1'), ref('team/app:reader')], { client });
    assert.match(err, /denied: User: arn:aws:iam::000000000000:user\/reader is not authorized to perform: ecr:PutImage on resource: .*repository\/team\/app/);
    assert.deepEqual((await listTags(berth.url, 'team/app')).tags, before);
    // The refused manifest PUT ends it: its line must be in before the next test marks.
    await log.since(from, 'team/app/', (ls) => ls.some((l) => l.method === 'PUT' && l.status === 403));

    from = await log.mark();
    err = await pm.podmanFails(['push', ref('team/app:v1'), ref('reader/new:v1')], { client });
    assert.match(err, /denied: User: .*user\/reader is not authorized to perform: ecr:InitiateLayerUpload on resource: .*repository\/reader\/new/);
    const lines = await log.since(from, 'reader/new/', (ls) => ls.some((l) => l.status === 403));
    for (const l of lines.filter((x) => x.status === 403)) assert.equal(l.deniedAction, 'ecr:InitiateLayerUpload');
    assert.ok(!(await catalog(berth.url)).includes('reader/new'), 'no repository was made');
  });

  it('a login ends with the access key it was minted with: deleted or made inactive, the next pull is refused; another key logs in again', async () => {
    const revoked = await assertLoginEndsWithKey(berth, iam, log, 'leaver', {
      login: async (keys) => {
        const client = await pm.newClient();
        await login(client, keys);
        return client;
      },
      pull: async (client) => void (await podman(['pull', '-q', ref('team/app:v1')], { client })),
      pullFails: (client) => pm.podmanFails(['pull', ref('team/app:v1')], { client }),
    });
    // containers/image exchanges the login at the token endpoint, which refuses it; podman prints Berth's reason.
    for (const r of revoked)
      assert.match(
        r.printed,
        new RegExp(
          `^Error: initializing source docker://.*/team/app:v1: unable to retrieve auth token: invalid username/password: unauthorized: the access key ${r.keyId} of this login token is no longer active$`,
          'm',
        ),
      );
  });

  it('after podman logout, a pull of a private repository is refused and nothing is stored', async () => {
    await removeAll();
    await podman(['logout', berth.host]);
    assert.deepEqual(await storedAuths(), {});
    const from = await log.mark();
    // Not the message's exact words: they follow the challenge Berth sends, Basic or Bearer.
    assert.match(await pm.podmanFails(['pull', ref('team/app:v1')]), /unauthorized|denied/i);
    const lines = (await log.since(from, 'team/app/', (ls) => ls.some((l) => l.path.endsWith('/manifests/v1')))).filter((l) =>
      l.path.endsWith('/manifests/v1'),
    );
    for (const l of lines) assert.deepEqual([l.status >= 400, l.principal], [true, 'anonymous'], `${l.method} ${l.path} ${l.status}`);
    assert.equal((await podman(['images', '-q'])).stdout.trim(), '');
  });
});
