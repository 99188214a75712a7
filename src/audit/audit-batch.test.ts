import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyCollector, unpackBlob } from '../metadata/audit-rows.js';
import { CALLS_PER_TEXT, storedBatch, unpackCalls } from './audit-batch.js';
import { packCalls, wireOf } from './packed-calls.js';
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
    const { batch, lines } = storedBatch(id, wireOf([role, queued]), true);
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
    assert.deepEqual(storedBatch(id, wireOf([]), true), {});
    assert.deepEqual(storedBatch(id, wireOf([]), false), {});
    const keyedOnly = storedBatch(id, wireOf([role, queued]), false);
    assert.equal(keyedOnly.lines, undefined);
    assert.deepEqual(keyedOnly.batch, batch, 'keyed from the marks as when parsed whole');
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
    const expected = new KeyCollector();
    variants.forEach((c) => {
      const cols = lookupColumns(c);
      if (cols) expected.addColumns(cols, c.time.getTime(), 0);
    });
    // Keyed from the event loop's marks (no lines wanted) and parsed whole (lines wanted).
    assert.deepEqual(storedBatch('b', wireOf(variants), false).batch!.keys, expected.keys());
    assert.deepEqual(storedBatch('b', wireOf(variants), true).batch!.keys, expected.keys());
  });

  it('keys anew a call that differs from the one before in any single input of its columns', () => {
    // Each change alone, against the call before it: the event loop's marks must see every one.
    const get = recordedCall({ ...bare, params: { name: 'web', reference: 'v1' } })!;
    const user = { kind: 'user' as const, arn: 'arn:aws:iam::123456789012:user/ann', accountId: '123456789012', userName: 'ann', accessKeyId: 'AKIAANN' };
    const kms: AuditedCall = { ...get, api: 'kms', operation: 'Encrypt', method: 'POST', principal: user, params: { keyId: 'alias/a' } };
    const changes: Array<(c: AuditedCall) => AuditedCall> = [
      (c) => ({ ...c, region: 'us-west-2' }),
      (c) => ({ ...c, principal: { ...c.principal, accessKeyId: 'AKIAOTHER' } }),
      (c) => ({ ...c, principal: { ...c.principal, userName: 'bob' } }),
      (c) => ({ ...c, principal: { ...c.principal, accountId: '210987654321' } }),
      (c) => ({ ...c, principal: { ...c.principal, kind: 'root' } }),
      (c) => ({ ...c, principal: { ...c.principal, kind: 'role', session: { role: { name: 'r', roleId: 'AROA1', sessionName: 's1' } } } }),
      (c) => ({ ...c, params: { keyId: 'alias/b' } }),
      (c) => ({ ...c, params: { keyId: 'alias/a', extra: 'x' } }),
      (c) => ({ ...c, operation: 'Decrypt' }),
      (c) => ({ ...c, api: 'ecr', operation: 'Encrypt' }),
      (c) => ({ ...c, method: 'GET' }),
    ];
    const role = (c: AuditedCall) => ({
      ...c,
      principal: { ...c.principal, kind: 'role' as const, session: { role: { name: 'r', roleId: 'AROA1', sessionName: 's0' } } },
    });
    // A parameter only the call before had, and a method only (a manifest HEAD is not recorded).
    const ecr: AuditedCall = { ...kms, api: 'ecr', operation: 'DescribeImages', params: { registryId: '123456789012' } };
    const pulled = { ...get, params: { name: 'pulled-once', reference: 'v1' } };
    const more = [ecr, { ...ecr, params: { registryId: '123456789012', repositoryName: 'named-once' } }, ecr, pulled, { ...pulled, method: 'HEAD' }];
    const calls = [
      ...more,
      kms,
      ...changes.flatMap((f) => [f(kms), kms]),
      role(kms),
      role(role(kms)),
      { ...role(kms), principal: { ...role(kms).principal, session: { role: { name: 'r', roleId: 'AROA2', sessionName: 's0' } } } },
    ];
    const timed = calls.map((c, i) => ({ ...c, time: new Date(get.time.getTime() + i * 1000) }));
    const expected = new KeyCollector();
    for (const c of timed) {
      const cols = lookupColumns(c);
      if (cols) expected.addColumns(cols, c.time.getTime(), 0);
    }
    assert.deepEqual(storedBatch('b', wireOf(timed), false).batch!.keys, expected.keys());
  });

  it('keys runs of alike calls across texts with their times and texts, as when each is keyed alone', () => {
    // A flood: one caller and repository, out-of-order times, runs crossing texts, a caller who
    // is the same in values but not the same object, and parameters in another order.
    const get = recordedCall({ ...bare, params: { name: 'web', reference: 'v1' } })!;
    const calls: AuditedCall[] = Array.from({ length: 2 * CALLS_PER_TEXT + 37 }, (_, i) => ({
      ...get,
      requestId: `r${i}`,
      time: new Date(get.time.getTime() + ((i * 7919) % 1000)),
      ...(i % 50 === 10 && { principal: { ...get.principal } }),
      ...(i % 50 === 20 && { params: { reference: 'v1', name: 'web' } }),
      ...(i === 150 && { params: { name: 'api', reference: 'v1' } }),
      ...(i === 160 && { region: 'us-west-2' }),
    }));
    const expected = new KeyCollector();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    calls.forEach((c, i) => {
      expected.addColumns(lookupColumns(c)!, c.time.getTime(), Math.floor(i / CALLS_PER_TEXT));
      first = Math.min(first, c.time.getTime());
      last = Math.max(last, c.time.getTime());
    });
    const { batch } = storedBatch('b', wireOf(calls), false);
    assert.deepEqual(batch!.keys, expected.keys());
    assert.equal(batch!.firstTime, first);
    assert.equal(batch!.lastTime, last);
    assert.deepEqual(unpackBlob(batch!.calls, -1), packCalls(calls), 'the texts are stored as they came');
  });
});
