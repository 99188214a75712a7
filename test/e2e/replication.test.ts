/**
 * Replication between two Berth deployments on one machine (us-east-1 and eu-west-1: their own
 * ports, data directories and databases, one shared server key), and between two accounts of one
 * deployment: images pushed with skopeo to us-east-1 after PutReplicationConfiguration reach
 * their destinations byte-identical (pulled with each destination's own login), status is
 * reported by DescribeImageReplicationStatus, a cross-account destination takes images only when
 * its registry policy allows the source account, login tokens stay bound to their region, and a
 * destination that is down during replication gets the image once it is back.
 */
import {
  DescribeImageReplicationStatusCommand,
  type ECRClient,
  PutRegistryPolicyCommand,
  PutReplicationConfigurationCommand,
  type ReplicationDestination,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueReplicationToken } from '../../src/auth/replication-token.js';
import { startS3TestServer, type S3TestServer } from '../../src/blobstore/s3/testing/s3-test-server.js';
import { startTestPostgres, type TestDatabase, type TestPostgres } from '../../src/metadata/postgres/testing/cluster.js';
import { freePort, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { scrape } from './helpers/prometheus-text.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from './helpers/iam-users.js';
import { blobPath, buildImageLayout, buildIndexLayout, type BuiltImage, type BuiltIndex } from './helpers/oci-layout.js';
import { getBlob, getManifest, request } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';

const MiB = 1 << 20;
const ACCOUNT = '000000000000';
const OTHER = '222222222222';
const EU = 'eu-west-1';
const US = 'us-east-1';

const run = promisify(execFile);

type Status = { region?: string; registryId?: string; status?: string; failureCode?: string };

/** Where one deployment keeps its metadata and blobs: environment for its nodes (and its `berth admin`). */
interface Backend {
  /** Environment for a deployment of `region`, its own store each. */
  envFor(region: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

const pg: TestPostgres | undefined = await startTestPostgres();
const s3 = await startS3TestServer();
const s3Unavailable = 'unavailable' in s3 ? s3.unavailable : undefined;
if (s3Unavailable && (process.env.CI || process.env.BERTH_REQUIRE_S3)) throw new Error(`no S3 test server: ${s3Unavailable}`);
after(async () => {
  await pg?.stop();
  if (!('unavailable' in s3)) await s3.stop();
});

replicationSuite('SQLite and local files', { envFor: async () => ({}), close: async () => undefined });

{
  const dbs: TestDatabase[] = [];
  const skip = !pg ? 'PostgreSQL is not installed' : s3Unavailable !== undefined ? `no S3 test server: ${s3Unavailable}` : false;
  replicationSuite(
    'PostgreSQL and S3',
    {
      async envFor(region) {
        const db = await pg!.newDatabase();
        dbs.push(db);
        const server = s3 as S3TestServer;
        return {
          BERTH_DATABASE_URL: db.connectionString,
          BERTH_STORAGE: `s3://${server.bucket}/berth-${region}-${randomBytes(4).toString('hex')}`,
          BERTH_S3_ENDPOINT: server.endpoint,
          BERTH_S3_REGION: server.region,
          BERTH_S3_ACCESS_KEY_ID: server.accessKeyId,
          BERTH_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
        };
      },
      async close() {
        for (const db of dbs) await db.drop();
      },
    },
    skip,
  );
}

function replicationSuite(name: string, backend: Backend, skip: string | false = false): void {
  describe(`replication across regions and accounts (${name})`, { skip }, () => {
    const serverKey = randomBytes(32).toString('base64');
    let euStore: Record<string, string>;
    let eu: BerthProcess;
    let us: BerthProcess;
    let usMetrics: string;
    let usEcr: ECRClient;
    let other: TestIdentity;
    let skopeo: Skopeo;
    let work: string;
    let app: BuiltImage;
    let multi: BuiltIndex;
    let later: BuiltImage;
    /** Events eu-west-1 delivered to a webhook in this process. */
    const delivered: Array<{ 'detail-type': string; account: string; region: string; resources: string[]; detail: Record<string, unknown> }> = [];
    let hook: Server;

    const euEnv = () => ({ ...euStore, BERTH_REGION: EU, BERTH_SERVER_KEY: serverKey });

    before(async () => {
      // `berth admin` (the other account's access key) seals secrets under the deployments' key
      // too, and works on us-east-1's store.
      const usStore = await backend.envFor(US);
      euStore = await backend.envFor(EU);
      Object.assign(process.env, usStore, { BERTH_SERVER_KEY: serverKey });
      work = await tempDir('berth-repl-work-');
      app = await buildImageLayout(join(work, 'app'), { layers: 2, layerBytes: [3 * MiB, 4096], tag: 'v1' });
      later = await buildImageLayout(join(work, 'later'), { layers: 2, layerBytes: [2 * MiB, 1000], tag: 'v2' });
      multi = await buildIndexLayout(join(work, 'multi'), {
        platforms: [
          { os: 'linux', architecture: 'amd64' },
          { os: 'linux', architecture: 'arm64', variant: 'v8' },
        ],
        layers: 2,
        layerBytes: [MiB, 2048],
        tag: 'multi',
      });
      eu = await startBerth({ env: euEnv() });
      const metricsPort = await freePort();
      usMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
      us = await startBerth({
        env: {
          ...usStore,
          BERTH_METRICS_PORT: String(metricsPort),
          BERTH_REGION: US,
          BERTH_SERVER_KEY: serverKey,
          BERTH_REGIONS: JSON.stringify({ [EU]: { endpoint: eu.url } }),
          BERTH_REPLICATION_RETRY_SECONDS: '1',
        },
      });
      skopeo = await createSkopeo();
      hook = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          delivered.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof delivered)[number]);
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((res) => hook.listen(0, '127.0.0.1', res));
      await routeReplicationEvents(eu, `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`);
      usEcr = ecrClient(us);
      await createAccount(us, OTHER);
      other = await otherAccountIdentity(us, OTHER);
      const destinations: ReplicationDestination[] = [{ region: EU, registryId: ACCOUNT }];
      await usEcr.send(
        new PutReplicationConfigurationCommand({
          replicationConfiguration: {
            rules: [
              { destinations, repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] },
              { destinations: [{ region: US, registryId: OTHER }], repositoryFilters: [{ filter: 'shared', filterType: 'PREFIX_MATCH' }] },
            ],
          },
        }),
      );
    });

    after(async () => {
      hook?.close();
      await us?.cleanup();
      await eu?.cleanup();
      await skopeo?.cleanup();
      await backend.close();
      for (const k of ['BERTH_DATABASE_URL', 'BERTH_STORAGE', 'BERTH_S3_ENDPOINT', 'BERTH_S3_REGION', 'BERTH_S3_ACCESS_KEY_ID', 'BERTH_S3_SECRET_ACCESS_KEY'])
        delete process.env[k];
      if (work) await rm(work, { recursive: true, force: true });
    });

    /** An EventBridge rule in eu-west-1 sending "ECR Replication Action" events to the webhook, made with `aws events`. */
    async function routeReplicationEvents(berth: BerthProcess, endpoint: string): Promise<void> {
      const env = awsCliEnv(berth);
      const events = async (...args: string[]) =>
        JSON.parse((await run('aws', ['events', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, string>;
      const auth = JSON.stringify({ ApiKeyAuthParameters: { ApiKeyName: 'X-Hook-Key', ApiKeyValue: 'k' } });
      const conn = await events('create-connection', '--name', 'hook', '--authorization-type', 'API_KEY', '--auth-parameters', auth);
      const input = { Name: 'hook', ConnectionArn: conn.ConnectionArn, InvocationEndpoint: endpoint, HttpMethod: 'POST' };
      const dest = await events('create-api-destination', '--cli-input-json', JSON.stringify(input));
      await events('put-rule', '--name', 'replicated', '--event-pattern', JSON.stringify({ source: ['aws.ecr'], 'detail-type': ['ECR Replication Action'] }));
      // The role EventBridge invokes the destination with (events:InvokeApiDestination), made with `aws iam`.
      const iam = async (...args: string[]) =>
        JSON.parse((await run('aws', ['iam', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
      const role = (await iam('create-role', '--role-name', 'hook-invoke', '--assume-role-policy-document', JSON.stringify(trust))).Role as { Arn: string };
      const invoke = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:InvokeApiDestination', Resource: dest.ApiDestinationArn }] };
      await iam('put-role-policy', '--role-name', 'hook-invoke', '--policy-name', 'invoke', '--policy-document', JSON.stringify(invoke));
      await events('put-targets', '--rule', 'replicated', '--targets', JSON.stringify([{ Id: 'hook', Arn: dest.ApiDestinationArn, RoleArn: role.Arn }]));
    }

    const statuses = async (repositoryName: string, imageTag: string): Promise<Status[]> =>
      (await usEcr.send(new DescribeImageReplicationStatusCommand({ repositoryName, imageId: { imageTag } }))).replicationStatuses ?? [];

    /** Polls until every destination of the image left IN_PROGRESS; returns what they ended at. */
    const settled = (repositoryName: string, imageTag: string) =>
      waitFor(`replication of ${repositoryName}:${imageTag} to settle`, async () => {
        const s = await statuses(repositoryName, imageTag);
        return s.length > 0 && s.every((x) => x.status !== 'IN_PROGRESS') && s;
      });

    /** The image is served at `base` under the same digests, with the same bytes. */
    async function assertServed(base: string, authorization: string, repo: string, image: BuiltImage, layout: string): Promise<void> {
      const headers = { Authorization: authorization };
      const m = await request(`${base}/v2/${repo}/manifests/${image.manifestDigest}`, {
        headers: { ...headers, Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(m.status, 200, `manifest ${image.manifestDigest} at ${base}`);
      assert.deepEqual(m.body, image.manifest);
      for (const digest of [image.configDigest, ...image.layers.map((l) => l.digest)]) {
        const b = await request(`${base}/v2/${repo}/blobs/${digest}`, { headers });
        assert.equal(b.status, 200, `blob ${digest} at ${base}`);
        assert.deepEqual(b.body, await readFile(blobPath(layout, digest)), `blob ${digest} is byte-identical`);
      }
    }

    it('replicates a push to another region: COMPLETE, then pulled byte-exact with that region’s own login', async () => {
      await skopeo.copy(`oci:${join(work, 'app')}:v1`, `docker://${us.host}/prod/app:v1`);
      await skopeo.copy(`oci:${join(work, 'multi')}:multi`, `docker://${us.host}/prod/multi:latest`, ['--all']);
      await skopeo.copy(`oci:${join(work, 'app')}:v1`, `docker://${us.host}/dev/app:v1`);

      assert.deepEqual(await settled('prod/app', 'v1'), [{ region: EU, registryId: ACCOUNT, status: 'COMPLETE' }]);
      assert.deepEqual(await settled('prod/multi', 'latest'), [{ region: EU, registryId: ACCOUNT, status: 'COMPLETE' }]);
      // No rule covers dev/: nothing to report, nothing replicated.
      assert.deepEqual(await statuses('dev/app', 'v1'), []);

      await assertServed(eu.url, eu.authorization, 'prod/app', app, join(work, 'app'));
      const tagged = await request(`${eu.url}/v2/prod/app/manifests/v1`, {
        headers: { Authorization: eu.authorization, Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(tagged.headers.get('docker-content-digest'), app.manifestDigest, 'the tag came along');
      // The index and every platform's image, by skopeo with eu-west-1's own login.
      const pulled = join(work, 'pulled');
      await skopeo.copy(`docker://${eu.host}/prod/multi:latest`, `oci:${pulled}:multi`, ['--all']);
      const index = await getManifest(eu.url, 'prod/multi', multi.indexDigest);
      assert.equal(index.status, 200);
      assert.deepEqual(index.body, multi.index);
      for (const image of multi.images) {
        const child = await getManifest(eu.url, 'prod/multi', image.manifestDigest);
        assert.deepEqual(child.body, image.manifest, 'child manifests are byte-identical');
        const layer = await getBlob(eu.url, 'prod/multi', image.layers[0]!.digest);
        assert.equal(layer.status, 200);
      }
      const dev = await request(`${eu.url}/v2/dev/app/manifests/v1`, { headers: { Authorization: eu.authorization } });
      assert.equal(dev.status, 404, 'a repository no rule covers is not replicated');

      // eu-west-1 reported the arrival, as ECR does in the destination region.
      const event = await waitFor('the ECR Replication Action event of prod/app:v1', () =>
        delivered.find((e) => e.detail['repository-name'] === 'prod/app' && e.detail['image-tag'] === 'v1'),
      );
      assert.equal(event['detail-type'], 'ECR Replication Action');
      assert.equal(event.region, EU);
      assert.equal(event.account, ACCOUNT);
      assert.deepEqual(event.resources, [`arn:aws:ecr:${EU}:${ACCOUNT}:repository/prod/app`]);
      assert.deepEqual(event.detail, {
        result: 'SUCCESS',
        'repository-name': 'prod/app',
        'image-digest': app.manifestDigest,
        'source-account': ACCOUNT,
        'action-type': 'REPLICATE',
        'source-region': US,
        'image-tag': 'v1',
      });
    });

    it('keeps login tokens bound to their region: a us-east-1 token is refused in eu-west-1', async () => {
      const foreign = await request(`${eu.url}/v2/prod/app/manifests/v1`, { headers: { Authorization: us.authorization } });
      assert.equal(foreign.status, 401);
      const own = await request(`${eu.url}/v2/prod/app/manifests/v1`, {
        headers: { Authorization: eu.authorization, Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(own.status, 200);
    });

    it('admits a replication token only to look for and push content into the one repository it names', async () => {
      const token = (claims: Partial<Parameters<typeof issueReplicationToken>[0]> = {}) =>
        `Basic ${Buffer.from(
          `AWS:${issueReplicationToken(
            { sourceAccountId: ACCOUNT, sourceRegion: US, destinationAccountId: ACCOUNT, destinationRegion: EU, repository: 'prod/app', ...claims },
            { now: new Date(), key: Buffer.from(serverKey, 'base64') },
          )}`,
        ).toString('base64')}`;
      const as = (authorization: string, path: string, method = 'GET') => request(`${eu.url}${path}`, { method, headers: { Authorization: authorization } });
      const v1 = app.manifestDigest;
      assert.equal((await as(token(), `/v2/prod/app/manifests/${v1}`, 'HEAD')).status, 200, 'it may look for a manifest');
      assert.equal((await as(token(), `/v2/prod/app/blobs/${app.layers[0]!.digest}`, 'HEAD')).status, 200, 'and for a blob');
      for (const [path, method] of [
        [`/v2/prod/app/manifests/${v1}`, 'GET'],
        [`/v2/prod/app/blobs/${app.layers[0]!.digest}`, 'GET'],
        ['/v2/prod/app/tags/list', 'GET'],
        ['/v2/_catalog', 'GET'],
        [`/v2/prod/app/manifests/${v1}`, 'DELETE'],
        [`/v2/prod/multi/manifests/${multi.indexDigest}`, 'HEAD'],
        ['/v2/prod/other/blobs/uploads/', 'POST'],
        [`/v2/prod/app/blobs/uploads/?mount=${app.layers[0]!.digest}&from=dev/app`, 'POST'],
      ] as const) {
        assert.equal((await as(token(), path, method)).status, 403, `${method} ${path} is refused`);
      }
      // Bound to its destination region: a token for us-east-1 is no key to eu-west-1.
      assert.equal((await as(token({ destinationRegion: US }), `/v2/prod/app/manifests/${v1}`, 'HEAD')).status, 401);
    });

    it('replicates to another account only when that registry’s policy allows the source account', async () => {
      await skopeo.copy(`oci:${join(work, 'app')}:v1`, `docker://${us.host}/shared/app:v1`);
      assert.deepEqual(await settled('shared/app', 'v1'), [{ region: US, registryId: OTHER, status: 'FAILED', failureCode: 'ACCESS_DENIED' }]);
      const refused = await other.v2(`/v2/shared/app/manifests/v1`);
      assert.equal(refused.status, 404, 'nothing arrived in the other account');

      await other.ecr.send(
        new PutRegistryPolicyCommand({
          policyText: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'ReplicationFromSource',
                Effect: 'Allow',
                Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
                Action: ['ecr:CreateRepository', 'ecr:ReplicateImage'],
                Resource: `arn:aws:ecr:${US}:${OTHER}:repository/*`,
              },
            ],
          }),
        }),
      );
      await skopeo.copy(`oci:${join(work, 'later')}:v2`, `docker://${us.host}/shared/app:v2`);
      assert.deepEqual(await settled('shared/app', 'v2'), [{ region: US, registryId: OTHER, status: 'COMPLETE' }]);
      await assertServed(us.url, other.authorization!, 'shared/app', later, join(work, 'later'));
    });

    it('retries while the destination is down and completes once it is back', async () => {
      const port = eu.port;
      const dataDir = eu.dataDir;
      await eu.stop();
      const failuresBefore = (us.output().match(/job failed, will retry/g) ?? []).length;
      await skopeo.copy(`oci:${join(work, 'later')}:v2`, `docker://${us.host}/prod/app:v2`);
      assert.deepEqual(await statuses('prod/app', 'v2'), [{ region: EU, registryId: ACCOUNT, status: 'IN_PROGRESS' }]);
      // The source tried, failed to connect, and will try again.
      await waitFor('a failed replication attempt', () => (us.output().match(/job failed, will retry/g) ?? []).length > failuresBefore);
      assert.deepEqual(await statuses('prod/app', 'v2'), [{ region: EU, registryId: ACCOUNT, status: 'IN_PROGRESS' }]);
      const lag = async () =>
        (await scrape(usMetrics)).samples.filter((x) => x.name === 'berth_replication_lag_seconds' && x.labels.destination === `${EU}/${ACCOUNT}`);
      const pending = await lag();
      assert.equal(pending.length, 1, 'the scrape shows the lag of the destination that is down');
      assert.ok(pending[0]!.value >= 0);

      eu = await startBerth({ dataDir, port, env: euEnv() });
      assert.deepEqual(await settled('prod/app', 'v2'), [{ region: EU, registryId: ACCOUNT, status: 'COMPLETE' }]);
      await assertServed(eu.url, eu.authorization, 'prod/app', later, join(work, 'later'));
      assert.deepEqual(await lag(), [], 'nothing pending, no lag series');
      // What arrived before the outage is still there, whole.
      await assertServed(eu.url, eu.authorization, 'prod/app', app, join(work, 'app'));
    });
  });
}
