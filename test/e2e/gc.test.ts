/**
 * Online garbage collection against a running server: `berth gc` run on the side, on the
 * server's data directory (the server's own periodic pass is off here, so each pass is the
 * test's), with a zero grace period unless a test says otherwise.
 */
import { BatchDeleteImageCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { ecrClient } from './helpers/ecr-client.js';
import { berthCli, blobFile, makeImage, openMetadata, pullProblems, pushImage, runGc } from './helpers/gc.js';
import { asBody, errorCode, getBlob, pushBlob, request, sha256, startUpload } from './helpers/registry-http.js';

describe('garbage collection', () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await startBerth({ env: { BERTH_GC_INTERVAL_SECONDS: '0', BERTH_GC_GRACE_SECONDS: '0' } });
  });
  after(async () => berth?.cleanup());

  it('deletes a blob uploaded but never referenced', async () => {
    const data = randomBytes(1000);
    const digest = sha256(data);
    assert.equal((await pushBlob(berth.url, 'gc/orphan', data)).status, 201);
    assert.ok(existsSync(blobFile(berth.dataDir, digest)));
    const report = await runGc(berth.dataDir);
    assert.ok(report.deleted.blobs >= 1 && report.swept.bytes >= 1000, JSON.stringify(report));
    assert.equal(existsSync(blobFile(berth.dataDir, digest)), false);
    assert.equal((await getBlob(berth.url, 'gc/orphan', digest, 'HEAD')).status, 404);
    // The digest can be pushed again, and is served again.
    assert.equal((await pushBlob(berth.url, 'gc/orphan', data)).status, 201);
    assert.equal(sha256((await getBlob(berth.url, 'gc/orphan', digest)).body), digest);
  });

  it('keeps a layer shared by two images until the second one is deleted', async () => {
    const shared = randomBytes(4096);
    const a = makeImage('gc/shared-a', 'v1', [shared, randomBytes(100)]);
    const b = makeImage('gc/shared-b', 'v1', [shared]);
    await pushImage(berth.url, a);
    await pushImage(berth.url, b);
    await runGc(berth.dataDir);
    assert.ok(existsSync(blobFile(berth.dataDir, sha256(shared))));

    const ecr = ecrClient(berth);
    const del = await ecr.send(new BatchDeleteImageCommand({ repositoryName: a.repo, imageIds: [{ imageDigest: a.digest }] }));
    assert.equal(del.imageIds?.length, 1);
    await runGc(berth.dataDir);
    assert.ok(existsSync(blobFile(berth.dataDir, sha256(shared))));
    for (const d of a.blobs.keys()) if (d !== sha256(shared)) assert.equal(existsSync(blobFile(berth.dataDir, d)), false, d);
    assert.deepEqual(await pullProblems(berth.url, b.repo, b.tag), []);

    assert.equal((await request(`${berth.url}/v2/${b.repo}/manifests/${b.digest}`, { method: 'DELETE' })).status, 202);
    await runGc(berth.dataDir);
    for (const d of b.blobs.keys()) assert.equal(existsSync(blobFile(berth.dataDir, d)), false, d);
  });

  it('--dry-run reports what would go and changes nothing', async () => {
    const data = randomBytes(777);
    const digest = sha256(data);
    await pushBlob(berth.url, 'gc/dry', data);
    const dry = await runGc(berth.dataDir, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.ok(dry.deleted.blobs >= 1 && dry.deleted.bytes >= 777, JSON.stringify(dry));
    assert.deepEqual(dry.swept, { blobs: 0, bytes: 0 });
    assert.ok(existsSync(blobFile(berth.dataDir, digest)));
    assert.equal((await getBlob(berth.url, 'gc/dry', digest, 'HEAD')).status, 200);
    const { stdout } = await berthCli(['gc', '--dry-run', '--data-dir', berth.dataDir], { BERTH_GC_GRACE_SECONDS: '0' });
    assert.match(stdout, /dry run: nothing changed/);
    assert.match(stdout, /would be deleted\s+\d+ \(/);
    assert.ok(existsSync(blobFile(berth.dataDir, digest)));
    await runGc(berth.dataDir);
    assert.equal(existsSync(blobFile(berth.dataDir, digest)), false);
  });

  it('deletes nothing before the grace period is over', async () => {
    const data = randomBytes(500);
    await pushBlob(berth.url, 'gc/grace', data);
    const report = await runGc(berth.dataDir, { graceSeconds: 3600 });
    assert.equal(report.deleted.blobs, 0);
    assert.ok(existsSync(blobFile(berth.dataDir, sha256(data))));
  });

  it('a HEAD of a queued blob restarts its grace period', async () => {
    // Both blobs are aged in the metadata as if pushed two days ago (instead of sleeping through
    // a grace period), then only `headed` is HEADed. A pass with a one-day grace then finds
    // `idle` due and `headed` not (revived at the HEAD): the outcome cannot depend on how long
    // the CLI takes to start on a busy machine, only on whether the HEAD revived the blob.
    const DAY = 86_400;
    const idle = randomBytes(300);
    const headed = randomBytes(301);
    assert.equal((await pushBlob(berth.url, 'gc/revive', idle)).status, 201);
    assert.equal((await pushBlob(berth.url, 'gc/revive', headed)).status, 201);
    const db = openMetadata(berth.dataDir);
    const queuedAt = (d: Buffer) => (db.prepare('SELECT queued_at FROM gc_blob_reviews WHERE digest = ?').get(sha256(d)) as { queued_at: number }).queued_at;
    const aged = db.prepare('UPDATE gc_blob_reviews SET queued_at = queued_at - ? WHERE digest IN (?, ?)').run(2 * DAY * 1000, sha256(idle), sha256(headed));
    assert.equal(aged.changes, 2, 'both blobs are queued for review after their push');
    const idleQueued = queuedAt(idle);
    const headedQueued = queuedAt(headed);
    const headAt = Date.now();
    assert.equal((await getBlob(berth.url, 'gc/revive', sha256(headed), 'HEAD')).status, 200);
    assert.ok(queuedAt(headed) >= headAt - 50 && queuedAt(headed) > headedQueued, 'HEAD refreshed queued_at');
    assert.equal(queuedAt(idle), idleQueued, 'the other blob was not revived');
    db.close();
    await runGc(berth.dataDir, { graceSeconds: DAY });
    assert.equal(existsSync(blobFile(berth.dataDir, sha256(idle))), false);
    assert.ok(existsSync(blobFile(berth.dataDir, sha256(headed))));
    assert.equal((await getBlob(berth.url, 'gc/revive', sha256(headed), 'HEAD')).status, 200);
    // A revival restarts the grace period; it does not keep the blob forever.
    await runGc(berth.dataDir, { graceSeconds: 0 });
    assert.equal(existsSync(blobFile(berth.dataDir, sha256(headed))), false);
  });

  it('reclaims abandoned uploads and staged bytes without a session', async () => {
    // uploadMaxAgeSeconds is at least 60 (a single slow PATCH records progress only at its end),
    // so instead of waiting a minute the test ages the session's row in the metadata.
    const location = await startUpload(berth.url, 'gc/abandoned');
    const patched = await request(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: asBody(randomBytes(2048)) });
    assert.equal(patched.status, 202);
    const id = new URL(location).pathname.split('/').pop()!;
    assert.ok(existsSync(join(berth.dataDir, 'uploads', id)));
    const db = openMetadata(berth.dataDir);
    db.prepare('UPDATE uploads SET updated_at = updated_at - ? WHERE id = ?').run(2 * 86400_000, id);
    db.close();
    // Staged bytes whose session row is gone, as a crash between the two deletes would leave.
    const orphan = join(berth.dataDir, 'uploads', randomUUID());
    await mkdir(join(berth.dataDir, 'uploads'), { recursive: true });
    await writeFile(orphan, randomBytes(100));
    const old = new Date(Date.now() - 2 * 86400_000);
    await utimes(orphan, old, old);
    const fresh = await startUpload(berth.url, 'gc/abandoned');

    const report = await runGc(berth.dataDir);
    assert.equal(report.uploadsReclaimed, 1);
    assert.equal(report.stagedOrphansReclaimed, 1);
    assert.equal(existsSync(join(berth.dataDir, 'uploads', id)), false);
    assert.equal(existsSync(orphan), false);
    const status = await request(location);
    assert.equal(status.status, 404);
    assert.equal(errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await request(fresh)).status, 204);
  });

  it('berth usage counts linked and deduplicated blobs per repository and account', async () => {
    interface Usage {
      repositories: Array<{ name: string; images: number; blobs: number; bytes: number }>;
      registries: Array<{ accountId: string; region: string; images: number; linkedBlobs: number; linkedBytes: number; blobs: number; bytes: number }>;
    }
    const usage = async () => JSON.parse((await berthCli(['usage', '--json', '--data-dir', berth.dataDir, '--account-id', '000000000000'])).stdout) as Usage;
    const before = (await usage()).registries[0] ?? { images: 0, linkedBlobs: 0, linkedBytes: 0, blobs: 0, bytes: 0 };
    const shared = randomBytes(10_000);
    const u1 = makeImage('usage/one', 'v1', [shared, randomBytes(2000)]);
    const u2 = makeImage('usage/two', 'v1', [shared]);
    await pushImage(berth.url, u1);
    await pushImage(berth.url, u2);
    const sum = (img: typeof u1) => [...img.blobs.values()].reduce((n, b) => n + b.length, 0);
    const now = await usage();
    const row = (name: string) => now.repositories.find((r) => r.name === name);
    assert.deepEqual(row('usage/one'), { accountId: '000000000000', region: 'us-east-1', name: 'usage/one', images: 1, blobs: 3, bytes: sum(u1) });
    assert.deepEqual(row('usage/two'), { accountId: '000000000000', region: 'us-east-1', name: 'usage/two', images: 1, blobs: 2, bytes: sum(u2) });
    const acc = now.registries[0]!;
    assert.equal(acc.images - before.images, 2);
    assert.equal(acc.linkedBlobs - before.linkedBlobs, 5);
    assert.equal(acc.linkedBytes - before.linkedBytes, sum(u1) + sum(u2));
    assert.equal(acc.blobs - before.blobs, 4);
    assert.equal(acc.bytes - before.bytes, sum(u1) + sum(u2) - shared.length);
    const { stdout } = await berthCli(['usage', '--data-dir', berth.dataDir]);
    assert.match(stdout, /^000000000000\s+us-east-1\s+usage\/one\s+1\s+3\s+\d+/m);
    assert.match(stdout, /DEDUP BYTES/);
  });
});
