import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packCalls, rowsOf, unpackCalls } from './audit-batch.js';
import { cloudTrailRecord, recordedCall, type AuditedCall } from './cloudtrail-record.js';
import { recordJson } from './stored-call.js';

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
  eventId: '0193d1c2-0000-7000-8000-000000000000',
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

  it('makes the same records on the thread as on the event loop, and leaves out what is not recorded', () => {
    const queued = recordedCall({ ...bare, params: { name: 'web', reference: 'v1' } })!;
    const { rows, lines } = rowsOf(unpackCalls(packCalls([queued])), true);
    assert.equal(recordJson({ ...rows[0]!, seq: 1 }), JSON.stringify(cloudTrailRecord(queued)));
    assert.equal(lines, `${JSON.stringify(cloudTrailRecord(queued))}\n`);
    assert.equal(recordedCall({ ...bare, method: 'HEAD' }), undefined, 'a manifest HEAD is not recorded');
    assert.deepEqual(rowsOf([], true), { rows: [] });
    // A call queued without an event id gets one, the same in the row and in the file's line.
    const unnamed = rowsOf([bare], true);
    assert.equal(JSON.parse(unnamed.lines!).eventID, unnamed.rows[0]!.eventId);
  });
});
