/** Contract: replication status rows, written with the push that starts them (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { at, dg, OTHER_REGISTRY, push, REGISTRY, type ContractTest } from './contract-fixtures.js';
import type { ReplicationStart } from './replication.js';

const start = (region: string, registryId: string): ReplicationStart => ({
  destination: { region, registryId },
  job: { kind: 'replicate-image', payload: { region, registryId } },
});

export function replicationContract(test: ContractTest): void {
  test('a push writes IN_PROGRESS and the job per destination, in its transaction; a refused push writes neither', async ({ a }) => {
    const { digest, result } = await push(a, { tag: 'v1', replications: [start('eu-west-1', '123456789012'), start('us-east-1', '210987654321')] });
    assert.equal(result.kind, 'ok');
    const rows = await a.replication.list(REGISTRY, 'team/web', digest);
    assert.deepEqual(
      rows.map((r) => [r.destination.region, r.destination.registryId, r.status, r.failureCode]),
      [
        ['eu-west-1', '123456789012', 'IN_PROGRESS', undefined],
        ['us-east-1', '210987654321', 'IN_PROGRESS', undefined],
      ],
    );
    assert.equal(await a.jobs.pending('replicate-image'), 2);
    const refused = await push(a, { blobs: [dg('absent')], salt: 'x', replications: [start('eu-west-1', '123456789012')] });
    assert.equal(refused.result.kind, 'missing');
    assert.deepEqual(await a.replication.list(REGISTRY, 'team/web', refused.digest), []);
    assert.equal(await a.jobs.pending('replicate-image'), 2);
    assert.deepEqual(await a.replication.list(OTHER_REGISTRY, 'team/web', digest), [], 'rows belong to their source registry');
  });

  test("set overwrites a destination's status and failure code; another node reads it", async ({ a, b }) => {
    const { digest } = await push(a, { tag: 'v1', replications: [start('eu-west-1', '123456789012')] });
    const destination = { region: 'eu-west-1', registryId: '123456789012' };
    await a.replication.set(REGISTRY, 'team/web', digest, { destination, status: 'FAILED', failureCode: 'ACCESS_DENIED' }, at(5));
    let [row] = await b.replication.list(REGISTRY, 'team/web', digest);
    assert.deepEqual([row!.status, row!.failureCode, row!.updatedAt.getTime()], ['FAILED', 'ACCESS_DENIED', at(5).getTime()]);
    // A later push of the same image starts it again.
    await push(a, { tag: 'v2', replications: [start('eu-west-1', '123456789012')], now: at(6) });
    [row] = await b.replication.list(REGISTRY, 'team/web', digest);
    assert.deepEqual([row!.status, row!.failureCode], ['IN_PROGRESS', undefined]);
    await b.replication.set(REGISTRY, 'team/web', digest, { destination, status: 'COMPLETE' }, at(7));
    [row] = await a.replication.list(REGISTRY, 'team/web', digest);
    assert.deepEqual([row!.status, row!.failureCode], ['COMPLETE', undefined]);
  });

  test('oldestPending: per destination, when its oldest IN_PROGRESS image started; finished ones drop out', async ({ a, b }) => {
    assert.deepEqual(await a.replication.oldestPending(), []);
    const eu = { region: 'eu-west-1', registryId: '123456789012' };
    const first = await push(a, { tag: 'v1', salt: 'p1', replications: [start(eu.region, eu.registryId)], now: at(10) });
    await push(b, { tag: 'v2', salt: 'p2', replications: [start(eu.region, eu.registryId), start('us-east-1', '210987654321')], now: at(20) });
    const pending = (s: typeof a) =>
      s.replication.oldestPending().then((r) => r.map((p) => [p.destination.region, p.destination.registryId, p.since.getTime()]));
    assert.deepEqual(await pending(b), [
      ['eu-west-1', '123456789012', at(10).getTime()],
      ['us-east-1', '210987654321', at(20).getTime()],
    ]);
    await a.replication.set(REGISTRY, 'team/web', first.digest, { destination: eu, status: 'COMPLETE' }, at(30));
    assert.deepEqual(await pending(a), [
      ['eu-west-1', '123456789012', at(20).getTime()],
      ['us-east-1', '210987654321', at(20).getTime()],
    ]);
  });
}
