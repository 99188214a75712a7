/**
 * The pull-through cache's pull path, with real clients against real upstreams: the reference
 * registry (`docker-registry`) open and behind htpasswd (credentials from a Secrets Manager
 * secret), images pushed to it with skopeo, pulled through Berth with skopeo and
 * with raw HTTP. A loopback proxy in this process sits in front of the open upstream: it counts
 * the upstream's blob GETs and can hold, stall or fail them. The rules, the secret and the events
 * route are set up through the SDKs: the AWS CLI's view of those calls is pull-through-rules',
 * secrets-manager's and events' subject, and each CLI run costs ~0.9 s of CPU on a 2-core machine.
 */
import {
  BatchCheckLayerAvailabilityCommand,
  BatchGetImageCommand,
  CreatePullThroughCacheRuleCommand,
  CreateRepositoryCreationTemplateCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetDownloadUrlForLayerCommand,
  type ECRClient,
  ListImagesCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-ecr';
import { CreateApiDestinationCommand, CreateConnectionCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../e2e/helpers/berth-process.js';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { eventsInvokeRole } from '../e2e/helpers/events-role.js';
import { createUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { buildImageLayout, buildIndexLayout, readLayoutRef, type BuiltImage, type BuiltIndex } from '../e2e/helpers/oci-layout.js';
import { manifestAccept, request } from '../e2e/helpers/registry-http.js';
import { createSkopeo, type Skopeo } from '../e2e/helpers/skopeo.js';
import { startUpstreamRegistry, type UpstreamRegistry } from '../e2e/helpers/upstream-registry.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * The stall test waits this long for its cut; every other pull must not meet it, and at load 15–20
 * the reference registry went quiet for more than 3 s (a 502 in the htpasswd test).
 */
const UPSTREAM_TIMEOUT_S = 8;
const RECHECK_S = 60;
/** The app's clock runs ahead of the wall clock by this much (within SigV4's 15-minute skew). */
let clockAhead = 0;
const clock = { now: () => new Date(Date.now() + clockAhead) };
/** Moves the app's clock past a cached tag's re-check interval. */
const pastRecheck = () => (clockAhead += (RECHECK_S + 1) * 1000);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** What the proxy does with a blob GET of one digest. */
type BlobMode = { kind: 'hold'; release: Promise<void> } | { kind: 'stall' } | { kind: 'fail' };

/** A loopback proxy in front of an upstream: counts blob GETs, and holds, stalls or fails some. */
class UpstreamProxy {
  readonly blobGets = new Map<string, number>();
  /** Requests (any method) for each manifest path. */
  readonly manifestAsks = new Map<string, number>();
  readonly modes = new Map<string, BlobMode>();
  /** Manifest requests answered 500 while set. */
  failManifests = false;
  private readonly stalled: IncomingMessage[] = [];
  private server!: Server;
  url = '';

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const blob = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path)?.[1];
      if (blob && req.method === 'GET') this.blobGets.set(blob, (this.blobGets.get(blob) ?? 0) + 1);
      if (path.includes('/manifests/')) this.manifestAsks.set(path, (this.manifestAsks.get(path) ?? 0) + 1);
      const mode = blob ? this.modes.get(blob) : undefined;
      if (mode?.kind === 'fail' || (this.failManifests && path.includes('/manifests/'))) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"upstream broke"}]}');
        return;
      }
      const up = httpRequest(`${this.upstream}${path}`, { method: req.method, headers: { ...req.headers, host: new URL(this.upstream).host } }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!mode || req.method !== 'GET' || upRes.statusCode !== 200) {
          upRes.pipe(res);
          return;
        }
        // The first 64 KiB at once; the rest when released (hold), or never (stall).
        let sent = 0;
        let released = false;
        const pending: Buffer[] = [];
        if (mode.kind === 'hold')
          void mode.release.then(() => {
            released = true;
            for (const c of pending.splice(0)) res.write(c);
            if (upRes.readableEnded) res.end();
          });
        upRes.on('data', (c: Buffer) => {
          if (released) res.write(c);
          else if (sent < 64 * KiB) {
            const head = c.subarray(0, 64 * KiB - sent);
            sent += head.length;
            res.write(head);
            if (head.length < c.length) pending.push(c.subarray(head.length));
          } else pending.push(c);
        });
        upRes.on('end', () => {
          if (released) res.end();
          else if (mode.kind === 'stall') this.stalled.push(req);
        });
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  gets(digest: string): number {
    return this.blobGets.get(digest) ?? 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('pull-through cache: the pull path', () => {
  let berth: BerthInProcess;
  let admin: Credentials;
  let ecr: ECRClient;
  let open: UpstreamRegistry;
  let locked: UpstreamRegistry;
  let proxy: UpstreamProxy;
  let skopeo: Skopeo;
  let work: string;
  let hook: Server;
  let hookUrl: string;
  const delivered: Array<{ 'detail-type': string; resources: string[]; detail: Record<string, unknown> }> = [];

  /** Pushes a layout's tag to an upstream with skopeo (`--all`: an index with its platforms). */
  const pushUpstream = (layout: string, tag: string, upstream: string, ref: string, creds?: string) =>
    skopeo.copy(`oci:${layout}:${tag}`, `docker://${upstream}/${ref}`, ['--all', ...(creds ? ['--dest-creds', creds] : [])]);
  const through = (ref: string) => `docker://${berth.host}/${ref}`;
  const v2 = (path: string, init: RequestInit = {}) =>
    request(`${berth.url}${path}`, { ...init, headers: { Authorization: berth.authorization, ...init.headers } });
  const listed = async (repositoryName: string) =>
    ((await ecr.send(new ListImagesCommand({ repositoryName }))).imageIds ?? []).map((i) => `${i.imageDigest}${i.imageTag ? `:${i.imageTag}` : ''}`);

  before(async () => {
    berth = await startInProcess({
      env: { BERTH_PULL_THROUGH_TAG_RECHECK_SECONDS: String(RECHECK_S), BERTH_PULL_THROUGH_UPSTREAM_TIMEOUT_SECONDS: String(UPSTREAM_TIMEOUT_S) },
      clock,
    });
    admin = adminCredentials(berth);
    ecr = ecrClient(berth);
    [open, locked] = await Promise.all([startUpstreamRegistry(), startUpstreamRegistry({ user: 'puller', password: 'upstream-pw' })]);
    proxy = new UpstreamProxy(open.url);
    await proxy.start();
    skopeo = await createSkopeo();
    work = await tempDir('berth-ptc-');
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        delivered.push(JSON.parse(body) as (typeof delivered)[number]);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const addr = hook.address();
    hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;

    const client = { endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 };
    const secret = await new SecretsManagerClient(client).send(
      new CreateSecretCommand({ Name: 'ecr-pullthroughcache/locked', SecretString: JSON.stringify({ username: 'puller', accessToken: 'upstream-pw' }) }),
    );
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: proxy.url }));
    await ecr.send(
      new CreatePullThroughCacheRuleCommand({
        ecrRepositoryPrefix: 'locked',
        upstreamRegistryUrl: locked.url,
        credentialArn: secret.ARN,
        upstreamRepositoryPrefix: 'mirror',
      }),
    );
    await ecr.send(
      new CreateRepositoryCreationTemplateCommand({
        prefix: 'hub',
        appliedFor: ['PULL_THROUGH_CACHE'],
        resourceTags: [{ Key: 'origin', Value: 'cache' }],
      }),
    );
    // "ECR Pull Through Cache Action" events to the webhook, routed through EventBridge's API.
    const events = new EventBridgeClient(client);
    const conn = await events.send(
      new CreateConnectionCommand({
        Name: 'hook',
        AuthorizationType: 'API_KEY',
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Key', ApiKeyValue: 'k' } },
      }),
    );
    const dest = await events.send(
      new CreateApiDestinationCommand({ Name: 'hook', ConnectionArn: conn.ConnectionArn, InvocationEndpoint: hookUrl, HttpMethod: 'POST' }),
    );
    await events.send(
      new PutRuleCommand({ Name: 'ptc', EventPattern: JSON.stringify({ source: ['aws.ecr'], 'detail-type': ['ECR Pull Through Cache Action'] }) }),
    );
    const RoleArn = await eventsInvokeRole(new IAMClient(client), 'ptc-invoke');
    await events.send(new PutTargetsCommand({ Rule: 'ptc', Targets: [{ Id: 'hook', Arn: dest.ApiDestinationArn, RoleArn }] }));
  });

  after(async () => {
    hook?.close();
    await proxy?.stop();
    await skopeo?.cleanup();
    await open?.cleanup();
    await locked?.cleanup();
    await berth?.cleanup();
  });

  it('copies a multi-arch image through the cache with skopeo, caching the platform pulled, then another by digest', async () => {
    const layout = join(work, 'multi');
    const multi: BuiltIndex = await buildIndexLayout(layout, {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      layers: 2,
      layerBytes: [300 * KiB, 4 * KiB],
      tag: 'v1',
    });
    await pushUpstream(layout, 'v1', open.host, 'team/multi:v1');
    const [amd64, arm64] = multi.images as [BuiltImage, BuiltImage];

    const out = join(work, 'out-amd64');
    await skopeo.copy(through('hub/team/multi:v1'), `oci:${out}:v1`, ['--override-os', 'linux', '--override-arch', 'amd64']);
    assert.equal((await readLayoutRef(out, 'v1')).digest, amd64.manifestDigest, 'skopeo got the amd64 image the index names');
    for (const d of [amd64.configDigest, ...amd64.layers.map((l) => l.digest)]) assert.equal(proxy.gets(d), 1, `${d} was fetched from upstream once`);

    // The index is stored as pulled, the amd64 image once its blobs are; arm64 is not cached.
    const images = await waitFor('the amd64 image to be cached', async () => {
      const ids = await listed('hub/team/multi');
      return ids.includes(amd64.manifestDigest) && ids;
    });
    assert.ok(images.includes(`${multi.indexDigest}:v1`), `the index is cached under its tag: ${images.join(', ')}`);
    assert.ok(!images.includes(arm64.manifestDigest), 'the platform nobody pulled is not cached');
    const details = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'hub/team/multi' }))).imageDetails ?? [];
    const index = details.find((d) => d.imageDigest === multi.indexDigest);
    assert.ok(index && index.imageSizeInBytes! > 200 * KiB, 'the index reports the size of its cached platform');
    const repo = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['hub/team/multi'] }))).repositories![0]!;
    const tags = (await ecr.send(new ListTagsForResourceCommand({ resourceArn: repo.repositoryArn! }))).tags ?? [];
    assert.deepEqual(tags, [{ Key: 'origin', Value: 'cache' }], 'created with the PULL_THROUGH_CACHE template');

    // The other platform, pulled by digest, is fetched then.
    await skopeo.copy(through(`hub/team/multi@${arm64.manifestDigest}`), `oci:${join(work, 'out-arm64')}:a`);
    await waitFor('the arm64 image to be cached', async () => (await listed('hub/team/multi')).includes(arm64.manifestDigest));
    // Cached: the whole index copies with the upstream gone from the path (every blob GET is still one).
    await skopeo.copy(through('hub/team/multi:v1'), `oci:${join(work, 'out-all')}:v1`, ['--all']);
    for (const img of multi.images) for (const l of img.layers) assert.equal(proxy.gets(l.digest), 1, `${l.digest} fetched once`);

    // The cache's exception is its own: a push of an index whose children are absent is refused, even here.
    const orphanIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(Buffer.from('absent')), size: 7 }],
      }),
    );
    const pushed = await v2('/v2/hub/team/multi/manifests/pushed', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
      body: new Uint8Array(orphanIndex),
    });
    assert.equal(pushed.status, 400);
    assert.match(pushed.body.toString(), /MANIFEST_BLOB_UNKNOWN/);

    const event = await waitFor('the ECR Pull Through Cache Action event of hub/team/multi:v1', () =>
      delivered.find((e) => e.detail['repository-name'] === 'hub/team/multi' && e.detail['image-tag'] === 'v1'),
    );
    assert.equal(event['detail-type'], 'ECR Pull Through Cache Action');
    assert.deepEqual(event.resources, [repo.repositoryArn]);
    assert.equal(event.detail['sync-status'], 'SUCCESS');
    assert.equal(event.detail['ecr-repository-prefix'], 'hub');
    assert.equal(event.detail['upstream-registry-url'], proxy.url);
    assert.equal(event.detail['image-digest'], multi.indexDigest);
  });

  it('pulls from an upstream behind htpasswd with credentials from a secret, and serves the cache while the upstream is down', async () => {
    const layout = join(work, 'private');
    const image = await buildImageLayout(layout, { layers: 2, layerBytes: [200 * KiB, 2 * KiB], tag: 'v1' });
    await pushUpstream(layout, 'v1', locked.host, 'mirror/app:v1', 'puller:upstream-pw');
    await skopeo.copy(through('locked/app:v1'), `oci:${join(work, 'out-private')}:v1`);
    await waitFor('the private image to be cached', async () => (await listed('locked/app').catch((): string[] => [])).includes(`${image.manifestDigest}:v1`));

    await locked.stop();
    try {
      // The tag is due for a re-check: the upstream is down, so the cached image is served.
      pastRecheck();
      const again = join(work, 'out-private-down');
      await skopeo.copy(through('locked/app:v1'), `oci:${again}:v1`);
      assert.equal((await readLayoutRef(again, 'v1')).digest, image.manifestDigest);
      assert.equal((await readdir(join(again, 'blobs', 'sha256'))).length, 4, 'manifest, config and both layers');
      // What is not cached fails at once, naming the upstream.
      const started = Date.now();
      const missing = await v2('/v2/locked/app/manifests/v2', { headers: { Accept: manifestAccept } });
      assert.equal(missing.status, 502);
      const body = JSON.parse(missing.body.toString()) as { errors: Array<{ code: string; message: string }> };
      assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
      assert.match(body.errors[0]!.message, new RegExp(`${locked.url.replace(/\./g, '\\.')}.*could not be reached`));
      assert.ok(Date.now() - started < 30_000);
      await assert.rejects(
        ecr.send(new BatchGetImageCommand({ repositoryName: 'locked/app', imageIds: [{ imageTag: 'v2' }] })),
        (e: Error) => e.name === 'UnableToGetUpstreamImageException' && e.message.includes(locked.url),
      );
    } finally {
      await locked.start();
    }
  });

  it('refreshes a tag moved upstream once its re-check interval has passed', async () => {
    const first = await buildImageLayout(join(work, 'moving1'), { layers: 1, layerBytes: 3 * KiB, tag: 'v1' });
    const second = await buildImageLayout(join(work, 'moving2'), { layers: 1, layerBytes: 5 * KiB, tag: 'v1' });
    await pushUpstream(join(work, 'moving1'), 'v1', open.host, 'team/moving:v1');
    const got = await v2('/v2/hub/team/moving/manifests/v1', { headers: { Accept: manifestAccept } });
    assert.equal(got.headers.get('docker-content-digest'), first.manifestDigest);
    await waitFor('the first image to be cached', async () => (await listed('hub/team/moving')).includes(`${first.manifestDigest}:v1`));
    await pushUpstream(join(work, 'moving2'), 'v1', open.host, 'team/moving:v1');
    const before = await v2('/v2/hub/team/moving/manifests/v1', { headers: { Accept: manifestAccept } });
    assert.equal(before.headers.get('docker-content-digest'), first.manifestDigest, 'not checked again within the interval');
    pastRecheck();
    const moved = await v2('/v2/hub/team/moving/manifests/v1', { headers: { Accept: manifestAccept } });
    assert.equal(moved.headers.get('docker-content-digest'), second.manifestDigest, 'checked again after the interval: the tag moved');
    // The first image stays cached by digest.
    const old = await v2(`/v2/hub/team/moving/manifests/${first.manifestDigest}`, { headers: { Accept: manifestAccept } });
    assert.equal(old.status, 200);
  });

  it('pulls through the JSON API too: BatchGetImage, then GetDownloadUrlForLayer and a HEAD of a cold layer', async () => {
    const image = await buildImageLayout(join(work, 'api'), { layers: 2, layerBytes: [64 * KiB, 3 * KiB], tag: 'v1' });
    await pushUpstream(join(work, 'api'), 'v1', open.host, 'team/api:v1');
    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'hub/team/api', imageIds: [{ imageTag: 'v1' }, { imageTag: 'absent' }] }));
    assert.equal(got.images?.[0]?.imageId?.imageDigest, image.manifestDigest);
    assert.equal(got.images?.[0]?.imageManifest, image.manifest.toString());
    assert.deepEqual(
      got.failures?.map((f) => [f.imageId?.imageTag, f.failureCode]),
      [['absent', 'ImageNotFound']],
      'an image the upstream lacks is a failure of its own',
    );
    const [first, second] = image.layers as [(typeof image.layers)[number], (typeof image.layers)[number]];
    const { downloadUrl } = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'hub/team/api', layerDigest: first.digest }));
    const bytes = await request(downloadUrl!, { headers: { Authorization: berth.authorization } });
    assert.equal(sha256(bytes.body), first.digest);
    const head = await v2(`/v2/hub/team/api/blobs/${second.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(second.size));
    for (const l of image.layers) assert.equal(proxy.gets(l.digest), 1, `${l.digest} fetched from upstream once`);
    await waitFor('the image to be cached', async () => (await listed('hub/team/api')).includes(`${image.manifestDigest}:v1`));
  });

  it('streams one cold image to 20 concurrent clients from one upstream fetch per blob, each client getting bytes before the layer has arrived', async () => {
    const image = await buildImageLayout(join(work, 'popular'), { layers: 2, layerBytes: [4 * MiB, 8 * KiB], tag: 'v1' });
    await pushUpstream(join(work, 'popular'), 'v1', open.host, 'team/popular:v1');
    const big = image.layers.find((l) => l.size > MiB)!;
    let release!: () => void;
    proxy.modes.set(big.digest, { kind: 'hold', release: new Promise<void>((r) => (release = r)) });
    const firstBytes: Array<() => void> = [];
    const reached = Array.from({ length: 20 }, () => new Promise<void>((r) => firstBytes.push(r)));
    const pulls = Array.from({ length: 20 }, async (_, i) => {
      const m = await v2('/v2/hub/team/popular/manifests/v1', { headers: { Accept: manifestAccept } });
      assert.equal(m.status, 200);
      const res = await fetch(`${berth.url}/v2/hub/team/popular/blobs/${big.digest}`, { headers: { Authorization: berth.authorization } });
      assert.equal(res.status, 200);
      const hash = createHash('sha256');
      let first = true;
      for await (const c of res.body!) {
        hash.update(c);
        if (first) {
          first = false;
          firstBytes[i]!();
        }
      }
      assert.equal(`sha256:${hash.digest('hex')}`, big.digest, `client ${i} got the whole layer`);
      for (const d of [image.configDigest, ...image.layers.filter((l) => l !== big).map((l) => l.digest)]) {
        const b = await v2(`/v2/hub/team/popular/blobs/${d}`);
        assert.equal(sha256(b.body), d);
      }
    });
    // Every client has bytes of the layer while the upstream still holds most of it back.
    await Promise.all(reached);
    assert.equal(proxy.gets(big.digest), 1);
    // Each client's stream from the spool is inside the blob budget: two of its 64 KiB reads.
    assert.equal(berth.app.registry.ctx.budgets?.blobs.held, 20 * 128 * KiB);
    release();
    await Promise.all(pulls);
    await waitFor('the streams given back to the budget', () => berth.app.registry.ctx.budgets?.blobs.held === 0);
    for (const d of [image.configDigest, ...image.layers.map((l) => l.digest)]) assert.equal(proxy.gets(d), 1, `${d} fetched from upstream once`);
    await waitFor('the popular image to be cached', async () => (await listed('hub/team/popular')).includes(`${image.manifestDigest}:v1`));
  });

  it('cuts a pull whose upstream stalls or fails, within the timeout, leaving nothing half-cached visible', async () => {
    const image = await buildImageLayout(join(work, 'fragile'), { layers: 1, layerBytes: 1 * MiB, tag: 'v1' });
    await pushUpstream(join(work, 'fragile'), 'v1', open.host, 'team/fragile:v1');
    const layer = image.layers[0]!;
    proxy.modes.set(layer.digest, { kind: 'stall' });
    const m = await v2('/v2/hub/team/fragile/manifests/v1', { headers: { Accept: manifestAccept } });
    assert.equal(m.status, 200);
    const started = Date.now();
    const res = await fetch(`${berth.url}/v2/hub/team/fragile/blobs/${layer.digest}`, { headers: { Authorization: berth.authorization } });
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer(), 'the response is cut short, never complete');
    assert.ok(Date.now() - started < 30_000, 'cut within the upstream timeout');
    const check = async () =>
      (await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'hub/team/fragile', layerDigests: [layer.digest] }))).layers?.[0]
        ?.layerAvailability;
    assert.equal(await check(), 'UNAVAILABLE', 'the stalled blob is not visible');

    proxy.modes.set(layer.digest, { kind: 'fail' });
    const failed = await v2(`/v2/hub/team/fragile/blobs/${layer.digest}`);
    assert.equal(failed.status, 502);
    assert.match(failed.body.toString(), new RegExp(`${proxy.url.replace(/\./g, '\\.')} answered 500`));
    assert.equal(await check(), 'UNAVAILABLE');
    assert.ok(!(await listed('hub/team/fragile')).includes(image.manifestDigest), 'the image whose blob failed is not cached');

    proxy.failManifests = true;
    try {
      const broken = await v2('/v2/hub/team/other/manifests/v1', { headers: { Accept: manifestAccept } });
      assert.equal(broken.status, 502);
      assert.match(broken.body.toString(), /answered 500/);
      assert.equal((await v2('/v2/hub/team/other/tags/list')).status, 404, 'no repository was created for the failed pull');
    } finally {
      proxy.failManifests = false;
    }
    // Once the upstream serves it, the blob streams and is cached.
    proxy.modes.delete(layer.digest);
    const ok = await v2(`/v2/hub/team/fragile/blobs/${layer.digest}`);
    assert.equal(sha256(ok.body), layer.digest);
    await waitFor('the fragile image to be cached', async () => (await check()) === 'AVAILABLE');
  });

  it('needs ecr:CreateRepository and ecr:BatchImportUpstreamImage to import, and only pull rights for what is cached', async () => {
    const image = await buildImageLayout(join(work, 'guarded1'), { layers: 1, layerBytes: 2 * KiB, tag: 'v1' });
    const newer = await buildImageLayout(join(work, 'guarded2'), { layers: 1, layerBytes: 3 * KiB, tag: 'v2' });
    await pushUpstream(join(work, 'guarded1'), 'v1', open.host, 'team/guarded:v1');
    await pushUpstream(join(work, 'guarded2'), 'v2', open.host, 'team/guarded:v2');
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: admin });
    const reader: TestIdentity = await createUser(berth, iam, 'ptc-reader', ['ReadOnly']);
    const puller: TestIdentity = await createUser(berth, iam, 'ptc-puller', ['PullOnly']);
    const get = (who: TestIdentity, ref: string) => who.v2(`/v2/hub/team/guarded/manifests/${ref}`, { headers: { Accept: manifestAccept } });

    const noCreate = await get(puller, 'v1');
    assert.equal(noCreate.status, 403);
    assert.match(noCreate.body.toString(), /ecr:CreateRepository/);
    assert.equal((await v2('/v2/hub/team/guarded/tags/list')).status, 404, 'the refused pull created nothing');
    // The admin's pull creates the repository and caches v1.
    assert.equal((await v2('/v2/hub/team/guarded/manifests/v1', { headers: { Accept: manifestAccept } })).status, 200);
    await waitFor('v1 to be cached', async () => (await listed('hub/team/guarded')).includes(`${image.manifestDigest}:v1`));

    const noImport = await get(reader, 'v2');
    assert.equal(noImport.status, 403);
    assert.match(noImport.body.toString(), /ecr:BatchImportUpstreamImage/);
    assert.equal((await get(reader, 'v1')).status, 200, 'what is cached needs only pull rights');
    assert.equal((await get(puller, 'v2')).status, 200, 'BatchImportUpstreamImage imports into an existing repository');
    const viaApi = await ecrClient(berth, puller.keys).send(new BatchGetImageCommand({ repositoryName: 'hub/team/guarded', imageIds: [{ imageTag: 'v2' }] }));
    assert.equal(viaApi.images?.[0]?.imageId?.imageDigest, newer.manifestDigest);

    // v1 is due for its re-check: the upstream is asked only for a caller who may import.
    pastRecheck();
    const asks = () => proxy.manifestAsks.get('/v2/team/guarded/manifests/v1') ?? 0;
    const asked = asks();
    const cached = await get(reader, 'v1');
    assert.equal(cached.headers.get('docker-content-digest'), image.manifestDigest, 'served from the cache');
    const readerApi = await ecrClient(berth, reader.keys).send(
      new BatchGetImageCommand({ repositoryName: 'hub/team/guarded', imageIds: [{ imageTag: 'v1' }] }),
    );
    assert.equal(readerApi.images?.[0]?.imageId?.imageDigest, image.manifestDigest);
    assert.equal(asks(), asked, 'a caller without ecr:BatchImportUpstreamImage makes no upstream request');
    assert.equal((await get(puller, 'v1')).status, 200);
    assert.ok(asks() > asked, 'the tag stayed due: the next caller who may import re-checks it');
  });
});
