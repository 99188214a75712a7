import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from './evaluator.js';
import { duplicateKey, parsePolicy, PolicyError } from './policy.js';

const identity = (doc: object, lenient = false) => parsePolicy(JSON.stringify(doc), { kind: 'identity', maxLength: 10240, lenient });
const resource = (doc: object) => parsePolicy(JSON.stringify(doc), { kind: 'resource', maxLength: 10240 });
const stmt = (extra: object) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:*', Resource: '*', ...extra }] });
const refused = (doc: object, why: RegExp, kind: 'identity' | 'resource' = 'identity') =>
  assert.throws(
    () => (kind === 'identity' ? identity(doc) : resource(doc)),
    (e: unknown) => e instanceof PolicyError && why.test(e.message),
    JSON.stringify(doc),
  );

describe('policy grammar', () => {
  it('accepts every IAM element and condition operator it can evaluate', () => {
    const ops = [
      'StringEquals',
      'StringNotEquals',
      'StringEqualsIgnoreCase',
      'StringNotEqualsIgnoreCase',
      'StringLike',
      'StringNotLike',
      'ArnEquals',
      'ArnNotEquals',
      'ArnLike',
      'ArnNotLike',
    ];
    const cond: Record<string, Record<string, unknown>> = {};
    for (const op of ops) cond[op] = { 'aws:PrincipalArn': 'arn:aws:iam::*:user/x' };
    for (const op of ['NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals'])
      cond[op] = { 'x:n': ['1', 2.5] };
    for (const op of ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals'])
      cond[op] = { 'aws:CurrentTime': ['2024-01-01T00:00:00Z', '1700000000'] };
    Object.assign(cond, {
      Bool: { 'aws:SecureTransport': false },
      BoolIfExists: { 'aws:SecureTransport': 'true' },
      IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '::1'] },
      NotIpAddressIfExists: { 'aws:SourceIp': '2001:db8::/32' },
      Null: { 'aws:ResourceTag/team': 'true' },
      BinaryEquals: { 'x:b': 'QmVydGg=' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] },
      'ForAnyValue:NumericLessThanIfExists': { 'x:n': 3 },
      StringLikeIfExists: { 'aws:ResourceTag/env': 'prod*' },
    });
    const p = identity({ Version: '2012-10-17', Id: 'doc', Statement: [{ Sid: 'all', Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: cond }] });
    assert.equal(p.statements[0]!.conditions.length, Object.keys(cond).length);
    const r = resource({
      Version: '2008-10-17',
      Statement: {
        Effect: 'Deny',
        NotPrincipal: {
          AWS: ['111111111111', 'arn:aws:iam::111111111111:user/a'],
          Service: 'ecr.amazonaws.com',
          Federated: 'cognito-identity.amazonaws.com',
          CanonicalUser: '79a59df9',
        },
        NotAction: 'ecr:Delete*',
        NotResource: 'arn:aws:ecr:*:*:repository/x',
      },
    });
    assert.equal(r.statements[0]!.notPrincipals?.length, 5);
    // IAM: "NotPrincipal must be used with Effect Deny"; with Allow it would grant everyone else.
    refused({ Statement: { Effect: 'Allow', NotPrincipal: { AWS: '111111111111' }, Action: 'ecr:*' } }, /NotPrincipal is supported only with/, 'resource');
  });

  it('refuses a key repeated in one object (JSON.parse would keep only the last), as IAM does', () => {
    const twice = (inner: string) => () => parsePolicy(`{"Version":"2012-10-17","Statement":[{${inner}}]}`, { kind: 'identity', maxLength: 10240 });
    assert.throws(twice('"Effect":"Deny","Effect":"Allow","Action":"ecr:*","Resource":"*"'), /repeats the key 'Effect'/);
    const ip = (cidr: string) => `"IpAddress":{"aws:SourceIp":"${cidr}"}`;
    assert.throws(twice(`"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{${ip('10.0.0.0/8')},${ip('0.0.0.0/0')}}`), /'IpAddress'/);
    assert.equal(duplicateKey('{"a":[{"b":1},{"b":"\\"b\\""}],"c":{"a":1}}'), undefined, 'the same key in different objects is fine');
    assert.equal(duplicateKey('{"a":"x","b":{"c":1,"c":2}}'), 'c');
    const stored = parsePolicy('{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"ecr:*","Resource":"*"}}', {
      kind: 'identity',
      maxLength: 10240,
      lenient: true,
    });
    assert.equal(stored.statements[0]!.effect, 'Deny', 'a stored document keeps its meaning (the last key)');
  });

  it('refuses unknown operators, elements and versions, naming them', () => {
    refused(stmt({ Condition: { StringEqualz: { 'aws:PrincipalArn': 'x' } } }), /unknown condition operator 'StringEqualz'/);
    refused(stmt({ Condition: { Frobnicate: { 'aws:PrincipalArn': 'x' } } }), /'Frobnicate'/);
    refused(stmt({ Condition: { NullIfExists: { 'aws:PrincipalArn': 'true' } } }), /'NullIfExists'/);
    refused(stmt({ Condition: { 'ForSomeValues:StringEquals': { 'aws:PrincipalArn': 'x' } } }), /'ForSomeValues:StringEquals'/);
    refused(stmt({ Condtion: { StringEquals: { 'aws:PrincipalArn': 'x' } } }), /unknown element 'Condtion'/);
    refused({ Statement: { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111111111111:user/a*' }, Action: 'ecr:*' } }, /invalid principal/, 'resource');
    refused({ Version: '2012-10-17', Statment: [], Statement: stmt({}).Statement }, /unknown policy element 'Statment'/);
    refused({ Version: '2012-10-18', Statement: stmt({}).Statement }, /Version/);
    refused({ Version: '2012-10-17', Id: 5, Statement: stmt({}).Statement }, /Id must be a string/);
    refused(stmt({ Sid: ['x'] }), /Sid must be a string/);
    refused(stmt({ Action: 'GetEverything' }), /action 'GetEverything'/);
    refused(stmt({ Condition: { StringEquals: { PrincipalArn: 'x' } } }), /condition key 'PrincipalArn'/);
    refused(stmt({ Condition: { StringEquals: { 'aws:PrincipalArn': { a: 1 } } } }), /must be a value/);
    refused(
      stmt({ Condition: { StringEquals: { 'aws:ResourceTag/env': 'prod', 'AWS:resourcetag/ENV': 'dev' } } }),
      /'AWS:resourcetag\/ENV' appears more than once/,
    );
  });

  it('refuses malformed condition values, naming them', () => {
    refused(stmt({ Condition: { NumericLessThan: { 'x:n': 'ten' } } }), /NumericLessThan needs a number, not 'ten'/);
    refused(stmt({ Condition: { DateGreaterThan: { 'aws:CurrentTime': 'yesterday' } } }), /'yesterday'/);
    refused(stmt({ Condition: { DateLessThan: { 'aws:CurrentTime': '2024-13-45T99:00:00Z' } } }), /DateLessThan/);
    refused(stmt({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }), /'10.0.0.0\/33'/);
    refused(stmt({ Condition: { NotIpAddress: { 'aws:SourceIp': 'localhost' } } }), /'localhost'/);
    refused(stmt({ Condition: { Bool: { 'aws:SecureTransport': 'yes' } } }), /Bool needs true or false, not 'yes'/);
    refused(stmt({ Condition: { Null: { 'aws:ResourceTag/x': 'maybe' } } }), /Null needs true or false/);
    refused(stmt({ Condition: { BinaryEquals: { 'x:b': 'not base64!' } } }), /base64/);
  });

  it('refuses principal types and principals IAM does not accept', () => {
    const r = (principal: unknown) => ({ Statement: [{ Effect: 'Allow', Principal: principal, Action: 'ecr:BatchGetImage' }] });
    refused(r({ Account: '111111111111' }), /unsupported principal type 'Account'/, 'resource');
    refused(r({ AWS: 'alice' }), /invalid principal 'alice'/, 'resource');
    refused(r({ AWS: 'arn:aws:iam::1:root' }), /invalid principal/, 'resource');
    refused(r({}), /names no principal/, 'resource');
    refused({ Statement: [{ Effect: 'Allow', Principal: '*', NotPrincipal: { AWS: '*' }, Action: 'ecr:*' }] }, /both Principal and NotPrincipal/, 'resource');
  });

  it('reads a stored document leniently and fails closed on what it cannot evaluate', () => {
    const doc = { Statement: [{ Effect: 'Deny', Action: 'ecr:*', Resource: '*', Condition: { StringEqualz: { 'aws:PrincipalArn': 'nobody' } } }] };
    const deny = identity(doc, true);
    const allowAll = identity({ Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
    const caller = { arn: 'arn:aws:iam::111111111111:user/a', accountId: '111111111111', kind: 'user' as const };
    const base = { caller, resourcePolicies: [], action: 'ecr:BatchGetImage', resource: '*', resourceAccountId: '111111111111', context: {} };
    assert.equal(evaluate({ ...base, identityPolicies: [allowAll, deny] }).allowed, false, 'the Deny applies');
    const allow = identity({ Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*', Condition: { NumericLessThan: { 'x:n': 'ten' } } }] }, true);
    assert.equal(evaluate({ ...base, identityPolicies: [allow], context: { 'x:n': '1' } }).allowed, false, 'the Allow does not');
  });
});
