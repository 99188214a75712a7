/** Contract: daily usage aggregates and the live counts metrics read (see usage.ts, contract-suite.ts). */
import assert from 'node:assert/strict';
import { registryKeyText, type RegistryKey } from '../core/registry-key.js';
import { at, blob, OTHER_REGISTRY as OTHER_KEY, REGISTRY as REGISTRY_KEY, repo, type ContractTest } from './contract-fixtures.js';
import { REGISTRY_ROW } from './usage.js';

// The usage store keeps a registry as its stored text.
const [REGISTRY, OTHER_REGISTRY] = [registryKeyText(REGISTRY_KEY), registryKeyText(OTHER_KEY)];

const delta = (day: number, repository: string, bytesIn: number, bytesOut: number, pulls: number, registryKey: RegistryKey = REGISTRY_KEY) => ({
  day,
  registryKey,
  repository,
  bytesIn,
  bytesOut,
  pulls,
});

export function usageContract(test: ContractTest): void {
  test('usage: two nodes adding transfer to the same day and repository add up', async ({ a, b }) => {
    await Promise.all([
      a.usage.addTransfer([delta(100, 'team/web', 10, 1000, 1), delta(100, 'team/web', 5, 0, 0), delta(101, 'team/web', 0, 7, 1)]),
      b.usage.addTransfer([delta(100, 'team/web', 20, 2000, 2), delta(100, 'team/api', 1, 2, 3)]),
    ]);
    await b.usage.addTransfer([]);
    await a.usage.addTransfer([delta(100, 'team/web', 1, 1, 1)]);
    const rows = await b.usage.daily(100, 102, 10);
    assert.deepEqual(
      rows.map((r) => [r.day, r.repository, r.bytesIn, r.bytesOut, r.pulls, r.storageSamples]),
      [
        [100, 'team/api', 1, 2, 3, 0],
        [100, 'team/web', 36, 3001, 4, 0],
        [101, 'team/web', 0, 7, 1, 0],
      ],
    );
    assert.deepEqual(await a.usage.daily(101, 102, 10), [{ ...delta(101, 'team/web', 0, 7, 1), storageSum: 0, storageSamples: 0 }]);
  });

  test('usage: storage now per repository and deduplicated per registry; samples add up; the period carries its last earlier sample in', async ({ a, b }) => {
    const web = await repo(a, 'team/web');
    const api = await repo(a, 'team/api');
    const other = await repo(a, 'x/y', OTHER_KEY);
    await repo(a, 'team/empty');
    await blob(a, web, 'shared', 1000);
    await blob(a, api, 'shared', 1000);
    await blob(a, web, 'own', 300);
    await blob(a, other, 'o', 7);
    const now = await b.usage.currentStorage();
    const byKey = Object.fromEntries(now.map((s) => [`${registryKeyText(s.registryKey)} ${s.repository}`, s.bytes]));
    assert.deepEqual(byKey, {
      [`${REGISTRY} team/web`]: 1300,
      [`${REGISTRY} team/api`]: 1000,
      [`${REGISTRY} team/empty`]: 0,
      [`${REGISTRY} `]: 1300,
      [`${OTHER_REGISTRY} x/y`]: 7,
      [`${OTHER_REGISTRY} `]: 7,
    });
    assert.deepEqual(
      (await a.usage.largestRepositories(2)).map((s) => [s.repository, s.bytes]),
      [
        ['team/web', 1300],
        ['team/api', 1000],
      ],
    );

    assert.equal(await a.usage.lastSampledDay(), undefined);
    await a.usage.addStorageSamples(50, now);
    await b.usage.addStorageSamples(50, [{ registryKey: REGISTRY_KEY, repository: 'team/web', bytes: 700 }]);
    await a.usage.addStorageSamples(60, [{ registryKey: REGISTRY_KEY, repository: 'team/api', bytes: 0 }]);
    await a.usage.addTransfer([delta(55, 'team/web', 1, 2, 3)]);
    assert.equal(await b.usage.lastSampledDay(), 60);
    const web50 = (await a.usage.daily(50, 51, 0)).find((r) => r.repository === 'team/web')!;
    assert.deepEqual([web50.storageSum, web50.storageSamples], [2000, 2]);

    // Days 55..59: team/web's transfer row of day 55, and every key's last sample before 55 (day 50).
    const period = await b.usage.daily(55, 60, 30, '123456789012');
    assert.deepEqual(
      period.map((r) => [r.day, r.repository, r.storageSum, r.storageSamples, r.bytesOut]),
      [
        [50, REGISTRY_ROW, 1300, 1, 0],
        [50, 'team/api', 1000, 1, 0],
        [50, 'team/empty', 0, 1, 0],
        [50, 'team/web', 2000, 2, 0],
        [55, 'team/web', 0, 0, 2],
      ],
    );
    assert.deepEqual(
      await b.usage.daily(55, 60, 4),
      [{ ...delta(55, 'team/web', 1, 2, 3), storageSum: 0, storageSamples: 0 }],
      'a sample beyond the lookback is not carried',
    );

    // The keys whose latest sample held bytes: team/api's latest (day 60) was zero, team/empty held nothing.
    const nonZero = (await a.usage.lastNonZeroSamples(60)).map((k) => `${registryKeyText(k.registryKey)} ${k.repository}`).sort();
    assert.deepEqual(nonZero, [`${REGISTRY} `, `${REGISTRY} team/web`, `${OTHER_REGISTRY} `, `${OTHER_REGISTRY} x/y`]);
  });

  test('usage: open uploads and job queues by kind, with the oldest job', async ({ a, b }) => {
    const web = await repo(a, 'team/web');
    assert.equal(await b.usage.openUploads(), 0);
    assert.deepEqual(await b.usage.jobQueues(), []);
    await a.uploads.create({ id: 'u1', repositoryId: web, accountId: '123456789012', now: at() }, { perAccount: 10, total: 10 });
    await a.uploads.create({ id: 'u2', repositoryId: web, accountId: '123456789012', now: at() }, { perAccount: 10, total: 10 });
    await a.jobs.enqueue([{ kind: 'scan', payload: {} }], at(5000));
    await a.jobs.enqueue(
      [
        { kind: 'scan', payload: {} },
        { kind: 'event', payload: {} },
      ],
      at(9000),
    );
    assert.equal(await b.usage.openUploads(), 2);
    assert.deepEqual(await b.usage.jobQueues(), [
      { kind: 'event', queued: 1, oldest: at(9000) },
      { kind: 'scan', queued: 2, oldest: at(5000) },
    ]);
  });
}
