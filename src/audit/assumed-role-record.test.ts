import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudTrailRecord, type AuditedCall } from './cloudtrail-record.js';
import { storedRow } from './stored-call.js';

describe('an assumed role in the audit trail', () => {
  it('is recorded as AssumedRole, with the role as the session issuer and the session name as the user name', () => {
    const call: AuditedCall = {
      api: 'ecr',
      operation: 'DescribeRepositories',
      method: 'POST',
      principal: {
        kind: 'role',
        arn: 'arn:aws:sts::123456789012:assumed-role/pusher/build-42',
        principalArn: 'arn:aws:iam::123456789012:role/pusher',
        accountId: '123456789012',
        accessKeyId: 'ASIAAAAAAAAAAAAAAAAA',
        session: { role: { name: 'pusher', roleId: 'AROAEXAMPLE', sessionName: 'build-42' } },
      },
      requestId: 'r1',
      time: new Date('2026-12-03T12:00:00Z'),
      region: 'us-east-1',
    };
    const record = cloudTrailRecord(call)!;
    assert.deepEqual(record.userIdentity, {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLE:build-42',
      arn: 'arn:aws:sts::123456789012:assumed-role/pusher/build-42',
      accountId: '123456789012',
      accessKeyId: 'ASIAAAAAAAAAAAAAAAAA',
      userName: undefined,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAEXAMPLE',
          arn: 'arn:aws:iam::123456789012:role/pusher',
          accountId: '123456789012',
          userName: 'pusher',
        },
      },
    });
    assert.equal(storedRow(call)!.username, 'build-42');
  });
});
