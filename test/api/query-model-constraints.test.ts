/**
 * Every constraint IAM's and STS's service models declare on the input of an action Berth serves
 * (test/api/model/{iam,sts}-model-constraints.ts, generated from botocore's service-2.json),
 * refused as IAM and STS refuse them: a signed Query request breaking one constraint is a 400
 * ValidationError in an XML ErrorResponse naming the member, and changes nothing. The suite is
 * test/api/model/suite.ts; every action of the models Berth does not serve is InvalidAction.
 */
import { CreateUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { IAM_INPUT, STS_INPUT } from '../../src/http/iam/input.js';
import { stsActions } from '../../src/http/iam/actions.js';
import { IAM_ACTIONS } from '../../src/http/iam/router.js';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { signedQuery } from './helpers/signed-json.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { IAM_MODEL_CONSTRAINTS, OPERATIONS as IAM_OPERATIONS } from './model/iam-model-constraints.js';
import { IAM_BODIES, IAM_MUTATING, IAM_READS, IAM_SEED, STS_BODIES } from './model/query-requests.js';
import { STS_MODEL_CONSTRAINTS, OPERATIONS as STS_OPERATIONS } from './model/sts-model-constraints.js';
import { type Case, lowerFirstMembers, modelConstraintSuite } from './model/suite.js';

/** Lists' lengths are refused without their items, passwords and tokens without themselves. */
const quotesValue = (k: Case) => k.constraint.type !== 'list' && !/Password|WebIdentityToken/.test(k.constraint.path);

modelConstraintSuite({
  title: 'IAM',
  api: { actions: IAM_ACTIONS, service: 'iam', queryVersion: '2010-05-08' },
  constraints: IAM_MODEL_CONSTRAINTS,
  operations: IAM_OPERATIONS,
  minOperations: 36,
  bodies: IAM_BODIES,
  mutating: IAM_MUTATING,
  seed: IAM_SEED,
  reads: IAM_READS,
  validationType: 'ValidationError',
  quotesValue,
  memberName: lowerFirstMembers,
});

modelConstraintSuite({
  title: 'STS',
  api: { actions: stsActions, service: 'sts', queryVersion: '2011-06-15' },
  constraints: STS_MODEL_CONSTRAINTS,
  operations: STS_OPERATIONS,
  minOperations: 3,
  bodies: STS_BODIES,
  // STS keeps no state a request could change: credentials it issues are not listed anywhere.
  mutating: /(?!)/,
  seed: [],
  reads: [],
  validationType: 'ValidationError',
  quotesValue,
  memberName: lowerFirstMembers,
});

describe('IAM and STS refusals, as the SDKs read them', () => {
  let berth: BerthInProcess;
  let creds: Credentials;
  before(async () => {
    berth = await startInProcess();
    creds = adminCredentials(berth);
  });
  after(async () => berth?.cleanup());

  it('parses a refusal quoting a character XML cannot carry as the ValidationError it is', async () => {
    const sts = new STSClient({ endpoint: berth.url, region: berth.region, credentials: creds, maxAttempts: 1 });
    const err = await sts.send(new AssumeRoleCommand({ RoleArn: '\u0001rn:aws:iam::000000000000:role/x-role-name', RoleSessionName: 's1' })).then(
      () => assert.fail('accepted'),
      (e: { name: string; message: string; $metadata: { httpStatusCode?: number } }) => e,
    );
    assert.equal(err.name, 'ValidationError');
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.match(
      err.message,
      /^1 validation error detected: Value '\uFFFDrn:aws:iam::000000000000:role\/x-role-name' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: /,
    );
  });

  it('refuses a user name outside the model and creates nothing', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: creds, maxAttempts: 1 });
    const err = await iam.send(new CreateUserCommand({ UserName: 'no spaces' })).then(
      () => assert.fail('accepted'),
      (e: { name: string; message: string }) => e,
    );
    assert.equal(err.name, 'ValidationError');
    assert.equal(
      err.message,
      "1 validation error detected: Value 'no spaces' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
    );
    assert.deepEqual((await iam.send(new ListUsersCommand({}))).Users, []);
  });

  // Integer members that are no integers: refused first, in the Query protocol's words.
  const integerMembers = (inputs: typeof IAM_INPUT) =>
    Object.entries(inputs).flatMap(([action, members]) =>
      Object.entries(members)
        .filter(([, m]) => (m instanceof z.ZodOptional ? m.unwrap() : m) instanceof z.ZodNumber)
        .map(([member]) => ({ action, member })),
    );
  const MALFORMED = ['abc', '1.5', '1e400', '99999999999', '0x10', ''];

  for (const [service, inputs, version] of [
    ['iam', IAM_INPUT, '2010-05-08'],
    ['sts', STS_INPUT, '2011-06-15'],
  ] as const) {
    it(`refuses each ${service} integer member given no integer with InvalidParameterValue`, async () => {
      const members = integerMembers(inputs);
      assert.ok(members.length >= (service === 'iam' ? 20 : 3), `found ${members.length}`);
      for (const { action, member } of members) {
        for (const value of MALFORMED) {
          const form = new URLSearchParams({ Action: action, Version: version, [member]: value });
          const got = await signedQuery(berth, creds, { form, service, region: service === 'iam' ? 'us-east-1' : berth.region });
          assert.deepEqual(
            [got.status, got.type, got.message],
            [400, 'InvalidParameterValue', `Value '${value}' for parameter ${member} is invalid: it must be an integer.`],
            `${action} ${member}=${value}`,
          );
        }
      }
    });
  }

  it('answers nothing and changes nothing on a malformed MaxItems or MaxSessionDuration', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: creds, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'int-a' }));
    await iam.send(new CreateUserCommand({ UserName: 'int-b' }));
    const list = await signedQuery(berth, creds, {
      form: new URLSearchParams({ Action: 'ListUsers', Version: '2010-05-08', MaxItems: '1e400' }),
      service: 'iam',
      region: 'us-east-1',
    });
    assert.equal(list.status, 400);
    assert.doesNotMatch(list.text, /int-a/);
    const create = new URLSearchParams({
      Action: 'CreateRole',
      Version: '2010-05-08',
      RoleName: 'int-role',
      MaxSessionDuration: '3600.5',
      AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
    });
    assert.equal((await signedQuery(berth, creds, { form: create, service: 'iam', region: 'us-east-1' })).type, 'InvalidParameterValue');
    const roles = await signedQuery(berth, creds, {
      form: new URLSearchParams({ Action: 'ListRoles', Version: '2010-05-08' }),
      service: 'iam',
      region: 'us-east-1',
    });
    assert.doesNotMatch(roles.text, /int-role/);
    // A well-formed integer is still taken, and one past the model's range is still the model's ValidationError.
    assert.deepEqual(
      (await iam.send(new ListUsersCommand({ MaxItems: 5 }))).Users?.map((u) => u.UserName),
      ['int-a', 'int-b'],
    );
    const over = await signedQuery(berth, creds, {
      form: new URLSearchParams({ Action: 'ListUsers', Version: '2010-05-08', MaxItems: '1001' }),
      service: 'iam',
      region: 'us-east-1',
    });
    assert.equal(over.type, 'ValidationError');
  });

  it('keeps a long malformed value out of the answer', async () => {
    const form = new URLSearchParams({ Action: 'GetSessionToken', Version: '2011-06-15', DurationSeconds: '9'.repeat(5000) });
    const got = await signedQuery(berth, creds, { form, service: 'sts' });
    assert.equal(got.message, `Value '${'9'.repeat(40)}...' for parameter DurationSeconds is invalid: it must be an integer.`);
  });
});
