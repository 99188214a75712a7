/**
 * Durable jobs are claimed in turns between accounts: account A pushes many scan-on-push images
 * through @aws-sdk/client-ecr while the node's scan worker is stopped, so A's scans queue up; then
 * account B pushes one. A worker over the node's own store, one slot as the default scan worker
 * has, takes B's scan second, where it used to take it after every one of A's.
 */
import { CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { JobWorker } from '../../src/jobs/worker.js';
import { SCAN_JOB, type ScanJobPayload } from '../../src/registry/scans.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { pushImage } from './helpers/ecr-push.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const A = '000000000000';
const B = '222222222222';
const BACKLOG = 30;

describe("jobs: one account's backlog does not hold back another account's job", () => {
  let berth: BerthInProcess;
  let b: TestIdentity;

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    await createAccount(berth, B);
    b = await otherAccountIdentity(berth, B);
  });
  after(async () => berth?.cleanup());

  it("claims B's one scan within the first two claims, behind none of A's thirty", async () => {
    // The node's own scanner stands still, so the scans the pushes queue stay queued.
    await berth.app.scanJobs.stop();
    const a = ecrClient(berth);
    await a.send(new CreateRepositoryCommand({ repositoryName: 'a/app', imageScanningConfiguration: { scanOnPush: true } }));
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b/app', imageScanningConfiguration: { scanOnPush: true } }));
    const pushedByA: string[] = [];
    for (let i = 0; i < BACKLOG; i++) pushedByA.push((await pushImage(a, 'a/app', `v${i}`)).digest);
    const pushedByB = (await pushImage(b.ecr, 'b/app', 'v1')).digest;
    const meta = berth.app.registry.ctx.meta;
    assert.equal(await meta.jobs.pending(SCAN_JOB), BACKLOG + 1, 'every push queued its scan');

    const claimed: Array<{ account: string; digest: string }> = [];
    const worker = new JobWorker({
      jobs: meta.jobs,
      clock: berth.app.registry.ctx.clock,
      log: pino({ level: 'silent' }),
      pollMs: 60_000,
      leaseMs: 30_000,
      concurrency: 1,
      nodeId: 'test',
    });
    worker.handle(SCAN_JOB, async (job) => void claimed.push({ account: job.account, digest: (job.payload as ScanJobPayload).digest }));
    await worker.drain();

    assert.equal(claimed.length, BACKLOG + 1);
    const turnOfB = claimed.findIndex((c) => c.account === B);
    assert.ok(turnOfB >= 0 && turnOfB <= 1, `B's scan was claim ${turnOfB + 1} of ${claimed.length}`);
    assert.equal(claimed[turnOfB]!.digest, pushedByB);
    assert.deepEqual(
      claimed.filter((c) => c.account === A).map((c) => c.digest),
      pushedByA,
      "A's scans oldest first",
    );
  });
});
