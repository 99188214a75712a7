/**
 * Contract: two nodes racing on one database (see contract-suite.ts). Each race runs a number of
 * rounds with the two calls started together, and checks the invariant that must hold whichever
 * wins: on an engine whose calls serialize (SQLite) that is the serial semantics; on one whose
 * calls interleave (PostgreSQL) it is what the locking must guarantee.
 */
import assert from 'node:assert/strict';
import type { Digest } from '../core/digest.js';
import { at, blob, byteOrder, push, REGISTRY, repo, type ContractTest } from './contract-fixtures.js';

const ROUNDS = 12;

export function concurrencyContract(test: ContractTest): void {
  test('two pushes moving one immutable tag: exactly one wins, the other sees its digest', async ({ a, b }) => {
    const id = await repo(a);
    for (let i = 0; i < ROUNDS; i++) {
      const tag = `t${i}`;
      const [x, y] = await Promise.all([push(a, { tag, tagMutable: false, salt: `a${i}` }), push(b, { tag, tagMutable: false, salt: `b${i}` })]);
      const winner = x.result.kind === 'ok' ? x : y;
      const loser = winner === x ? y : x;
      assert.equal(winner.result.kind, 'ok');
      assert.deepEqual(loser.result, { kind: 'tagImmutable', tag, current: winner.digest });
      assert.equal((await a.manifests.findByTag(id, tag))?.digest, winner.digest);
      assert.equal(await a.manifests.find(id, loser.digest), undefined, "the loser's manifest is rolled back");
    }
  });

  test('a delete racing the push of an index that lists the manifest: never an index pointing at nothing', async ({ a, b }) => {
    const id = await repo(a);
    for (let i = 0; i < ROUNDS; i++) {
      const child = await push(a, { salt: `child${i}` });
      // Alternate which node starts first, so each order gets a chance on an interleaving engine.
      const del = () => a.manifests.delete(id, child.digest, at(i));
      const put = () => push(b, { manifests: [child.digest], salt: `index${i}` });
      const [deleted, index] = i % 2 === 0 ? await Promise.all([del(), put()]) : await Promise.all([put(), del()]).then(([p, d]) => [d, p] as const);
      const childThere = (await a.manifests.find(id, child.digest)) !== undefined;
      const indexThere = (await a.manifests.find(id, index.digest)) !== undefined;
      if (index.result.kind === 'ok') {
        assert.deepEqual(deleted, { kind: 'referenced', parents: [index.digest] }, `round ${i}`);
        assert.ok(childThere && indexThere, `round ${i}: both stay`);
      } else {
        assert.deepEqual(index.result, { kind: 'missing', blobs: [], manifests: [child.digest] }, `round ${i}`);
        assert.deepEqual(deleted, { kind: 'deleted' }, `round ${i}`);
        assert.ok(!childThere && !indexThere, `round ${i}: both gone`);
      }
    }
  });

  test('two first pushes into a new repository create it once', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const repository = `new/r${i}`;
      const [x, y] = await Promise.all([push(a, { repository, salt: 'x' }), push(b, { repository, salt: 'y' })]);
      assert.equal(x.result.kind, 'ok');
      assert.deepEqual(y.result, x.result);
    }
    assert.equal((await a.repositories.list(REGISTRY, { limit: 100 })).length, ROUNDS);
  });

  test('a GC review racing a push that needs the blob never leaves a dangling reference', async ({ a, b }) => {
    const id = await repo(a);
    for (let i = 0; i < ROUNDS; i++) {
      const layer = await blob(a, id, `race${i}`, 10, at(i * 100));
      const [pushed, reviewed] = await Promise.all([
        push(b, { blobs: [layer], salt: `${i}`, now: at(i * 100 + 50) }),
        a.gc.review(at(i * 100), at(i * 100 + 60), 10),
      ]);
      const outcome = reviewed.find((o) => o.digest === layer)?.outcome;
      if (pushed.result.kind === 'ok') {
        assert.equal(outcome, 'kept', 'the review saw the reference');
        assert.ok(await a.blobs.findInRepository(id, layer));
      } else {
        assert.deepEqual(pushed.result, { kind: 'missing', blobs: [layer], manifests: [] });
        assert.equal(outcome, 'deleted');
        assert.equal(await a.blobs.find(layer), undefined);
      }
    }
  });

  test('a HEAD racing a GC review: a blob reported present survives (revived), else it is reported gone', async ({ a, b }) => {
    const id = await repo(a);
    for (let i = 0; i < ROUNDS; i++) {
      const layer = await blob(a, id, `head${i}`, 10, at(i * 100_000));
      const [seen] = await Promise.all([b.blobs.stat(id, layer, at(i * 100_000 + 10_000)), a.gc.review(at(i * 100_000), at(i * 100_000 + 1), 10)]);
      assert.equal(seen !== undefined, (await a.blobs.find(layer)) !== undefined, `round ${i}`);
    }
  });

  test('two reviewers decide each due blob exactly once', async ({ a, b }) => {
    const id = await repo(a);
    const all: Digest[] = [];
    for (let i = 0; i < 40; i++) all.push(await blob(a, id, `r${i}`, 1, at(0)));
    const [x, y] = await Promise.all([a.gc.review(at(0), at(1), 40), b.gc.review(at(0), at(1), 40)]);
    const decided = [...x, ...y].map((o) => o.digest).sort(byteOrder);
    assert.deepEqual(decided, [...all].sort(byteOrder));
    assert.equal(await a.gc.countDeletions(), 40);
  });

  test('two deletion claimers never claim the same digest', async ({ a, b }) => {
    const id = await repo(a);
    for (let i = 0; i < 30; i++) await blob(a, id, `c${i}`, 1, at(0));
    await a.gc.review(at(0), at(1), 100);
    const [x, y] = await Promise.all([a.gc.claimDeletions('', at(10), at(0), 30), b.gc.claimDeletions('', at(10), at(0), 30)]);
    const claimed = [...x.claimed, ...y.claimed];
    assert.equal(new Set(claimed).size, claimed.length, 'disjoint');
    assert.equal(claimed.length, 30, 'and together complete');
  });

  test('an upload commit racing a deletion claim: the claim skips it or the commit is told busy', async ({ a, b }) => {
    const id = await repo(a);
    for (let i = 0; i < ROUNDS; i++) {
      const d = await blob(a, id, `u${i}`, 1, at(i * 100));
      assert.equal((await a.gc.review(at(i * 100), at(i * 100 + 1), 10))[0]?.outcome, 'deleted');
      const [commit, claim] = await Promise.all([
        b.blobs.beginCommit(`up${i}`, d, at(i * 100 + 2), at(i * 100 - 60_000)),
        a.gc.claimDeletions('', at(i * 100 + 2), at(i * 100 - 60_000), 10),
      ]);
      assert.equal(claim.claimed.includes(d), commit === 'busy', `round ${i}: claimed=${claim.claimed.includes(d)} commit=${commit}`);
      if (commit === 'ok') await b.blobs.record(id, { digest: d, size: 1 }, at(i * 100 + 3), `up${i}`);
      else await a.gc.finishDeletions([d]);
    }
  });

  test('two job claimers never take the same job', async ({ a, b }) => {
    await a.jobs.enqueue(
      Array.from({ length: 50 }, (_, n) => ({ kind: 'scan', payload: { n } })),
      at(0),
    );
    const [x, y] = await Promise.all([a.jobs.claim(['scan'], 'a', 30_000, 50, at(1)), b.jobs.claim(['scan'], 'b', 30_000, 50, at(1))]);
    const ids = [...x, ...y].map((j) => j.id);
    assert.equal(new Set(ids).size, ids.length, 'disjoint');
    assert.equal(ids.length, 50);
  });

  test('two nodes taking one expired lease: exactly one gets it', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const now = at(i * 10_000);
      const [x, y] = await Promise.all([a.leases.acquire('gc', 'node-a', 5000, now), b.leases.acquire('gc', 'node-b', 5000, now)]);
      assert.equal(Number(x) + Number(y), 1, `round ${i}`);
    }
  });

  test("an account's upload-session cap holds across nodes", async ({ a, b }) => {
    const id = await repo(a);
    const open = (n: number) =>
      (n % 2 ? a : b).uploads.create({ id: `s${n}`, repositoryId: id, accountId: '123456789012', now: at(n) }, { perAccount: 5, total: 100 });
    const created = await Promise.all(Array.from({ length: 12 }, (_, n) => open(n)));
    assert.equal(created.filter((c) => c === 'created').length, 5);
    assert.equal(created.filter((c) => c === 'account').length, 7);
  });

  test('pull times recorded by two nodes only move forward', async ({ a, b }) => {
    const id = await repo(a);
    const { digest } = await push(a);
    for (let i = 1; i <= ROUNDS; i++) {
      await Promise.all([
        a.manifests.recordPulls([{ repositoryId: id, digest, at: at(i * 10) }]),
        b.manifests.recordPulls([{ repositoryId: id, digest, at: at(i * 10 - 5) }]),
      ]);
      assert.equal((await a.images.get(id, [digest]))[0]?.lastPulledAt?.getTime(), at(i * 10).getTime());
    }
  });

  test('a repository delete racing a push: the push lands first (not empty) or finds no repository', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const repository = `doomed${i}`;
      const id = await repo(a, repository);
      const layer = await blob(a, id, `d${i}`);
      const [pushed, deleted] = await Promise.all([
        push(b, { repository, createRepository: false, blobs: [layer] }),
        a.repositories.delete(id, { force: false, now: at(1) }),
      ]);
      if (pushed.result.kind === 'ok') assert.equal(deleted, 'notEmpty');
      else {
        assert.equal(pushed.result.kind, 'repositoryUnknown');
        assert.equal(deleted, 'deleted');
      }
    }
  });
}
