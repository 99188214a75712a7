/** Contract: pull-time update exclusions and the pull times they keep (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { at, OTHER_REGISTRY, REGISTRY, type ContractTest } from './contract-fixtures.js';

const user = (n: string | number) => `arn:aws:iam::123456789012:user/u${n}`;

export function pullExclusionsContract(test: ContractTest): void {
  test('add refuses a duplicate and the limit, per registry; another node sees them; remove says whether it removed', async ({ a, b }) => {
    assert.equal(await a.pullExclusions.add(REGISTRY, user(1), at(1), 2), 'added');
    assert.equal(await b.pullExclusions.add(REGISTRY, user(1), at(2), 2), 'exists');
    assert.equal(await b.pullExclusions.add(REGISTRY, user(2), at(3), 2), 'added');
    assert.equal(await a.pullExclusions.add(REGISTRY, user(3), at(4), 2), 'limit');
    assert.equal(await a.pullExclusions.add(REGISTRY, user(2), at(4), 2), 'exists', 'at the limit an existing one is still a duplicate');
    assert.equal(await a.pullExclusions.add(OTHER_REGISTRY, user(3), at(5), 2), 'added', 'the limit is per registry');
    const listed = await b.pullExclusions.list(REGISTRY, { limit: 10 });
    assert.deepEqual(
      listed.map((e) => [e.principalArn, e.createdAt.getTime()]),
      [
        [user(1), at(1).getTime()],
        [user(2), at(3).getTime()],
      ],
    );
    assert.deepEqual(
      (await a.pullExclusions.list(REGISTRY, { after: user(1), limit: 10 })).map((e) => e.principalArn),
      [user(2)],
    );
    assert.deepEqual([...(await a.pullExclusions.excluded(REGISTRY, [user(2), user(3), user(2)]))], [user(2)]);
    assert.equal(await b.pullExclusions.remove(REGISTRY, user(1)), true);
    assert.equal(await a.pullExclusions.remove(REGISTRY, user(1)), false);
    assert.equal(await a.pullExclusions.add(REGISTRY, user(3), at(6), 2), 'added', 'a removal makes room');
    assert.deepEqual([...(await b.pullExclusions.excluded(OTHER_REGISTRY, [user(2), user(3)]))], [user(3)]);
  });

  test('two nodes adding the last one the limit allows: one succeeds', async ({ a, b }) => {
    await a.pullExclusions.add(REGISTRY, user(0), at(1), 2);
    const outcomes = await Promise.all([a.pullExclusions.add(REGISTRY, user(1), at(2), 2), b.pullExclusions.add(REGISTRY, user(2), at(2), 2)]);
    assert.deepEqual(outcomes.sort(), ['added', 'limit']);
    assert.equal((await a.pullExclusions.list(REGISTRY, { limit: 10 })).length, 2);
  });
}
