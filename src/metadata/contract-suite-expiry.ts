/**
 * Contract: a lifecycle expiry (manifests.expireImage) deletes an image with its referrers, all
 * or nothing, and a transition (archive.setStatus with plannedTags) archives it, only while the
 * image is what the policy was evaluated on (see contract-suite.ts).
 */
import assert from 'node:assert/strict';
import { at, blob, dg, push, repo, type ContractTest } from './contract-fixtures.js';

export function expiryContract(test: ContractTest): void {
  test('expireImage deletes the image and its referrers, transitively, and queues their blobs', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const sigBlob = await blob(a, id, 'signature bytes');
    const image = await push(a, { blobs: [layer], tag: 'v1' });
    const signature = await push(a, { salt: 'sig', blobs: [sigBlob], subject: image.digest });
    const countersigned = await push(a, { salt: 'sig of sig', subject: signature.digest });
    const other = await push(a, { salt: 'other', subject: dg('another subject') });
    assert.deepEqual(await a.manifests.expireImage(id, image.digest, ['v1'], at(1000)), {
      kind: 'expired',
      referrers: [countersigned.digest, signature.digest],
    });
    for (const d of [image.digest, signature.digest, countersigned.digest]) assert.equal(await a.manifests.find(id, d), undefined);
    assert.ok(await a.manifests.find(id, other.digest), "another subject's referrer stays");
    assert.deepEqual((await a.gc.previewReview(at(5000))).map((r) => r.outcome).sort(), ['deleted', 'deleted']);
    assert.deepEqual(await a.manifests.expireImage(id, image.digest, ['v1'], at(2000)), { kind: 'missing' });
  });

  test('expireImage keeps an image whose tags changed since the evaluation, and its referrers', async ({ a }) => {
    const id = await repo(a);
    const tagged = await push(a, { salt: 'tagged since', tag: 'release' });
    const signature = await push(a, { salt: 'sig', subject: tagged.digest });
    assert.deepEqual(await a.manifests.expireImage(id, tagged.digest, [], at(1000)), { kind: 'changed', tags: ['release'] });
    const untagged = await push(a, { salt: 'untagged since', tags: ['a', 'b'] });
    await a.tags.delete(id, 'b');
    assert.deepEqual(await a.manifests.expireImage(id, untagged.digest, ['a', 'b'], at(1000)), { kind: 'changed', tags: ['a'] });
    const reordered = await push(a, { salt: 'same tags', tags: ['x', 'y'] });
    for (const d of [tagged.digest, signature.digest, untagged.digest]) assert.ok(await a.manifests.find(id, d));
    assert.equal((await a.manifests.expireImage(id, reordered.digest, ['y', 'x'], at(1000))).kind, 'expired', 'tags compare as a set');
  });

  test('expireImage refuses, deleting nothing, when an index lists the image or one of its referrers', async ({ a }) => {
    const id = await repo(a);
    const listed = await push(a, { salt: 'listed' });
    const listedSig = await push(a, { salt: 'listed sig', subject: listed.digest });
    const index = await push(a, { salt: 'index', manifests: [listed.digest], tag: 'multi' });
    assert.deepEqual(await a.manifests.expireImage(id, listed.digest, [], at(1000)), { kind: 'referenced', parents: [index.digest] });
    assert.ok(await a.manifests.find(id, listedSig.digest), 'the signature of a kept image stays');

    const layer = await blob(a, id, 'kept layer');
    const image = await push(a, { salt: 'image', blobs: [layer] });
    assert.deepEqual(await a.gc.review(at(0), at(1), 10), [{ digest: layer, outcome: 'kept', size: 100 }]);
    const sbom = await push(a, { salt: 'sbom', subject: image.digest });
    const holder = await push(a, { salt: 'holder', manifests: [sbom.digest] });
    assert.deepEqual(await a.manifests.expireImage(id, image.digest, [], at(1000)), { kind: 'referenced', parents: [holder.digest] });
    assert.ok(await a.manifests.find(id, image.digest), 'all or nothing: the image stays');
    assert.ok(await a.manifests.find(id, sbom.digest));
    assert.deepEqual(await a.gc.previewReview(at(5000)), [], 'a refused expiry queued nothing');
  });

  test('setStatus never archives an image an index lists, nor, with plannedTags, one whose tags changed', async ({ a }) => {
    const id = await repo(a);
    const child = await push(a, { salt: 'child' });
    await push(a, { salt: 'index', manifests: [child.digest], tag: 'multi' });
    assert.equal(await a.archive.setStatus(id, child.digest, { from: 'ACTIVE', to: 'ARCHIVED' }, at(10), [], []), 'listed');
    const tagged = await push(a, { salt: 'tagged since', tag: 'keep' });
    assert.equal(await a.archive.setStatus(id, tagged.digest, { from: 'ACTIVE', to: 'ARCHIVED', plannedTags: [] }, at(10), [], []), 'changed');
    for (const d of [child.digest, tagged.digest]) assert.equal((await a.manifests.find(id, d))?.imageStatus, 'ACTIVE');
    assert.equal(await a.archive.setStatus(id, tagged.digest, { from: 'ACTIVE', to: 'ARCHIVED', plannedTags: ['keep'] }, at(11), [], []), 'ACTIVE');
    assert.equal((await a.manifests.find(id, tagged.digest))?.imageStatus, 'ARCHIVED');
  });
}
