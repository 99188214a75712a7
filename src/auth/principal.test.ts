/** Principal ARNs in IAM's shapes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anonymousPrincipal, principalForKey, rootArn, rootPrincipal, userArn, userPrincipal } from './principal.js';

describe('principals', () => {
  it('user ARNs include the path', () => {
    assert.equal(userArn('123456789012', 'alice'), 'arn:aws:iam::123456789012:user/alice');
    assert.equal(userArn('123456789012', 'bob', '/team/ops/'), 'arn:aws:iam::123456789012:user/team/ops/bob');
    assert.throws(() => userArn('123456789012', 'bob', 'team'), /path/);
  });

  it('root and user principals', () => {
    assert.equal(rootArn('123456789012'), 'arn:aws:iam::123456789012:root');
    assert.deepEqual(rootPrincipal('123456789012'), { arn: 'arn:aws:iam::123456789012:root', accountId: '123456789012', kind: 'root' });
    assert.deepEqual(userPrincipal('123456789012', 'alice', '/', 'AKIAX'), {
      arn: 'arn:aws:iam::123456789012:user/alice',
      accountId: '123456789012',
      kind: 'user',
      userName: 'alice',
      accessKeyId: 'AKIAX',
    });
  });

  it('an access key acts as its user, or as the account root', () => {
    assert.equal(principalForKey({ id: 'AKIAX', accountId: '111111111111' }).kind, 'root');
    const p = principalForKey({ id: 'AKIAY', accountId: '111111111111', userName: 'ci', userPath: '/bots/' });
    assert.equal(p.arn, 'arn:aws:iam::111111111111:user/bots/ci');
    assert.equal(p.accessKeyId, 'AKIAY');
  });

  it("a user's tags are its aws:PrincipalTag/*: present only when it has some", () => {
    const tagged = principalForKey({ id: 'AKIAY', accountId: '111111111111', userName: 'ci', userTags: [{ Key: 'team', Value: 'web' }] });
    assert.deepEqual(tagged.principalTags, { team: 'web' });
    assert.equal('principalTags' in principalForKey({ id: 'AKIAY', accountId: '111111111111', userName: 'ci', userTags: [] }), false);
    assert.equal('principalTags' in userPrincipal('111111111111', 'ci'), false);
  });

  it('the anonymous principal belongs to no account and cannot be mutated', () => {
    assert.equal(anonymousPrincipal.kind, 'anonymous');
    assert.equal(anonymousPrincipal.accountId, '');
    assert.ok(Object.isFrozen(anonymousPrincipal));
  });
});
