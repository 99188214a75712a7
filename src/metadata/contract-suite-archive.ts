/**
 * Contract: the archive storage class (metadata/archive.ts). Status changes are conditional and
 * carry their job and events in the same transaction; a blob belongs in the archive only when
 * every image referencing it, in any repository, is ARCHIVED; its class moves only where it
 * belongs; layer reads follow the repository's own images; listings filter by status.
 */
import assert from 'node:assert/strict';
import { at, blob, dg, push, repo, REGISTRY, type ContractTest } from './contract-fixtures.js';

const job = { kind: 'archive.move', payload: { n: 1 } };
const event = (id: string) => ({ id, registryKey: REGISTRY, detailType: 'ECR Image Action', body: '{}' });

export function archiveContract(test: ContractTest): void {
  test('status: ACTIVE → ARCHIVED → ACTIVATING → ACTIVE, each conditional, with its job and events', async ({ a, b }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const { digest } = await push(a, { blobs: [layer], tag: 'v1' });
    assert.equal((await a.manifests.find(id, digest))?.imageStatus, 'ACTIVE');

    assert.equal(await a.archive.setStatus(id, digest, { from: 'ACTIVE', to: 'ARCHIVED' }, at(10), [job], [event('e1')]), 'ACTIVE');
    const m = await b.manifests.find(id, digest);
    assert.equal(m?.imageStatus, 'ARCHIVED');
    assert.deepEqual(m?.archivedAt, at(10));
    assert.equal(await b.jobs.pending('archive.move'), 1);
    assert.equal(await b.eventOutbox.pending(), 1);
    // A second archive finds it ARCHIVED and writes nothing.
    assert.equal(await b.archive.setStatus(id, digest, { from: 'ACTIVE', to: 'ARCHIVED' }, at(11), [job], [event('e2')]), 'ARCHIVED');
    assert.equal(await a.jobs.pending('archive.move'), 1);
    assert.equal(await a.eventOutbox.pending(), 1);
    assert.equal(await a.archive.setStatus(id, await blob(a, id, 'not an image'), { from: 'ACTIVE', to: 'ARCHIVED' }, at(11), [job], []), undefined);

    // The image keeps its tag; listings show it only when asked for ARCHIVED (or ANY).
    assert.deepEqual(
      (await a.images.list(id, { limit: 10 }, 'ANY')).map((i) => i.digest),
      [],
    );
    const archived = await a.images.list(id, { limit: 10 }, 'ANY', 'ARCHIVED');
    assert.deepEqual(
      archived.map((i) => [i.digest, i.tags, i.imageStatus]),
      [[digest, ['v1'], 'ARCHIVED']],
    );
    assert.equal((await a.images.list(id, { limit: 10 }, 'TAGGED', 'ANY')).length, 1);
    assert.deepEqual(await a.images.listIds(id, { limit: 10 }, 'ANY'), [], 'ListImages shows only ACTIVE images by default');
    assert.deepEqual(await a.images.listIds(id, { limit: 10 }, 'TAGGED', 'ARCHIVED'), [{ digest, tags: ['v1'] }]);
    assert.equal((await a.images.lifecycleCandidates(id))[0]?.imageStatus, 'ARCHIVED');

    assert.equal(await a.archive.setStatus(id, digest, { from: 'ARCHIVED', to: 'ACTIVATING' }, at(20), [job], []), 'ARCHIVED');
    // Still ACTIVATING while a blob is in the archive class.
    await a.archive.setStorageClass(layer, 'STANDARD', 'ARCHIVE');
    assert.equal(await a.archive.storageClass(layer), 'STANDARD', 'an ACTIVATING image keeps its blobs standard');
    assert.equal(await b.archive.activate(id, digest, at(30), [event('e3')]), 'active');
    const back = await a.manifests.find(id, digest);
    assert.deepEqual([back?.imageStatus, back?.activatedAt, back?.archivedAt], ['ACTIVE', at(30), at(10)]);
    assert.equal(await b.archive.activate(id, digest, at(31), [event('e4')]), 'active');
    assert.equal(await a.eventOutbox.pending(), 2, 'activating an ACTIVE image writes nothing');
  });

  test('placement: a blob belongs in the archive only when every image referencing it is ARCHIVED', async ({ a, b }) => {
    const web = await repo(a, 'team/web');
    const api = await repo(a, 'team/api');
    const shared = await blob(a, web, 'shared', 300);
    await a.blobs.link(api, shared, at());
    const own = await blob(a, web, 'own', 200);
    const loose = await blob(a, web, 'loose', 50);
    const { digest: old } = await push(a, { repository: 'team/web', blobs: [shared, own], salt: 'old' });
    const { digest: other } = await push(a, { repository: 'team/api', blobs: [shared], salt: 'other' });
    assert.deepEqual((await a.archive.imageBlobs(web, old)).sort(), [own, shared].sort());

    await a.archive.setStatus(web, old, { from: 'ACTIVE', to: 'ARCHIVED' }, at(1), [], []);
    const p = await b.archive.placement(own);
    assert.deepEqual([p?.storageClass, p?.wanted, p?.holders.length], ['STANDARD', 'ARCHIVE', 1]);
    assert.equal((await b.archive.placement(shared))?.wanted, 'STANDARD', 'an active image elsewhere shares it');
    assert.equal((await b.archive.placement(shared))?.holders.length, 1, 'one store: both repositories have the default key');
    assert.equal((await b.archive.placement(loose))?.wanted, 'STANDARD', 'nothing references it');
    assert.equal(await b.archive.placement(dg('never recorded')), undefined);

    // The class moves only from what it is to where the blob belongs.
    assert.equal(await a.archive.setStorageClass(shared, 'STANDARD', 'ARCHIVE'), false);
    assert.equal(await a.archive.setStorageClass(own, 'ARCHIVE', 'STANDARD'), false);
    assert.equal(await a.archive.setStorageClass(own, 'STANDARD', 'ARCHIVE'), true);
    assert.equal(await b.archive.storageClass(own), 'ARCHIVE');
    assert.equal(await b.archive.hasArchivedBlobs(web, old), true);
    assert.equal(await b.archive.hasArchivedBlobs(api, other), false);
    assert.deepEqual(await b.archive.largestArchived(10), [{ registryKey: REGISTRY, repository: 'team/web', bytes: 200 }]);
    assert.deepEqual(await b.archive.largestArchived(0), []);

    // Layer reads follow the repository's own images.
    assert.equal(await b.archive.layerAccess(web, own), 'archived');
    assert.equal(await b.archive.layerAccess(web, shared), 'archived', 'in team/web only the archived image uses it');
    assert.equal(await b.archive.layerAccess(api, shared), 'readable');
    assert.equal(await b.archive.layerAccess(web, loose), 'readable', 'an unreferenced upload stays readable');
    // A HEAD or GET reads the same facts with the blob, in one statement, and revives it there.
    for (const [repository, d, access, cls] of [
      [web, own, 'archived', 'ARCHIVE'],
      [web, shared, 'archived', 'STANDARD'],
      [api, shared, 'readable', 'STANDARD'],
      [web, loose, 'readable', 'STANDARD'],
    ] as const) {
      const s = await b.blobs.stat(repository, d, at(1));
      assert.deepEqual([s?.digest, s?.layerAccess, s?.storageClass], [d, access, cls], `${repository} ${d}`);
      assert.equal(s?.layerAccess, await b.archive.layerAccess(repository, d));
      assert.equal(s?.storageClass, await b.archive.storageClass(d));
    }
    assert.equal(await b.blobs.stat(api, own, at(1)), undefined, 'not linked into team/api');

    // Archiving the last active user makes the shared blob belong in the archive too; restoring brings it back.
    await a.archive.setStatus(api, other, { from: 'ACTIVE', to: 'ARCHIVED' }, at(2), [], []);
    assert.equal((await b.archive.placement(shared))?.wanted, 'ARCHIVE');
    await a.archive.setStatus(web, old, { from: 'ARCHIVED', to: 'ACTIVATING' }, at(3), [], []);
    assert.equal((await b.archive.placement(own))?.wanted, 'STANDARD');
    assert.equal(await b.archive.activate(web, old, at(4), []), 'waiting', 'a blob is still in the archive class');
    assert.equal(await a.archive.setStorageClass(own, 'ARCHIVE', 'STANDARD'), true);
    assert.equal(await b.archive.activate(web, old, at(5), []), 'active');
    assert.deepEqual(
      [(await b.blobs.stat(web, own, at(6)))?.layerAccess, (await b.blobs.stat(web, own, at(6)))?.storageClass],
      ['readable', 'STANDARD'],
      'restored: readable again, from the standard store',
    );
  });
}
