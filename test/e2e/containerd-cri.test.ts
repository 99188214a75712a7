/**
 * A Kubernetes node's pull, as the kubelet makes it: the CRI ImageService's PullImage over
 * containerd's gRPC socket, with the pod's imagePullSecret (`AWS` and a `get-login-password`
 * token) as the request's AuthConfig, and the registry reached through the CRI plugin's
 * `config_path`: a hosts.toml naming Berth, over plain HTTP, as the server of a registry name that
 * resolves nowhere else. No pod runs: only the image service is used. Every blob containerd stores
 * is compared with what was pushed, and refusals are checked as the kubelet would log them
 * (`rpc error: code = ... desc = ...`), without depending on the scheme of Berth's 401 challenge
 * (containerd answers Basic and Bearer alike).
 */
import { ECRPUBLICClient, CreateRepositoryCommand as CreatePublicRepositoryCommand } from '@aws-sdk/client-ecr-public';
import { SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { accessLog, assertOnlyChallenges, fetchedAll, type Access } from './helpers/access-lines.js';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { containerdUnavailable, startContainerd, writeHostsToml, type Containerd } from './helpers/containerd.js';
import { asKubeletLogs, criImageService, type AuthConfig, type CriImageService } from './helpers/cri-image.js';
import { adminCredentials, awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createAccount, otherAccountIdentity } from './helpers/iam-users.js';
import { blobPath, buildImageLayout, buildIndexLayout, type BuiltImage, type BuiltIndex } from './helpers/oci-layout.js';
import { sha256 } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const ACCOUNT = '000000000000';
const OTHER = '111111111111';
/** A name under `.test` (RFC 2606), which DNS never resolves. */
const REGISTRY = 'registry.berth.test';
const NS = `?ns=${REGISTRY}`;
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];

const unavailable = containerdUnavailable();
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_CONTAINERD)) throw new Error(`containerd is required here: ${unavailable}`);

describe("a Kubernetes node's pull (containerd's CRI image service) against Berth", { skip: unavailable ?? false }, () => {
  let berth: BerthProcess;
  let ctrd: Containerd;
  let cri: CriImageService;
  let skopeo: Skopeo;
  let work: string;
  let accessPath: string;
  let secret: AuthConfig; // what an imagePullSecret made from `get-login-password` carries
  let app: BuiltImage; // team/app:v1
  let multi: BuiltIndex; // team/multi:v1, linux/amd64 and linux/arm64/v8
  const src = () => join(work, 'src');
  /** The node's name for an image: Berth as the node knows it, through hosts.toml. */
  const ref = (name: string) => `${REGISTRY}/${name}`;
  /** The same image at Berth's own address, for skopeo. */
  const at = (name: string) => `docker://${berth.host}/${name}`;
  const mark = () => accessLog(accessPath, berth.url).mark();
  /**
   * The access log from `from` on, with the `?ns=<registry name>` containerd adds to every request
   * it sends to a hosts.toml server taken off the path (the pulls assert that it is there).
   */
  const accessSince = async (from: number, prefix: string, done: (lines: Access[]) => boolean) => {
    const plain = (lines: Access[]) => lines.map((l) => ({ ...l, path: l.path.replace(NS, '') }));
    return plain(await accessLog(accessPath).since(from, prefix, (lines) => done(plain(lines))));
  };
  /** Every request of a pull went to Berth through the hosts.toml of REGISTRY. */
  const assertThroughHostsToml = async (from: number, prefix: string) => {
    const lines = (await accessLog(accessPath).lines()).slice(from).filter((l) => l.path.startsWith(`/v2/${prefix}`));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok(l.path.endsWith(NS), `${l.method} ${l.path}`);
  };
  const blobsOf = (image: BuiltImage) => [image.configDigest, ...image.layers.map((l) => l.digest)];
  /** True once the manifest PUT of `repo:tag` was answered (the access log is written after the answer). */
  const putManifest = (repo: string, tag: string) => (lines: Access[]) => lines.some((l) => l.method === 'PUT' && l.path === `/v2/${repo}/manifests/${tag}`);
  const images = async () => (await cri.list()).map((i) => i.id).sort();

  /** Every blob of `image` is in containerd's content store with exactly the bytes pushed. */
  async function assertHolds(image: BuiltImage): Promise<void> {
    for (const digest of [image.manifestDigest, ...blobsOf(image)]) {
      const held = await ctrd.content(digest);
      assert.equal(sha256(held), digest, `containerd's ${digest} hashes to its digest`);
      assert.ok(held.equals(await readFile(blobPath(src(), digest))), `containerd's ${digest} is the pushed bytes`);
    }
  }

  /** The refusal of a PullImage as the kubelet logs it; containerd must hold nothing more after it. */
  async function pullRefused(image: string, auth?: AuthConfig): Promise<string> {
    const held = [await images(), await ctrd.contentDigests()];
    const err = await cri.pull(image, auth).then(
      () => assert.fail(`PullImage of ${image} succeeded`),
      (e: unknown) => e,
    );
    assert.deepEqual([await images(), await ctrd.contentDigests()], held, 'nothing was stored');
    const logged = asKubeletLogs(err);
    if (auth?.password) assert.ok(!logged.includes(auth.password), 'the password is not in the error');
    return logged;
  }
  /** The start of every failed pull's message in containerd 1.6, for `image`. */
  const failedPull = (image: string) => `failed to pull and unpack image "${image}": failed to resolve reference "${image}": `;

  before(async () => {
    work = await tempDir('berth-cri-work-');
    app = await buildImageLayout(src(), { layers: 3, layerBytes: [3 * MiB, 64 * 1024, 1000], tag: 'app' });
    multi = await buildIndexLayout(src(), {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      layers: 2,
      layerBytes: [MiB, 4096],
      tag: 'multi',
    });
    accessPath = join(work, 'access.log');
    // Each is kept as soon as it started, so that `after` stops the daemons even if another failed.
    const started = await Promise.allSettled([
      startBerth({ env: { BERTH_ACCESS_LOG: accessPath } }).then((b) => (berth = b)),
      startContainerd({ cri: true }).then((c) => (ctrd = c)),
      createSkopeo().then((s) => (skopeo = s)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    cri = criImageService(ctrd.address);
    // The registry's name resolves nowhere: only the hosts.toml under config_path leads to Berth.
    await writeHostsToml(ctrd.hostsDir, REGISTRY, `http://${berth.host}`, { capabilities: ['pull', 'resolve'] });
    await skopeo.copy(`oci:${src()}:app`, at('team/app:v1'), ['--preserve-digests']);
    await skopeo.copy(`oci:${src()}:multi`, at('team/multi:v1'), ['--all', '--preserve-digests']);
    await accessSince(0, 'team/multi/', putManifest('team/multi', 'v1'));
    const password = (await run('aws', ['ecr', 'get-login-password'], { env: awsCliEnv(berth) })).stdout.trim();
    secret = { username: 'AWS', password };
  });

  after(async () => {
    cri?.close();
    await ctrd?.stop();
    await berth?.cleanup();
    await skopeo?.cleanup();
  });

  it('PullImage by tag with the login as username and password: ImageStatus shows the pushed digest, blobs byte for byte', async () => {
    const from = await mark();
    const id = await cri.pull(ref('team/app:v1'), secret);
    assert.equal(id, app.configDigest, "containerd's image id is the config's digest");

    const status = await cri.status(ref('team/app:v1'));
    assert.deepEqual(status?.repoTags, [ref('team/app:v1')]);
    assert.deepEqual(status?.repoDigests, [ref(`team/app@${app.manifestDigest}`)]);
    assert.equal(status?.id, app.configDigest);
    assert.deepEqual(await images(), [app.configDigest]);
    await assertHolds(app);
    const lines = await accessSince(from, 'team/app/', fetchedAll('team/app', blobsOf(app)));
    assertOnlyChallenges(lines);
    await assertThroughHostsToml(from, 'team/app/');
    const blobGets = lines.filter((l) => l.method === 'GET' && l.path.includes('/blobs/') && l.status === 200);
    assert.equal(blobGets.length, blobsOf(app).length, 'each blob fetched once');
  });

  it('RemoveImage, then PullImage by digest with an `auth` string (base64 of user:password)', async () => {
    await cri.remove(ref('team/app:v1'));
    assert.equal(await cri.status(ref('team/app:v1')), undefined);
    assert.deepEqual(await images(), []);
    const held = await ctrd.contentDigests();
    for (const d of [app.manifestDigest, ...blobsOf(app)]) assert.ok(!held.has(d), `${d} was collected`);

    const from = await mark();
    const auth = Buffer.from(`${secret.username}:${secret.password}`).toString('base64');
    const byDigest = ref(`team/app@${app.manifestDigest}`);
    assert.equal(await cri.pull(byDigest, { auth }), app.configDigest);
    const status = await cri.status(byDigest);
    assert.deepEqual([status?.repoTags, status?.repoDigests], [[], [byDigest]]);
    await assertHolds(app);
    const lines = await accessSince(from, 'team/app/', (ls) => ls.some((l) => l.path === `/v2/team/app/manifests/${app.manifestDigest}`));
    assertOnlyChallenges(lines);
    assert.ok(!lines.some((l) => l.path.endsWith('/manifests/v1')), 'no tag was asked for');
  });

  it("pulls only the node's platform (linux/amd64) of a multi-arch index", async () => {
    const [amd64, arm64] = multi.images as [BuiltImage, BuiltImage];
    assert.equal(await cri.pull(ref('team/multi:v1'), secret), amd64.configDigest);
    const status = await cri.status(ref('team/multi:v1'));
    assert.deepEqual(status?.repoDigests, [ref(`team/multi@${multi.indexDigest}`)], 'the repo digest is the index, as pushed');
    const held = await ctrd.contentDigests();
    assert.ok((await ctrd.content(multi.indexDigest)).equals(multi.index), 'the index is the pushed bytes');
    await assertHolds(amd64);
    for (const d of [arm64.manifestDigest, ...blobsOf(arm64)]) assert.ok(!held.has(d), `the arm64 image's ${d} was not fetched`);
  });

  it('pulls an ECR Public repository with no imagePullSecret (anonymously)', async () => {
    const pub = new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    let from = await mark();
    await skopeo.copy(`oci:${src()}:app`, at(`${ACCOUNT}/tools/hello:v1`), ['--preserve-digests']);
    await accessSince(from, `${ACCOUNT}/tools/hello/`, putManifest(`${ACCOUNT}/tools/hello`, 'v1'));
    await cri.remove(ref(`team/app@${app.manifestDigest}`));

    from = await mark();
    assert.equal(await cri.pull(ref(`${ACCOUNT}/tools/hello:v1`)), app.configDigest);
    assert.deepEqual((await cri.status(ref(`${ACCOUNT}/tools/hello:v1`)))?.repoDigests, [ref(`${ACCOUNT}/tools/hello@${app.manifestDigest}`)]);
    await assertHolds(app);
    const lines = await accessSince(from, `${ACCOUNT}/tools/hello/`, fetchedAll(`${ACCOUNT}/tools/hello`, blobsOf(app)));
    for (const l of lines) assert.deepEqual([l.status, l.principal], [200, 'anonymous'], `${l.method} ${l.path}`);
  });

  it('refuses a private image without an imagePullSecret or with a wrong password (401), and stores nothing', async () => {
    const image = ref('team/app:v1');
    const wrong = `${secret.password!.slice(0, -2)}${secret.password!.endsWith('xx') ? 'yy' : 'xx'}`;
    for (const auth of [undefined, { username: 'AWS', password: wrong }]) {
      const from = await mark();
      const logged = await pullRefused(image, auth);
      // The last words differ with the challenge's scheme (a refused manifest, or a refused token), not the status.
      assert.ok(logged.startsWith(`rpc error: code = Unknown desc = ${failedPull(image)}`), logged);
      assert.ok(logged.endsWith(': 401 Unauthorized'), logged);
      const lines = await accessSince(from, 'team/app/', (ls) => ls.some((l) => l.path === '/v2/team/app/manifests/v1'));
      for (const l of lines) assert.deepEqual([l.path, l.status, l.principal], ['/v2/team/app/manifests/v1', 401, 'anonymous']);
    }
  });

  it("refuses a pull-only user of another account (403) until the repository's policy grants that account", async () => {
    await createAccount(berth, OTHER);
    const puller = await otherAccountIdentity(berth, OTHER, { name: 'puller', managed: ['ReadOnly'] });
    const [username, password] = Buffer.from(puller.authorization!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(/:(.*)/s) as [string, string];
    // The other account's user names the owner's repository by the single-host form.
    const image = ref(`account--${ACCOUNT}/team/app:v1`);
    const from = await mark();
    assert.equal(
      await pullRefused(image, { username, password }),
      `rpc error: code = Unknown desc = ${failedPull(image)}pulling from host ${berth.host} failed with status code [manifests v1]: 403 Forbidden`,
    );
    const lines = await accessSince(from, `account--${ACCOUNT}/team/app/`, (ls) => ls.some((l) => l.status === 403));
    const denied = lines.filter((l) => l.status === 403);
    assert.ok(denied.length > 0);
    for (const l of denied)
      assert.deepEqual(
        [l.method, l.path, l.principal, l.deniedAction],
        ['HEAD', `/v2/account--${ACCOUNT}/team/app/manifests/v1`, `arn:aws:iam::${OTHER}:user/puller`, 'ecr:BatchGetImage'],
      );

    // The same secret pulls once the owner's repository policy lets that account read. (The
    // image, held under its ECR Public name, is removed first: every blob must come from here.)
    await cri.remove(ref(`${ACCOUNT}/tools/hello:v1`));
    const statement = { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: PULL };
    const policyText = JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
    await ecrClient(berth).send(new SetRepositoryPolicyCommand({ repositoryName: 'team/app', policyText }));
    const granted = await mark();
    assert.equal(await cri.pull(image, { username, password }), app.configDigest);
    assert.deepEqual((await cri.status(image))?.repoDigests, [ref(`account--${ACCOUNT}/team/app@${app.manifestDigest}`)]);
    await assertHolds(app);
    const fetched = await accessSince(granted, `account--${ACCOUNT}/team/app/`, fetchedAll(`account--${ACCOUNT}/team/app`, blobsOf(app)));
    // `granted` is a sentinel's line (helpers/access-lines.ts): the refused pull's last 403, logged
    // a little after containerd saw it, is before it, so nothing refused may show here.
    assertOnlyChallenges(fetched);
    for (const l of fetched.filter((x) => x.status === 200)) assert.equal(l.principal, `arn:aws:iam::${OTHER}:user/puller`);
  });

  it('a missing tag or repository is NotFound, as the kubelet reports ErrImagePull for it', async () => {
    for (const name of ['team/app:nope', 'nope/none:v1']) {
      const image = ref(name);
      assert.equal(await pullRefused(image, secret), `rpc error: code = NotFound desc = ${failedPull(image)}${image}: not found`);
    }
  });
});
