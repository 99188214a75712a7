/** Contract: repository creation templates, and a repository created with its policies (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { allPages, at, byteOrder, OTHER_REGISTRY, REGISTRY, type ContractTest } from './contract-fixtures.js';
import { repositoryPolicyScope } from './policy-scopes.js';

// Prefixes whose byte order differs from most locales' order; ROOT sorts among them.
const PREFIXES = ['prod', 'ROOT', 'prod/team', 'prod-x', 'prod_x', 'a', 'Z'];

export function creationTemplateContract(test: ContractTest): void {
  test('create once per prefix and registry; get, update at the expected version, delete', async ({ a, b }) => {
    assert.equal(await a.creationTemplates.create({ registryKey: REGISTRY, prefix: 'prod', document: '{"v":1}', now: at(1) }), true);
    assert.equal(await b.creationTemplates.create({ registryKey: REGISTRY, prefix: 'prod', document: '{"v":9}', now: at(2) }), false, 'taken');
    assert.equal(await b.creationTemplates.create({ registryKey: OTHER_REGISTRY, prefix: 'prod', document: '{"o":1}', now: at(2) }), true);
    const got = await b.creationTemplates.get(REGISTRY, 'prod');
    assert.deepEqual(got, { registryKey: REGISTRY, prefix: 'prod', document: '{"v":1}', version: 1, createdAt: at(1), updatedAt: at(1) });
    assert.equal(await a.creationTemplates.get(REGISTRY, 'prod/'), undefined);

    const updated = await a.creationTemplates.update(REGISTRY, 'prod', '{"v":2}', 1, at(5));
    assert.deepEqual(updated, { registryKey: REGISTRY, prefix: 'prod', document: '{"v":2}', version: 2, createdAt: at(1), updatedAt: at(5) });
    assert.equal(await b.creationTemplates.update(REGISTRY, 'prod', '{"v":3}', 1, at(6)), undefined, 'a stale version writes nothing');
    assert.equal((await b.creationTemplates.get(REGISTRY, 'prod'))?.document, '{"v":2}');
    assert.equal(await a.creationTemplates.update(REGISTRY, 'absent', '{}', 1, at(6)), undefined);

    const removed = await b.creationTemplates.delete(REGISTRY, 'prod');
    assert.equal(removed?.document, '{"v":2}');
    assert.equal(await a.creationTemplates.delete(REGISTRY, 'prod'), undefined);
    assert.equal(await a.creationTemplates.get(REGISTRY, 'prod'), undefined);
    assert.equal((await a.creationTemplates.get(OTHER_REGISTRY, 'prod'))?.document, '{"o":1}', 'the other registry keeps its own');
  });

  test('two nodes updating from the same read: one wins, the other sees it lost', async ({ a, b }) => {
    await a.creationTemplates.create({ registryKey: REGISTRY, prefix: 'ROOT', document: '{}', now: at() });
    const results = await Promise.all([
      a.creationTemplates.update(REGISTRY, 'ROOT', '{"by":"a"}', 1, at(1)),
      b.creationTemplates.update(REGISTRY, 'ROOT', '{"by":"b"}', 1, at(1)),
    ]);
    const won = results.filter((r) => r !== undefined);
    assert.equal(won.length, 1);
    assert.equal((await a.creationTemplates.get(REGISTRY, 'ROOT'))?.document, won[0]!.document);
  });

  test('lists and gets many in byte order, paginated, per registry', async ({ a }) => {
    for (const p of PREFIXES) await a.creationTemplates.create({ registryKey: REGISTRY, prefix: p, document: '{}', now: at() });
    await a.creationTemplates.create({ registryKey: OTHER_REGISTRY, prefix: 'elsewhere', document: '{}', now: at() });
    const expected = [...PREFIXES].sort(byteOrder);
    const names = (page: { after?: string; limit: number }) => a.creationTemplates.list(REGISTRY, page).then((l) => l.map((t) => t.prefix));
    assert.deepEqual(await names({ limit: 100 }), expected);
    assert.deepEqual(await allPages((after) => names({ limit: 3, ...(after !== undefined && { after }) }), 3), expected);
    const many = await a.creationTemplates.getMany(REGISTRY, ['prod/team', 'missing', 'ROOT', 'prod/team', 'elsewhere']);
    assert.deepEqual(
      many.map((t) => t.prefix),
      ['ROOT', 'prod/team'],
    );
    assert.deepEqual(await a.creationTemplates.getMany(REGISTRY, []), []);
  });

  test('a repository is created with its policies (and the principal ids they bind) in the same transaction; a taken name writes none', async ({ a }) => {
    const settings = { imageTagMutability: 'IMMUTABLE' as const, scanOnPush: false, encryptionType: 'AES256' as const };
    const principalIds = { 'arn:aws:iam::000000000000:user/u': 'AIDAEXAMPLE', 'arn:aws:iam::000000000000:role/gone': '(nobody)' };
    const policies = [
      { kind: 'access', document: '{"Statement":[]}', principalIds },
      { kind: 'lifecycle', document: '{"rules":[]}' },
    ];
    const r = await a.repositories.create({ registryKey: REGISTRY, name: 'prod/web', settings, tags: [{ Key: 'k', Value: 'v' }], policies, now: at(3) });
    assert.ok(r);
    const scope = repositoryPolicyScope(REGISTRY, 'prod/web');
    assert.deepEqual(await a.policies.get(scope, 'access'), { document: '{"Statement":[]}', updatedAt: at(3), principalIds });
    assert.deepEqual(await a.policies.get(scope, 'lifecycle'), { document: '{"rules":[]}', updatedAt: at(3) }, 'none given, none kept');

    await a.repositories.delete(r.id, { force: true, now: at(4) });
    assert.equal(await a.policies.get(scope, 'access'), undefined, 'deleted with its repository');
    await a.repositories.ensure(REGISTRY, 'prod/web', at(5));
    const again = await a.repositories.create({ registryKey: REGISTRY, name: 'prod/web', settings, tags: [], policies, now: at(6) });
    assert.equal(again, undefined);
    assert.equal(await a.policies.get(scope, 'access'), undefined, 'a refused create writes no policy');
  });
}
