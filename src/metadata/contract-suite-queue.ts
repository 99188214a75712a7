/** Contract: jobs, leases, scans, advisories, policies, settings, previews and identities (see contract-suite.ts). */
import assert from 'node:assert/strict';
import type { Digest } from '../core/digest.js';
import { at, dg, OTHER_REGISTRY, push, REGISTRY, repo, type ContractTest } from './contract-fixtures.js';

export function queueContract(test: ContractTest): void {
  test('jobs: due jobs of the given kinds, earlier kinds first, each claimed once; retry and completion', async ({ a }) => {
    await a.jobs.enqueue(
      [
        { kind: 'scan', payload: { n: 1 } },
        { kind: 'event', payload: { n: 2 } },
        { kind: 'scan', payload: { n: 3 }, runAfter: at(1000) },
        { kind: 'other', payload: { n: 4 } },
      ],
      at(0),
    );
    await a.jobs.enqueue([], at(0));
    const first = await a.jobs.claim(['event', 'scan'], 'w1', 30_000, 10, at(10));
    assert.deepEqual(
      first.map((j) => [j.kind, j.payload, j.attempts]),
      [
        ['event', { n: 2 }, 1],
        ['scan', { n: 1 }, 1],
      ],
    );
    assert.equal(first[0]!.lastError, undefined);
    assert.deepEqual(await a.jobs.claim(['event', 'scan'], 'w2', 30_000, 10, at(20)), [], 'locked jobs are not claimed again');
    assert.equal(await a.jobs.pending('scan'), 2);
    const [event, scan] = first as [(typeof first)[0], (typeof first)[0]];
    await a.jobs.complete(event.id, 'someone else');
    assert.equal(await a.jobs.pending('event'), 1, 'only the holder completes a job');
    await a.jobs.complete(event.id, 'w1');
    assert.equal(await a.jobs.pending('event'), 0);
    await a.jobs.fail(scan.id, 'w1', 'boom', at(500));
    assert.deepEqual(await a.jobs.claim(['scan'], 'w2', 30_000, 10, at(499)), []);
    const retried = await a.jobs.claim(['scan'], 'w2', 30_000, 1, at(500));
    assert.deepEqual(
      retried.map((j) => [j.id, j.attempts, j.lastError]),
      [[scan.id, 2, 'boom']],
    );
    await a.jobs.fail(scan.id, 'w2', 'final', undefined);
    assert.equal(await a.jobs.pending('scan'), 1, 'given up: removed; the later job remains');
    const later = await a.jobs.claim(['scan'], 'w2', 30_000, 10, at(1000));
    assert.deepEqual(
      later.map((j) => j.payload),
      [{ n: 3 }],
    );
    assert.deepEqual(await a.jobs.claim([], 'w2', 30_000, 10, at(2000)), []);
  });

  test('jobs: a lapsed lock is claimable again, counting the attempt', async ({ a }) => {
    await a.jobs.enqueue([{ kind: 'scan', payload: {} }], at(0));
    const [job] = await a.jobs.claim(['scan'], 'w1', 1000, 10, at(0));
    assert.ok(job);
    assert.deepEqual(await a.jobs.claim(['scan'], 'w2', 1000, 10, at(1000)), []);
    const again = await a.jobs.claim(['scan'], 'w2', 1000, 10, at(1001));
    assert.deepEqual(
      again.map((j) => [j.id, j.attempts]),
      [[job.id, 2]],
    );
    await a.jobs.complete(job.id, 'w1');
    assert.equal(await a.jobs.pending('scan'), 1, 'the first holder lost it');
  });

  test('jobs: renewal extends only the current claim of a job, never a finished or reclaimed one', async ({ a }) => {
    await a.jobs.enqueue(
      [
        { kind: 'scan', payload: { n: 1 } },
        { kind: 'scan', payload: { n: 2 } },
      ],
      at(0),
    );
    const [job] = await a.jobs.claim(['scan'], 'w1', 1000, 1, at(0));
    const [other] = await a.jobs.claim(['scan'], 'w1', 100_000, 1, at(0));
    assert.ok(job && other);
    assert.equal(await a.jobs.renew(job.id, 'w1', job.attempts, 1000, at(900)), true);
    assert.deepEqual(await a.jobs.claim(['scan'], 'w2', 1000, 10, at(1500)), [], 'renewed: locked until 1900, counted from the renewal');
    assert.equal(await a.jobs.renew(job.id, 'w2', job.attempts, 1000, at(1500)), false, 'not by another holder');
    assert.equal(await a.jobs.renew(job.id, 'w1', job.attempts + 1, 1000, at(1500)), false, 'not for another claim');
    assert.equal(await a.jobs.renew(job.id, 'w1', job.attempts, 1000, at(2500)), true, 'lapsed but claimed by nobody since: still this claim');
    const stolen = await a.jobs.claim(['scan'], 'w2', 1000, 10, at(3600));
    assert.deepEqual(
      stolen.map((j) => [j.id, j.attempts]),
      [[job.id, 2]],
    );
    assert.equal(await a.jobs.renew(job.id, 'w1', job.attempts, 1000, at(3600)), false, 'claimed by another: lost');
    assert.deepEqual(await a.jobs.claim(['scan'], 'w1', 1000, 10, at(4000)), [], "the failed renewal left the new holder's lock alone");
    await a.jobs.complete(job.id, 'w2');
    assert.equal(await a.jobs.renew(job.id, 'w2', 2, 1000, at(4000)), false, 'finished: removed, nothing to renew');
    await a.jobs.fail(other.id, 'w1', 'boom', at(5000));
    assert.equal(await a.jobs.renew(other.id, 'w1', other.attempts, 1000, at(4000)), false, 'handed back for a retry: not renewed');
    assert.deepEqual(await a.jobs.claim(['scan'], 'w2', 1000, 10, at(4999)), [], 'and still waits for its retry time');
    const again = await a.jobs.claim(['scan'], 'w1', 1000, 10, at(5000));
    assert.deepEqual(
      again.map((j) => [j.id, j.attempts]),
      [[other.id, 2]],
    );
    assert.equal(await a.jobs.renew(other.id, 'w1', 1, 1000, at(5000)), false, "the same holder's earlier claim lost it to its later one");
    assert.equal(await a.jobs.renew(other.id, 'w1', 2, 1000, at(5000)), true);
  });

  test('leases: one holder until expiry, renewal, release', async ({ a }) => {
    assert.equal(await a.leases.acquire('gc', 'n1', 1000, at(0)), true);
    assert.equal(await a.leases.acquire('gc', 'n2', 1000, at(500)), false);
    assert.equal(await a.leases.acquire('gc', 'n1', 1000, at(900)), true, 'renewed');
    assert.equal(await a.leases.acquire('gc', 'n2', 1000, at(1500)), false, 'the renewal counts from its own time');
    assert.equal(await a.leases.acquire('gc', 'n2', 1000, at(1900)), true, 'expired: taken over');
    assert.equal(await a.leases.acquire('lifecycle', 'n1', 1000, at(1900)), true, 'names are separate');
    await a.leases.release('gc', 'n1');
    assert.equal(await a.leases.acquire('gc', 'n1', 1000, at(2000)), false, 'only the holder releases');
    await a.leases.release('gc', 'n2');
    assert.equal(await a.leases.acquire('gc', 'n1', 1000, at(2000)), true);
  });

  test('scans: start (with quota), finish, many at once, completed in pages', async ({ a }) => {
    const id = await repo(a);
    const images: Digest[] = [];
    for (let i = 0; i < 3; i++) images.push((await push(a, { salt: `i${i}` })).digest);
    const job = { kind: 'scan', payload: {} };
    assert.equal(await a.scans.start(id, dg('missing'), job, at(0)), 'missing');
    assert.equal(await a.scans.start(id, images[0]!, job, at(10)), 'started');
    assert.equal(await a.scans.start(id, images[0]!, job, at(20), at(5)), 'quota');
    assert.equal(await a.scans.start(id, images[0]!, job, at(20), at(10)), 'started', 'started before the quota window');
    assert.equal(await a.jobs.pending('scan'), 2);
    for (const d of images.slice(1)) assert.equal(await a.scans.start(id, d, job, at(30)), 'started');
    await a.scans.finish(id, images[0]!, { status: 'COMPLETE', description: 'done', completedAt: at(40), sourceUpdatedAt: at(35), findings: '[]' });
    await a.scans.finish(id, images[2]!, { status: 'COMPLETE', description: 'done', completedAt: at(41), fingerprint: 'f2' });
    assert.deepEqual(await a.scans.get(id, images[0]!), {
      status: 'COMPLETE',
      description: 'done',
      startedAt: at(20),
      completedAt: at(40),
      sourceUpdatedAt: at(35),
      findings: '[]',
    });
    await a.scans.finishMany([]);
    await a.scans.finishMany([
      { repositoryId: id, digest: images[1]!, result: { status: 'FAILED', description: 'first' } },
      { repositoryId: id, digest: images[1]!, result: { status: 'FAILED', description: 'bad layer' } },
      { repositoryId: id, digest: dg('gone'), result: { status: 'COMPLETE', description: 'ignored' } },
    ]);
    const many = await a.scans.getMany(id, [images[1]!, dg('none')]);
    assert.deepEqual([...many.keys()], [images[1]]);
    assert.deepEqual(many.get(images[1]!), { status: 'FAILED', description: 'bad layer', startedAt: at(30) }, 'the last result wins');
    // A listing slice (consecutive): its range holds images[2]'s scan, which was not asked for.
    const bounds = [`sha256:${'0'.repeat(64)}`, `sha256:${'f'.repeat(64)}`] as Digest[];
    assert.deepEqual([...(await a.scans.getMany(id, bounds, true)).keys()], [], 'only the digests asked for, not their range');
    const page = [...bounds, ...Array.from({ length: 150 }, (_, i) => dg(`absent-${i}`)), images[1]!, images[0]!, images[1]!];
    const fromPage = await a.scans.getMany(id, page, true);
    assert.deepEqual(fromPage, await a.scans.getMany(id, page), 'the same with or without the range read');
    assert.deepEqual(new Set(fromPage.keys()), new Set([images[0], images[1]]));
    assert.deepEqual(fromPage.get(images[1]!), many.get(images[1]!));
    assert.equal(fromPage.get(images[0]!)?.findings, '[]');
    const page1 = await a.scans.completed('', 1);
    const page2 = await a.scans.completed(page1[0]!.key, 1);
    const page3 = await a.scans.completed(page2[0]!.key, 1);
    assert.deepEqual(page3, []);
    assert.deepEqual(new Set([page1[0]!.digest, page2[0]!.digest]), new Set([images[0], images[2]]));
    assert.deepEqual([page1[0]!.repositoryId, page1[0]!.registryKey, page1[0]!.repository], [id, REGISTRY, 'team/web']);
    const withPrint = [page1[0]!, page2[0]!].find((p) => p.digest === images[2]);
    assert.equal(withPrint?.fingerprint, 'f2');
    assert.equal((await a.scans.get(id, images[2]!))?.fingerprint, 'f2');
  });

  test('inventories and advisories: newer versions only, counts, sources, pages', async ({ a }) => {
    assert.equal(await a.scans.inventory(dg('img')), undefined);
    await a.scans.putInventory(dg('img'), '{"v":1}', at(0));
    await a.scans.putInventory(dg('img'), '{"v":2}', at(1));
    assert.equal(await a.scans.inventory(dg('img')), '{"v":2}');
    const adv = (id: string, t: number) => ({ id, modified: at(t), document: `${id}@${t}` });
    assert.equal(await a.scans.putAdvisories('osv', [adv('CVE-2', 10), adv('CVE-1', 10), adv('GHSA-1', 10)], at(100)), 3);
    assert.equal(await a.scans.putAdvisories('osv', [adv('CVE-1', 10), adv('CVE-2', 5), adv('CVE-3', 1)], at(200)), 1, 'only newer or new');
    assert.equal(await a.scans.putAdvisories('osv', [adv('CVE-1', 20)], at(300)), 1);
    assert.equal(await a.scans.putAdvisories('osv', [], at(400)), 0);
    assert.deepEqual(await a.scans.sources(), [{ name: 'osv', advisories: 4, importedAt: at(400), updatedAt: at(300) }]);
    assert.deepEqual(await a.scans.advisories('', 2), [
      { id: 'CVE-1', document: 'CVE-1@20' },
      { id: 'CVE-2', document: 'CVE-2@10' },
    ]);
    assert.deepEqual(
      (await a.scans.advisories('CVE-2', 10)).map((r) => r.id),
      ['CVE-3', 'GHSA-1'],
    );
  });

  test('policies: the principal ids a policy binds, kept with it and replaced with it, none for one put without', async ({ a, b }) => {
    const ids = { 'arn:aws:iam::000000000000:user/u': 'AIDAEXAMPLE', 'arn:aws:iam::000000000000:role/r': 'AROAEXAMPLE' };
    await a.policies.put('repository:r/bound', 'access', '{"Statement":[]}', at(1), ids);
    await a.policies.put('repository:r/legacy', 'access', '{"Statement":[]}', at(1));
    assert.deepEqual(await b.policies.get('repository:r/bound', 'access'), { document: '{"Statement":[]}', updatedAt: at(1), principalIds: ids });
    assert.equal('principalIds' in (await b.policies.get('repository:r/legacy', 'access'))!, false, 'none is no key, not null');
    await a.policies.put('repository:r/bound', 'access', '{"Statement":[1]}', at(2));
    assert.equal('principalIds' in (await b.policies.get('repository:r/bound', 'access'))!, false, 'replaced with the document');
    await a.policies.put('repository:r/legacy', 'access', '{"Statement":[2]}', at(2), {});
    assert.deepEqual((await b.policies.get('repository:r/legacy', 'access'))?.principalIds, {});
  });

  test('policies, registry settings and lifecycle previews', async ({ a }) => {
    await a.policies.put('repository:r/b', 'lifecycle', '{"b":1}', at(1));
    await a.policies.put('repository:r/a', 'lifecycle', '{"a":1}', at(1));
    await a.policies.put('repository:r/a', 'lifecycle', '{"a":2}', at(2));
    await a.policies.put('repository:r/a', 'repository', '{}', at(2));
    assert.deepEqual(await a.policies.get('repository:r/a', 'lifecycle'), { document: '{"a":2}', updatedAt: at(2) });
    assert.deepEqual(await a.policies.scopes('lifecycle'), ['repository:r/a', 'repository:r/b']);
    assert.equal(await a.policies.delete('repository:r/a', 'lifecycle'), true);
    assert.equal(await a.policies.delete('repository:r/a', 'lifecycle'), false);
    assert.equal(await a.policies.get('repository:r/a', 'lifecycle'), undefined);

    assert.equal(await a.registrySettings.get(REGISTRY, 'scanning'), undefined);
    await a.registrySettings.put(REGISTRY, 'scanning', '{"a":1}');
    await a.registrySettings.put(REGISTRY, 'scanning', '{"a":2}');
    assert.equal(await a.registrySettings.get(REGISTRY, 'scanning'), '{"a":2}');
    await a.registrySettings.put(REGISTRY, 'signing', '{"s":1}');
    await a.registrySettings.put(OTHER_REGISTRY, 'replication', '{"o":1}');
    assert.deepEqual(
      await a.registrySettings.all(REGISTRY),
      new Map([
        ['scanning', '{"a":2}'],
        ['signing', '{"s":1}'],
      ]),
      'all of one registry, none of another',
    );
    assert.deepEqual(await a.registrySettings.all(OTHER_REGISTRY), new Map([['replication', '{"o":1}']]));
    assert.equal(await a.registrySettings.delete(REGISTRY, 'signing'), '{"s":1}');
    assert.equal(await a.registrySettings.delete(REGISTRY, 'signing'), undefined);
    assert.equal(await a.registrySettings.get(REGISTRY, 'signing'), undefined);
    assert.equal(await a.registrySettings.get(OTHER_REGISTRY, 'replication'), '{"o":1}');

    const id = await repo(a);
    assert.equal(await a.lifecyclePreviews.get(id), undefined);
    assert.equal(await a.lifecyclePreviews.start(id, 'p1', at(100), at(0)), true);
    assert.equal(await a.lifecyclePreviews.start(id, 'p2', at(150), at(50)), false, 'one is in progress');
    assert.deepEqual(await a.lifecyclePreviews.get(id), { policyText: 'p1', status: 'IN_PROGRESS', startedAt: at(100) });
    assert.equal(await a.lifecyclePreviews.start(id, 'p2', at(200), at(100)), true, 'a stale one is replaced');
    await a.lifecyclePreviews.finish(id, 'COMPLETE', '[]');
    assert.deepEqual(await a.lifecyclePreviews.get(id), { policyText: 'p2', status: 'COMPLETE', startedAt: at(200), results: '[]' });
    assert.equal(await a.lifecyclePreviews.start(id, 'p3', at(201), at(0)), true, 'a finished one is replaced');
    assert.equal((await a.lifecyclePreviews.get(id))?.results, undefined);
  });

  test('identities: accounts, users, access keys and user policies', async ({ a }) => {
    assert.equal(await a.identities.createAccount({ id: '123456789012', name: 'main', now: at(1) }), true);
    assert.equal(await a.identities.createAccount({ id: '123456789012', name: 'again', now: at(2) }), false);
    await a.identities.createAccount({ id: '000000000001', name: 'first', now: at(3) });
    assert.deepEqual(await a.identities.account('123456789012'), { id: '123456789012', name: 'main', createdAt: at(1) });
    assert.deepEqual(
      (await a.identities.listAccounts()).map((x) => x.id),
      ['000000000001', '123456789012'],
    );

    const user = { accountId: '123456789012', name: 'alice', userId: 'AIDAALICE', path: '/' };
    assert.equal(await a.identities.createUser({ ...user, now: at(5) }), true);
    assert.equal(await a.identities.createUser({ ...user, now: at(6) }), false);
    await a.identities.createUser({ ...user, name: 'Bob', userId: 'AIDABOB', now: at(7) });
    assert.deepEqual(await a.identities.user('123456789012', 'alice'), { ...user, tags: [], createdAt: at(5) });
    assert.deepEqual(
      (await a.identities.listUsers('123456789012')).map((u) => u.name),
      ['Bob', 'alice'],
    );

    const key = { accountId: '123456789012', sealedSecret: 'sealed', status: 'Active' as const };
    await a.identities.createAccessKey({ ...key, id: 'AKIAROOT', now: at(8) });
    await a.identities.createAccessKey({ ...key, id: 'AKIAALICE1', userName: 'alice', now: at(9) });
    await a.identities.createAccessKey({ ...key, id: 'AKIAALICE2', userName: 'alice', now: at(10) });
    await assert.rejects(a.identities.createAccessKey({ ...key, id: 'AKIAROOT', now: at(11) }), 'a key id is unique');
    assert.deepEqual(await a.identities.accessKey('AKIAALICE1'), { ...key, id: 'AKIAALICE1', userName: 'alice', createdAt: at(9) });
    assert.deepEqual(
      (await a.identities.listAccessKeys('123456789012', undefined)).map((k) => k.id),
      ['AKIAROOT'],
    );
    assert.deepEqual(
      (await a.identities.listAccessKeys('123456789012', 'alice')).map((k) => k.id),
      ['AKIAALICE1', 'AKIAALICE2'],
    );
    assert.equal(await a.identities.setAccessKeyStatus('AKIAALICE1', 'Inactive'), true);
    assert.equal((await a.identities.accessKey('AKIAALICE1'))?.status, 'Inactive');
    assert.equal(await a.identities.setAccessKeyStatus('AKIANONE', 'Inactive'), false);
    assert.equal(await a.identities.deleteAccessKey('AKIAALICE2'), true);
    assert.equal(await a.identities.deleteAccessKey('AKIAALICE2'), false);

    await a.identities.putUserPolicy('123456789012', 'alice', { kind: 'inline', name: 'p', document: '{"v":1}' });
    await a.identities.putUserPolicy('123456789012', 'alice', { kind: 'inline', name: 'p', document: '{"v":2}' });
    await a.identities.putUserPolicy('123456789012', 'alice', { kind: 'managed', name: 'arn:aws:iam::aws:policy/X' });
    assert.deepEqual(await a.identities.userPolicies('123456789012', 'alice'), [
      { kind: 'inline', name: 'p', document: '{"v":2}' },
      { kind: 'managed', name: 'arn:aws:iam::aws:policy/X' },
    ]);
    assert.equal(await a.identities.deleteUserPolicy('123456789012', 'alice', 'managed', 'arn:aws:iam::aws:policy/X'), true);
    assert.equal(await a.identities.deleteUserPolicy('123456789012', 'alice', 'managed', 'arn:aws:iam::aws:policy/X'), false);

    assert.equal(await a.identities.deleteUser('123456789012', 'alice'), true);
    assert.equal(await a.identities.deleteUser('123456789012', 'alice'), false);
    assert.equal(await a.identities.accessKey('AKIAALICE1'), undefined, "the user's keys go with it");
    assert.deepEqual(await a.identities.userPolicies('123456789012', 'alice'), []);
    assert.ok(await a.identities.accessKey('AKIAROOT'));
  });
}
