/** Contract: named documents (secrets, pull-through cache rules), see contract-suite.ts. */
import assert from 'node:assert/strict';
import type { Digest } from '../core/digest.js';
import { registryKey, type RegistryKey } from '../core/registry-key.js';
import { at, push, REGISTRY as PUSHED, type ContractTest } from './contract-fixtures.js';
import { signingStatusPrefix } from './signing-statuses.js';

const REGISTRY = registryKey('111122223333', 'us-east-1');
const OTHER = registryKey('111122223333', 'eu-west-1');

export function documentsContract(test: ContractTest): void {
  test('documents: create once, compare-and-set replace, list by prefix in byte order, delete', async ({ a, b }) => {
    const doc = (name: string, document: string, key: RegistryKey = REGISTRY) => ({ registryKey: key, kind: 'secret' as const, name, document, now: at(1) });
    assert.equal(await a.documents.create(doc('ecr-pullthroughcache/hub', '{"v":1}')), true);
    assert.equal(await b.documents.create(doc('ecr-pullthroughcache/hub', '{"v":2}')), false, 'a name is created once');
    assert.equal((await b.documents.get(REGISTRY, 'secret', 'ecr-pullthroughcache/hub'))!.document, '{"v":1}');
    assert.equal(await b.documents.get(REGISTRY, 'ptc-rule', 'ecr-pullthroughcache/hub'), undefined, 'kinds are apart');
    assert.equal(await b.documents.get(OTHER, 'secret', 'ecr-pullthroughcache/hub'), undefined, 'registries are apart');

    // Two writers that read {"v":1}: the first wins, the second is told and changes nothing.
    assert.equal(await a.documents.replace({ ...doc('ecr-pullthroughcache/hub', '{"v":3}'), now: at(5) }, '{"v":1}'), true);
    assert.equal(await b.documents.replace(doc('ecr-pullthroughcache/hub', '{"v":4}'), '{"v":1}'), false);
    const now = (await a.documents.get(REGISTRY, 'secret', 'ecr-pullthroughcache/hub'))!;
    assert.equal(now.document, '{"v":3}');
    assert.equal(now.createdAt.getTime(), at(1).getTime());
    assert.equal(now.updatedAt.getTime(), at(5).getTime());
    assert.equal(await b.documents.replace(doc('absent', '{}'), '{}'), false, 'compare-and-set never creates');
    assert.equal(await b.documents.replace(doc('upserted', '{"u":1}')), true, 'an unconditional replace creates');

    for (const n of ['list/b', 'list/a', 'list_%', 'list/c', 'other']) await a.documents.create(doc(n, '{}'));
    const names = async (prefix: string, after?: string) =>
      (await b.documents.list(REGISTRY, 'secret', { limit: 2, prefix, ...(after !== undefined && { after }) })).map((r) => r.name);
    assert.deepEqual(await names('list/'), ['list/a', 'list/b']);
    assert.deepEqual(await names('list/', 'list/b'), ['list/c']);
    assert.deepEqual(await names('list_'), ['list_%'], 'a prefix is literal, not a LIKE pattern');

    assert.equal(await b.documents.count(REGISTRY, 'secret'), 7);
    assert.equal(await b.documents.count(REGISTRY, 'ptc-rule'), 0, 'of one kind');
    assert.equal(await b.documents.count(OTHER, 'secret'), 0, 'of one registry');
    assert.equal(await a.documents.delete(REGISTRY, 'secret', 'list/a'), true);
    assert.equal(await b.documents.count(REGISTRY, 'secret'), 6);
    assert.equal(await b.documents.delete(REGISTRY, 'secret', 'list/a'), false);
    assert.deepEqual(await names('list/'), ['list/b', 'list/c']);
  });

  test("signing statuses go with their image's delete (one, a batch, an untag of its last tag) and their repository's", async ({ a, b }) => {
    const status = async (repository: string, digest: string, arn = 'arn:p') =>
      a.documents.create({ registryKey: PUSHED, kind: 'signing-status', name: `${repository}@${digest}#${arn}`, document: '{}', now: at(1) });
    const left = async (repository: string, digest?: Digest) =>
      (await b.documents.list(PUSHED, 'signing-status', { limit: 100, prefix: signingStatusPrefix(repository, digest) })).map((r) => r.name);
    const one = await push(a, { repository: 'app', salt: 'one', tags: ['one'] });
    const two = await push(a, { repository: 'app', salt: 'two', tags: ['two'] });
    const three = await push(a, { repository: 'app', salt: 'three', tags: ['three'] });
    const kept = await push(a, { repository: 'app', salt: 'kept' });
    const near = await push(a, { repository: 'app2', salt: 'one' });
    for (const d of [one.digest, two.digest, three.digest, kept.digest]) {
      await status('app', d);
      await status('app', d, 'arn:q');
    }
    await status('app2', near.digest);
    const appId = (await a.repositories.find(PUSHED, 'app'))!.id;

    assert.equal((await a.manifests.delete(appId, one.digest, at(2))).kind, 'deleted');
    assert.deepEqual(await left('app', one.digest), []);
    assert.deepEqual(await b.manifests.deleteImages(appId, [{ digest: two.digest }], at(2)), [{ kind: 'deleted', digest: two.digest }]);
    assert.deepEqual(await left('app', two.digest), []);
    await b.manifests.deleteImages(appId, [{ tag: 'three' }], at(2));
    assert.deepEqual(await left('app', three.digest), [], 'the untag of its last tag deletes the image');
    assert.deepEqual(await left('app', kept.digest), [`app@${kept.digest}#arn:p`, `app@${kept.digest}#arn:q`], 'other images keep theirs');

    assert.equal(await a.repositories.delete(appId, { force: true, now: at(3) }), 'deleted');
    assert.deepEqual(await left('app'), []);
    assert.deepEqual(await left('app2'), [`app2@${near.digest}#arn:p`], 'a repository whose name starts alike keeps its own');
  });
}
