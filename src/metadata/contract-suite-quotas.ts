/**
 * Contract: service quotas (metadata/quotas.ts). Count limits are checked inside the writing
 * transaction, so two nodes racing for the last slot never both get it; a refusal writes
 * nothing. Per-account values and the layer API's part counts round-trip.
 */
import assert from 'node:assert/strict';
import { defaultRepositorySettings } from '../core/repository-settings.js';
import { at, blob, dg, push, REGISTRY, OTHER_REGISTRY, repo, type ContractTest } from './contract-fixtures.js';
import { QuotaRefusal } from './quotas.js';

const ROUNDS = 6;

/** The push's outcome: its result kind, or the quota that refused it. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const r = (await p) as { result?: { kind: string }; id?: number } | undefined;
    return r?.result?.kind ?? (r === undefined ? 'undefined' : 'ok');
  } catch (e) {
    if (e instanceof QuotaRefusal) return e.quota;
    throw e;
  }
}

export function quotaContract(test: ContractTest): void {
  test('images per repository: of two racing new images for the last slot, exactly one is stored', async ({ a, b }) => {
    const id = await repo(a);
    let stored = '';
    for (let i = 0; i < ROUNDS; i++) {
      const limits = { imagesPerRepository: i + 1 };
      const [x, y] = await Promise.all([outcome(push(a, { salt: `a${i}`, limits })), outcome(push(b, { salt: `b${i}`, limits }))]);
      assert.deepEqual([x, y].sort(), ['imagesPerRepository', 'ok'], `round ${i}`);
      assert.equal((await a.images.list(id, { limit: 100 }, 'ANY')).length, i + 1, `round ${i}: the refused push left nothing`);
      stored = x === 'ok' ? `a${i}` : `b${i}`;
    }
    // An image already there is not a new one: pushing it again with a tag passes at the limit.
    const again = await push(a, { salt: stored, tag: 'again', limits: { imagesPerRepository: ROUNDS } });
    assert.equal(again.result.kind, 'ok');
  });

  test('repositories per registry: racing creations (push, ensure, create) never exceed the limit', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const max = i + 1;
      const races = [
        () => push(a, { repository: `p/a${i}`, limits: { repositoriesPerRegistry: max } }),
        () => b.repositories.ensure(REGISTRY, `p/b${i}`, at(), max),
        () => a.repositories.create({ registryKey: REGISTRY, name: `p/c${i}`, settings: defaultRepositorySettings, tags: [], now: at(), maxRepositories: max }),
      ];
      const [x, y] = [races[i % 3]!, races[(i + 1) % 3]!];
      const results = await Promise.all([outcome(x()), outcome(y())]);
      assert.deepEqual(results.sort(), ['ok', 'repositoriesPerRegistry'], `round ${i}`);
      assert.equal((await a.repositories.list(REGISTRY, { limit: 100 })).length, max, `round ${i}`);
    }
    // Another registry counts its own, and an existing repository is found, never refused.
    assert.equal(await outcome(repo(a, 'elsewhere', OTHER_REGISTRY)), 'ok');
    const existing = (await a.repositories.list(REGISTRY, { limit: 1 }))[0]!;
    assert.equal(await outcome(a.repositories.ensure(REGISTRY, existing, at(), 1)), 'ok');
  });

  test('tags per image: racing tag writes to one image never exceed the limit', async ({ a, b }) => {
    await repo(a);
    await push(a, { salt: 'img' });
    for (let i = 0; i < ROUNDS; i++) {
      const limits = { tagsPerImage: i + 1 };
      const [x, y] = await Promise.all([outcome(push(a, { salt: 'img', tag: `a${i}`, limits })), outcome(push(b, { salt: 'img', tag: `b${i}`, limits }))]);
      assert.deepEqual([x, y].sort(), ['ok', 'tagsPerImage'], `round ${i}`);
    }
    const { result } = await push(a, { salt: 'img' });
    assert.equal(result.kind, 'ok');
    const id = await repo(a);
    assert.equal((await a.tags.list(id, { limit: 100 })).length, ROUNDS);
  });

  test('referrers per subject: the referrer past the limit is refused and not stored', async ({ a }) => {
    const id = await repo(a);
    const subject = await push(a, { salt: 'subject' });
    const limits = { referrersPerSubject: 2 };
    assert.equal(await outcome(push(a, { salt: 'r1', subject: subject.digest, limits })), 'ok');
    assert.equal(await outcome(push(a, { salt: 'r2', subject: subject.digest, limits })), 'ok');
    assert.equal(await outcome(push(a, { salt: 'r3', subject: subject.digest, limits })), 'referrersPerSubject');
    assert.equal((await a.manifests.referrers(id, subject.digest)).length, 2);
    assert.equal(await outcome(push(a, { salt: 'r3', subject: dg('another subject'), limits })), 'ok', 'another subject counts its own');
  });

  test("per-account values round-trip, and an upload's layer parts are counted", async ({ a, b }) => {
    await a.quotas.set('111122223333', 'imagesPerRepository', 5);
    await a.quotas.set('111122223333', 'layerParts', 7);
    await b.quotas.set('111122223333', 'layerParts', 8);
    await a.quotas.set('222233334444', 'tagsPerImage', 3);
    assert.deepEqual(await b.quotas.list('111122223333'), [
      { accountId: '111122223333', name: 'imagesPerRepository', value: 5 },
      { accountId: '111122223333', name: 'layerParts', value: 8 },
    ]);
    await b.quotas.set('111122223333', 'imagesPerRepository', undefined);
    assert.deepEqual(
      (await a.quotas.list()).map((o) => `${o.accountId}/${o.name}=${o.value}`),
      ['111122223333/layerParts=8', '222233334444/tagsPerImage=3'],
    );
    const id = await repo(a);
    await blob(a, id, 'x');
    assert.ok(await a.uploads.create({ id: 'u1', repositoryId: id, accountId: '123456789012', now: at() }, { perAccount: 10, total: 10 }));
    assert.deepEqual(await a.quotas.uploadParts('u1'), { parts: 0, lastPartBytes: 0 });
    await a.quotas.recordUploadPart('u1', 5000);
    await b.quotas.recordUploadPart('u1', 20);
    assert.deepEqual(await b.quotas.uploadParts('u1'), { parts: 2, lastPartBytes: 20 });
    assert.equal(await a.quotas.uploadParts('gone'), undefined);
  });
}
