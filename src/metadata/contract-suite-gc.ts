/** Contract: the garbage collector's store (see contract-suite.ts and gc.ts). */
import assert from 'node:assert/strict';
import type { Digest } from '../core/digest.js';
import { at, blob, byteOrder, dg, OTHER_REGISTRY, push, REGISTRY, repo, type ContractTest } from './contract-fixtures.js';

export function gcContract(test: ContractTest): void {
  test('review deletes an unreferenced blob and keeps a referenced one, pruning its stale links', async ({ a }) => {
    const one = await repo(a, 'one');
    const two = await repo(a, 'two');
    const unused = await blob(a, one, 'unused', 11, at(0));
    const shared = await blob(a, one, 'shared', 22, at(0));
    await a.blobs.link(two, shared, at(0));
    await push(a, { repository: 'two', blobs: [shared], now: at(0) });
    const preview = await a.gc.previewReview(at(0));
    const outcomes = await a.gc.review(at(0), at(5), 100);
    assert.deepEqual(
      [...outcomes].sort((x, y) => byteOrder(x.digest, y.digest)),
      [
        { digest: unused, outcome: 'deleted', size: 11 },
        { digest: shared, outcome: 'kept', size: 22 },
      ].sort((x, y) => byteOrder(x.digest, y.digest)),
    );
    assert.deepEqual(
      [...preview].sort((x, y) => byteOrder(x.digest, y.digest)),
      [...outcomes].sort((x, y) => byteOrder(x.digest, y.digest)),
      'the dry run predicted it',
    );
    assert.equal(await a.blobs.find(unused), undefined);
    assert.equal(await a.blobs.findInRepository(one, unused), undefined);
    assert.equal(await a.gc.countDeletions(), 1);
    assert.equal(await a.blobs.findInRepository(one, shared), undefined, "the link nobody in 'one' uses is pruned");
    assert.ok(await a.blobs.findInRepository(two, shared), "'two' references it");
    assert.deepEqual(await a.gc.review(at(100), at(101), 100), [], 'each queued blob is reviewed once');
  });

  test('review takes the oldest due first, up to the limit; a dry run changes nothing', async ({ a }) => {
    const id = await repo(a);
    const digests: Digest[] = [];
    for (let i = 0; i < 5; i++) digests.push(await blob(a, id, `b${i}`, 1, at(10 - i)));
    assert.equal((await a.gc.previewReview(at(10))).length, 5);
    assert.equal((await a.gc.previewReview(at(10))).length, 5, 'the preview changed nothing');
    const first = await a.gc.review(at(10), at(20), 2);
    assert.deepEqual(
      first.map((o) => o.digest),
      [digests[4], digests[3]],
    );
    assert.deepEqual(
      (await a.gc.review(at(8), at(20), 10)).map((o) => o.digest),
      [digests[2]],
      'only those due by the cutoff',
    );
    assert.equal((await a.gc.review(at(10), at(20), 10)).length, 2);
  });

  test('deletion claims: digest order with a cursor, stale claims taken over, markers respected, finish', async ({ a }) => {
    const id = await repo(a);
    const ds: Digest[] = [];
    for (let i = 0; i < 5; i++) ds.push(await blob(a, id, `d${i}`, 1, at(0)));
    await a.gc.review(at(0), at(1), 100);
    ds.sort(byteOrder);
    const p1 = await a.gc.claimDeletions('', at(10), at(0), 2);
    assert.deepEqual(p1, { claimed: ds.slice(0, 2), next: ds[1] });
    const p2 = await a.gc.claimDeletions(p1.next!, at(10), at(0), 2);
    assert.deepEqual(p2, { claimed: ds.slice(2, 4), next: ds[3] });
    const p3 = await a.gc.claimDeletions(p2.next!, at(10), at(0), 2);
    assert.deepEqual(p3, { claimed: ds.slice(4) });
    assert.deepEqual(await a.gc.claimDeletions('', at(11), at(0), 10), { claimed: [] }, 'fresh claims are not taken again');
    assert.deepEqual((await a.gc.claimDeletions('', at(100), at(50), 10)).claimed, ds, 'stale claims are taken over');
    await a.gc.finishDeletions(ds.slice(0, 3));
    assert.equal(await a.gc.countDeletions(), 2);
    await a.gc.finishDeletions([]);

    // A digest with an upload committing it is not claimed, whoever queued its deletion.
    const x = await blob(a, id, 'x', 1, at(200));
    assert.equal(await a.blobs.beginCommit('u1', x, at(201), at(0)), 'ok');
    assert.equal(await a.blobs.beginCommit('u2', x, at(201), at(0)), 'ok');
    assert.equal((await a.gc.review(at(200), at(202), 10))[0]?.outcome, 'deleted');
    await a.blobs.releaseCommit('u2', at(203));
    const before = await a.gc.countDeletions();
    assert.ok(!(await a.gc.claimDeletions('', at(300), at(250), 10)).claimed.includes(x));
    assert.equal(await a.gc.countDeletions(), before, 'skipped, not dropped');
    await a.blobs.releaseCommit('u1', at(301));
    assert.ok((await a.gc.claimDeletions('', at(400), at(350), 10)).claimed.includes(x));
  });

  test('stale commit markers are reclaimed; their bytes are queued when no blob row exists', async ({ a }) => {
    const id = await repo(a);
    const recorded = await blob(a, id, 'recorded', 1, at(0));
    assert.equal(await a.blobs.beginCommit('dead-1', recorded, at(0), at(0)), 'ok');
    assert.equal(await a.blobs.beginCommit('dead-2', dg('unrecorded'), at(0), at(0)), 'ok');
    assert.equal(await a.blobs.beginCommit('alive', recorded, at(100), at(0)), 'ok');
    assert.equal(await a.gc.reclaimCommitMarkers(at(50), at(60)), 2);
    assert.equal(await a.gc.countDeletions(), 1, 'only the bytes without a blob row');
    assert.equal(await a.gc.reclaimCommitMarkers(at(50), at(60)), 0);
  });

  test('idle uploads, oldest first; deleting one only while still idle; which sessions exist', async ({ a }) => {
    const id = await repo(a);
    for (const [u, t] of [
      ['u1', 30],
      ['u2', 10],
      ['u3', 20],
      ['u4', 90],
    ] as const)
      await a.uploads.create({ id: u, repositoryId: id, accountId: '123456789012', now: at(t) }, { perAccount: 100, total: 100 });
    assert.deepEqual(await a.gc.idleUploads(at(50), 10), ['u2', 'u3', 'u1']);
    assert.deepEqual(await a.gc.idleUploads(at(50), 2), ['u2', 'u3']);
    await a.uploads.setSize('u2', 10, at(60));
    assert.equal(await a.gc.deleteIdleUpload('u2', at(50)), false, 'progress since: kept');
    assert.equal(await a.gc.deleteIdleUpload('u3', at(50)), true);
    assert.deepEqual([...(await a.gc.existingUploads(['u1', 'u2', 'u3', 'zz']))].sort(), ['u1', 'u2']);
    assert.deepEqual([...(await a.gc.existingUploads([]))], []);
  });

  test('usage per repository and per registry, distinct blobs once', async ({ a }) => {
    const one = await repo(a, 'one');
    const two = await repo(a, 'two');
    const other = await repo(a, 'x', OTHER_REGISTRY);
    const l1 = await blob(a, one, 'l1', 100);
    const l2 = await blob(a, one, 'l2', 20);
    await a.blobs.link(two, l1, at());
    await blob(a, other, 'l3', 5);
    await push(a, { repository: 'one', blobs: [l1, l2] });
    await push(a, { repository: 'one', blobs: [l1], salt: 's' });
    const all = await a.gc.usage();
    assert.deepEqual(all.stored, { blobs: 3, bytes: 125 });
    assert.deepEqual(
      all.repositories.map((r) => [r.registryKey, r.name, r.images, r.blobs, r.bytes]),
      [
        [REGISTRY, 'one', 2, 2, 120],
        [REGISTRY, 'two', 0, 1, 100],
        [OTHER_REGISTRY, 'x', 0, 1, 5],
      ].sort((p, q) => byteOrder(`${p[0]}/${p[1]}`, `${q[0]}/${q[1]}`)),
    );
    const reg = all.registries.find((r) => r.registryKey === REGISTRY);
    assert.deepEqual(reg, { registryKey: REGISTRY, repositories: 2, images: 2, linkedBlobs: 3, linkedBytes: 220, blobs: 2, bytes: 120 });
    const mine = await a.gc.usage('123456789012');
    assert.deepEqual(
      mine.repositories.map((r) => r.name),
      ['one', 'two'],
    );
    assert.deepEqual(
      mine.registries.map((r) => r.registryKey),
      [REGISTRY],
    );
  });
}
