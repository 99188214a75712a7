/** Contract: replication backfills, their items, and who may advance them (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { at, dg, OTHER_REGISTRY, REGISTRY, type ContractTest } from './contract-fixtures.js';
import { backfillKey } from './replication-backfills.js';

const EU = { region: 'eu-west-1', registryId: '123456789012' };
const EU_OTHER = { region: 'eu-west-1', registryId: '210987654321' };
const US = { region: 'us-west-2', registryId: '123456789012' };
const job = (id: string, generation = 0) => ({ kind: 'replication-backfill', payload: { id, generation } });

export function replicationBackfillsContract(test: ContractTest): void {
  test('start: one running backfill per destination region, at most maxRunning, each with its job', async ({ a, b }) => {
    assert.equal(await a.replicationBackfills.start({ id: 'b1', registryKey: REGISTRY, destination: EU, now: at(1) }, job('b1'), 2), 'started');
    assert.equal(await b.replicationBackfills.start({ id: 'b2', registryKey: REGISTRY, destination: EU_OTHER, now: at(2) }, job('b2'), 2), 'inProgress');
    assert.equal(await b.replicationBackfills.start({ id: 'b3', registryKey: REGISTRY, destination: US, now: at(3) }, job('b3'), 2), 'started');
    assert.equal(
      await a.replicationBackfills.start(
        { id: 'b4', registryKey: REGISTRY, destination: { region: 'ap-south-1', registryId: '123456789012' }, now: at(4) },
        job('b4'),
        2,
      ),
      'limit',
    );
    assert.equal(await a.replicationBackfills.start({ id: 'b5', registryKey: OTHER_REGISTRY, destination: EU, now: at(5) }, job('b5'), 2), 'started');
    assert.equal(await a.jobs.pending('replication-backfill'), 3);
    const got = await b.replicationBackfills.get(REGISTRY, 'b1');
    assert.deepEqual(
      [got?.status, got?.destination, got?.generation, got?.progress, got?.startedAt.getTime(), got?.endedAt],
      ['PREPARING', EU, 0, undefined, at(1).getTime(), undefined],
    );
    assert.equal(await b.replicationBackfills.get(OTHER_REGISTRY, 'b1'), undefined, 'a backfill belongs to its registry');
    await a.replicationBackfills.end('b1', 'COMPLETE', at(6));
    assert.equal(
      await b.replicationBackfills.start({ id: 'b6', registryKey: REGISTRY, destination: EU_OTHER, now: at(7) }, job('b6'), 2),
      'started',
      'an ended one frees its region',
    );
  });

  test('two nodes starting a backfill for one region at once: one starts', async ({ a, b }) => {
    const outcomes = await Promise.all([
      a.replicationBackfills.start({ id: 'x1', registryKey: REGISTRY, destination: EU, now: at(1) }, job('x1'), 10),
      b.replicationBackfills.start({ id: 'x2', registryKey: REGISTRY, destination: EU_OTHER, now: at(1) }, job('x2'), 10),
    ]);
    assert.deepEqual(outcomes.sort(), ['inProgress', 'started']);
    assert.equal(await a.jobs.pending('replication-backfill'), 1);
  });

  test('prepare once; items in order; results, filters and progress; handOver by generation; end', async ({ a, b }) => {
    await a.replicationBackfills.start({ id: 'p1', registryKey: REGISTRY, destination: EU, now: at(1) }, job('p1'), 10);
    const items = [
      { repository: 'team/web', digest: dg(1), tag: 'v1' },
      { repository: 'team/web', digest: dg(1), tag: 'latest' },
      { repository: 'team/api', digest: dg(2) },
    ];
    assert.equal(await a.replicationBackfills.prepare('p1', items, job('p1', 1), at(2)), true);
    assert.equal(await b.replicationBackfills.prepare('p1', items, job('p1', 1), at(2)), false, 'prepared already');
    let got = await b.replicationBackfills.get(REGISTRY, 'p1');
    assert.deepEqual([got?.status, got?.generation, got?.progress], ['IN_PROGRESS', 1, { total: 3, completed: 0, failed: 0, failureCodes: [] }]);
    assert.equal(await a.jobs.pending('replication-backfill'), 2);
    const pending = await b.replicationBackfills.pending('p1', 2);
    assert.deepEqual(
      pending.map((i) => [i.seq, i.repository, i.digest, i.tag]),
      [
        [1, 'team/web', dg(1), 'v1'],
        [2, 'team/web', dg(1), 'latest'],
      ],
    );
    await a.replicationBackfills.record('p1', 1, 'COMPLETE');
    await b.replicationBackfills.record('p1', 3, 'FAILED', 'IMAGE_NOT_FOUND');
    await a.replicationBackfills.record('p1', 1, 'FAILED', 'LATE');
    got = await a.replicationBackfills.get(REGISTRY, 'p1');
    assert.deepEqual(got?.progress, { total: 3, completed: 1, failed: 1, failureCodes: ['IMAGE_NOT_FOUND'] }, 'a recorded item stays as recorded');
    assert.deepEqual(
      (await b.replicationBackfills.pending('p1', 10)).map((i) => i.seq),
      [2],
    );
    const results = await a.replicationBackfills.results('p1', { afterSeq: 0, limit: 10 });
    assert.deepEqual(
      results.map((r) => [r.seq, r.tag, r.status, r.failureCode]),
      [
        [1, 'v1', 'COMPLETE', undefined],
        [3, undefined, 'FAILED', 'IMAGE_NOT_FOUND'],
      ],
    );
    assert.deepEqual(
      (await a.replicationBackfills.results('p1', { status: 'FAILED', afterSeq: 0, limit: 10 })).map((r) => r.seq),
      [3],
    );
    assert.deepEqual(
      (await a.replicationBackfills.results('p1', { afterSeq: 1, limit: 1 })).map((r) => r.seq),
      [3],
    );
    assert.equal(await a.replicationBackfills.handOver('p1', 1, job('p1', 2), at(3)), true);
    assert.equal(await b.replicationBackfills.handOver('p1', 1, job('p1', 2), at(3)), false, 'only the current generation hands over');
    assert.equal((await b.replicationBackfills.get(REGISTRY, 'p1'))?.generation, 2);
    await b.replicationBackfills.end('p1', 'COMPLETE', at(4));
    await a.replicationBackfills.end('p1', 'STOPPED', at(5));
    got = await a.replicationBackfills.get(REGISTRY, 'p1');
    assert.deepEqual([got?.status, got?.endedAt?.getTime()], ['COMPLETE', at(4).getTime()], 'an ended backfill stays ended');
  });

  test('stop: a running backfill becomes STOPPING; an ended one is refused; an unknown one is not found', async ({ a, b }) => {
    await a.replicationBackfills.start({ id: 's1', registryKey: REGISTRY, destination: EU, now: at(1) }, job('s1'), 10);
    const stopped = await b.replicationBackfills.stop(REGISTRY, 's1');
    assert.equal(typeof stopped === 'object' && stopped.status, 'STOPPING');
    const again = await a.replicationBackfills.stop(REGISTRY, 's1');
    assert.equal(typeof again === 'object' && again.status, 'STOPPING');
    assert.equal(await a.replicationBackfills.prepare('s1', [], job('s1', 1), at(2)), false, 'a stopping backfill is not prepared');
    await a.replicationBackfills.end('s1', 'STOPPED', at(3));
    assert.equal(await b.replicationBackfills.stop(REGISTRY, 's1'), 'invalidStatus');
    assert.equal(await b.replicationBackfills.stop(REGISTRY, 'nope'), 'notFound');
    assert.equal(await b.replicationBackfills.stop(OTHER_REGISTRY, 's1'), 'notFound');
  });

  test('list: by start time then id, paged by key; ended ones only while recent', async ({ a, b }) => {
    await a.replicationBackfills.start({ id: 'l2', registryKey: REGISTRY, destination: EU, now: at(10) }, job('l2'), 10);
    await a.replicationBackfills.start({ id: 'l1', registryKey: REGISTRY, destination: US, now: at(10) }, job('l1'), 10);
    await a.replicationBackfills.end('l2', 'FAILED', at(20), 'NO_ENDPOINT');
    await a.replicationBackfills.start({ id: 'l0', registryKey: REGISTRY, destination: EU, now: at(30) }, job('l0'), 10);
    await a.replicationBackfills.start({ id: 'l9', registryKey: OTHER_REGISTRY, destination: EU, now: at(5) }, job('l9'), 10);
    const all = await b.replicationBackfills.list(REGISTRY, { limit: 10 }, at(0));
    assert.deepEqual(
      all.map((x) => x.id),
      ['l1', 'l2', 'l0'],
    );
    assert.equal(all[1]?.failureCode, 'NO_ENDPOINT');
    const page2 = await b.replicationBackfills.list(REGISTRY, { after: backfillKey(all[0]!), limit: 1 }, at(0));
    assert.deepEqual(
      page2.map((x) => x.id),
      ['l2'],
    );
    assert.deepEqual(
      (await a.replicationBackfills.list(REGISTRY, { limit: 10 }, at(21))).map((x) => x.id),
      ['l1', 'l0'],
      'one that ended before the horizon is no longer listed',
    );
  });

  test('pruneEnded: backfills that ended before the horizon go with their items; running and recent ones stay', async ({ a, b }) => {
    const items = [
      { repository: 'r', digest: dg('1') },
      { repository: 'r', digest: dg('2'), tag: 'v2' },
    ];
    for (const [id, destination] of [
      ['old1', EU],
      ['old2', US],
    ] as const) {
      await a.replicationBackfills.start({ id, registryKey: REGISTRY, destination, now: at(1) }, job(id), 10);
      assert.equal(await a.replicationBackfills.prepare(id, items, job(id, 1), at(2)), true);
      await a.replicationBackfills.record(id, 1, 'COMPLETE');
      await a.replicationBackfills.end(id, 'FAILED', at(3));
    }
    await a.replicationBackfills.start({ id: 'recent', registryKey: REGISTRY, destination: EU, now: at(4) }, job('recent'), 10);
    await a.replicationBackfills.end('recent', 'STOPPED', at(50));
    await a.replicationBackfills.start({ id: 'running', registryKey: OTHER_REGISTRY, destination: EU, now: at(1) }, job('running'), 10);

    assert.equal(await b.replicationBackfills.pruneEnded(at(10), 1), 1, 'at most limit');
    assert.equal(await a.replicationBackfills.pruneEnded(at(10), 10), 1);
    assert.equal(await b.replicationBackfills.pruneEnded(at(10), 10), 0);
    assert.equal(await a.replicationBackfills.get(REGISTRY, 'old1'), undefined);
    assert.equal(await a.replicationBackfills.get(REGISTRY, 'old2'), undefined);
    assert.deepEqual(await a.replicationBackfills.pending('old1', 10), [], 'the items went with it');
    assert.deepEqual(await a.replicationBackfills.results('old2', { afterSeq: 0, limit: 10 }), []);
    assert.equal((await b.replicationBackfills.get(REGISTRY, 'recent'))?.status, 'STOPPED', 'one that ended after the horizon stays');
    assert.equal((await b.replicationBackfills.get(OTHER_REGISTRY, 'running'))?.status, 'PREPARING', 'a running one is never pruned');
  });
}
