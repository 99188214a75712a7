/** Contract: named documents (secrets, pull-through cache rules), see contract-suite.ts. */
import assert from 'node:assert/strict';
import { registryKey, type RegistryKey } from '../core/registry-key.js';
import { at, type ContractTest } from './contract-fixtures.js';

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

    assert.equal(await a.documents.delete(REGISTRY, 'secret', 'list/a'), true);
    assert.equal(await b.documents.delete(REGISTRY, 'secret', 'list/a'), false);
    assert.deepEqual(await names('list/'), ['list/b', 'list/c']);
  });
}
