/**
 * A node killed mid-job gives the job up within one job lease (BERTH_JOB_LEASE_SECONDS), not
 * the old ten minutes: us-east-1 replicates a push to eu-west-1 (two `berth serve` processes, one
 * shared server key) through a gate in this process that holds the copy's connections, so the
 * replication job is mid-run when the source is killed with SIGKILL. Restarted on its data
 * directory (a new process, a new holder), the source runs the job again once the dead run's lock
 * lapses, and the image arrives. With a ten-minute lock the restarted node would wait it out.
 */
import { DescribeImageReplicationStatusCommand, PutReplicationConfigurationCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { ecrClient } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';

const ACCOUNT = '000000000000';
const EU = 'eu-west-1';
const US = 'us-east-1';
const LEASE_SECONDS = 3;

/** A TCP gate in front of a port: while shut it accepts connections and holds them unanswered. */
function gate(targetPort: number) {
  let open = false;
  const held: Socket[] = [];
  const server = createServer((socket) => {
    if (!open) {
      held.push(socket);
      socket.on('error', () => undefined);
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end);
    upstream.on('error', end);
  });
  return {
    listen: () => new Promise<number>((res) => server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port))),
    held: () => held.length,
    open() {
      open = true;
      for (const s of held) s.destroy();
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

describe('a node killed mid-job', () => {
  const serverKey = randomBytes(32).toString('base64');
  let eu: BerthProcess;
  let us: BerthProcess;
  let skopeo: Skopeo;
  let work: string;
  let usEnv: Record<string, string>;
  const euGate = { current: undefined as ReturnType<typeof gate> | undefined };

  before(async () => {
    work = await tempDir('berth-job-lease-');
    eu = await startBerth({ env: { BERTH_REGION: EU, BERTH_SERVER_KEY: serverKey } });
    euGate.current = gate(eu.port);
    const gatePort = await euGate.current.listen();
    usEnv = {
      BERTH_REGION: US,
      BERTH_SERVER_KEY: serverKey,
      BERTH_REGIONS: JSON.stringify({ [EU]: { endpoint: `http://127.0.0.1:${gatePort}` } }),
      BERTH_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
      BERTH_REPLICATION_RETRY_SECONDS: '1',
    };
    us = await startBerth({ env: usEnv });
    skopeo = await createSkopeo();
  });

  after(async () => {
    await us?.cleanup();
    await eu?.cleanup();
    await euGate.current?.close();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('has its job taken over within the job lease once the node is back', async () => {
    await ecrClient(us).send(
      new PutReplicationConfigurationCommand({
        replicationConfiguration: {
          rules: [{ destinations: [{ region: EU, registryId: ACCOUNT }], repositoryFilters: [{ filter: 'prod', filterType: 'PREFIX_MATCH' }] }],
        },
      }),
    );
    await buildImageLayout(join(work, 'app'), { layers: 1, layerBytes: [4096], tag: 'v1' });
    await skopeo.copy(`oci:${join(work, 'app')}:v1`, `docker://${us.host}/prod/app:v1`);
    // The replication job runs: its first request to eu-west-1 waits at the gate.
    await waitFor('the replication job mid-run', () => euGate.current!.held() > 0);
    await us.kill();
    euGate.current!.open();
    const restarted = await startBerth({ dataDir: us.dataDir, port: us.port, env: usEnv });
    us = restarted;
    const statuses = async () =>
      (
        await ecrClient(restarted).send(new DescribeImageReplicationStatusCommand({ repositoryName: 'prod/app', imageId: { imageTag: 'v1' } }))
      ).replicationStatuses?.map((s) => s.status) ?? [];
    // Only a hang reaches waitFor's deadline (two minutes): far below the old ten-minute lock.
    const settled = await waitFor('the replication to settle', async () => {
      const s = await statuses();
      return s.length > 0 && !s.includes('IN_PROGRESS') && s;
    });
    assert.deepEqual(settled, ['COMPLETE']);
  });
});
