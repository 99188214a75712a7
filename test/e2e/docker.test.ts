/**
 * docker against a running Berth: a private dockerd (Debian's docker.io, 20.10) and the real
 * `docker` CLI, which pulls and pushes with the daemon's own distribution client (not
 * containerd's resolver, not containers/image) and keeps its logins in DOCKER_CONFIG's
 * config.json. The login is the README's: `aws ecr get-login-password | docker login -u AWS
 * --password-stdin`. Digests and bytes are compared after every round trip, and the access log
 * shows what docker asked and got.
 */
import { ECRPUBLICClient, CreateRepositoryCommand as CreatePublicRepositoryCommand } from '@aws-sdk/client-ecr-public';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { accessLog, assertOnlyChallenges, fetchedAll, type Access, type AccessLog } from './helpers/access-lines.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { dockerUnavailable, startDocker, type Docker } from './helpers/docker.js';
import { adminCredentials, awsCliEnv, type Credentials } from './helpers/ecr-client.js';
import { createUser } from './helpers/iam-users.js';
import { assertLoginEndsWithKey } from './helpers/key-revocation.js';
import { blobPath, buildImageLayout, buildIndexLayout, type BuiltImage, type BuiltIndex } from './helpers/oci-layout.js';
import { catalog, getBlob, getManifest, listTags, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const ACCOUNT = '000000000000';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

const unavailable = dockerUnavailable();
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_DOCKER)) throw new Error(`docker is required here: ${unavailable}`);

describe('docker against Berth', { skip: unavailable ?? false }, () => {
  let berth: BerthProcess;
  let dockerd: Docker;
  let skopeo: Skopeo;
  let work: string;
  let log: AccessLog;
  let made: BuiltImage; // only in a `docker save`-format tar, which docker loads
  let multi: BuiltIndex; // in Berth as team/multi:v1, pushed by skopeo
  let pushedDigest: string; // what `docker push team/app:v1` printed
  let pushedBlobs: string[]; // its config and the layers docker compressed
  let iam: IAMClient;
  let saves = 0;
  const ref = (name: string) => `${berth.host}/${name}`;
  const docker = (args: string[], config?: string) => dockerd.docker(args, { config });
  /** The README's login, piped: the AWS CLI with `keys` gets the password, docker stores it. */
  const login = (config: string, keys: Credentials = adminCredentials(berth)) =>
    dockerd.shell(`aws ecr get-login-password | docker login -u AWS --password-stdin ${berth.host}`, { config, env: awsCliEnv(berth, keys) });
  const storedAuths = async (config: string) =>
    (JSON.parse(await readFile(join(config, 'config.json'), 'utf8')) as { auths: Record<string, { auth?: string }> }).auths;
  /** The image ID (its config's digest) and the `repo@digest`s docker recorded for it. */
  const inspect = async (name: string) => {
    const { stdout } = await docker(['image', 'inspect', '--format', '{{json .}}', ref(name)]);
    return JSON.parse(stdout) as { Id: string; RepoDigests: string[]; Architecture: string };
  };
  const removeAll = async () => {
    const { stdout } = await docker(['images', '-q']);
    const ids = [...new Set(stdout.split('\n').filter(Boolean))];
    if (ids.length) await docker(['rmi', '-f', ...ids]);
  };
  /** `<tag>: digest: sha256:... size: N`, the last line of a `docker push`. */
  const pushed = (out: string) => /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(out)?.[1];
  const pulledDigest = (out: string) => /^Digest: (sha256:[0-9a-f]{64})$/m.exec(out)?.[1];
  /** True once every blob of the pushed image was answered to a GET from `repo`. */
  const fetchedPushed = (repo: string) => fetchedAll(repo, pushedBlobs);
  const putManifest = (repo: string, tag: string) => (lines: Access[]) => lines.some((l) => l.method === 'PUT' && l.path === `/v2/${repo}/manifests/${tag}`);

  /** `docker save` of `name`: its config's bytes and each layer's uncompressed tar, as docker holds them. */
  async function saved(name: string): Promise<{ config: Buffer; layers: Buffer[] }> {
    const dir = join(work, `saved-${++saves}`);
    await mkdir(dir);
    await docker(['save', '-o', join(dir, 'image.tar'), ref(name)]);
    await run('tar', ['-C', dir, '-xf', join(dir, 'image.tar')]);
    const [entry] = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
    return { config: await readFile(join(dir, entry!.Config)), layers: await Promise.all(entry!.Layers.map((l) => readFile(join(dir, l)))) };
  }

  before(async () => {
    work = await tempDir('berth-docker-work-');
    // One layer above 8 MiB: more than one read/write buffer on both sides.
    made = await buildImageLayout(join(work, 'made'), { layers: 2, layerBytes: [9 * MiB, 2000], tag: 'v1' });
    multi = await buildIndexLayout(join(work, 'src'), {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      layers: 2,
      layerBytes: [1 * MiB, 4096],
      tag: 'multi',
    });
    const accessPath = join(work, 'access.log');
    // Each is kept as soon as it started, so that `after` stops the daemons even if another failed.
    const started = await Promise.allSettled([
      startBerth({ env: { BERTH_ACCESS_LOG: accessPath } }).then((b) => (berth = b)),
      startDocker().then((d) => (dockerd = d)),
      createSkopeo().then((s) => (skopeo = s)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    log = accessLog(accessPath, berth.url);
    await skopeo.copy(`oci:${join(work, 'src')}:multi`, `docker://${ref('team/multi:v1')}`, ['--all', '--preserve-digests']);
    await skopeo.run(['copy', '-q', `oci:${join(work, 'made')}:v1`, `docker-archive:${join(work, 'made.tar')}:${ref('team/app:v1')}`]);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
  });

  after(async () => {
    await dockerd?.stop();
    await berth?.cleanup();
    await skopeo?.cleanup();
  });

  it('logs in as the README says (aws ecr get-login-password | docker login) and keeps the login in config.json', async () => {
    const from = await log.mark();
    const { stdout } = await login(dockerd.config);
    assert.match(stdout, /Login Succeeded/);
    // docker login follows the Bearer challenge: the login token buys a Bearer token, which /v2/ takes.
    const lines = await waitFor('the login in the access log', async () => {
      const ls = (await log.lines()).slice(from);
      return ls.some((l) => l.path === '/v2/' && l.status === 200) && ls;
    });
    assert.ok(
      lines.some((l) => l.method === 'GET' && l.path.startsWith('/token?') && l.status === 200 && l.principal === 'arn:aws:iam::000000000000:root'),
      JSON.stringify(lines),
    );
    const auths = await storedAuths(dockerd.config);
    assert.deepEqual(Object.keys(auths), [berth.host]);
    assert.match(Buffer.from(auths[berth.host]!.auth!, 'base64').toString(), /^AWS:\S+$/);
  });

  it('loads a docker save tar and pushes it by tag: config kept byte for byte, layers as docker compressed them', async () => {
    await docker(['load', '-i', join(work, 'made.tar')]);
    assert.equal((await inspect('team/app:v1')).Id, made.configDigest, 'the image ID is the config digest');
    const from = await log.mark();
    const { stdout } = await docker(['push', ref('team/app:v1')]);
    pushedDigest = pushed(stdout)!;
    assert.ok(pushedDigest, stdout);

    const m = await getManifest(berth.url, 'team/app', 'v1');
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-type'), DOCKER_MANIFEST);
    assert.equal(m.headers.get('docker-content-digest'), pushedDigest);
    assert.equal(sha256(m.body), pushedDigest, 'Berth serves the manifest docker pushed, byte for byte');
    const manifest = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    pushedBlobs = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
    assert.equal(manifest.config.digest, made.configDigest);
    const config = await getBlob(berth.url, 'team/app', made.configDigest);
    assert.ok(config.body.equals(await readFile(blobPath(join(work, 'made'), made.configDigest))), 'the config is the loaded bytes');
    // docker pushes layers it compressed itself; uncompressed, each is the loaded layer.
    assert.deepEqual(
      await Promise.all(manifest.layers.map(async (l) => sha256(gunzipSync((await getBlob(berth.url, 'team/app', l.digest)).body)))),
      made.layers.map((l) => l.diffId),
    );
    const lines = await log.since(from, 'team/app/', putManifest('team/app', 'v1'));
    assertOnlyChallenges(lines);
    assert.equal(lines.filter((l) => l.operation === 'upload-complete' && l.status === 201).length, 3, 'config and two layers uploaded');
  });

  it('pulls by tag and by digest: the same digest, and docker save gives back the loaded bytes', async () => {
    const original = await saved('team/app:v1');
    await removeAll();
    let from = await log.mark();
    const byTag = await docker(['pull', ref('team/app:v1')]);
    // Its last lines must be in before the pull by digest marks where its own begin.
    await log.since(from, 'team/app/', fetchedPushed('team/app'));
    assert.equal(pulledDigest(byTag.stdout), pushedDigest);
    let image = await inspect('team/app:v1');
    assert.equal(image.Id, made.configDigest);
    assert.deepEqual(image.RepoDigests, [ref(`team/app@${pushedDigest}`)]);

    await removeAll();
    from = await log.mark();
    await docker(['pull', ref(`team/app@${pushedDigest}`)]);
    image = await inspect(`team/app@${pushedDigest}`);
    assert.equal(image.Id, made.configDigest);
    const lines = await log.since(from, 'team/app/', fetchedPushed('team/app'));
    assertOnlyChallenges(lines);
    assert.ok(!lines.some((l) => l.path.endsWith('/manifests/v1')), `no tag was asked for: ${JSON.stringify(lines.map((l) => [l.method, l.path, l.status]))}`);

    await docker(['tag', ref(`team/app@${pushedDigest}`), ref('team/app:v1')]);
    const back = await saved('team/app:v1');
    assert.ok(back.config.equals(original.config), 'the config is the loaded bytes');
    assert.equal(back.layers.length, made.layers.length);
    back.layers.forEach((layer, i) => {
      assert.ok(layer.equals(original.layers[i]!), `layer ${i} is the loaded tar`);
      assert.equal(sha256(layer), made.layers[i]!.diffId);
    });
  });

  it('pulls one platform of a multi-arch index (--platform) and fetches nothing of the others', async () => {
    const [amd64, arm64] = multi.images as [BuiltImage, BuiltImage];
    const from = await log.mark();
    const { stdout } = await docker(['pull', '--platform', 'linux/arm64/v8', ref('team/multi:v1')]);
    assert.equal(pulledDigest(stdout), multi.indexDigest);
    const image = await inspect('team/multi:v1');
    assert.deepEqual([image.Id, image.Architecture], [arm64.configDigest, 'arm64']);
    assert.deepEqual(image.RepoDigests, [ref(`team/multi@${multi.indexDigest}`)]);
    const lines = await log.since(from, 'team/multi/', (ls) => ls.some((l) => l.path.endsWith(arm64.layers.at(-1)!.digest) && l.status === 200));
    assertOnlyChallenges(lines);
    for (const d of [amd64.manifestDigest, amd64.configDigest, ...amd64.layers.map((l) => l.digest)])
      assert.ok(!lines.some((l) => l.path.endsWith(d)), `the amd64 image's ${d} was not fetched`);
  });

  it('pushes to a second repository by mounting the layers from the first', async () => {
    await docker(['tag', ref('team/app:v1'), ref('mirror/app:v1')]);
    const from = await log.mark();
    const { stdout } = await docker(['push', ref('mirror/app:v1')]);
    assert.equal(pushed(stdout), pushedDigest);
    assert.equal((stdout.match(/Mounted from team\/app/g) ?? []).length, made.layers.length, stdout);

    const lines = await log.since(from, 'mirror/app/', putManifest('mirror/app', 'v1'));
    assertOnlyChallenges(lines);
    const mounts = lines.filter((l) => l.operation === 'upload-start' && l.path.includes('mount='));
    assert.equal(mounts.length, made.layers.length);
    for (const l of mounts) assert.match(`${l.status} ${l.path}`, /^201 \/v2\/mirror\/app\/blobs\/uploads\/\?from=team%2Fapp&mount=sha256%3A[0-9a-f]{64}$/);
    const m = await getManifest(berth.url, 'mirror/app', 'v1');
    assert.equal(m.headers.get('docker-content-digest'), pushedDigest);
  });

  it('pushes to and pulls from an ECR Public repository with a login; with none, its push is refused and changes nothing', async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    await docker(['tag', ref('team/app:v1'), ref(`${ACCOUNT}/tools/hello:v1`)]);
    assert.equal(pushed((await docker(['push', ref(`${ACCOUNT}/tools/hello:v1`)])).stdout), pushedDigest);

    // With a login of the repository's account docker pulls it back (with none: the next test).
    await removeAll();
    const pulling = await log.mark();
    assert.equal(pulledDigest((await docker(['pull', ref(`${ACCOUNT}/tools/hello:v1`)])).stdout), pushedDigest);
    // Its last lines must be in before the anonymous push marks where its own begin.
    await log.since(pulling, `${ACCOUNT}/tools/hello/`, fetchedPushed(`${ACCOUNT}/tools/hello`));
    await docker(['tag', ref(`${ACCOUNT}/tools/hello:v1`), ref('team/app:v1')]);

    // With no login docker takes an anonymous token: it may look at the blobs (public reads), and Berth refuses the manifest PUT.
    await docker(['tag', ref('team/app:v1'), ref(`${ACCOUNT}/tools/hello:anon`)]);
    const from = await log.mark();
    const err = await dockerd.dockerFails(['push', ref(`${ACCOUNT}/tools/hello:anon`)], { config: await dockerd.newConfig() });
    assert.match(err, /unauthorized/);
    const lines = await log.since(from, `${ACCOUNT}/tools/hello/`, putManifest(`${ACCOUNT}/tools/hello`, 'anon'));
    for (const l of lines) assert.equal(l.principal, 'anonymous', `${l.method} ${l.path}`);
    for (const l of lines.filter((x) => x.method !== 'HEAD')) assert.equal(l.status, 401, `${l.method} ${l.path}`);
    assert.deepEqual((await listTags(berth.url, `${ACCOUNT}/tools/hello`)).tags, ['v1']);
  });

  it('pulls from an ECR Public repository with no login (an anonymous token from the Bearer challenge)', async () => {
    await removeAll();
    const from = await log.mark();
    const { stdout } = await docker(['pull', ref(`${ACCOUNT}/tools/hello:v1`)], await dockerd.newConfig());
    assert.equal(pulledDigest(stdout), pushedDigest);
    assert.equal((await inspect(`${ACCOUNT}/tools/hello:v1`)).Id, made.configDigest);
    const lines = await log.since(from, `${ACCOUNT}/tools/hello/`, fetchedPushed(`${ACCOUNT}/tools/hello`));
    // Only what a pull asks (manifests and blobs) is docker's; the mark is a sentinel's line, so the
    // previous test's tag listing (as root) is before it.
    const pulls = lines.filter((l) => /\/(manifests|blobs)\//.test(l.path));
    const tokens = (await log.lines()).slice(from).filter((l) => l.path.startsWith('/token?'));
    assert.ok(tokens.length > 0 && tokens.every((l) => l.status === 200 && l.principal === 'anonymous'), JSON.stringify(tokens));
    assert.ok(pulls.length > made.layers.length, JSON.stringify(lines));
    for (const l of pulls) assert.deepEqual([l.status, l.principal], [200, 'anonymous'], `${l.method} ${l.path}`);
  });

  it("a pull-only IAM user logs in and pulls; its pushes are refused ('denied') and change nothing", async () => {
    const reader = await createUser(berth, iam, 'reader', ['ReadOnly']);
    const config = await dockerd.newConfig();
    await login(config, reader.keys);
    await removeAll();
    await docker(['pull', ref('team/app:v1')], config);

    await docker(['tag', ref('team/app:v1'), ref('team/app:reader')]);
    let err = await dockerd.dockerFails(['push', ref('team/app:reader')], { config });
    assert.match(
      err,
      /^denied: User: arn:aws:iam::000000000000:user\/reader is not authorized to perform: ecr:PutImage on resource: .*repository\/team\/app because no identity-based policy allows the ecr:PutImage action$/m,
    );
    assert.deepEqual((await listTags(berth.url, 'team/app')).tags, ['v1']);

    await docker(['tag', ref('team/app:v1'), ref('reader/new:v1')]);
    const from = await log.mark();
    err = await dockerd.dockerFails(['push', ref('reader/new:v1')], { config });
    assert.match(
      err,
      /^denied: User: .*user\/reader is not authorized to perform: ecr:InitiateLayerUpload on resource: .*repository\/reader\/new because no identity-based policy allows the ecr:InitiateLayerUpload action$/m,
    );
    const lines = await log.since(from, 'reader/new/', (ls) => ls.some((l) => l.status === 403));
    for (const l of lines.filter((x) => x.status === 403)) assert.equal(l.deniedAction, 'ecr:InitiateLayerUpload');
    assert.ok(!(await catalog(berth.url)).includes('reader/new'), 'no repository was made');
  });

  it('a login ends with the access key it was minted with: deleted or made inactive, the next pull is refused; another key logs in again', async () => {
    const revoked = await assertLoginEndsWithKey(berth, iam, log, 'leaver', {
      login: async (keys) => {
        const config = await dockerd.newConfig();
        await login(config, keys);
        return config;
      },
      pull: async (config) => void (await docker(['pull', ref('team/app:v1')], config)),
      pullFails: (config) => dockerd.dockerFails(['pull', ref('team/app:v1')], { config }),
    });
    // docker presents the login to the token endpoint, which refuses it; docker prints Berth's reason.
    for (const r of revoked)
      assert.match(
        r.printed,
        new RegExp(
          `^Error response from daemon: Head ".*/v2/team/app/manifests/v1": unauthorized: the access key ${r.keyId} of this login token is no longer active$`,
          'm',
        ),
      );
  });

  it('after docker logout, a pull of a private repository is refused and nothing is stored', async () => {
    await removeAll();
    await docker(['logout', berth.host]);
    assert.deepEqual(await storedAuths(dockerd.config), {});
    const from = await log.mark();
    const err = await dockerd.dockerFails(['pull', ref('team/app:v1')]);
    // docker takes an anonymous token, and Berth refuses it the private manifest.
    assert.match(err, /unauthorized/);
    const lines = await log.since(from, 'team/', (ls) => ls.some((l) => l.path === '/v2/team/app/manifests/v1'));
    for (const l of lines) assert.deepEqual([l.path, l.status, l.principal], ['/v2/team/app/manifests/v1', 401, 'anonymous']);
    assert.equal((await docker(['images', '-q'])).stdout.trim(), '');
  });
});
