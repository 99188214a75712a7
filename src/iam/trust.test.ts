/** Trust policies through the evaluator: who may assume a role, and session policies narrowing a role. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, type Caller } from './evaluator.js';
import { parsePolicy, type Policy } from './policy.js';

const ROLE = 'arn:aws:iam::111111111111:role/pusher';
const user = (name: string, account = '111111111111'): Caller => ({ arn: `arn:aws:iam::${account}:user/${name}`, accountId: account, kind: 'user' });
const trust = (statement: object): Policy =>
  parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }), { kind: 'resource', maxLength: 4096 });
const identity = (statement: object): Policy =>
  parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }), { kind: 'identity', maxLength: 4096 });
const assume = (caller: Caller, t: Policy, ids: Policy[] = [], context: Record<string, string> = {}, action = 'sts:AssumeRole') =>
  evaluate({
    caller,
    identityPolicies: ids,
    resourcePolicies: [t],
    action,
    resource: ROLE,
    resourceAccountId: '111111111111',
    context,
    resourcePolicyRequired: true,
  }).allowed;
const allowAssume = identity({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ROLE });

describe('trust policy evaluation', () => {
  it('a trust naming the user grants without an identity policy; naming the account needs one', () => {
    assert.ok(assume(user('ci'), trust({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:user/ci' }, Action: 'sts:AssumeRole' })));
    const account = trust({ Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:AssumeRole' });
    assert.equal(assume(user('ci'), account), false);
    assert.ok(assume(user('ci'), account, [allowAssume]));
  });

  it('an identity Allow alone does not get past a trust that does not name the caller', () => {
    const other = trust({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:user/someone' }, Action: 'sts:AssumeRole' });
    assert.equal(assume(user('ci'), other, [allowAssume]), false);
    assert.equal(
      assume(user('ci', '222222222222'), trust({ Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:AssumeRole' }), [allowAssume]),
      false,
    );
  });

  it('across accounts both the trust and the caller’s policies must allow', () => {
    const t = trust({ Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: 'sts:AssumeRole' });
    assert.equal(assume(user('ci', '222222222222'), t), false);
    assert.ok(assume(user('ci', '222222222222'), t, [allowAssume]));
  });

  it('a role session is named by its role ARN; conditions and Deny hold', () => {
    const session: Caller = {
      arn: 'arn:aws:sts::111111111111:assumed-role/builder/s1',
      principalArn: 'arn:aws:iam::111111111111:role/builder',
      accountId: '111111111111',
      kind: 'role',
    };
    assert.ok(assume(session, trust({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/builder' }, Action: 'sts:AssumeRole' })));
    const named = trust({ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:RoleSessionName': 'ok' } } });
    assert.equal(assume(user('ci'), named, [], { 'sts:RoleSessionName': 'nope' }), false);
    assert.ok(assume(user('ci'), named, [], { 'sts:RoleSessionName': 'ok' }));
    const denied = parsePolicy(
      JSON.stringify({
        Statement: [
          { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
          { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111111111111:user/ci' }, Action: 'sts:*' },
        ],
      }),
      { kind: 'resource', maxLength: 4096 },
    );
    assert.equal(assume(user('ci'), denied), false);
  });

  it('a web identity is only named as its federated provider, with its claims as conditions', () => {
    const provider = 'arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com';
    const web: Caller = { kind: 'federated', arn: `federated:${provider}`, accountId: '111111111111' };
    const t = trust({
      Effect: 'Allow',
      Principal: { Federated: provider },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:acme/*' } },
    });
    const claims = (sub: string) => ({ 'token.actions.githubusercontent.com:sub': sub });
    assert.ok(assume(web, t, [], claims('repo:acme/app:ref:refs/heads/main'), 'sts:AssumeRoleWithWebIdentity'));
    assert.equal(assume(web, t, [], claims('repo:evil/app'), 'sts:AssumeRoleWithWebIdentity'), false);
    assert.equal(assume(web, t, [], claims('repo:acme/app'), 'sts:AssumeRole'), false, 'another action');
    // Naming the account or another provider does not let a web identity in.
    assert.equal(assume(web, trust({ Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:*' }), [], {}, 'sts:AssumeRoleWithWebIdentity'), false);
    const otherProvider = trust({ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::111111111111:oidc-provider/evil.example' }, Action: 'sts:*' });
    assert.equal(assume(web, otherProvider, [], {}, 'sts:AssumeRoleWithWebIdentity'), false);
    // And a user is never a federated provider.
    assert.equal(assume(user('ci'), t, [allowAssume], claims('repo:acme/x'), 'sts:AssumeRoleWithWebIdentity'), false);
  });
});

describe('session policies and principal facts', () => {
  const role: Caller = { arn: 'arn:aws:sts::111111111111:assumed-role/pusher/s', principalArn: ROLE, accountId: '111111111111', kind: 'role' };
  const can = (caller: Caller, action: string, ids: Policy[], resourcePolicies: Policy[] = []) =>
    evaluate({ caller, identityPolicies: ids, resourcePolicies, action, resource: '*', resourceAccountId: '111111111111', context: {} }).allowed;
  const rolePolicy = identity({ Effect: 'Allow', Action: 'ecr:*', Resource: '*' });

  it('a session policy narrows the role: both must allow', () => {
    const narrowed = { ...role, sessionPolicies: [identity({ Effect: 'Allow', Action: 'ecr:Describe*', Resource: '*' })] };
    assert.ok(can(narrowed, 'ecr:DescribeRepositories', [rolePolicy]));
    assert.equal(can(narrowed, 'ecr:PutImage', [rolePolicy]), false);
    assert.equal(
      can({ ...role, sessionPolicies: [identity({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })] }, 'kms:Encrypt', [rolePolicy]),
      false,
      'never wider',
    );
  });

  it('policies see the role ARN as aws:PrincipalArn, AssumedRole as the type, and session tags', () => {
    const tagged = { ...role, principalTags: { Team: 'red' } };
    const cond = (key: string, value: string) => identity({ Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: { StringEquals: { [key]: value } } });
    assert.ok(can(tagged, 'ecr:ListImages', [cond('aws:PrincipalArn', ROLE)]));
    assert.ok(can(tagged, 'ecr:ListImages', [cond('aws:PrincipalType', 'AssumedRole')]));
    assert.ok(can(tagged, 'ecr:ListImages', [cond('aws:PrincipalTag/team', 'red')]));
    assert.equal(can(tagged, 'ecr:ListImages', [cond('aws:PrincipalTag/team', 'blue')]), false);
  });
});
