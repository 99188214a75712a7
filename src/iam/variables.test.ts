// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside plain strings
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, type AuthzRequest, type Caller } from './evaluator.js';
import { parsePolicy } from './policy.js';
import { resolveVariables } from './variables.js';

const alice: Caller = { arn: 'arn:aws:iam::111111111111:user/alice', accountId: '111111111111', kind: 'user' };
const repo = (name: string) => `arn:aws:ecr:us-east-1:111111111111:repository/${name}`;
const policy = (statement: object, version = '2012-10-17') =>
  parsePolicy(JSON.stringify({ Version: version, Statement: [statement] }), { kind: 'identity', maxLength: 10240 });
const allowed = (p: ReturnType<typeof policy>, over: Partial<AuthzRequest> = {}) =>
  evaluate({
    caller: alice,
    identityPolicies: [p],
    resourcePolicies: [],
    action: 'ecr:BatchGetImage',
    resource: repo('alice/app'),
    resourceAccountId: '111111111111',
    context: {},
    ...over,
  }).allowed;
const pull = (extra: object) => ({ Effect: 'Allow', Action: 'ecr:BatchGetImage', ...extra });

describe('policy variables', () => {
  it('resolves keys case-insensitively, defaults, and the escapes ${*} ${?} ${$}', () => {
    const lookup = (k: string) => ({ 'aws:username': ['alice'], 'aws:tagkeys': ['a', 'b'] })[k];
    assert.deepEqual(resolveVariables('x/${AWS:UserName}/y', lookup), [
      { text: 'x/', literal: false },
      { text: 'alice', literal: true },
      { text: '/y', literal: false },
    ]);
    assert.equal(resolveVariables('${aws:userid}', lookup), undefined);
    assert.deepEqual(resolveVariables("${aws:userid, 'it''s'}", lookup), [{ text: "it's", literal: true }]);
    assert.equal(resolveVariables('${aws:tagkeys}', lookup), undefined, 'a multivalued key is no variable');
    assert.deepEqual(
      resolveVariables('${*}${?}${$}', lookup)?.map((p) => p.text),
      ['*', '?', '$'],
    );
  });

  it('applies in Resource and string conditions of 2012-10-17 policies only', () => {
    assert.equal(allowed(policy(pull({ Resource: repo('${aws:username}/*') }))), true);
    assert.equal(allowed(policy(pull({ Resource: repo('${aws:username}/*') })), { resource: repo('bob/app') }), false);
    assert.equal(allowed(policy(pull({ Resource: repo('${aws:username}/*') }), '2008-10-17')), false, 'literal in 2008-10-17');
    const tagged = policy(pull({ Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/owner': '${aws:username}' } } }));
    assert.equal(allowed(tagged, { context: { 'aws:ResourceTag/owner': 'alice' } }), true);
    assert.equal(allowed(tagged, { context: { 'aws:ResourceTag/owner': 'bob' } }), false);
  });

  it('takes a substituted value literally: a * in it is no wildcard', () => {
    const p = policy(pull({ Resource: '*', Condition: { StringLike: { 'aws:ResourceTag/owner': '${aws:PrincipalTag/team}-*' } } }));
    const caller = (team: string): Caller => ({ ...alice, principalTags: { team } });
    assert.equal(allowed(p, { caller: caller('blue'), context: { 'aws:ResourceTag/owner': 'blue-1' } }), true);
    assert.equal(allowed(p, { caller: caller('*'), context: { 'aws:ResourceTag/owner': 'red-1' } }), false);
    assert.equal(allowed(p, { caller: caller('*'), context: { 'aws:ResourceTag/owner': '*-1' } }), true);
  });

  it('a variable without a value: Resource never matches; a condition value is null, which only negated operators hold against', () => {
    const role: Caller = { arn: 'arn:aws:sts::111111111111:assumed-role/r/s', accountId: '111111111111', kind: 'role' };
    assert.equal(allowed(policy(pull({ Resource: repo('${aws:username}/*') })), { caller: role }), false);
    const owner = policy(pull({ Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/owner': '${aws:username}' } } }));
    assert.equal(allowed(owner, { caller: role, context: { 'aws:ResourceTag/owner': '' } }), false);
    const both = [
      policy(pull({ Resource: '*' })),
      policy({ Effect: 'Deny', Action: 'ecr:*', Resource: '*', Condition: { StringNotEquals: { 'aws:ResourceTag/owner': '${aws:username}' } } }),
    ];
    const decide = (caller: Caller, owner: string) =>
      evaluate({
        caller,
        identityPolicies: both,
        resourcePolicies: [],
        action: 'ecr:BatchGetImage',
        resource: repo('x'),
        resourceAccountId: '111111111111',
        context: { 'aws:ResourceTag/owner': owner },
      }).allowed;
    assert.equal(decide(alice, 'alice'), true);
    assert.equal(decide(alice, 'bob'), false);
    assert.equal(decide(role, 'bob'), false, 'no aws:username for a role session: StringNotEquals holds against null');
  });
});
