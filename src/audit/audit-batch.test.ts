import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyCollector, unpackBlob } from '../metadata/audit-rows.js';
import { storedBatch, unpackCalls } from './audit-batch.js';
import { packCalls } from './packed-calls.js';
import { cloudTrailRecord, lookupColumns, recordedCall, type AuditedCall } from './cloudtrail-record.js';
import { batchIdAt, eventIdOf } from './event-id.js';

const role: AuditedCall = {
  api: 'ecr',
  operation: 'PutLifecyclePolicy',
  method: 'POST',
  principal: {
    kind: 'role',
    arn: 'arn:aws:sts::123456789012:assumed-role/pusher/build-42',
    principalArn: 'arn:aws:iam::123456789012:role/pusher',
    accountId: '123456789012',
    accessKeyId: 'ASIAAAAAAAAAAAAAAAAA',
    session: { role: { name: 'pusher', roleId: 'AROAEXAMPLE', sessionName: 'build-42' } },
  },
  params: { repositoryName: 'web', lifecyclePolicyText: '{"rules":[]}', nested: { list: [1, 'two', null] } },
  error: { code: 'LimitExceededException', message: 'too many' },
  requestId: 'r1',
  time: new Date('2026-12-03T12:00:00.123Z'),
  region: 'eu-west-1',
  sourceIp: '10.0.0.1',
  userAgent: 'aws-cli/2',
};
const bare: AuditedCall = {
  api: 'oci',
  operation: 'manifest-read',
  method: 'GET',
  principal: { kind: 'root', arn: 'arn:aws:iam::123456789012:root', accountId: '123456789012' },
  requestId: 'r2',
  time: new Date('2026-12-03T12:00:01Z'),
  region: 'eu-west-1',
};

describe('a batch of calls sent to the audit thread', () => {
  it('comes out of its packing as it went in, optional fields absent rather than undefined', () => {
    assert.deepEqual(unpackCalls(packCalls([role, bare, role])), [role, bare, role]);
    assert.ok(!('userName' in unpackCalls(packCalls([bare]))[0]!.principal));
  });

  it('crosses as several texts when large, each under 128 KiB, and comes out whole and in order', () => {
    const batch = Array.from({ length: 500 }, (_, i) => ({ ...role, requestId: `r${i}`, time: new Date(role.time.getTime() + i) }));
    const texts = packCalls(batch);
    assert.ok(texts.length > 1 && texts.length <= 10, `a 500-call batch is split into a few texts, not ${texts.length}`);
    for (const t of texts) assert.ok(t.length < 128 * 1024, `a text of ${t.length} characters`);
    assert.deepEqual(unpackCalls(texts), batch);
    assert.deepEqual(packCalls([]), []);
  });

  it('makes the same records on the thread as on the event loop, each under its place in the batch, and leaves out what is not recorded', () => {
    const queued = recordedCall({ ...bare, params: { name: 'web', reference: 'v1' } })!;
    assert.equal(queued.eventId, undefined, 'no id is drawn on the event loop');
    const id = batchIdAt(queued.time);
    const texts = packCalls([role, queued]);
    const { batch, lines } = storedBatch(id, texts, true);
    assert.equal(
      lines,
      `${JSON.stringify(cloudTrailRecord({ ...role, eventId: eventIdOf(id, 0) }))}\n${JSON.stringify(cloudTrailRecord({ ...queued, eventId: eventIdOf(id, 1) }))}\n`,
    );
    assert.deepEqual(unpackBlob(batch!.calls, 1), texts, 'the texts are stored as they came');
    assert.equal(batch!.firstTime, role.time.getTime());
    assert.equal(batch!.lastTime, queued.time.getTime());
    assert.deepEqual(
      batch!.keys.filter((k) => k.attr === 1).map((k) => k.value),
      ['PutLifecyclePolicy', 'BatchGetImage'],
    );
    assert.equal(recordedCall({ ...bare, method: 'HEAD' }), undefined, 'a manifest HEAD is not recorded');
    assert.deepEqual(storedBatch(id, [], true), {});
    assert.equal(storedBatch(id, texts, false).lines, undefined);
  });

  it('stores error messages and user agents cut to 1 KiB, as the records show them', () => {
    const long = { ...role, eventId: eventIdOf(batchIdAt(role.time), 7), userAgent: 'u'.repeat(5000), error: { code: 'X', message: 'm'.repeat(5000) } };
    const [back] = unpackCalls(packCalls([long]));
    assert.equal(back!.userAgent!.length, 1024);
    assert.equal(back!.error!.message.length, 1024);
    assert.deepEqual(cloudTrailRecord({ ...back!, eventId: long.eventId }), cloudTrailRecord(long));
  });
  it('keys each call by its own columns when a run of alike calls shares them', () => {
    // A call that differs from the one before in any input of its columns (caller, operation,
    // method, repository, reference kind, region, a nested parameter) must not take its columns.
    const get = recordedCall({ ...bare, params: { name: 'web', reference: 'v1' } })!;
    const user = { ...get.principal, kind: 'user' as const, arn: 'arn:aws:iam::123456789012:user/ann', userName: 'ann', accessKeyId: 'AKIAANN' };
    const variants: AuditedCall[] = [
      get,
      get,
      { ...get, requestId: 'other', sourceIp: '10.1.1.1', error: { code: 'X', message: 'y' } },
      { ...get, params: { name: 'api', reference: 'v1' } },
      { ...get, params: { name: 'api', digest: 'sha256:abc' }, operation: 'blob-read' },
      { ...get, params: { name: 'api', reference: 'sha256:abc' }, operation: 'manifest-write', method: 'PUT' },
      { ...get, method: 'HEAD' },
      { ...get, principal: user },
      { ...get, principal: user, region: 'us-west-2' },
      { ...get, principal: { ...user, accessKeyId: 'AKIAOTHER' } },
      { ...role, params: { repositoryName: 'web', nested: { list: [1] } } },
      { ...role, params: { repositoryName: 'api', nested: { list: [1] } } },
      { ...role, params: { repositoryName: 'api', nested: { list: [1] } } },
      { ...role, api: 'ecr-public' as const, params: { repositoryName: 'api' } },
      get,
    ].map((c, i) => ({ ...c, time: new Date(get.time.getTime() + i * 1000) }));
    const texts = packCalls(variants);
    const expected = new KeyCollector();
    variants.forEach((c) => {
      const cols = lookupColumns(c);
      if (cols) expected.addColumns(cols, c.time.getTime(), 0);
    });
    assert.deepEqual(storedBatch('b', texts, false).batch!.keys, expected.keys());
  });
});
