/** Contract: the event outbox (written with the change it reports) and EventBridge resources (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { registryKey, type RegistryKey } from '../core/registry-key.js';
import { at, blob, dg, push, REGISTRY, OTHER_REGISTRY, repo, type ContractTest } from './contract-fixtures.js';
import type { MetadataStore, OutboxEvent, RemovedImage } from './types.js';

// REGISTRY's account in another region: its events take their turns with REGISTRY's.
const SAME_ACCOUNT_EU = registryKey('123456789012', 'eu-west-1');

let serial = 0;
const ev = (detailType = 'ECR Image Action', registryKey: RegistryKey = REGISTRY): OutboxEvent => {
  const id = `00000000-0000-4000-8000-${String(++serial).padStart(12, '0')}`;
  return { id, registryKey, detailType, body: JSON.stringify({ id, 'detail-type': detailType }) };
};

async function drain(s: MetadataStore, now = at(100)): Promise<string[]> {
  const rows = await s.eventOutbox.claim('t', 60_000, 1000, now);
  await s.eventOutbox.dispatch(
    rows.map((r) => r.seq),
    't',
    [],
    now,
  );
  return rows.map((r) => r.detailType);
}

export function eventsContract(test: ContractTest): void {
  test('outbox: a push writes its events with it; a refused push writes none', async ({ a }) => {
    const e = ev();
    const { result } = await push(a, { tag: 'v1', events: [e] });
    assert.equal(result.kind, 'ok');
    const id = await repo(a);
    const missing = await push(a, { blobs: [dg('absent')], salt: 'x', events: [ev()] });
    assert.equal(missing.result.kind, 'missing');
    await push(a, { tag: 'locked', tagMutable: false, salt: 'p', events: [] });
    const immutable = await push(a, { tag: 'locked', tagMutable: false, salt: 'q', events: [ev()] });
    assert.equal(immutable.result.kind, 'tagImmutable');
    const rows = await a.eventOutbox.claim('n1', 60_000, 10, at(10));
    assert.deepEqual(
      rows.map((r) => [r.id, r.registryKey, r.detailType, r.body]),
      [[e.id, REGISTRY, e.detailType, e.body]],
    );
    assert.ok(id > 0);
  });

  test('outbox: claims are exclusive until they lapse; dispatch enqueues the deliveries and removes the rows', async ({ a, b }) => {
    const events = [ev(), ev('ECR Image Scan'), ev('ECR Image Action', SAME_ACCOUNT_EU)];
    await push(a, { tag: 'v1', events });
    assert.equal(await a.eventOutbox.pending(), 3);
    const first = await a.eventOutbox.claim('n1', 1000, 2, at(0));
    assert.deepEqual(
      first.map((r) => r.id),
      [events[0]!.id, events[1]!.id],
      'oldest first within an account, whichever its region',
    );
    const second = await b.eventOutbox.claim('n2', 1000, 10, at(10));
    assert.deepEqual(
      second.map((r) => r.id),
      [events[2]!.id],
      'another node skips claimed rows',
    );
    assert.deepEqual(await b.eventOutbox.claim('n2', 1000, 10, at(1000)), []);
    const lapsed = await b.eventOutbox.claim('n2', 1000, 10, at(1001));
    assert.deepEqual(
      lapsed.map((r) => r.id),
      [events[0]!.id, events[1]!.id],
      'a lapsed claim is taken over',
    );
    await a.eventOutbox.dispatch(
      first.map((r) => r.seq),
      'n1',
      [{ kind: 'event-delivery', payload: { x: 1 } }],
      at(1002),
    );
    assert.equal(await a.eventOutbox.pending(), 3, 'a holder that lost its claim removes nothing');
    assert.equal(await a.jobs.pending('event-delivery'), 1, 'its deliveries are still enqueued (at least once)');
    await b.eventOutbox.dispatch(
      [...lapsed, ...second].map((r) => r.seq),
      'n2',
      [
        { kind: 'event-delivery', payload: { x: 2 } },
        { kind: 'event-delivery', payload: { x: 3 } },
      ],
      at(1003),
    );
    assert.equal(await a.eventOutbox.pending(), 0);
    assert.equal(await a.jobs.pending('event-delivery'), 3);
  });

  test('outbox: deletes report what they removed, in their own transaction; a refused delete reports nothing', async ({ a }) => {
    const id = await repo(a);
    const layer = await blob(a, id, 'layer');
    const child = await push(a, { blobs: [layer], tags: ['c1', 'c2'], salt: 'child' });
    const index = await push(a, { manifests: [child.digest], tag: 'idx', salt: 'index' });
    const referrer = await push(a, { subject: child.digest, artifactType: 'application/x.sig', salt: 'sig' });
    const seen: RemovedImage[] = [];
    const report = (r: RemovedImage) => {
      seen.push(r);
      return [ev(r.untagged ? 'untag' : 'delete')];
    };
    assert.equal((await a.manifests.delete(id, child.digest, at(1), report)).kind, 'referenced');
    assert.deepEqual(await drain(a), []);
    assert.equal(seen.length, 0);
    const results = await a.manifests.deleteImages(id, [{ tag: 'c1' }, { digest: referrer.digest }, { digest: index.digest }], at(2), report);
    assert.deepEqual(
      results.map((r) => r.kind),
      ['deleted', 'deleted', 'deleted'],
    );
    assert.deepEqual(await drain(a), ['untag', 'delete', 'delete']);
    assert.deepEqual(seen[0], { digest: child.digest, tag: 'c1', tags: ['c1', 'c2'], mediaType: 'application/vnd.oci.image.manifest.v1+json', untagged: true });
    assert.deepEqual(
      [seen[1]!.digest, seen[1]!.subject, seen[1]!.artifactType, seen[1]!.tags, seen[1]!.untagged],
      [referrer.digest, child.digest, 'application/x.sig', [], false],
    );
    assert.deepEqual([seen[2]!.digest, seen[2]!.tags], [index.digest, ['idx']]);
    assert.equal(await a.tags.delete(id, 'c2', { events: report, now: at(3) }), true);
    assert.equal(await a.tags.delete(id, 'c2', { events: report, now: at(3) }), false);
    assert.deepEqual(await drain(a), ['untag']);
    assert.equal((await a.manifests.delete(id, child.digest, at(4), report)).kind, 'deleted');
    assert.deepEqual(await drain(a), ['delete']);
    assert.deepEqual(seen.at(-1)!.tags, []);
  });

  test('outbox: a finished scan is reported with it, unless the image is gone', async ({ a }) => {
    const { digest } = await push(a, { tag: 'v1', scan: { kind: 'scan', payload: {} } });
    const id = await repo(a);
    await a.scans.finish(id, digest, { status: 'COMPLETE', description: 'done', completedAt: at(5) }, [ev('ECR Image Scan')]);
    assert.deepEqual(await drain(a), ['ECR Image Scan']);
    assert.equal((await a.manifests.delete(id, digest, at(6))).kind, 'deleted');
    await a.scans.finish(id, digest, { status: 'COMPLETE', description: 'done', completedAt: at(7) }, [ev('ECR Image Scan')]);
    assert.deepEqual(await drain(a), []);
  });

  test('resources: create, replace, list by prefix in name order, delete (a rule with its targets)', async ({ a, b }) => {
    const put = (name: string, document: string, replace: boolean, kind: 'rule' | 'connection' = 'rule') =>
      a.eventResources.put({ registryKey: REGISTRY, kind, name, document, now: at(1) }, replace);
    assert.equal(await put('push-b', '{"v":1}', false), true);
    assert.equal(await put('push-b', '{"v":2}', false), false);
    assert.equal((await b.eventResources.get(REGISTRY, 'rule', 'push-b'))!.document, '{"v":1}');
    assert.equal(await put('push-b', '{"v":3}', true), true);
    assert.equal((await b.eventResources.get(REGISTRY, 'rule', 'push-b'))!.document, '{"v":3}');
    await put('push-a', '{}', false);
    await put('push_%', '{}', false);
    await put('scan', '{}', false);
    await put('push-c', '{}', false, 'connection');
    assert.equal(await b.eventResources.get(OTHER_REGISTRY, 'rule', 'push-a'), undefined);
    const names = async (prefix: string | undefined, after?: string) =>
      (await b.eventResources.list(REGISTRY, 'rule', { limit: 2, ...(prefix !== undefined && { prefix }), ...(after !== undefined && { after }) })).map(
        (r) => r.name,
      );
    assert.deepEqual(await names('push'), ['push-a', 'push-b']);
    assert.deepEqual(await names('push', 'push-b'), ['push_%']);
    assert.deepEqual(await names('push_'), ['push_%'], 'a prefix is matched literally');
    assert.deepEqual(await names(undefined, 'push_%'), ['scan']);

    assert.equal(await a.eventResources.putTargets(REGISTRY, 'nope', [{ id: 't', document: '{}' }], 5), 'noRule');
    assert.equal(
      await a.eventResources.putTargets(
        REGISTRY,
        'push-a',
        [
          { id: 't2', document: '{"n":2}' },
          { id: 't1', document: '{"n":1}' },
        ],
        2,
      ),
      'ok',
    );
    assert.equal(await a.eventResources.putTargets(REGISTRY, 'push-a', [{ id: 't3', document: '{}' }], 2), 'limit');
    assert.equal(await a.eventResources.putTargets(REGISTRY, 'push-a', [{ id: 't1', document: '{"n":11}' }], 2), 'ok', 'a replaced target counts once');
    assert.deepEqual(await b.eventResources.targets(REGISTRY, 'push-a'), [
      { id: 't1', document: '{"n":11}' },
      { id: 't2', document: '{"n":2}' },
    ]);
    assert.deepEqual(await b.eventResources.removeTargets(REGISTRY, 'push-a', ['t2', 'zz']), ['t2']);
    assert.equal(await b.eventResources.delete(REGISTRY, 'rule', 'push-a'), true);
    assert.equal(await b.eventResources.delete(REGISTRY, 'rule', 'push-a'), false);
    assert.deepEqual(await a.eventResources.targets(REGISTRY, 'push-a'), [], 'the targets went with the rule');
    await put('push-a', '{}', false);
    assert.deepEqual(await a.eventResources.targets(REGISTRY, 'push-a'), [], 'a new rule of the same name starts without targets');
  });
}
