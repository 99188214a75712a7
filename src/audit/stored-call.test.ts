import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudTrailRecord, recordedCall, resourceNameOf, usernameOf, type AuditedCall } from './cloudtrail-record.js';
import { recordJson, storedRow } from './stored-call.js';

const account = '123456789012';
const time = new Date('2026-12-03T12:00:00.123Z');
const calls: Record<string, Omit<AuditedCall, 'eventId'>> = {
  'a manifest GET by the root': {
    api: 'oci',
    operation: 'manifest-read',
    method: 'GET',
    principal: { kind: 'root', arn: `arn:aws:iam::${account}:root`, accountId: account, accessKeyId: 'AKIAIOSFODNN7EXAMPLE' },
    params: { name: 'team/web', reference: 'v1' },
    requestId: 'r1',
    time,
    region: 'eu-west-1',
    sourceIp: '10.0.0.1',
    userAgent: 'containers/5.0',
  },
  'a refused /v2 push by a user, with no address or agent': {
    api: 'oci',
    operation: 'manifest-write',
    method: 'PUT',
    principal: { kind: 'user', arn: `arn:aws:iam::${account}:user/ci`, accountId: account, userName: 'ci' },
    params: { name: 'team/web', reference: `sha256:${'a'.repeat(64)}` },
    error: { code: 'DENIED', message: 'not allowed' },
    requestId: 'r2',
    time,
    region: 'eu-west-1',
  },
  'a JSON call by an assumed role, parameters redacted, a long agent': {
    api: 'ecr',
    operation: 'PutLifecyclePolicy',
    method: 'POST',
    principal: {
      kind: 'role',
      arn: `arn:aws:sts::${account}:assumed-role/pusher/build-42`,
      principalArn: `arn:aws:iam::${account}:role/pusher`,
      accountId: account,
      accessKeyId: 'ASIAAAAAAAAAAAAAAAAA',
      session: { role: { name: 'pusher', roleId: 'AROAEXAMPLE', sessionName: 'build-42' } },
    },
    params: { repositoryName: 'web', registryId: '444455556666', lifecyclePolicyText: '{"rules":[]}', nested: { list: [1, 'two', null], secretKey: 's' } },
    error: { code: 'LimitExceededException', message: 'x'.repeat(3000) },
    requestId: 'r3',
    time,
    region: 'eu-west-1',
    userAgent: 'u'.repeat(5000),
  },
  'a KMS call naming a key by alias': {
    api: 'kms',
    operation: 'Encrypt',
    method: 'POST',
    principal: { kind: 'root', arn: `arn:aws:iam::${account}:root`, accountId: account },
    params: { KeyId: 'alias/app', Plaintext: 'c2VjcmV0' },
    requestId: 'r4',
    time,
    region: 'us-east-1',
  },
  'an ECR Public call with no parameters': {
    api: 'ecr-public',
    operation: 'DescribeRegistries',
    method: 'POST',
    principal: { kind: 'root', arn: `arn:aws:iam::${account}:root`, accountId: account },
    requestId: 'r5',
    time,
    region: 'us-east-1',
  },
};

describe('a call as the trail stores it', () => {
  for (const [what, raw] of Object.entries(calls)) {
    it(`gives back the same record and lookup columns: ${what}`, () => {
      // Stored rows (carried over from migration 8's table) were named when queued.
      const call = { ...recordedCall(raw)!, eventId: '0193d1c2-0000-7000-8000-000000000001' };
      const record = cloudTrailRecord(call)!;
      const row = storedRow(call)!;
      // What LookupEvents returns is the very JSON the record builder makes (and the auditLog file holds).
      assert.equal(recordJson(row), JSON.stringify(record));
      const resource = record.resources?.[0];
      assert.deepEqual(
        { ...row, record: '' },
        {
          eventId: record.eventID,
          accountId: record.recipientAccountId,
          eventTime: time,
          eventName: record.eventName,
          eventSource: record.eventSource,
          readOnly: record.readOnly,
          record: '',
          ...(usernameOf(record) !== undefined && { username: usernameOf(record) }),
          ...(record.userIdentity.accessKeyId !== undefined && { accessKeyId: record.userIdentity.accessKeyId }),
          ...(resource && { resourceType: resource.type, resourceName: resourceNameOf(resource) }),
        },
      );
      // The columns and the constants are not stored again: the stored text is a fraction of the record's.
      assert.ok(!row.record.includes('eventVersion') && !row.record.includes(record.eventID), row.record);
    });
  }

  it('reads a row stored before as the record it holds', () => {
    const old = '{"eventVersion":"1.08","eventID":"e"}';
    assert.equal(recordJson({ eventId: 'e', accountId: account, eventTime: time, eventName: 'X', eventSource: 's', readOnly: true, record: old }), old);
  });

  it('stores nothing for a call that is not recorded', () => {
    assert.equal(storedRow({ ...calls['a manifest GET by the root']!, method: 'HEAD' }), undefined);
  });
});
