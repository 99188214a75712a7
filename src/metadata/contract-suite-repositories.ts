/** Contract: repositories, tags, upload sessions and image queries (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { accountOf } from '../core/registry-key.js';
import { repositoryPolicyScope, registryPolicyScope } from './policy-scopes.js';
import { allPages, at, blob, byteOrder, dg, OTHER_REGISTRY, push, REGISTRY, repo, type ContractTest } from './contract-fixtures.js';

// Names whose byte order differs from most locales' order (case, punctuation).
const NAMES = ['b', 'a', 'a-b', 'a/b', 'a_b', 'B', 'ab', 'a.b', 'Z', 'z', 'a/b/c', 'A-1'];

export function repositoryContract(test: ContractTest): void {
  test('ensure creates a repository once, with default settings', async ({ a }) => {
    const r1 = await a.repositories.ensure(REGISTRY, 'team/web', at(5));
    const r2 = await a.repositories.ensure(REGISTRY, 'team/web', at(9));
    assert.equal(r1.id, r2.id);
    assert.equal(r2.createdAt.getTime(), at(5).getTime());
    assert.equal(r1.settings.imageTagMutability, 'MUTABLE');
    assert.equal(r1.lifecycleEvaluatedAt, undefined);
    assert.deepEqual(await a.repositories.find(REGISTRY, 'team/web'), r1);
    assert.equal(await a.repositories.find(OTHER_REGISTRY, 'team/web'), undefined, 'registries are separate');
    assert.equal(typeof r1.id, 'number');
  });

  test('create refuses a taken name and stores settings and resource tags', async ({ a }) => {
    const settings = { imageTagMutability: 'IMMUTABLE' as const, scanOnPush: true, encryptionType: 'AES256' as const };
    const tags = [
      { Key: 'team', Value: 'web' },
      { Key: 'env', Value: 'prod' },
    ];
    const r = await a.repositories.create({ registryKey: REGISTRY, name: 'x', settings, tags, now: at() });
    assert.ok(r);
    assert.deepEqual(r.settings, settings);
    assert.deepEqual(await a.repositories.resourceTags(r.id), [
      { Key: 'env', Value: 'prod' },
      { Key: 'team', Value: 'web' },
    ]);
    assert.equal(await a.repositories.create({ registryKey: REGISTRY, name: 'x', settings, tags: [], now: at() }), undefined);
    await a.repositories.updateSettings(r.id, { ...settings, scanOnPush: false });
    await a.repositories.setLifecycleEvaluatedAt(r.id, at(77));
    const back = await a.repositories.find(REGISTRY, 'x');
    assert.equal(back?.settings.scanOnPush, false);
    assert.equal(back?.lifecycleEvaluatedAt?.getTime(), at(77).getTime());
  });

  test('lists names in byte order, paginated after an exclusive bound', async ({ a }) => {
    for (const n of NAMES) await a.repositories.ensure(REGISTRY, n, at());
    await a.repositories.ensure(OTHER_REGISTRY, 'elsewhere', at());
    const expected = [...NAMES].sort(byteOrder);
    assert.deepEqual(await a.repositories.list(REGISTRY, { limit: 100 }), expected);
    assert.deepEqual(await allPages((after) => a.repositories.list(REGISTRY, { limit: 5, ...(after !== undefined && { after }) }), 5), expected);
    assert.deepEqual(await a.repositories.list(REGISTRY, { after: 'a/b', limit: 2 }), expected.slice(expected.indexOf('a/b') + 1).slice(0, 2));
    const records = await a.repositories.listRecords(REGISTRY, { after: 'Z', limit: 100 });
    assert.deepEqual(
      records.map((r) => r.name),
      expected.filter((n) => n > 'Z'),
    );
  });

  test('delete keeps a repository with images unless forced, then removes everything in it', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const { digest } = await push(a, { blobs: [layer], tag: 'v1' });
    await a.policies.put(repositoryPolicyScope(REGISTRY, 'team/web'), 'repository', '{}', at());
    await a.policies.put(registryPolicyScope(REGISTRY), 'registry', '{}', at());
    assert.equal(await a.repositories.delete(id, { force: false, now: at(10) }), 'notEmpty');
    assert.ok(await a.manifests.find(id, digest));
    assert.equal(await a.repositories.delete(id, { force: true, now: at(10) }), 'deleted');
    assert.equal(await a.repositories.find(REGISTRY, 'team/web'), undefined);
    assert.equal(await a.manifests.find(id, digest), undefined);
    assert.equal(await a.policies.get(repositoryPolicyScope(REGISTRY, 'team/web'), 'repository'), undefined);
    assert.ok(await a.policies.get(registryPolicyScope(REGISTRY), 'registry'), 'the registry policy stays');
    // Its blob was queued for review at the delete, and nothing references it any more.
    assert.deepEqual(await a.gc.previewReview(at(9)), []);
    assert.deepEqual(await a.gc.review(at(10), at(20), 100), [{ digest: layer, outcome: 'deleted', size: 100 }]);
    assert.equal(await a.repositories.delete(id, { force: true, now: at(30) }), 'missing');
    const empty = await repo(a, 'empty');
    assert.equal(await a.repositories.delete(empty, { force: false, now: at() }), 'deleted', 'an empty repository goes without force');
  });

  test('resource tags: overwrite, all-or-nothing refusal over the limit, removal', async ({ a }) => {
    const id = await repo(a);
    assert.equal(
      await a.repositories.putResourceTags(
        id,
        [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
        ],
        3,
      ),
      true,
    );
    assert.equal(
      await a.repositories.putResourceTags(
        id,
        [
          { Key: 'a', Value: '9' },
          { Key: 'c', Value: '3' },
          { Key: 'd', Value: '4' },
        ],
        3,
      ),
      false,
    );
    assert.deepEqual(
      await a.repositories.resourceTags(id),
      [
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
      ],
      'a refused write changes nothing',
    );
    assert.equal(
      await a.repositories.putResourceTags(
        id,
        [
          { Key: 'a', Value: '9' },
          { Key: 'c', Value: '3' },
        ],
        3,
      ),
      true,
    );
    await a.repositories.removeResourceTags(id, ['a', 'missing']);
    assert.deepEqual(await a.repositories.resourceTags(id), [
      { Key: 'b', Value: '2' },
      { Key: 'c', Value: '3' },
    ]);
  });

  test('tags list in byte order with pagination; delete reports whether one existed', async ({ a }) => {
    const id = await repo(a);
    const { digest } = await push(a, { tag: NAMES[0]! });
    for (const t of NAMES.slice(1)) await push(a, { tag: t });
    const expected = [...NAMES].sort(byteOrder);
    assert.deepEqual(await allPages((after) => a.tags.list(id, { limit: 4, ...(after !== undefined && { after }) }), 4), expected);
    assert.equal(await a.tags.delete(id, 'a-b'), true);
    assert.equal(await a.tags.delete(id, 'a-b'), false);
    assert.equal((await a.manifests.findByTag(id, 'b'))?.digest, digest);
    assert.equal(await a.manifests.findByTag(id, 'a-b'), undefined);
  });

  test('upload sessions: caps per account and in all, progress, deletion', async ({ a }) => {
    const id = await repo(a);
    const other = await repo(a, 'x/y', OTHER_REGISTRY);
    const mine = { repositoryId: id, accountId: accountOf(REGISTRY) };
    const theirs = { repositoryId: other, accountId: accountOf(OTHER_REGISTRY) };
    const limits = { perAccount: 2, total: 3 };
    assert.equal(await a.uploads.create({ id: 'u1', ...mine, now: at(1) }, limits), 'created');
    assert.equal(await a.uploads.create({ id: 'u2', ...mine, now: at(2) }, limits), 'created');
    assert.equal(await a.uploads.create({ id: 'u3', ...mine, now: at(3) }, limits), 'account', "the account's cap");
    assert.equal(await a.uploads.find('u3'), undefined, 'a refused session is not made');
    assert.equal(await a.uploads.create({ id: 'o1', ...theirs, now: at(3) }, limits), 'created', "another account's sessions are its own");
    assert.equal(await a.uploads.create({ id: 'o2', ...theirs, now: at(3) }, limits), 'total', 'the ceiling on all');
    assert.equal(await a.uploads.setSize('u1', 4096, at(10)), true);
    assert.deepEqual(await a.uploads.find('u1'), { id: 'u1', repositoryId: id, size: 4096, createdAt: at(1), updatedAt: at(10) });
    assert.equal(await a.uploads.delete('u1'), true);
    assert.equal(await a.uploads.delete('u1'), false);
    assert.equal(await a.uploads.setSize('u1', 1, at(11)), false, 'a session gone is reported');
    assert.equal(await a.uploads.find('u1'), undefined);
    assert.equal(await a.uploads.create({ id: 'u3', ...mine, now: at(3) }, limits), 'created', 'a slot freed is taken');
    assert.equal(await a.uploads.create({ id: 'o2', ...theirs, now: at(3) }, { perAccount: 2, total: 4 }), 'created');
  });

  test('images: listing by tag status in digest order, sizes, tags, children, parents', async ({ a }) => {
    const id = await repo(a);
    const l1 = await blob(a, id, 'l1', 10);
    const l2 = await blob(a, id, 'l2', 32);
    const m1 = await push(a, { blobs: [l1, l2], tag: 'v1', now: at(100) });
    await push(a, { blobs: [l1, l2], tag: 'latest' });
    const m2 = await push(a, { blobs: [l1], salt: 'untagged', now: at(200) });
    const index = await push(a, { manifests: [m1.digest, m2.digest], tag: 'multi' });
    const all = [m1.digest, m2.digest, index.digest].sort(byteOrder);
    const listed = await a.images.list(id, { limit: 10 }, 'ANY');
    assert.deepEqual(
      listed.map((i) => i.digest),
      all,
    );
    const one = listed.find((i) => i.digest === m1.digest)!;
    assert.deepEqual(one.tags, ['latest', 'v1']);
    assert.equal(one.blobBytes, 42);
    assert.equal(one.manifestSize, m1.payload.length);
    assert.equal(one.pushedAt.getTime(), at(100).getTime());
    assert.deepEqual(listed.find((i) => i.digest === index.digest)!.children, [m1.digest, m2.digest].sort(byteOrder));
    assert.deepEqual(
      (await a.images.list(id, { limit: 10 }, 'UNTAGGED')).map((i) => i.digest),
      [m2.digest],
    );
    assert.deepEqual(
      (await a.images.list(id, { limit: 10 }, 'TAGGED')).map((i) => i.digest),
      [m1.digest, index.digest].sort(byteOrder),
    );
    assert.deepEqual(
      (await a.images.list(id, { after: all[0]!, limit: 1 }, 'ANY')).map((i) => i.digest),
      [all[1]],
    );
    // ListImages's lean page: the same images, in the same order, with the same tags, per filter and page.
    for (const status of ['ANY', 'TAGGED', 'UNTAGGED'] as const) {
      for (const page of [{ limit: 10 }, { after: all[0]!, limit: 1 }, { after: all[2]!, limit: 5 }]) {
        assert.deepEqual(
          await a.images.listIds(id, page, status),
          (await a.images.list(id, page, status)).map((i) => ({ digest: i.digest, tags: i.tags })),
          `${status} after ${page.after ?? 'the start'}`,
        );
      }
    }
    assert.deepEqual(
      (await a.images.listIds(id, { limit: 10 }, 'ANY')).find((i) => i.digest === m1.digest),
      { digest: m1.digest, tags: ['latest', 'v1'] },
    );
    const got = await a.images.get(id, [m2.digest, dg('nothing'), m2.digest]);
    assert.deepEqual(
      got.map((i) => [i.digest, i.tags, i.blobBytes]),
      [[m2.digest, [], 10]],
    );
  });

  test('lifecycle candidates: every image with tags, pull time, index membership and present subject', async ({ a }) => {
    const id = await repo(a);
    const base = await push(a, { tag: 'v1', now: at(1) });
    await push(a, { tag: 'v2' });
    const child = await push(a, { salt: 'child', now: at(2) });
    const index = await push(a, { manifests: [child.digest], now: at(3) });
    const sig = await push(a, { salt: 'sig', subject: base.digest, artifactType: 'application/sig', now: at(4) });
    const orphan = await push(a, { salt: 'orphan', subject: dg('not here'), now: at(5) });
    await a.manifests.recordPulls([{ repositoryId: id, digest: base.digest, at: at(50) }]);
    const got = new Map((await a.images.lifecycleCandidates(id)).map((c) => [c.digest, c]));
    assert.equal(got.size, 5);
    assert.deepEqual([...got.get(base.digest)!.tags].sort(byteOrder), ['v1', 'v2']);
    assert.equal(got.get(base.digest)!.lastPulledAt?.getTime(), at(50).getTime());
    assert.equal(got.get(base.digest)!.inIndex, false);
    assert.equal(got.get(child.digest)!.inIndex, true);
    assert.equal(got.get(child.digest)!.lastPulledAt, undefined);
    assert.deepEqual(got.get(index.digest)!.tags, []);
    assert.equal(got.get(sig.digest)!.subject, base.digest);
    assert.equal(got.get(orphan.digest)!.subject, undefined, 'a subject outside the repository is not reported');
    assert.equal(got.get(sig.digest)!.pushedAt.getTime(), at(4).getTime());
  });
}
