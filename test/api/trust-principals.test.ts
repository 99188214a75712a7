/**
 * A trust policy names the users and roles it names as they were when it was saved, as IAM binds
 * a principal ARN to the entity's unique id: one deleted and made again under the same name
 * (another id) is not trusted until the trust policy is saved again, and an ARN naming no user
 * or role is refused when saved ("Invalid principal in policy"). Before, a trust matched by the
 * ARN's text, so a new `bob` assumed what the old one was trusted with. Real SDK clients.
 */
import {
  CreateRoleCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  IAMClient,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { sessionKeys, type Credentials } from './helpers/temporary-credentials.js';

const ACCOUNT = '000000000000';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const trusting = (principal: string) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }] });
const mayAssume = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] };

describe('trust policies name users and roles by their unique ids', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  const assume = (who: Credentials, role: string) =>
    new STSClient({ endpoint: berth.url, region: berth.region, credentials: who, maxAttempts: 1 }).send(
      new AssumeRoleCommand({ RoleArn: roleArn(role), RoleSessionName: 'trusted' }),
    );
  /** Deletes the user as IAM requires: its key and inline policy first. */
  const deleteUser = async (name: string, key: string) => {
    await iam.send(new DeleteAccessKeyCommand({ UserName: name, AccessKeyId: key }));
    await iam.send(new DeleteUserPolicyCommand({ UserName: name, PolicyName: 'p0' }));
    await iam.send(new DeleteUserCommand({ UserName: name }));
  };

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('a user deleted and made again under the name is not the user the trust policy names, until it is saved again', async () => {
    const bob = await createUser(berth, iam, 'bob', [], [mayAssume]);
    await iam.send(new CreateRoleCommand({ RoleName: 'bobs', AssumeRolePolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:user/bob`) }));
    await assume(bob.keys, 'bobs');
    await deleteUser('bob', bob.keys.accessKeyId);
    const newBob = await createUser(berth, iam, 'bob', [], [mayAssume]);
    assert.match(
      await refusal(assume(newBob.keys, 'bobs')),
      /^AccessDenied: User: arn:aws:iam::000000000000:user\/bob is not authorized to perform: sts:AssumeRole/,
    );
    // Saved again, the policy names the bob there is now.
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'bobs', PolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:user/bob`) }));
    await assume(newBob.keys, 'bobs');
  });

  it('a role deleted and made again is not the role the trust policy names: its sessions may not chain', async () => {
    const runner = await createUser(berth, iam, 'runner', [], [mayAssume]);
    const makeCi = async () => {
      await iam.send(new CreateRoleCommand({ RoleName: 'ci', AssumeRolePolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:root`) }));
      await iam.send(new PutRolePolicyCommand({ RoleName: 'ci', PolicyName: 'chain', PolicyDocument: JSON.stringify(mayAssume) }));
    };
    await makeCi();
    await iam.send(new CreateRoleCommand({ RoleName: 'deploy', AssumeRolePolicyDocument: trusting(roleArn('ci')) }));
    await assume(sessionKeys((await assume(runner.keys, 'ci')).Credentials), 'deploy');
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'ci', PolicyName: 'chain' }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'ci' }));
    await makeCi();
    const again = sessionKeys((await assume(runner.keys, 'ci')).Credentials);
    assert.match(await refusal(assume(again, 'deploy')), /^AccessDenied: .*sts:AssumeRole on resource: arn:aws:iam::000000000000:role\/deploy/);
  });

  it('refuses a trust policy naming a user or role that does not exist, on create and on update', async () => {
    for (const principal of [`arn:aws:iam::${ACCOUNT}:user/nobody`, `arn:aws:iam::${ACCOUNT}:role/nothing`, `arn:aws:iam::${ACCOUNT}:user/other/path/bob`]) {
      assert.match(
        await refusal(iam.send(new CreateRoleCommand({ RoleName: 'ghostly', AssumeRolePolicyDocument: trusting(principal) }))),
        /^MalformedPolicyDocumentException: Invalid principal in policy/,
        principal,
      );
      assert.match(
        await refusal(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'bobs', PolicyDocument: trusting(principal) }))),
        /^MalformedPolicyDocumentException: Invalid principal in policy/,
        principal,
      );
    }
  });
});
