/** Contract: manifests and the blob index (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { GC_REVIVE_COALESCE_MS } from './gc.js';
import { at, blob, byteOrder, dg, OTHER_REGISTRY, push, REGISTRY, repo, type ContractTest } from './contract-fixtures.js';

export function manifestContract(test: ContractTest): void {
  test('put stores a manifest with its tag; find and findByTag return it byte for byte', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const subject = await push(a, { salt: 'subject' });
    const payload = Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x80, 0x7d]);
    const digest = dg('binary payload');
    const r = await a.manifests.put({
      registryKey: REGISTRY,
      repository: 'team/web',
      createRepository: false,
      digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      payload,
      artifactType: 'application/x.test',
      subject: subject.digest,
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
      blobs: [layer],
      manifests: [],
      tags: [{ name: 'v1', mutable: true }],
      now: at(123),
    });
    assert.deepEqual(r, { kind: 'ok', repositoryId: id });
    const m = await a.manifests.find(id, digest);
    assert.ok(m);
    assert.ok(Buffer.isBuffer(m.payload));
    assert.deepEqual([...m.payload], [...payload]);
    assert.equal(m.size, payload.length);
    assert.equal(m.pushedAt.getTime(), at(123).getTime());
    assert.equal(m.artifactType, 'application/x.test');
    assert.equal(m.subject, subject.digest);
    assert.deepEqual(m.annotations, { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' });
    assert.deepEqual(await a.manifests.findByTag(id, 'v1'), m);
    assert.equal((await a.manifests.find(id, subject.digest))?.artifactType, undefined);
    assert.equal(await a.manifests.findByTag(id, 'nope'), undefined);
  });

  test('put refuses an unknown repository unless asked to create it', async ({ a }) => {
    assert.deepEqual((await push(a, { repository: 'new/repo', createRepository: false })).result, { kind: 'repositoryUnknown' });
    assert.equal(await a.repositories.find(REGISTRY, 'new/repo'), undefined);
    const { result } = await push(a, { repository: 'new/repo', createRepository: true });
    const created = await a.repositories.find(REGISTRY, 'new/repo');
    assert.deepEqual(result, { kind: 'ok', repositoryId: created?.id });
  });

  test('put refuses missing references and changes nothing, not even the repository it would create', async ({ a }) => {
    const id = await repo(a);
    const here = await blob(a, id, 'here');
    const elsewhere = await blob(a, await repo(a, 'other'), 'elsewhere');
    const absent = dg('absent');
    const { digest, result } = await push(a, { blobs: [here, elsewhere, absent], manifests: [dg('no manifest')], tag: 'v1' });
    assert.deepEqual(result, { kind: 'missing', blobs: [elsewhere, absent], manifests: [dg('no manifest')] });
    assert.equal(await a.manifests.find(id, digest), undefined);
    assert.deepEqual(await a.tags.list(id, { limit: 10 }), []);
    const fresh = await push(a, { repository: 'fresh', blobs: [here] });
    assert.equal(fresh.result.kind, 'missing');
    assert.equal(await a.repositories.find(REGISTRY, 'fresh'), undefined, 'the repository created for the push is rolled back');
  });

  test('put refuses a reference present under another size than declared, and changes nothing', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'sized', 100);
    const child = await push(a, { salt: 'child' });
    const wrongBlob = await push(a, { blobs: [layer], declaredSizes: new Map([[layer, 99]]), tag: 'v1', salt: 'w1' });
    assert.deepEqual(wrongBlob.result, { kind: 'wrongSize', digest: layer, declared: 99, actual: 100 });
    const wrongChild = await push(a, { manifests: [child.digest], declaredSizes: new Map([[child.digest, child.payload.length + 1]]), tag: 'v1', salt: 'w2' });
    assert.deepEqual(wrongChild.result, { kind: 'wrongSize', digest: child.digest, declared: child.payload.length + 1, actual: child.payload.length });
    for (const refused of [wrongBlob, wrongChild]) assert.equal(await a.manifests.find(id, refused.digest), undefined);
    assert.equal(await a.manifests.findByTag(id, 'v1'), undefined);
    const fresh = await push(a, { repository: 'fresh', manifests: [], blobs: [], declaredSizes: new Map([[layer, 1]]) });
    assert.equal(fresh.result.kind, 'ok', 'a size declared for nothing referenced is no reference');
    const right = await push(a, {
      blobs: [layer],
      manifests: [child.digest],
      declaredSizes: new Map([
        [layer, 100],
        [child.digest, child.payload.length],
      ]),
      tag: 'v1',
    });
    assert.deepEqual(right.result, { kind: 'ok', repositoryId: id });
  });

  test('an immutable tag does not move; the same digest is accepted; a mutable tag moves', async ({ a }) => {
    const id = await repo(a);
    const first = await push(a, { tag: 'v1', tagMutable: false, salt: '1' });
    assert.equal(first.result.kind, 'ok');
    const second = await push(a, { tag: 'v1', tagMutable: false, salt: '2' });
    assert.deepEqual(second.result, { kind: 'tagImmutable', tag: 'v1', current: first.digest });
    assert.equal(await a.manifests.find(id, second.digest), undefined, 'the refused manifest is not stored');
    assert.equal((await push(a, { tag: 'v1', tagMutable: false, salt: '1' })).result.kind, 'ok', 'the same digest again');
    assert.equal((await push(a, { tag: 'v1', tagMutable: true, salt: '3' })).result.kind, 'ok');
    assert.equal((await a.manifests.findByTag(id, 'v1'))?.digest, (await push(a, { salt: '3' })).digest);
    assert.equal((await push(a, { tag: 'fresh', tagMutable: false, salt: '2' })).result.kind, 'ok', 'a new immutable tag is written');
  });

  test('put is idempotent, and starts a scan (state and job, same commit) only for a new manifest', async ({ a }) => {
    const id = await repo(a);
    const scan = { kind: 'scan', payload: { repositoryId: id } };
    const first = await push(a, { scan, now: at(5) });
    const again = await push(a, { scan, now: at(9) });
    assert.equal(again.result.kind, 'ok');
    assert.equal((await a.manifests.find(id, first.digest))?.pushedAt.getTime(), at(5).getTime(), 'the first push is kept');
    assert.equal(await a.jobs.pending('scan'), 1);
    const s = await a.scans.get(id, first.digest);
    assert.equal(s?.status, 'IN_PROGRESS');
    assert.equal(s?.startedAt.getTime(), at(5).getTime());
  });

  test('put enqueues its jobs in the same commit, new manifest or not; a refused put enqueues nothing', async ({ a }) => {
    const id = await repo(a);
    const sign = { kind: 'sign', payload: { repositoryId: id } };
    await push(a, { jobs: [sign], tag: 'v1', tagMutable: false });
    await push(a, { jobs: [sign], tag: 'v2' });
    assert.equal(await a.jobs.pending('sign'), 2, 'each push of the same manifest');
    const refused = await push(a, { jobs: [sign], tag: 'v1', tagMutable: false, salt: 'other' });
    assert.equal(refused.result.kind, 'tagImmutable');
    assert.equal(await a.jobs.pending('sign'), 2, 'the refused push queued nothing');
    const [job] = await a.jobs.claim(['sign'], 'w', 1000, 1, at(10));
    assert.deepEqual(job?.payload, { repositoryId: id });
  });

  test('delete removes the manifest and its tags and queues its blobs for review', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const { digest } = await push(a, { blobs: [layer], tag: 'v1' });
    assert.deepEqual(await a.gc.review(at(0), at(1), 10), [{ digest: layer, outcome: 'kept', size: 100 }]);
    assert.deepEqual(await a.manifests.delete(id, digest, at(1000)), { kind: 'deleted' });
    assert.deepEqual(await a.manifests.delete(id, digest, at(1000)), { kind: 'missing' });
    assert.equal(await a.manifests.findByTag(id, 'v1'), undefined);
    assert.deepEqual(await a.tags.list(id, { limit: 10 }), []);
    assert.deepEqual(await a.gc.review(at(999), at(1001), 10), [], 'queued at the delete');
    assert.deepEqual(await a.gc.review(at(1000), at(1001), 10), [{ digest: layer, outcome: 'deleted', size: 100 }]);
  });

  test('an index pulled through the cache is stored with absent children, still refusing absent blobs; a child stored later is held by it', async ({ a }) => {
    const id = await repo(a);
    const absentChild = dg('absent child');
    const index = await push(a, { manifests: [absentChild], tag: 'multi', absentManifestsAllowed: true });
    assert.deepEqual(index.result, { kind: 'ok', repositoryId: id });
    assert.equal((await a.manifests.findByTag(id, 'multi'))?.digest, index.digest);
    const [summary] = await a.images.get(id, [index.digest]);
    assert.deepEqual(summary?.children, [absentChild], 'the reference to the absent child is kept');
    const refused = await push(a, { blobs: [dg('absent blob')], manifests: [absentChild], salt: 'b', absentManifestsAllowed: true });
    assert.deepEqual(refused.result, { kind: 'missing', blobs: [dg('absent blob')], manifests: [] });
    // The child, pulled later by digest: the index now holds it.
    const child = await push(a, { salt: 'child' });
    const holder = await push(a, { manifests: [child.digest], salt: 'holder', absentManifestsAllowed: true });
    assert.deepEqual(await a.manifests.delete(id, child.digest, at(1000)), { kind: 'referenced', parents: [holder.digest] });
    assert.deepEqual(await a.manifests.delete(id, index.digest, at(1000)), { kind: 'deleted' });
  });

  test('delete refuses a manifest an index lists, naming the indexes, and changes nothing', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const child = await push(a, { blobs: [layer], tag: 'child' });
    const other = await push(a, { salt: 'other' });
    const indexes = [await push(a, { manifests: [child.digest, other.digest], tag: 'multi' }), await push(a, { manifests: [child.digest], salt: 'second' })];
    const parents = indexes.map((i) => i.digest).sort(byteOrder);
    assert.deepEqual(await a.gc.review(at(0), at(1), 10), [{ digest: layer, outcome: 'kept', size: 100 }]);
    assert.deepEqual(await a.manifests.delete(id, child.digest, at(1000)), { kind: 'referenced', parents });
    assert.equal((await a.manifests.findByTag(id, 'child'))?.digest, child.digest, 'the manifest and its tag stay');
    assert.deepEqual(await a.gc.previewReview(at(5000)), [], 'no blob was queued by the refused delete');
    // Once no index lists it, it goes.
    for (const i of indexes) assert.deepEqual(await a.manifests.delete(id, i.digest, at(1000)), { kind: 'deleted' });
    assert.deepEqual(await a.manifests.delete(id, child.digest, at(1000)), { kind: 'deleted' });
    assert.equal(await a.manifests.find(id, child.digest), undefined);
    // An index in another repository does not hold a manifest of this one.
    const elsewhere = await repo(a, 'other/repo');
    const shared = await push(a, { repository: 'other/repo', salt: 'shared' });
    await push(a, { repository: 'other/repo', manifests: [shared.digest] });
    const here = await push(a, { salt: 'shared' });
    assert.equal(here.digest, shared.digest);
    assert.deepEqual(await a.manifests.delete(id, here.digest, at(1000)), { kind: 'deleted' });
    assert.ok(await a.manifests.find(elsewhere, shared.digest));
  });

  test('deleteImages resolves every name first, then deletes in order, in one unit', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const child = await push(a, { blobs: [layer], tags: ['child', 'child-2'] });
    const index = await push(a, { manifests: [child.digest], tag: 'multi' });
    const lone = await push(a, { salt: 'lone', tags: ['a', 'b'] });
    const last = await push(a, { salt: 'last', tag: 'only' });
    assert.deepEqual(await a.gc.review(at(0), at(1), 10), [{ digest: layer, outcome: 'kept', size: 100 }]);
    const results = await a.manifests.deleteImages(
      id,
      [
        { digest: child.digest }, // listed by the index, which is deleted only later: refused
        { tag: 'a' }, // untag: the image keeps 'b'
        { tag: 'a' }, // the same tag again: gone by now
        { tag: 'only' }, // the last tag: the image goes with it
        { tag: 'nope' },
        { tag: 'b', digest: index.digest },
        { digest: dg('absent') },
        { tag: 'multi', digest: index.digest },
      ],
      at(1000),
    );
    assert.deepEqual(results, [
      { kind: 'referenced', parents: [index.digest] },
      { kind: 'deleted', digest: lone.digest },
      { kind: 'gone' },
      { kind: 'deleted', digest: last.digest },
      { kind: 'notFound' },
      { kind: 'tagDigestMismatch' },
      { kind: 'notFound' },
      { kind: 'deleted', digest: index.digest },
    ]);
    assert.equal((await a.manifests.findByTag(id, 'b'))?.digest, lone.digest);
    assert.equal(await a.manifests.findByTag(id, 'a'), undefined);
    assert.equal(await a.manifests.find(id, last.digest), undefined);
    assert.equal(await a.manifests.find(id, index.digest), undefined);
    assert.equal((await a.manifests.findByTag(id, 'child-2'))?.digest, child.digest, 'the refused image keeps its tags');
    assert.deepEqual(await a.gc.previewReview(at(5000)), [], 'the refused delete queued nothing; the others reference no blob');
    assert.deepEqual(await a.manifests.deleteImages(id, [{ tag: 'child' }, { digest: child.digest }], at(2000)), [
      { kind: 'deleted', digest: child.digest },
      { kind: 'deleted', digest: child.digest },
    ]);
    assert.equal(await a.manifests.find(id, child.digest), undefined, 'a digest deletes the image and its last tags');
    assert.deepEqual(await a.gc.previewReview(at(5000)), [{ digest: layer, outcome: 'deleted', size: 100 }]);
  });

  test('put writes several tags at once; one immutable tag refuses them all', async ({ a }) => {
    const id = await repo(a);
    const first = await push(a, { tags: ['a', 'b', 'c'], salt: '1' });
    assert.equal(first.result.kind, 'ok');
    assert.deepEqual(await a.tags.list(id, { limit: 10 }), ['a', 'b', 'c']);
    await push(a, { tag: 'held', tagMutable: false, salt: '2' });
    const refused = await a.manifests.put({
      registryKey: REGISTRY,
      repository: 'team/web',
      createRepository: false,
      digest: dg('third'),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      payload: Buffer.from('third'),
      blobs: [],
      manifests: [],
      tags: [
        { name: 'a', mutable: true },
        { name: 'held', mutable: false },
        { name: 'new', mutable: true },
      ],
      now: at(),
    });
    assert.equal(refused.kind, 'tagImmutable');
    assert.equal(refused.kind === 'tagImmutable' && refused.tag, 'held');
    assert.equal(await a.manifests.find(id, dg('third')), undefined, 'nothing written');
    assert.deepEqual(await a.tags.list(id, { limit: 10 }), ['a', 'b', 'c', 'held']);
    assert.equal((await a.manifests.findByTag(id, 'a'))?.digest, first.digest);
  });

  test('referrers of a subject, filtered by artifact type, in digest order', async ({ a }) => {
    const id = await repo(a);
    const subject = await push(a, { salt: 'subject' });
    const sigs = [];
    for (let i = 0; i < 3; i++)
      sigs.push(await push(a, { salt: `sig${i}`, subject: subject.digest, artifactType: 'application/sig', annotations: { i: String(i) } }));
    const sbom = await push(a, { salt: 'sbom', subject: subject.digest, artifactType: 'application/sbom' });
    const all = await a.manifests.referrers(id, subject.digest);
    assert.deepEqual(
      all.map((r) => r.digest),
      [...sigs, sbom].map((r) => r.digest).sort(),
    );
    const onlySigs = await a.manifests.referrers(id, subject.digest, 'application/sig');
    assert.deepEqual(
      onlySigs.map((r) => r.digest),
      sigs.map((r) => r.digest).sort(),
    );
    assert.equal(onlySigs[0]!.artifactType, 'application/sig');
    assert.equal(onlySigs[0]!.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(typeof onlySigs[0]!.annotations?.i, 'string');
    assert.deepEqual(await a.manifests.referrers(id, dg('nothing')), []);
  });

  test('recordPulls moves a pull time forward only and skips images gone', async ({ a }) => {
    const id = await repo(a);
    const { digest } = await push(a);
    const pulled = async () => (await a.images.get(id, [digest]))[0]?.lastPulledAt?.getTime();
    await a.manifests.recordPulls([]);
    await a.manifests.recordPulls([{ repositoryId: id, digest, at: at(20) }]);
    assert.equal(await pulled(), at(20).getTime());
    await a.manifests.recordPulls([{ repositoryId: id, digest, at: at(10) }]);
    assert.equal(await pulled(), at(20).getTime(), 'an older pull does not move it back');
    await a.manifests.recordPulls([
      { repositoryId: id, digest, at: at(40) },
      { repositoryId: id, digest, at: at(30) },
      { repositoryId: id, digest: dg('gone'), at: at(50) },
      { repositoryId: id + 1000, digest, at: at(50) },
    ]);
    assert.equal(await pulled(), at(40).getTime(), 'the latest of a batch wins');
  });

  test('blobs: record, find, link into another repository, unlink', async ({ a }) => {
    const one = await repo(a, 'one');
    const two = await repo(a, 'two');
    const d = await blob(a, one, 'shared', 777, at(3));
    assert.deepEqual(await a.blobs.find(d), { digest: d, size: 777, createdAt: at(3) });
    assert.deepEqual(await a.blobs.findInRepository(one, d), { digest: d, size: 777, createdAt: at(3) });
    assert.equal(await a.blobs.findInRepository(two, d), undefined);
    assert.equal(await a.blobs.link(two, dg('unknown'), at()), undefined);
    assert.deepEqual(await a.blobs.link(two, d, at(4)), { digest: d, size: 777, createdAt: at(3) });
    assert.ok(await a.blobs.findInRepository(two, d));
    await a.blobs.record(two, { digest: d, size: 777 }, at(9));
    assert.equal((await a.blobs.find(d))?.createdAt.getTime(), at(3).getTime(), 'recording again keeps the first row');
    assert.equal(await a.blobs.unlink(two, d, at(5)), true);
    assert.equal(await a.blobs.unlink(two, d, at(5)), false);
    assert.equal(await a.blobs.findInRepository(two, d), undefined);
    assert.ok(await a.blobs.find(d), 'the bytes stay until GC finds them unreferenced');
  });

  test("repositoriesWith names the registry's repositories that link a blob, sorted, up to the limit", async ({ a }) => {
    const b = await repo(a, 'b/app');
    const d = await blob(a, b, 'linked', 10, at(1));
    await a.blobs.link(await repo(a, 'a/app'), d, at(2));
    await a.blobs.link(await repo(a, 'c/app'), d, at(2));
    await a.blobs.link(await repo(a, 'elsewhere', OTHER_REGISTRY), d, at(2));
    await repo(a, 'd/app');
    assert.deepEqual(await a.blobs.repositoriesWith(REGISTRY, d, 10), ['a/app', 'b/app', 'c/app']);
    assert.deepEqual(await a.blobs.repositoriesWith(REGISTRY, d, 2), ['a/app', 'b/app']);
    assert.deepEqual(await a.blobs.repositoriesWith(OTHER_REGISTRY, d, 10), ['elsewhere']);
    assert.deepEqual(await a.blobs.repositoriesWith(REGISTRY, dg('unknown'), 10), []);
    await a.blobs.unlink(b, d, at(3));
    assert.deepEqual(await a.blobs.repositoriesWith(REGISTRY, d, 10), ['a/app', 'c/app']);
  });

  test('stat revives a queued blob, at most once per coalescing period', async ({ a }) => {
    const id = await repo(a);
    const d = await blob(a, id, 'b', 5, at(0));
    assert.equal(await a.blobs.stat(id, dg('unknown'), at(1)), undefined);
    assert.deepEqual(await a.blobs.stat(id, d, at(GC_REVIVE_COALESCE_MS / 2)), {
      digest: d,
      size: 5,
      createdAt: at(0),
      layerAccess: 'readable',
      storageClass: 'STANDARD',
    });
    assert.deepEqual(await a.gc.previewReview(at(0)), [{ digest: d, outcome: 'deleted', size: 5 }], 'too soon to revive');
    await a.blobs.stat(id, d, at(10_000));
    assert.deepEqual(await a.gc.previewReview(at(9_999)), [], 'revived at the stat');
    assert.equal((await a.gc.previewReview(at(10_000))).length, 1);
  });

  test('upload commits: busy during a live deletion, a pending one is cancelled, a release queues unrecorded bytes', async ({ a }) => {
    const id = await repo(a);
    const d = await blob(a, id, 'b', 5, at(0));
    assert.equal((await a.gc.review(at(0), at(1), 10))[0]?.outcome, 'deleted');
    assert.equal(await a.gc.countDeletions(), 1);
    // A pending deletion: the commit cancels it (the bytes it meant stay, the upload rewrites them).
    assert.equal(await a.blobs.beginCommit('u1', d, at(2), at(0)), 'ok');
    assert.equal(await a.gc.countDeletions(), 0);
    await a.blobs.record(id, { digest: d, size: 5 }, at(3), 'u1');
    assert.ok(await a.blobs.findInRepository(id, d));
    // A claimed deletion: busy while the claim is fresh, taken over once stale.
    assert.equal((await a.gc.review(at(3), at(4), 10))[0]?.outcome, 'deleted');
    assert.deepEqual((await a.gc.claimDeletions('', at(5), at(0), 10)).claimed, [d]);
    assert.equal(await a.blobs.beginCommit('u2', d, at(6), at(0)), 'busy');
    assert.equal(await a.blobs.beginCommit('u2', d, at(6), at(6)), 'ok', 'a claim older than staleBefore is abandoned');
    assert.equal(await a.gc.countDeletions(), 0);
    // A commit released without a blob row queues its bytes for deletion.
    await a.blobs.releaseCommit('u2', at(7));
    assert.equal(await a.gc.countDeletions(), 1);
    await a.blobs.releaseCommit('u2', at(8));
    assert.equal(await a.gc.countDeletions(), 1, 'releasing twice is harmless');
  });
}
