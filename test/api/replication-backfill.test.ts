/**
 * Replication backfills (ECR's Start/StopReplicationBackfill, ListReplicationBackfills,
 * DescribeReplicationBackfillResults) through the SDK, between two deployments in this process
 * (us-east-1 → eu-west-1, one server key): images pushed before the replication configuration
 * existed reach eu-west-1 only by a backfill, which replicates those the rules for the
 * destination cover (one replication per image and tag) and lists them as results. Destinations
 * whose endpoint refuses connections keep their backfills in progress, deterministically: they
 * serve the one-per-region rule, the limit of ten, results withheld until the end, and stops.
 * The suite runs with both deployments on SQLite, then on PostgreSQL.
 */
import {
  DescribeImageReplicationStatusCommand,
  DescribeImagesCommand,
  DescribeReplicationBackfillResultsCommand,
  type ECRClient,
  ListReplicationBackfillsCommand,
  type ListReplicationBackfillsResponse,
  CreateRepositoryCommand,
  PutImageCommand,
  PutReplicationConfigurationCommand,
  StartReplicationBackfillCommand,
  StopReplicationBackfillCommand,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { freePort } from '../e2e/helpers/berth-process.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { configOnlyManifest, pushBlob, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { allowing, named } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { onEachStore } from './helpers/each-store.js';

const ACCOUNT = '000000000000';
const EU = { region: 'eu-west-1', registryId: ACCOUNT };
/** Ten regions whose endpoint refuses connections: their backfills stay IN_PROGRESS. */
const DOWN = ['ap-south-1', 'ap-south-2', 'ap-east-1', 'sa-east-1', 'ca-central-1', 'me-south-1', 'af-south-1', 'eu-north-1', 'eu-south-1', 'il-central-1'];

type Summary = NonNullable<ListReplicationBackfillsResponse['backfills']>[number];

await onEachStore(backfillSuite);

/** `store` gives a deployment's metadata settings (SQLite in memory when empty). */
function backfillSuite(name: string, store: () => Promise<Record<string, string>>, skip: string | false): void {
  describe(`replication backfills (${name})`, { skip }, () => {
    let us: BerthInProcess;
    let eu: BerthInProcess;
    let usEcr: ECRClient;
    let euEcr: ECRClient;
    const digests: Record<string, string> = {};

    before(async () => {
      const serverKey = randomBytes(32).toString('base64');
      const dead = `http://127.0.0.1:${await freePort()}`;
      const euStore = await store();
      const usStore = await store();
      // With a database URL the app opens its stores from the configuration (blobs in the data directory).
      const onDisk = Object.keys(usStore).length > 0;
      eu = await startInProcess({ onDisk, env: { ...euStore, BERTH_REGION: 'eu-west-1', BERTH_SERVER_KEY: serverKey } });
      const regions = Object.fromEntries([['eu-west-1', { endpoint: eu.url }], ...DOWN.map((r) => [r, { endpoint: dead }])]);
      us = await startInProcess({
        onDisk,
        env: {
          ...usStore,
          BERTH_REGION: 'us-east-1',
          BERTH_SERVER_KEY: serverKey,
          BERTH_REGIONS: JSON.stringify(regions),
          BERTH_REPLICATION_RETRY_SECONDS: '1',
        },
      });
      usEcr = ecrClient(us);
      euEcr = ecrClient(eu);
      // Images pushed before any replication rule: prod/api's one with two tags and one untagged,
      // prod/web's one, and dev/tool's, which no rule covers.
      for (const [repo, tag] of [
        ['prod/api', 'v1'],
        ['prod/api', undefined],
        ['prod/web', 'v1'],
        ['dev/tool', 'v1'],
      ] as const) {
        if (!digests[`${repo}:repo`]) {
          await usEcr.send(new CreateRepositoryCommand({ repositoryName: repo }));
          digests[`${repo}:repo`] = 'made';
        }
        const config = Buffer.from(JSON.stringify({ repo, tag: tag ?? 'none' }));
        await pushBlob(us.url, repo, config);
        const manifest = configOnlyManifest(config);
        await usEcr.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest, ...(tag && { imageTag: tag }) }));
        digests[`${repo}:${tag ?? 'untagged'}`] = sha256(manifest);
      }
      await usEcr.send(
        new PutImageCommand({
          repositoryName: 'prod/api',
          imageManifest: configOnlyManifest(Buffer.from(JSON.stringify({ repo: 'prod/api', tag: 'v1' }))),
          imageTag: 'latest',
        }),
      );
      await usEcr.send(
        new PutReplicationConfigurationCommand({
          replicationConfiguration: {
            rules: [
              { destinations: [EU], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] },
              {
                destinations: DOWN.map((region) => ({ region, registryId: ACCOUNT })),
                repositoryFilters: [{ filter: 'prod/web', filterType: 'PREFIX_MATCH' }],
              },
            ],
          },
        }),
      );
    });
    after(async () => {
      await us?.cleanup();
      await eu?.cleanup();
    });

    const listed = async (): Promise<Summary[]> => {
      const out: Summary[] = [];
      let nextToken: string | undefined;
      do {
        const page = await usEcr.send(new ListReplicationBackfillsCommand({ maxResults: 4, ...(nextToken && { nextToken }) }));
        assert.equal(page.registryId, ACCOUNT);
        out.push(...(page.backfills ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      return out;
    };
    const backfill = async (id: string) => (await listed()).find((b) => b.replicationBackfillId === id);

    it('replicates the images the rules cover that existed before them, one result per image and tag', async () => {
      await assert.rejects(euEcr.send(new DescribeImagesCommand({ repositoryName: 'prod/api' })), named('RepositoryNotFoundException'));
      const started = await usEcr.send(new StartReplicationBackfillCommand({ destination: EU }));
      assert.equal(started.registryId, ACCOUNT);
      assert.deepEqual(started.destination, EU);
      assert.equal(started.status, 'PREPARING');
      assert.ok(started.startedAt instanceof Date);
      const id = started.replicationBackfillId!;
      const done = await waitFor('the backfill to end', async () => {
        const b = await backfill(id);
        return b?.endedAt && b;
      });
      assert.equal(done.status, 'COMPLETE');
      assert.deepEqual(done.progress, { totalReplicationCount: 4, completedReplicationCount: 4, failedReplicationCount: 0, failureCodes: [] });

      const first = await usEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: id, maxResults: 3 }));
      assert.equal(first.status, 'COMPLETE');
      assert.equal(first.results?.length, 3);
      const rest = await usEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: id, nextToken: first.nextToken! }));
      assert.equal(rest.nextToken, undefined);
      const results = [...first.results!, ...rest.results!].map((r) => [r.repositoryName, r.imageId?.imageDigest, r.imageId?.imageTag, r.status]);
      assert.deepEqual(
        results.sort((a, b) => String(a).localeCompare(String(b))),
        [
          ['prod/api', digests['prod/api:untagged'], undefined, 'COMPLETE'],
          ['prod/api', digests['prod/api:v1'], 'latest', 'COMPLETE'],
          ['prod/api', digests['prod/api:v1'], 'v1', 'COMPLETE'],
          ['prod/web', digests['prod/web:v1'], 'v1', 'COMPLETE'],
        ].sort((a, b) => String(a).localeCompare(String(b))),
      );
      assert.deepEqual(
        (await usEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: id, resultStatusFilter: 'FAILED' }))).results,
        [],
      );

      // At the destination: the images with their tags; dev/tool, which no rule covers, is not there.
      const api = (await euEcr.send(new DescribeImagesCommand({ repositoryName: 'prod/api' }))).imageDetails!;
      assert.deepEqual(
        api.map((d) => [d.imageDigest, (d.imageTags ?? []).sort()]).sort(),
        [
          [digests['prod/api:untagged'], []],
          [digests['prod/api:v1'], ['latest', 'v1']],
        ].sort(),
      );
      assert.equal(
        (await euEcr.send(new DescribeImagesCommand({ repositoryName: 'prod/web', imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0]?.imageDigest,
        digests['prod/web:v1'],
      );
      await assert.rejects(euEcr.send(new DescribeImagesCommand({ repositoryName: 'dev/tool' })), named('RepositoryNotFoundException'));
      const status = await usEcr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/web', imageId: { imageTag: 'v1' } }));
      assert.deepEqual(
        status.replicationStatuses?.map((s) => [s.region, s.status]),
        [['eu-west-1', 'COMPLETE']],
      );
      await assert.rejects(usEcr.send(new StopReplicationBackfillCommand({ replicationBackfillId: id })), named('ReplicationBackfillInvalidStatusException'));
    });

    it('one running backfill per region, ten per registry; results wait for the end; a stop ends it STOPPED', async () => {
      const ids: string[] = [];
      for (const region of DOWN)
        ids.push((await usEcr.send(new StartReplicationBackfillCommand({ destination: { region, registryId: ACCOUNT } }))).replicationBackfillId!);
      await assert.rejects(
        usEcr.send(new StartReplicationBackfillCommand({ destination: { region: DOWN[0]!, registryId: ACCOUNT } })),
        named('ReplicationBackfillInProgressException'),
      );
      await assert.rejects(usEcr.send(new StartReplicationBackfillCommand({ destination: EU })), named('LimitExceededException'));
      // Prepared (prod/web:v1 is its one replication), in progress while its destination is down.
      const running = await waitFor('the first stuck backfill to be prepared', async () => {
        const b = await backfill(ids[0]!);
        return b?.progress && b;
      });
      assert.equal(running.status, 'IN_PROGRESS');
      assert.deepEqual(running.progress, { totalReplicationCount: 1, completedReplicationCount: 0, failedReplicationCount: 0, failureCodes: [] });
      const midway = await usEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: ids[0]! }));
      assert.equal(midway.status, 'IN_PROGRESS');
      assert.deepEqual(midway.results, [], 'no per-image results before the backfill ends');
      assert.equal(midway.endedAt, undefined);

      for (const id of ids) {
        const stopped = await usEcr.send(new StopReplicationBackfillCommand({ replicationBackfillId: id }));
        assert.equal(stopped.status, 'STOPPING');
        assert.equal(stopped.replicationBackfillId, id);
      }
      const ended = await waitFor('every stopped backfill to end', async () => {
        const all = (await listed()).filter((b) => ids.includes(b.replicationBackfillId!));
        return all.every((b) => b.status === 'STOPPED') && all;
      });
      assert.equal(ended.length, 10);
      assert.ok(ended.every((b) => b.endedAt instanceof Date));
      const after = await usEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: ids[0]! }));
      assert.equal(after.status, 'STOPPED');
      assert.deepEqual(after.results, [], 'the replication never got through, so nothing was replicated');
      // The region is free again.
      const again = await usEcr.send(new StartReplicationBackfillCommand({ destination: { region: DOWN[0]!, registryId: ACCOUNT } }));
      await usEcr.send(new StopReplicationBackfillCommand({ replicationBackfillId: again.replicationBackfillId! }));
    });

    it('answers bad input with ECR exceptions', async () => {
      await assert.rejects(
        usEcr.send(new StartReplicationBackfillCommand({ destination: { region: 'us-west-1', registryId: ACCOUNT } })),
        (e: Error) => e.name === 'InvalidParameterException' && /not in the replication configuration/.test(e.message),
      );
      await assert.rejects(
        usEcr.send(new StartReplicationBackfillCommand({ destination: { region: 'EU WEST', registryId: ACCOUNT } })),
        named('ValidationException'),
      );
      await assert.rejects(
        usEcr.send(new StartReplicationBackfillCommand({ destination: { region: 'eu-west-1', registryId: '12' } })),
        named('ValidationException'),
      );
      await assert.rejects(
        usEcr.send(new StopReplicationBackfillCommand({ replicationBackfillId: 'no-such-backfill' })),
        named('ReplicationBackfillNotFoundException'),
      );
      await assert.rejects(
        usEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: 'no-such-backfill' })),
        named('ReplicationBackfillNotFoundException'),
      );
      await assert.rejects(usEcr.send(new ListReplicationBackfillsCommand({ maxResults: 51 })), named('ValidationException'));
      await assert.rejects(usEcr.send(new ListReplicationBackfillsCommand({ nextToken: 'bogus' })), named('InvalidParameterException'));
      // Another registry's backfill is not this one's to see.
      const [any] = await listed();
      const euList = await euEcr.send(new ListReplicationBackfillsCommand({}));
      assert.deepEqual(euList.backfills, []);
      await assert.rejects(
        euEcr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId: any!.replicationBackfillId! })),
        named('ReplicationBackfillNotFoundException'),
      );
    });

    it('refuses each operation to a principal not allowed it', async () => {
      const iam = new IAMClient({ endpoint: us.url, region: us.region, credentials: adminCredentials(us) });
      const reader = await createUser(us, iam, 'reader', [], [JSON.parse(allowing(['ecr:DescribeRegistry', 'ecr:DescribeImages'])) as object]);
      const [any] = await listed();
      const replicationBackfillId = any!.replicationBackfillId!;
      await assert.rejects(reader.ecr.send(new StartReplicationBackfillCommand({ destination: EU })), named('AccessDeniedException'));
      await assert.rejects(reader.ecr.send(new StopReplicationBackfillCommand({ replicationBackfillId })), named('AccessDeniedException'));
      await assert.rejects(reader.ecr.send(new ListReplicationBackfillsCommand({})), named('AccessDeniedException'));
      await assert.rejects(reader.ecr.send(new DescribeReplicationBackfillResultsCommand({ replicationBackfillId })), named('AccessDeniedException'));
      const operator = await createUser(
        us,
        iam,
        'operator',
        [],
        [JSON.parse(allowing(['ecr:ListReplicationBackfills', 'ecr:DescribeReplicationBackfillResults'])) as object],
      );
      assert.ok(((await operator.ecr.send(new ListReplicationBackfillsCommand({}))).backfills?.length ?? 0) > 0);
      await assert.rejects(operator.ecr.send(new StartReplicationBackfillCommand({ destination: EU })), named('AccessDeniedException'));
    });
  });
}
