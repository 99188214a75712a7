import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionHolds, evaluate, type AuthzRequest, type Caller } from './evaluator.js';
import { managedPolicy } from './managed.js';
import { globMatchParts } from './glob.js';
import { globMatch, parsePolicy, PolicyError } from './policy.js';
import { NOBODY } from './principal-bindings.js';

const REPO = 'arn:aws:ecr:us-east-1:111111111111:repository/team/app';
const alice: Caller = { arn: 'arn:aws:iam::111111111111:user/alice', accountId: '111111111111', kind: 'user' };
const bob: Caller = { arn: 'arn:aws:iam::222222222222:user/bob', accountId: '222222222222', kind: 'user' };
const anonymous: Caller = { arn: 'anonymous', accountId: '', kind: 'anonymous' };
const identity = (doc: object) => parsePolicy(JSON.stringify(doc), { kind: 'identity', maxLength: 10240 });
const resource = (doc: object) => parsePolicy(JSON.stringify(doc), { kind: 'resource', maxLength: 10240 });

function req(over: Partial<AuthzRequest>): AuthzRequest {
  return {
    caller: alice,
    identityPolicies: [],
    resourcePolicies: [],
    action: 'ecr:BatchGetImage',
    resource: REPO,
    resourceAccountId: '111111111111',
    context: {},
    ...over,
  };
}

const allowPull = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:BatchGetImage', Resource: '*' }] });
const grantTo = (principal: unknown) =>
  resource({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'ecr:BatchGetImage' }] });

describe('evaluate', () => {
  it('denies by default and allows through an identity policy', () => {
    assert.equal(evaluate(req({})).allowed, false);
    assert.equal(evaluate(req({ identityPolicies: [allowPull] })).allowed, true);
  });

  it('lets an explicit Deny anywhere win', () => {
    const deny = resource({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 'ecr:*' }] });
    assert.deepEqual(evaluate(req({ identityPolicies: [allowPull], resourcePolicies: [deny] })), {
      allowed: false,
      explicitDeny: true,
      policyType: 'resource-based policy',
    });
    const rootDenied = evaluate(req({ caller: { ...alice, arn: 'arn:aws:iam::111111111111:root', kind: 'root' }, resourcePolicies: [deny] }));
    assert.equal(rootDenied.allowed, false);
  });

  it('within an account a resource policy alone suffices; across accounts both must allow', () => {
    assert.equal(evaluate(req({ resourcePolicies: [grantTo({ AWS: alice.arn })] })).allowed, true);
    assert.equal(evaluate(req({ caller: bob, resourcePolicies: [grantTo({ AWS: 'arn:aws:iam::222222222222:root' })] })).allowed, false);
    assert.equal(evaluate(req({ caller: bob, identityPolicies: [allowPull] })).allowed, false);
    assert.equal(evaluate(req({ caller: bob, identityPolicies: [allowPull], resourcePolicies: [grantTo({ AWS: '222222222222' })] })).allowed, true);
  });

  it('an account principal delegates to the account; it grants nothing by itself', () => {
    const aliceRoot = 'arn:aws:iam::111111111111:root';
    // Same account: naming the account (root ARN or bare id) does not let a user with no identity policy in.
    assert.equal(evaluate(req({ resourcePolicies: [grantTo({ AWS: aliceRoot })] })).allowed, false);
    assert.equal(evaluate(req({ resourcePolicies: [grantTo({ AWS: '111111111111' })] })).allowed, false);
    assert.equal(evaluate(req({ resourcePolicies: [grantTo({ AWS: [aliceRoot, '111111111111'] })] })).allowed, false);
    // ... the user's own identity Allow still does, and naming the user itself or "*" grants.
    assert.equal(evaluate(req({ identityPolicies: [allowPull], resourcePolicies: [grantTo({ AWS: aliceRoot })] })).allowed, true);
    assert.equal(evaluate(req({ resourcePolicies: [grantTo({ AWS: [aliceRoot, alice.arn] })] })).allowed, true);
    assert.equal(evaluate(req({ resourcePolicies: [grantTo('*')] })).allowed, true);
    assert.equal(evaluate(req({ resourcePolicies: [grantTo({ AWS: '*' })] })).allowed, true);
    // Across accounts the other account's root is allowed whatever is granted to its account.
    const bobRoot: Caller = { arn: 'arn:aws:iam::222222222222:root', accountId: '222222222222', kind: 'root' };
    assert.equal(evaluate(req({ caller: bobRoot, resourcePolicies: [grantTo({ AWS: 'arn:aws:iam::222222222222:root' })] })).allowed, true);
    assert.equal(evaluate(req({ caller: bobRoot, resourcePolicies: [grantTo({ AWS: '222222222222' })] })).allowed, true);
    assert.equal(evaluate(req({ caller: bobRoot, resourcePolicies: [grantTo('*')] })).allowed, true);
    assert.equal(evaluate(req({ caller: bobRoot })).allowed, false, 'no resource policy, no cross-account access');
    assert.equal(evaluate(req({ caller: bobRoot, resourcePolicies: [grantTo({ AWS: '333333333333' })] })).allowed, false);
    // ... and its users only as far as their identity policies allow.
    assert.equal(evaluate(req({ caller: bob, resourcePolicies: [grantTo({ AWS: 'arn:aws:iam::222222222222:root' })] })).allowed, false);
    assert.equal(evaluate(req({ caller: bob, identityPolicies: [allowPull], resourcePolicies: [grantTo({ AWS: bob.arn })] })).allowed, true);
    assert.equal(evaluate(req({ caller: bob, resourcePolicies: [grantTo({ AWS: bob.arn })] })).allowed, false, 'cross-account: both sides must allow');
    // A Deny naming the account still binds its users.
    const denyAccount = resource({ Statement: [{ Effect: 'Deny', Principal: { AWS: aliceRoot }, Action: 'ecr:*' }] });
    assert.deepEqual(evaluate(req({ identityPolicies: [allowPull], resourcePolicies: [denyAccount] })), {
      allowed: false,
      explicitDeny: true,
      policyType: 'resource-based policy',
    });
  });

  it('a registry policy under scope V1 governs only the actions it is limited to', () => {
    const registry = { ...grantTo('*'), onlyActions: ['ecr:CreateRepository'] };
    assert.equal(evaluate(req({ resourcePolicies: [registry] })).allowed, false);
    const create = { ...resource({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:CreateRepository' }] }), onlyActions: ['ecr:CreateRepository'] };
    assert.equal(evaluate(req({ resourcePolicies: [create], action: 'ecr:createrepository' })).allowed, true);
  });

  it('lets anonymous callers in only through Principal "*"', () => {
    assert.equal(evaluate(req({ caller: anonymous, identityPolicies: [allowPull] })).allowed, false);
    assert.equal(evaluate(req({ caller: anonymous, resourcePolicies: [grantTo({ AWS: '111111111111' })] })).allowed, false);
    assert.equal(evaluate(req({ caller: anonymous, resourcePolicies: [grantTo('*')] })).allowed, true);
  });

  it('matches actions case-insensitively with wildcards, and honours NotAction and NotResource', () => {
    const p = identity({ Statement: [{ Effect: 'Allow', NotAction: 'ecr:Delete*', NotResource: 'arn:aws:ecr:*:*:repository/secret/*' }] });
    assert.equal(evaluate(req({ identityPolicies: [p], action: 'ecr:batchgetimage' })).allowed, true);
    assert.equal(evaluate(req({ identityPolicies: [p], action: 'ecr:DeleteRepository' })).allowed, false);
    assert.equal(evaluate(req({ identityPolicies: [p], resource: 'arn:aws:ecr:us-east-1:111111111111:repository/secret/x' })).allowed, false);
  });

  it('applies the managed policies as AWS defines them', () => {
    const ro = managedPolicy('arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly')!;
    const pu = managedPolicy('arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser')!;
    assert.equal(evaluate(req({ identityPolicies: [ro] })).allowed, true);
    assert.equal(evaluate(req({ identityPolicies: [ro], action: 'ecr:PutImage' })).allowed, false);
    assert.equal(evaluate(req({ identityPolicies: [pu], action: 'ecr:PutImage' })).allowed, true);
    assert.equal(evaluate(req({ identityPolicies: [pu], action: 'ecr:BatchDeleteImage' })).allowed, false);
  });
});

describe('session policies and NotPrincipal', () => {
  const role: Caller = {
    arn: 'arn:aws:sts::111111111111:assumed-role/reader/s1',
    principalArn: 'arn:aws:iam::111111111111:role/reader',
    accountId: '111111111111',
    kind: 'role',
  };
  const login = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] });
  const bounded: Caller = { ...role, sessionPolicies: [login] };

  it("bounds a resource policy's grant to the role's ARN or to \"*\" by the session policy, not one to the session's ARN", () => {
    assert.equal(evaluate(req({ caller: role, resourcePolicies: [grantTo({ AWS: role.principalArn })] })).allowed, true);
    assert.equal(evaluate(req({ caller: bounded, resourcePolicies: [grantTo({ AWS: role.principalArn })] })).allowed, false);
    assert.equal(evaluate(req({ caller: bounded, resourcePolicies: [grantTo('*')] })).allowed, false);
    assert.equal(evaluate(req({ caller: bounded, resourcePolicies: [grantTo({ AWS: role.arn })] })).allowed, true);
    const allowing: Caller = { ...role, sessionPolicies: [allowPull] };
    assert.equal(evaluate(req({ caller: allowing, resourcePolicies: [grantTo({ AWS: role.principalArn })] })).allowed, true);
  });

  it('an Allow with NotPrincipal stored before it was refused grants nothing; a Deny with it excludes the named', () => {
    const lenient = (doc: object) => parsePolicy(JSON.stringify(doc), { kind: 'resource', maxLength: 10240, lenient: true });
    const allowAllBut = lenient({ Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: bob.arn }, Action: 'ecr:BatchGetImage' }] });
    assert.equal(evaluate(req({ caller: anonymous, resourcePolicies: [allowAllBut] })).allowed, false);
    assert.equal(evaluate(req({ resourcePolicies: [allowAllBut] })).allowed, false);
    const denyAllBut = resource({ Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: alice.arn }, Action: 'ecr:*' }] });
    assert.equal(evaluate(req({ identityPolicies: [allowPull], resourcePolicies: [denyAllBut] })).allowed, true);
    const carol = { ...alice, arn: 'arn:aws:iam::111111111111:user/carol' };
    assert.deepEqual(evaluate(req({ caller: carol, identityPolicies: [allowPull], resourcePolicies: [denyAllBut] })), {
      allowed: false,
      explicitDeny: true,
      policyType: 'resource-based policy',
    });
  });
});

describe("NotPrincipal excepts only the principals it names themselves (IAM's NotPrincipal page)", () => {
  const aliceRoot = 'arn:aws:iam::111111111111:root';
  const carol: Caller = { ...alice, arn: 'arn:aws:iam::111111111111:user/carol' };
  const root: Caller = { arn: aliceRoot, accountId: '111111111111', kind: 'root' };
  const session: Caller = {
    arn: 'arn:aws:sts::111111111111:assumed-role/audit/app',
    principalArn: 'arn:aws:iam::111111111111:role/audit',
    accountId: '111111111111',
    kind: 'role',
  };
  const otherSession: Caller = { ...session, arn: 'arn:aws:sts::111111111111:assumed-role/audit/other' };
  const allowAll = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
  const allBut = (...arns: string[]) => resource({ Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: arns }, Action: 'ecr:*' }] });
  const allowed = (caller: Caller, policy: ReturnType<typeof allBut>) =>
    evaluate(req({ caller, identityPolicies: caller.kind === 'root' ? [] : [allowAll], resourcePolicies: [policy] })).allowed;

  it("a user's and its account's ARNs: the user and the root are excepted, the account's other users are not", () => {
    const policy = allBut(alice.arn, aliceRoot);
    assert.equal(allowed(alice, policy), true);
    assert.equal(allowed(root, policy), true);
    assert.equal(allowed(carol, policy), false);
    assert.equal(allowed(carol, allBut('111111111111')), false, 'the bare account id neither');
    assert.equal(allowed(root, allBut('111111111111')), true);
  });

  it("a session's, its role's and its account's ARNs: that session is excepted, the role's other sessions are not", () => {
    const policy = allBut(session.arn, session.principalArn!, aliceRoot);
    assert.equal(allowed(session, policy), true);
    assert.equal(allowed(otherSession, policy), false);
    assert.equal(allowed(session, allBut(session.principalArn!, aliceRoot)), false);
  });
});

describe('principals bound to unique ids (principal-bindings.ts)', () => {
  const later: Caller = { ...alice, principalId: 'AIDALATER' };
  const laterRole: Caller = {
    arn: 'arn:aws:sts::111111111111:assumed-role/ops/s1',
    principalArn: 'arn:aws:iam::111111111111:role/ops',
    accountId: '111111111111',
    kind: 'role',
    principalId: 'AROALATER',
  };
  const bound = (doc: object, ids: Record<string, string>) => ({ ...resource(doc), principalIds: ids });
  const nobody = { [alice.arn]: NOBODY, [laterRole.principalArn!]: NOBODY };
  const denyTo = (arn: string) => ({ Statement: [{ Effect: 'Deny', Principal: { AWS: arn }, Action: 'ecr:*' }] });
  const allowTo = (arn: string) => ({ Statement: [{ Effect: 'Allow', Principal: { AWS: arn }, Action: 'ecr:BatchGetImage' }] });
  const denyAllBut = (arn: string) => ({ Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: arn }, Action: 'ecr:*' }] });

  it('an ARN bound to nobody still refuses whoever is made under it later: Deny with Principal', () => {
    assert.deepEqual(evaluate(req({ caller: later, identityPolicies: [allowPull], resourcePolicies: [bound(denyTo(alice.arn), nobody)] })), {
      allowed: false,
      explicitDeny: true,
      policyType: 'resource-based policy',
    });
    const roleDenied = evaluate(req({ caller: laterRole, identityPolicies: [allowPull], resourcePolicies: [bound(denyTo(laterRole.principalArn!), nobody)] }));
    assert.equal(roleDenied.allowed, false, "a session of a role made later under the role's ARN");
    const other = { ...alice, arn: 'arn:aws:iam::111111111111:user/team/alice', principalId: 'AIDAOTHER' };
    assert.equal(
      evaluate(req({ caller: other, identityPolicies: [allowPull], resourcePolicies: [bound(denyTo(alice.arn), nobody)] })).allowed,
      true,
      'another path is another ARN',
    );
  });

  it('an ARN bound to nobody grants nobody: Allow with Principal, and the exception of a Deny with NotPrincipal', () => {
    assert.equal(evaluate(req({ caller: later, resourcePolicies: [bound(allowTo(alice.arn), nobody)] })).allowed, false);
    assert.equal(evaluate(req({ caller: later, identityPolicies: [allowPull], resourcePolicies: [bound(denyAllBut(alice.arn), nobody)] })).allowed, false);
  });

  it('an ARN bound to an id names only that principal, in every statement', () => {
    const ids = { [alice.arn]: 'AIDAFIRST' };
    const first = { ...alice, principalId: 'AIDAFIRST' };
    assert.equal(evaluate(req({ caller: first, resourcePolicies: [bound(allowTo(alice.arn), ids)] })).allowed, true);
    assert.equal(evaluate(req({ caller: later, resourcePolicies: [bound(allowTo(alice.arn), ids)] })).allowed, false);
    assert.equal(evaluate(req({ caller: first, identityPolicies: [allowPull], resourcePolicies: [bound(denyTo(alice.arn), ids)] })).allowed, false);
    assert.equal(
      evaluate(req({ caller: later, identityPolicies: [allowPull], resourcePolicies: [bound(denyTo(alice.arn), ids)] })).allowed,
      true,
      'made again: another principal',
    );
    assert.equal(evaluate(req({ caller: first, identityPolicies: [allowPull], resourcePolicies: [bound(denyAllBut(alice.arn), ids)] })).allowed, true);
    assert.equal(evaluate(req({ caller: later, identityPolicies: [allowPull], resourcePolicies: [bound(denyAllBut(alice.arn), ids)] })).allowed, false);
  });
});

describe('permissions boundaries', () => {
  const pullOnly = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:BatchGetImage', Resource: '*' }] });
  const loginOnly = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }] });
  const all = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
  const session: Caller = {
    arn: 'arn:aws:sts::111111111111:assumed-role/reader/s1',
    principalArn: 'arn:aws:iam::111111111111:role/reader',
    accountId: '111111111111',
    kind: 'role',
  };

  it('an identity Allow counts only where the boundary allows too; the boundary grants nothing', () => {
    assert.equal(evaluate(req({ identityPolicies: [all], permissionsBoundary: pullOnly })).allowed, true);
    assert.equal(evaluate(req({ identityPolicies: [all], permissionsBoundary: pullOnly, action: 'ecr:PutImage' })).allowed, false);
    assert.equal(evaluate(req({ identityPolicies: [], permissionsBoundary: all })).allowed, false);
    // An unknown stored boundary is an empty one: nothing is allowed through identity policies.
    assert.equal(evaluate(req({ identityPolicies: [all], permissionsBoundary: { statements: [] } })).allowed, false);
  });

  it('an explicit Deny in the boundary denies', () => {
    const denying = identity({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:*', Resource: '*' },
        { Effect: 'Deny', Action: 'ecr:BatchGetImage', Resource: REPO },
      ],
    });
    assert.deepEqual(evaluate(req({ identityPolicies: [all], permissionsBoundary: denying })), {
      allowed: false,
      explicitDeny: true,
      policyType: 'permissions boundary',
    });
    // Even what a resource policy grants the user's own ARN.
    assert.equal(evaluate(req({ permissionsBoundary: denying, resourcePolicies: [grantTo({ AWS: alice.arn })] })).allowed, false);
  });

  it("within an account a grant to the user's or session's ARN is not capped; to the role's ARN or \"*\" it is", () => {
    assert.equal(evaluate(req({ permissionsBoundary: loginOnly, resourcePolicies: [grantTo({ AWS: alice.arn })] })).allowed, true);
    assert.equal(evaluate(req({ permissionsBoundary: loginOnly, resourcePolicies: [grantTo('*')] })).allowed, false);
    assert.equal(evaluate(req({ caller: session, permissionsBoundary: loginOnly, resourcePolicies: [grantTo({ AWS: session.arn })] })).allowed, true);
    assert.equal(evaluate(req({ caller: session, permissionsBoundary: loginOnly, resourcePolicies: [grantTo({ AWS: session.principalArn })] })).allowed, false);
    assert.equal(evaluate(req({ caller: session, permissionsBoundary: pullOnly, resourcePolicies: [grantTo({ AWS: session.principalArn })] })).allowed, true);
  });

  it('across accounts the boundary caps the identity side a grant still needs, even one naming the user', () => {
    const grant = grantTo({ AWS: bob.arn });
    assert.equal(evaluate(req({ caller: bob, identityPolicies: [all], resourcePolicies: [grant] })).allowed, true);
    assert.equal(evaluate(req({ caller: bob, identityPolicies: [all], permissionsBoundary: loginOnly, resourcePolicies: [grant] })).allowed, false);
  });

  it('a Deny with NotPrincipal denies a caller with a boundary whatever it names (IAM)', () => {
    const denyAllBut = resource({ Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: alice.arn }, Action: 'ecr:*' }] });
    assert.equal(evaluate(req({ identityPolicies: [all], resourcePolicies: [denyAllBut] })).allowed, true);
    assert.deepEqual(evaluate(req({ identityPolicies: [all], permissionsBoundary: all, resourcePolicies: [denyAllBut] })), {
      allowed: false,
      explicitDeny: true,
      policyType: 'resource-based policy',
    });
  });
});

describe("a refusal names the policy type that failed to allow (AWS's AccessDenied words)", () => {
  const all = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
  const pushOnly = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:PutImage', Resource: '*' }] });
  const typeOf = (over: Partial<AuthzRequest>) => {
    const d = evaluate(req(over));
    return d.allowed ? 'allowed' : `${d.explicitDeny ? 'deny' : 'no allow'}: ${d.policyType}`;
  };
  it('identity, boundary, session, resource', () => {
    assert.equal(typeOf({}), 'no allow: identity-based policy');
    assert.equal(typeOf({ identityPolicies: [all], permissionsBoundary: pushOnly }), 'no allow: permissions boundary');
    assert.equal(typeOf({ caller: { ...alice, sessionPolicies: [pushOnly] }, identityPolicies: [all] }), 'no allow: session policy');
    assert.equal(typeOf({ caller: bob, identityPolicies: [all] }), 'no allow: resource-based policy', 'across accounts the resource side is missing');
    assert.equal(typeOf({ caller: bob }), 'no allow: identity-based policy');
    assert.equal(typeOf({ caller: anonymous }), 'no allow: resource-based policy');
    const deny = identity({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:*', Resource: '*' }] });
    assert.equal(typeOf({ identityPolicies: [all, deny] }), 'deny: identity-based policy');
    assert.equal(typeOf({ caller: { ...alice, sessionPolicies: [deny] }, identityPolicies: [all] }), 'deny: session policy');
  });
});

describe('conditions', () => {
  const ctx = (o: Record<string, string[]>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
  it('ORs values, treats a missing key per operator, and honours IfExists', () => {
    assert.equal(conditionHolds('StringEquals', 'aws:resourcetag/env', ['prod', 'qa'], ctx({ 'aws:ResourceTag/env': ['qa'] })), true);
    assert.equal(conditionHolds('StringEquals', 'aws:resourcetag/env', ['prod'], ctx({})), false);
    assert.equal(conditionHolds('StringNotEquals', 'aws:resourcetag/env', ['prod'], ctx({})), true);
    assert.equal(conditionHolds('StringEqualsIfExists', 'aws:resourcetag/env', ['prod'], ctx({})), true);
    assert.equal(conditionHolds('StringEqualsIfExists', 'aws:resourcetag/env', ['prod'], ctx({ 'aws:ResourceTag/env': ['dev'] })), false);
    assert.equal(
      conditionHolds('StringLike', 'aws:principalarn', ['arn:aws:iam::*:user/ci-*'], ctx({ 'aws:PrincipalArn': ['arn:aws:iam::1:user/ci-7'] })),
      true,
    );
    assert.equal(conditionHolds('ArnNotLike', 'aws:principalarn', ['arn:aws:iam::*:root'], ctx({ 'aws:PrincipalArn': ['arn:aws:iam::1:root'] })), false);
    assert.equal(conditionHolds('Null', 'aws:resourcetag/env', ['true'], ctx({})), true);
  });
  it('matches IPv4 and IPv6 CIDRs', () => {
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['10.0.0.0/8'], ctx({ 'aws:SourceIp': ['10.1.2.3'] })), true);
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['10.0.0.0/8'], ctx({ 'aws:SourceIp': ['11.1.2.3'] })), false);
    assert.equal(conditionHolds('NotIpAddress', 'aws:sourceip', ['10.0.0.0/8'], ctx({ 'aws:SourceIp': ['11.1.2.3'] })), true);
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['::1/128'], ctx({ 'aws:SourceIp': ['::1'] })), true);
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['2001:db8::/32'], ctx({ 'aws:SourceIp': ['2001:db8:0:1::5'] })), true);
    // A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d; a Deny on its IPv4 range must still match.
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['203.0.113.0/24'], ctx({ 'aws:SourceIp': ['::ffff:203.0.113.9'] })), true);
    assert.equal(conditionHolds('NotIpAddress', 'aws:sourceip', ['203.0.113.0/24'], ctx({ 'aws:SourceIp': ['::ffff:203.0.113.9'] })), false);
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['::ffff:0:0/96'], ctx({ 'aws:SourceIp': ['::ffff:203.0.113.9'] })), true);
    // The same on an IPv4 listener; and an IPv4 client is in no other IPv6 block, on either.
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['::ffff:203.0.113.0/120'], ctx({ 'aws:SourceIp': ['203.0.113.9'] })), true);
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['::ffff:198.51.100.0/120'], ctx({ 'aws:SourceIp': ['203.0.113.9'] })), false);
    for (const ip of ['203.0.113.9', '::ffff:203.0.113.9']) {
      assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['::/0'], ctx({ 'aws:SourceIp': [ip] })), false, ip);
      assert.equal(conditionHolds('NotIpAddress', 'aws:sourceip', ['::/0'], ctx({ 'aws:SourceIp': [ip] })), true, ip);
      assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['0.0.0.0/0'], ctx({ 'aws:SourceIp': [ip] })), true, ip);
    }
    assert.equal(conditionHolds('IpAddress', 'aws:sourceip', ['0.0.0.0/0'], ctx({ 'aws:SourceIp': ['::1'] })), false);
  });
  it('applies ForAnyValue and ForAllValues to multi-valued keys', () => {
    const keys = ctx({ 'aws:TagKeys': ['env', 'team'] });
    assert.equal(conditionHolds('ForAllValues:StringEquals', 'aws:tagkeys', ['env', 'team', 'owner'], keys), true);
    assert.equal(conditionHolds('ForAllValues:StringEquals', 'aws:tagkeys', ['env'], keys), false);
    assert.equal(conditionHolds('ForAnyValue:StringEquals', 'aws:tagkeys', ['team'], keys), true);
  });
});

describe('parsePolicy', () => {
  it('refuses malformed documents with a reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['{', /not valid JSON/],
      ['{"Version":"2012-10-17"}', /no Statement/],
      ['{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}', /Effect/],
      ['{"Statement":[{"Effect":"Allow","Resource":"*"}]}', /Action/],
      ['{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}]}', /cannot name a Principal/],
      ['{"Version":"2020-01-01","Statement":[]}', /Version/],
    ];
    for (const [text, why] of bad)
      assert.throws(
        () => parsePolicy(text, { kind: 'identity', maxLength: 10240 }),
        (e: unknown) => e instanceof PolicyError && why.test(e.message),
        text,
      );
    assert.throws(() => parsePolicy('{"Statement":{"Effect":"Allow","Action":"*"}}', { kind: 'resource', maxLength: 10240 }), /must name a Principal/);
    assert.throws(() => parsePolicy(' '.repeat(20), { kind: 'identity', maxLength: 10 }), /exceeds/);
  });
  it('globs with * and ?', () => {
    assert.equal(globMatch('ecr:Batch*', 'ecr:BatchGetImage'), true);
    assert.equal(globMatch('a?c', 'abc'), true);
    assert.equal(globMatch('a?c', 'abbc'), false);
    assert.equal(globMatch('a.c', 'abc'), false);
    assert.equal(globMatch('a?c', 'a\u{1d49c}c'), true, '? is one character, also outside the BMP');
    assert.equal(globMatch('a??c', 'a\u{1d49c}c'), false);
    assert.equal(globMatch('ecr:get*', 'ecr:GetImage', true), true, 'actions fold case');
    assert.equal(globMatch('ecr:get*', 'ecr:GetImage'), false);
  });
  it('keeps a substituted variable literal, even after a pattern spelt as its cache key was matched', () => {
    const parts = [
      { literal: false, text: 'repo/' },
      { literal: true, text: 'a*' },
    ];
    assert.equal(globMatch(JSON.stringify(parts.map((p) => [p.literal ? 1 : 0, p.text])), 'x'), false);
    assert.equal(globMatchParts(parts, 'repo/abc'), false, "the variable's * is a character");
    assert.equal(globMatchParts(parts, 'repo/a*'), true);
  });
});
