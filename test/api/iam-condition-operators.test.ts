/**
 * IAM's condition operators as an outside checker sees them: for each operator, a caller whose
 * only policies are an Allow of ECR and one Deny of ListImages under the condition under test,
 * and whether ListImages is then refused (the condition held) — with a matching value, a
 * non-matching one, the key absent, several values (OR) and several keys (AND). The operators'
 * rules are IAM's "Condition operators" page; a negated operator holds on an absent key, so its
 * Deny denies; `...IfExists` holds on an absent key; `ForAllValues` holds on an absent key and
 * `ForAnyValue` does not. Real users and keys made with the IAM SDK, requests with the ECR SDK.
 */
import { CreateRepositoryCommand as Create, ECRClient, ListImagesCommand } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const REPO = 'ops/app';
const ALLOW_ECR = { Effect: 'Allow', Action: 'ecr:*', Resource: '*' };
const denied = (e: Error) => e.name === 'AccessDeniedException';

describe('condition operators, from outside', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let users = 0;

  /**
   * Whether a Deny of ListImages under `condition` refuses a fresh user of the account, asking
   * from 127.0.0.1 (`::ffff:127.0.0.1` to the dual-stack listener) or, with `overIpv6`, from ::1.
   */
  const denies = async (condition: object, overIpv6 = false): Promise<boolean> => {
    const name = `op-${++users}`;
    const policy = { Version: '2012-10-17', Statement: [ALLOW_ECR, { Effect: 'Deny', Action: 'ecr:ListImages', Resource: '*', Condition: condition }] };
    const u = await createUser(berth, iam, name, [], [policy]);
    const ecr = overIpv6 ? new ECRClient({ endpoint: `http://[::1]:${berth.port}`, region: berth.region, credentials: u.keys, maxAttempts: 1 }) : u.ecr;
    return ecr.send(new ListImagesCommand({ repositoryName: REPO })).then(
      () => false,
      (e: Error) => (denied(e) ? true : Promise.reject(e)),
    );
  };
  /** Each [condition, whether its Deny must refuse]; all of them checked, the wrong ones named. */
  const table = async (rows: Array<[object, boolean]>, overIpv6 = false) => {
    const wrong: string[] = [];
    for (const [condition, expected] of rows)
      if ((await denies(condition, overIpv6)) !== expected) wrong.push(`${JSON.stringify(condition)} should ${expected ? '' : 'not '}deny`);
    assert.deepEqual(wrong, []);
  };

  before(async () => {
    // Dual-stack, so both an IPv4 and an IPv6 client can be sent.
    berth = await startInProcess({ host: '::' });
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    const admin: ECRClient = ecrClient(berth);
    // 𝒜 (U+1D49C) is one Unicode letter, and two UTF-16 units.
    const tags = [
      { Key: 'team', Value: 'red' },
      { Key: 'glyph', Value: '\u{1d49c}' },
    ];
    await admin.send(new Create({ repositoryName: REPO, tags }));
  });
  after(async () => berth?.cleanup());

  it('String operators: match, no match, absent key, several values (OR), several keys (AND), IgnoreCase, IfExists', async () => {
    const tag = 'ecr:ResourceTag/team';
    const absent = 'ecr:ResourceTag/absent';
    await table([
      [{ StringEquals: { [tag]: 'red' } }, true],
      [{ StringEquals: { [tag]: 'blue' } }, false],
      [{ StringEquals: { [tag]: 'RED' } }, false],
      [{ StringEquals: { [absent]: 'red' } }, false],
      [{ StringEquals: { [tag]: ['blue', 'red'] } }, true],
      [{ StringEquals: { [tag]: 'red', 'aws:PrincipalType': 'AssumedRole' } }, false],
      [{ StringEquals: { [tag]: 'red', 'aws:PrincipalType': 'User' } }, true],
      [{ StringEquals: { [tag]: 'red' }, Bool: { 'aws:SecureTransport': 'true' } }, false],
      [{ StringEquals: { [tag]: 'red' }, Bool: { 'aws:SecureTransport': 'false' } }, true],
      // Condition key names are case-insensitive; values are not.
      [{ StringEquals: { 'ECR:RESOURCETAG/TEAM': 'red' } }, true],
      [{ StringNotEquals: { [tag]: 'blue' } }, true],
      [{ StringNotEquals: { [tag]: ['blue', 'red'] } }, false],
      [{ StringNotEquals: { [absent]: 'red' } }, true],
      [{ StringEqualsIgnoreCase: { [tag]: 'RED' } }, true],
      [{ StringNotEqualsIgnoreCase: { [tag]: 'RED' } }, false],
      [{ StringNotEqualsIgnoreCase: { [absent]: 'RED' } }, true],
      [{ StringLike: { [tag]: 'r?d' } }, true],
      [{ StringLike: { [tag]: 'b*' } }, false],
      [{ StringLike: { [absent]: '*' } }, false],
      [{ StringNotLike: { [tag]: 'b*' } }, true],
      [{ StringNotLike: { [tag]: '*' } }, false],
      [{ StringNotLike: { [absent]: '*' } }, true],
      // ? is one character: before, one UTF-16 unit, so a letter outside the BMP slipped past this Deny.
      [{ StringLike: { 'ecr:ResourceTag/glyph': '?' } }, true],
      [{ StringLike: { 'ecr:ResourceTag/glyph': '??' } }, false],
      [{ StringEqualsIfExists: { [absent]: 'blue' } }, true],
      [{ StringEqualsIfExists: { [tag]: 'blue' } }, false],
      [{ StringNotEqualsIfExists: { [absent]: 'red' } }, true],
      [{ StringNotEqualsIfExists: { [tag]: 'red' } }, false],
    ]);
  });

  it('Arn operators: segment by segment, case-sensitive; a value of fewer than six segments matches no ARN', async () => {
    const me = () => `arn:aws:iam::000000000000:user/op-${users + 1}`;
    await table([
      [{ ArnEquals: { 'aws:PrincipalArn': me() } }, true],
      [{ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/op-*' } }, true],
      [{ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/OP-*' } }, false],
      [{ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/*' } }, false],
      [{ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/*' } }, false],
      [{ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/*' } }, true],
      [{ ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/someone-else' } }, true],
      [{ ArnLike: { 'aws:SourceArn': '*' } }, false],
      [{ ArnNotLike: { 'aws:SourceArn': 'arn:aws:*:*:*:*' } }, true],
      // Five segments: nothing to check the resource part against, so no ARN is like it, and
      // the negated Deny denies (as a whole-string glob it matched every IAM ARN and denied none).
      [{ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*' } }, false],
      [{ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*' } }, true],
    ]);
  });

  it('Bool, Null, Numeric and Date operators, with the key present and absent', async () => {
    await table([
      [{ Bool: { 'aws:SecureTransport': 'false' } }, true],
      [{ Bool: { 'aws:SecureTransport': true } }, false],
      [{ Bool: { 'aws:MultiFactorAuthPresent': 'false' } }, false],
      [{ BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' } }, true],
      [{ Null: { 'ecr:ResourceTag/absent': 'true' } }, true],
      [{ Null: { 'ecr:ResourceTag/team': 'true' } }, false],
      [{ Null: { 'ecr:ResourceTag/team': 'false' } }, true],
      [{ Null: { 'aws:TokenIssueTime': 'false' } }, false],
      [{ NumericGreaterThan: { 'aws:EpochTime': '946684800' } }, true],
      [{ NumericLessThan: { 'aws:EpochTime': '946684800' } }, false],
      [{ NumericLessThanEquals: { 'aws:EpochTime': ['1', '99999999999'] } }, true],
      [{ NumericEquals: { 'ecr:ResourceTag/absent': '1' } }, false],
      [{ NumericNotEquals: { 'ecr:ResourceTag/absent': '1' } }, true],
      [{ DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } }, true],
      [{ DateLessThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } }, false],
      [{ DateGreaterThan: { 'aws:CurrentTime': '946684800' } }, true],
      [{ DateLessThan: { 'aws:EpochTime': '2000-01-01' } }, false],
      [{ DateGreaterThan: { 'aws:TokenIssueTime': '2000-01-01' } }, false],
      [{ DateNotEquals: { 'aws:TokenIssueTime': '2000-01-01' } }, true],
      [{ DateGreaterThanIfExists: { 'aws:TokenIssueTime': '2999-01-01' } }, true],
    ]);
  });

  it("a Date value without an offset is UTC, not the server host's local time", async () => {
    // Before, Date.parse read '2026-12-07T21:00:00' as local time: on a host twelve hours behind
    // UTC this Deny's window opened twelve hours late.
    const tz = process.env.TZ;
    process.env.TZ = 'Etc/GMT+12';
    try {
      const anHourAgo = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
      await table([
        [{ DateGreaterThan: { 'aws:CurrentTime': anHourAgo } }, true],
        [{ DateLessThan: { 'aws:CurrentTime': anHourAgo } }, false],
      ]);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('IpAddress and NotIpAddress on aws:SourceIp of an IPv4 client: IPv4 and IPv4-mapped blocks, not ::/0', async () => {
    // Before, the dual-stack listener's ::ffff:127.0.0.1 was inside ::/0, where the same client
    // on an IPv4 listener was not.
    await table([
      [{ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, true],
      [{ IpAddress: { 'aws:SourceIp': '127.0.0.1' } }, true],
      [{ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, false],
      [{ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '127.0.0.0/24'] } }, true],
      [{ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, true],
      [{ NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, false],
      // An IPv4 client is in no IPv6 block, so it is outside every one of them.
      [{ IpAddress: { 'aws:SourceIp': '::/0' } }, false],
      [{ NotIpAddress: { 'aws:SourceIp': '::/0' } }, true],
      [{ IpAddress: { 'aws:SourceIp': '::ffff:0:0/96' } }, true],
      [{ IpAddress: { 'aws:SourceIp': '::ffff:10.0.0.0/104' } }, false],
      [{ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, true],
    ]);
  });

  it('IpAddress and NotIpAddress on aws:SourceIp of an IPv6 client (::1): IPv6 blocks only', async () => {
    await table(
      [
        [{ IpAddress: { 'aws:SourceIp': '::1/128' } }, true],
        [{ IpAddress: { 'aws:SourceIp': '::/0' } }, true],
        [{ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, false],
        [{ NotIpAddress: { 'aws:SourceIp': '::1' } }, false],
        [{ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, false],
        [{ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, false],
        [{ NotIpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, true],
      ],
      true,
    );
  });

  it('ForAllValues holds on an absent key and ForAnyValue does not: the Allow trap works as in IAM', async () => {
    // ListImages carries no aws:TagKeys.
    await table([
      [{ 'ForAllValues:StringEquals': { 'aws:TagKeys': 'team' } }, true],
      [{ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'team' } }, false],
      [{ 'ForAllValues:StringNotEquals': { 'aws:TagKeys': 'team' } }, true],
      [{ 'ForAnyValue:StringNotLike': { 'aws:TagKeys': '*' } }, false],
      [{ 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': 'team' } }, true],
    ]);
    // An Allow of CreateRepository limited to the tag key 'team' by ForAllValues also allows a
    // creation with no tags at all (IAM's documented trap), and refuses one tagged otherwise.
    const limited = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ecr:CreateRepository', 'ecr:TagResource'],
          Resource: '*',
          Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': 'team' } },
        },
      ],
    };
    const u = await createUser(berth, iam, 'op-forall', [], [limited]);
    await u.ecr.send(new Create({ repositoryName: 'ops/untagged' }));
    await u.ecr.send(new Create({ repositoryName: 'ops/team', tags: [{ Key: 'team', Value: 'x' }] }));
    await assert.rejects(u.ecr.send(new Create({ repositoryName: 'ops/other', tags: [{ Key: 'other', Value: 'x' }] })), denied);
    const guarded = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ecr:CreateRepository', 'ecr:TagResource'],
          Resource: '*',
          Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': 'team' }, Null: { 'aws:TagKeys': 'false' } },
        },
      ],
    };
    const v = await createUser(berth, iam, 'op-forall-null', [], [guarded]);
    await assert.rejects(v.ecr.send(new Create({ repositoryName: 'ops/untagged-2' })), denied, 'Null false closes the trap');
    await v.ecr.send(new Create({ repositoryName: 'ops/team-2', tags: [{ Key: 'team', Value: 'x' }] }));
  });
});
