/**
 * A push refused by a quota part-way (its blobs uploaded, its manifest refused) leaves no half
 * image, takes no place in the count, and its blobs are reclaimed by the next pass past the grace
 * period while the images already there stay whole. Probed from outside: raw /v2 requests,
 * @aws-sdk/client-ecr and `berth gc`, against the real app in process.
 */
import { BatchDeleteImageCommand, ListImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { pullProblems, pushImage, PushError, runGc } from '../e2e/helpers/gc.js';
import { getBlob, getManifest, makeImage } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('a push refused by a quota part-way', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;

  before(async () => {
    berth = await startInProcess({ onDisk: true, env: { BERTH_QUOTAS: JSON.stringify({ imagesPerRepository: 1 }) } });
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  it('leaves no image, takes no place in the count, and its blobs go with the next pass', async () => {
    const shared = randomBytes(2048);
    const kept = makeImage('q/left', 'kept', [shared, randomBytes(1024)]);
    const refused = makeImage('q/left', 'refused', [shared, randomBytes(1024)]);
    await pushImage(berth.url, kept);
    await assert.rejects(pushImage(berth.url, refused), (e) => e instanceof PushError && e.status === 403 && /imagesPerRepository/.test(e.message));

    const listed = await ecr.send(new ListImagesCommand({ repositoryName: 'q/left' }));
    assert.deepEqual(
      listed.imageIds?.map((i) => i.imageDigest),
      [kept.digest],
    );
    assert.equal((await getManifest(berth.url, 'q/left', refused.digest)).status, 404);

    // Its uploads were verified and linked, so they are served until a pass past the grace
    // period finds nothing referencing them; the kept image's blobs, the shared layer among them, stay.
    const report = await runGc(berth.dataDir, { graceSeconds: 0 });
    const own = [...refused.blobs.keys()].filter((d) => !kept.blobs.has(d));
    assert.equal(report.deleted.blobs, own.length, JSON.stringify(report));
    for (const d of own) assert.equal((await getBlob(berth.url, 'q/left', d, 'HEAD')).status, 404, `refused push's blob ${d} reclaimed`);
    assert.deepEqual(await pullProblems(berth.url, 'q/left', 'kept'), []);

    // The refused push held no place: deleting the one image makes room for it, pushed again.
    await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'q/left', imageIds: [{ imageDigest: kept.digest }] }));
    await pushImage(berth.url, refused);
    assert.deepEqual(await pullProblems(berth.url, 'q/left', 'refused'), []);
  });
});
