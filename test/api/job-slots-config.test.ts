/**
 * jobSlotsPerAccount (BERTH_JOB_SLOTS_PER_ACCOUNT) sets how many of each job worker's slots one
 * account's jobs hold at once, through the running server: a node with three scan slots and the
 * key at 1 runs one of account A's scans while A has more queued, and still starts B's at once
 * (without the key, A would hold two of the three: all but one). A bad value stops the start
 * with a message naming the variable. The scans are the node's own, queued by scan-on-push
 * pushes through @aws-sdk/client-ecr; the node's scan handler is swapped for one that holds
 * each scan until the test lets it go, so what runs at once can be seen.
 */
import { CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { setTimeout as tick } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { SCAN_JOB } from '../../src/registry/scans.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { pushImage } from './helpers/ecr-push.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const A = '000000000000';
const B = '222222222222';

/** Waits until `ok()` holds, checking after each turn of the event loop and short pause; fails after many tries. */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (ok()) return;
    await tick(5);
  }
  assert.fail(`never: ${what}`);
}

describe('jobSlotsPerAccount', () => {
  let berth: BerthInProcess;
  let b: TestIdentity;

  before(async () => {
    berth = await startInProcess({ onDisk: true, env: { BERTH_SCAN_CONCURRENCY: '3', BERTH_JOB_SLOTS_PER_ACCOUNT: '1' } });
    await createAccount(berth, B);
    b = await otherAccountIdentity(berth, B);
  });
  after(async () => berth?.cleanup());

  it("holds one account's scans to the slots it sets, and another account's scan still starts", async () => {
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    berth.app.scanJobs.handle(SCAN_JOB, async (job) => {
      started.push(job.account);
      await held;
    });
    try {
      const a = ecrClient(berth);
      await a.send(new CreateRepositoryCommand({ repositoryName: 'a/app', imageScanningConfiguration: { scanOnPush: true } }));
      await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b/app', imageScanningConfiguration: { scanOnPush: true } }));
      for (let i = 0; i < 3; i++) await pushImage(a, 'a/app', `v${i}`);
      await until(() => started.includes(A), "A's first scan starts");
      await pushImage(b.ecr, 'b/app', 'v1');
      // B's scan is claimed by a claim that would have taken another of A's, had A the room.
      await until(() => started.includes(B), "B's scan starts");
      assert.deepEqual(
        started.filter((s) => s === A),
        [A],
        `one of A's scans at once (started: ${started.join(', ')})`,
      );
      assert.equal(await berth.app.registry.ctx.meta.jobs.pending(SCAN_JOB), 4, "A's other two wait, queued");
    } finally {
      release();
    }
  });

  it('stops the start on a bad value, naming the variable', async () => {
    await assert.rejects(
      startInProcess({ env: { BERTH_JOB_SLOTS_PER_ACCOUNT: '0' } }),
      (e: unknown) => e instanceof ConfigError && /BERTH_JOB_SLOTS_PER_ACCOUNT/.test(e.message),
    );
  });
});
