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
import { stsActions } from '../../src/http/iam/actions.js';
import { IAM_ACTIONS } from '../../src/http/iam/router.js';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
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
});
