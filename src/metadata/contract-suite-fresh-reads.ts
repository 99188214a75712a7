/**
 * Contract: what a manifest GET reads (the repository by name, the manifest by tag or by digest)
 * is never older than the last write that returned, whichever node made it. SQLite serves these
 * reads from a per-process cache (sqlite/read-cache.ts); PostgreSQL has none. Every test reads
 * first, so that a cache holds the old answer, then writes, then reads again on both nodes.
 */
import assert from 'node:assert/strict';
import { at, blob, push, REGISTRY, repo, type ContractTest, type Nodes } from './contract-fixtures.js';
import type { Digest } from '../core/digest.js';
import type { MetadataStore } from './types.js';

const NAME = 'team/web';

type Read = { repository?: number; tag?: string; settings?: string };

/**
 * Reads on both nodes what a GET of NAME:v1 reads, both ways a store answers it: the repository,
 * then the manifest by tag (two calls); and the one call (manifests.lookup). Both must agree.
 */
async function readBoth({ a, b }: Nodes): Promise<Read[]> {
  return Promise.all(
    [a, b].map(async (s: MetadataStore) => {
      const r = await s.repositories.find(REGISTRY, NAME);
      const m = r && (await s.manifests.findByTag(r.id, 'v1'));
      const twoCalls: Read = { ...(r && { repository: r.id, settings: r.settings.imageTagMutability }), ...(m && { tag: m.digest }) };
      const l = await s.manifests.lookup(REGISTRY, NAME, { tag: 'v1' });
      const oneCall: Read = {
        ...(l && { repository: l.repository.id, settings: l.repository.settings.imageTagMutability }),
        ...(l?.manifest && { tag: l.manifest.digest }),
      };
      assert.deepEqual(oneCall, twoCalls, 'manifests.lookup reads what repositories.find and manifests.findByTag read');
      return oneCall;
    }),
  );
}

/** The manifest `digest` of NAME as manifests.lookup finds it by digest on `s` (undefined: none, or no repository). */
async function lookupDigest(s: MetadataStore, digest: Digest): Promise<Digest | undefined> {
  return (await s.manifests.lookup(REGISTRY, NAME, { digest }))?.manifest?.digest;
}

export function freshReadsContract(test: ContractTest): void {
  for (const writer of ['a', 'b'] as const) {
    const other = writer === 'a' ? 'b' : 'a';
    test(`a tag moved on ${writer} is read at once on both nodes, by tag and by digest`, async (nodes) => {
      const id = await repo(nodes.a, NAME);
      const l = await blob(nodes.a, id, 'layer');
      const first = await push(nodes[writer], { tag: 'v1', blobs: [l], salt: 'one' });
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: id, settings: 'MUTABLE', tag: first.digest })),
      );
      const second = await push(nodes[writer], { tag: 'v1', blobs: [l], salt: 'two' });
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: id, settings: 'MUTABLE', tag: second.digest })),
      );
      // By digest too, after the manifest is deleted on the writer.
      assert.equal((await nodes[other].manifests.find(id, first.digest))?.digest, first.digest);
      assert.equal(await lookupDigest(nodes[other], first.digest), first.digest);
      assert.equal(await lookupDigest(nodes[writer], first.digest), first.digest);
      assert.deepEqual(await nodes[writer].manifests.delete(id, first.digest, at()), { kind: 'deleted' });
      assert.equal(await nodes[other].manifests.find(id, first.digest), undefined);
      assert.equal(await nodes[writer].manifests.find(id, first.digest), undefined);
      assert.equal(await lookupDigest(nodes[other], first.digest), undefined);
      assert.equal(await lookupDigest(nodes[writer], first.digest), undefined);
      // The repository is still there: the lookup says so, with no manifest.
      assert.equal((await nodes[other].manifests.lookup(REGISTRY, NAME, { digest: first.digest }))?.repository.id, id);
    });

    test(`a tag deleted on ${writer}, then the repository, are read as gone at once on both nodes`, async (nodes) => {
      const id = await repo(nodes.a, NAME);
      const l = await blob(nodes.a, id, 'layer');
      const pushed = await push(nodes.a, { tag: 'v1', blobs: [l] });
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: id, settings: 'MUTABLE', tag: pushed.digest })),
      );
      assert.equal(await nodes[writer].tags.delete(id, 'v1'), true);
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: id, settings: 'MUTABLE' })),
      );
      assert.equal(await nodes[writer].repositories.delete(id, { force: true, now: at() }), 'deleted');
      assert.deepEqual(await readBoth(nodes), [{}, {}]);
      // Created again (a new id): both nodes find the new one, not the old.
      const again = await repo(nodes[writer], NAME);
      assert.notEqual(again, id);
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: again, settings: 'MUTABLE' })),
      );
    });

    test(`settings changed on ${writer} are read at once on both nodes`, async (nodes) => {
      const id = await repo(nodes.a, NAME);
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: id, settings: 'MUTABLE' })),
      );
      const current = (await nodes[writer].repositories.find(REGISTRY, NAME))!.settings;
      await nodes[writer].repositories.updateSettings(id, { ...current, imageTagMutability: 'IMMUTABLE' });
      assert.deepEqual(
        await readBoth(nodes),
        [0, 1].map(() => ({ repository: id, settings: 'IMMUTABLE' })),
      );
    });
  }

  test('a record read is not changed by a caller that changes its copy', async ({ a }) => {
    const id = await repo(a, NAME);
    const found = (await a.repositories.find(REGISTRY, NAME))!;
    try {
      (found.settings as { imageTagMutability: string }).imageTagMutability = 'IMMUTABLE';
    } catch {
      // A shared record may be frozen: refusing the change is as good as keeping it private.
    }
    assert.equal((await a.repositories.find(REGISTRY, NAME))!.settings.imageTagMutability, 'MUTABLE');
    assert.equal((await a.repositories.find(REGISTRY, NAME))!.id, id);
    const looked = (await a.manifests.lookup(REGISTRY, NAME, { tag: 'v1' }))!;
    try {
      (looked.repository.settings as { imageTagMutability: string }).imageTagMutability = 'IMMUTABLE';
    } catch {
      // As above.
    }
    assert.equal((await a.manifests.lookup(REGISTRY, NAME, { tag: 'v1' }))!.repository.settings.imageTagMutability, 'MUTABLE');
  });
}
