/**
 * IAM's quota on an identity's inline policies, added up without white space: 2,048 characters
 * for a user, 10,240 for a role, 5,120 for a group. Past it, LimitExceeded (409) and nothing
 * stored; a put under a name already held replaces that one's size. Every request an identity
 * makes evaluates all of its inline policies, which were unbounded in number and 128 KiB each.
 */
import {
  CreateGroupCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListUserPoliciesCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

/** A policy of exactly `chars` characters outside white space (and `pad` spaces inside it). */
function policyOf(chars: number, pad = 0): string {
  // Resources of at most 1,000 characters each, as a policy's elements are bounded.
  const shell = (repos: string[]) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ecr:ListImages', Resource: repos.map((r) => `arn:aws:ecr:*:*:repository/${r}`) }],
    });
  const repos: string[] = [];
  while (shell([...repos, 'r'.repeat(1000), '']).length <= chars) repos.push('r'.repeat(1000));
  repos.push('');
  repos[repos.length - 1] = 'r'.repeat(chars - shell(repos).length);
  const doc = shell(repos);
  assert.equal(doc.length, chars, 'the policy has the size asked for');
  return doc.replace('"Effect"', `${' '.repeat(pad)}"Effect"`);
}

const limitExceeded = (max: number, holder: string) => (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
  assert.equal(e.name, 'LimitExceededException');
  assert.equal(e.$metadata?.httpStatusCode, 409);
  assert.equal(e.message, `Maximum policy size of ${max} bytes exceeded for ${holder}`);
  return true;
};

describe('the size of inline policies', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
  });
  after(async () => berth?.cleanup());

  it("a user's: 2,048 characters in all, white space not counted; past it nothing is stored", async () => {
    await iam.send(new CreateUserCommand({ UserName: 'sized' }));
    const put = (name: string, doc: string) => iam.send(new PutUserPolicyCommand({ UserName: 'sized', PolicyName: name, PolicyDocument: doc }));
    await put('a', policyOf(2048, 3000));
    await assert.rejects(put('b', policyOf(200)), limitExceeded(2048, 'user sized'));
    await assert.rejects(iam.send(new GetUserPolicyCommand({ UserName: 'sized', PolicyName: 'b' })), (e: Error) => e.name === 'NoSuchEntityException');
    // A put under the same name replaces that policy's size.
    await put('a', policyOf(1000));
    await put('b', policyOf(1048));
    await assert.rejects(put('c', policyOf(200)), limitExceeded(2048, 'user sized'));
    assert.deepEqual((await iam.send(new ListUserPoliciesCommand({ UserName: 'sized' }))).PolicyNames, ['a', 'b']);
  });

  it("a role's: 10,240; a group's: 5,120", async () => {
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'sts:AssumeRole' }],
    });
    await iam.send(new CreateRoleCommand({ RoleName: 'sized-role', AssumeRolePolicyDocument: trust }));
    // One document is at most 6,144 characters; two make the role's 10,240.
    for (const name of ['p', 'q']) await iam.send(new PutRolePolicyCommand({ RoleName: 'sized-role', PolicyName: name, PolicyDocument: policyOf(5120) }));
    await assert.rejects(
      iam.send(new PutRolePolicyCommand({ RoleName: 'sized-role', PolicyName: 'r', PolicyDocument: policyOf(200) })),
      limitExceeded(10240, 'role sized-role'),
    );
    await iam.send(new CreateGroupCommand({ GroupName: 'sized-group' }));
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'sized-group', PolicyName: 'p', PolicyDocument: policyOf(5120) }));
    await assert.rejects(
      iam.send(new PutGroupPolicyCommand({ GroupName: 'sized-group', PolicyName: 'p', PolicyDocument: policyOf(5121) })),
      limitExceeded(5120, 'group sized-group'),
    );
  });
});
