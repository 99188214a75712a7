/**
 * A replication backfill survives a restart of its source: `berth serve` processes, us-east-1
 * replicating to eu-west-1 (one server key). The backfill is prepared while eu-west-1 is down, so
 * it stays IN_PROGRESS; us-east-1 is stopped, eu-west-1 comes up, us-east-1 starts again on the
 * same data directory, and the backfill finishes there with the image at the destination. The
 * installed aws CLI (1.45) knows the pull-time update exclusion commands, not the backfill ones:
 * those are driven here through it.
 */
import {
  DescribeImagesCommand,
  ListReplicationBackfillsCommand,
  PutImageCommand,
  PutReplicationConfigurationCommand,
  StartReplicationBackfillCommand,
  CreateRepositoryCommand,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { freePort, startBerth, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { configOnlyManifest, pushBlob, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';

describe('replication backfill across a restart', () => {
  const servers: BerthProcess[] = [];
  after(async () => {
    for (const s of servers.reverse()) await s.cleanup();
  });

  it('a backfill started before a restart finishes after it; the aws CLI manages pull-time exclusions', async () => {
    const serverKey = randomBytes(32).toString('base64');
    const euPort = await freePort();
    const usEnv = {
      BERTH_REGION: 'us-east-1',
      BERTH_SERVER_KEY: serverKey,
      BERTH_REGIONS: JSON.stringify({ 'eu-west-1': { endpoint: `http://127.0.0.1:${euPort}` } }),
      BERTH_REPLICATION_RETRY_SECONDS: '1',
    };
    const us = await startBerth({ env: usEnv });
    // Cleaned up last (the restarted node removes the shared data directory first).
    servers.push(us);
    let ecr = ecrClient(us);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'prod/app' }));
    const config = Buffer.from(JSON.stringify({ app: 'before the rule' }));
    await pushBlob(us.url, 'prod/app', config);
    await ecr.send(new PutImageCommand({ repositoryName: 'prod/app', imageManifest: configOnlyManifest(config), imageTag: 'v1' }));
    const destination = { region: 'eu-west-1', registryId: ACCOUNT };
    await ecr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: { rules: [{ destinations: [destination] }] } }));
    const id = (await ecr.send(new StartReplicationBackfillCommand({ destination }))).replicationBackfillId!;
    const state = async () => (await ecr.send(new ListReplicationBackfillsCommand({}))).backfills?.find((b) => b.replicationBackfillId === id);
    await waitFor('the backfill to be prepared while its destination is down', async () => (await state())?.status === 'IN_PROGRESS');
    await us.stop();

    const eu = await startBerth({ port: euPort, env: { BERTH_REGION: 'eu-west-1', BERTH_SERVER_KEY: serverKey } });
    servers.push(eu);
    const again = await startBerth({ dataDir: us.dataDir, env: usEnv });
    servers.push(again);
    ecr = ecrClient(again);
    const done = await waitFor('the backfill to finish after the restart', async () => {
      const b = await state();
      return b?.endedAt && b;
    });
    assert.equal(done.status, 'COMPLETE');
    assert.deepEqual(done.progress, { totalReplicationCount: 1, completedReplicationCount: 1, failedReplicationCount: 0, failureCodes: [] });
    const replicated = await ecrClient(eu).send(new DescribeImagesCommand({ repositoryName: 'prod/app' }));
    assert.deepEqual(
      replicated.imageDetails?.map((d) => [d.imageDigest, d.imageTags]),
      [[sha256(configOnlyManifest(config)), ['v1']]],
    );

    const env = awsCliEnv(again);
    const cli = async (...args: string[]) =>
      JSON.parse((await run('aws', ['ecr', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
    const arn = `arn:aws:iam::${ACCOUNT}:role/scanner`;
    const added = await cli('register-pull-time-update-exclusion', '--principal-arn', arn);
    assert.equal(added.principalArn, arn);
    assert.equal(typeof added.createdAt, 'number');
    assert.deepEqual((await cli('list-pull-time-update-exclusions')).pullTimeUpdateExclusions, [arn]);
    await assert.rejects(cli('register-pull-time-update-exclusion', '--principal-arn', arn), (e: Error & { stderr: string }) =>
      /ExclusionAlreadyExistsException/.test(e.stderr),
    );
    assert.equal((await cli('deregister-pull-time-update-exclusion', '--principal-arn', arn)).principalArn, arn);
    assert.deepEqual((await cli('list-pull-time-update-exclusions')).pullTimeUpdateExclusions, []);
  });
});
