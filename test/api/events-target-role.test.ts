/**
 * An API destination target names the role EventBridge invokes the destination with, as
 * EventBridge requires ("To use an API destination as a target, you must provide an IAM role
 * with the correct permissions", events:InvokeApiDestination), and the caller who names it must
 * be allowed to pass it (iam:PassRole, iam:PassedToService events.amazonaws.com). Without this,
 * a user allowed to put targets on its own rule could send its own Input, with another team's
 * connection credentials, to that team's API destination. The role's own permission is judged
 * at each delivery (src/events/deliverer.test.ts; test/e2e/events.test.ts delivers through it).
 */
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateApiDestinationCommand,
  CreateConnectionCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { eventsInvokeRole } from '../e2e/helpers/events-role.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { imageRepository } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

describe('EventBridge: the role of an API destination target', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let admin: EventBridgeClient;
  let destination: string;
  let role: string;
  let account: string;

  const events = (credentials: Credentials) => new EventBridgeClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  /** A user who may put rules and targets on its own rule `name` only, and whatever else `extra` allows. */
  const ruleOwner = async (name: string, ...extra: object[]) => {
    const rule = `arn:aws:events:${berth.region}:${account}:rule/${name}`;
    const user = events(
      (await createUser(berth, iam, name, [], [doc({ Effect: 'Allow', Action: ['events:PutRule', 'events:PutTargets'], Resource: rule }, ...extra)])).keys,
    );
    await user.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify({ source: ['aws.ecr'] }) }));
    return user;
  };
  const targetsOf = async (rule: string) => (await admin.send(new ListTargetsByRuleCommand({ Rule: rule }))).Targets ?? [];

  before(async () => {
    berth = await startInProcess();
    const credentials = adminCredentials(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
    admin = events(credentials);
    const conn = await admin.send(
      new CreateConnectionCommand({
        Name: 'team-b',
        AuthorizationType: 'API_KEY',
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Key', ApiKeyValue: 'team-b-key' } },
      }),
    );
    const dest = await admin.send(
      new CreateApiDestinationCommand({
        Name: 'team-b',
        ConnectionArn: conn.ConnectionArn,
        InvocationEndpoint: 'https://hooks.example.com/b',
        HttpMethod: 'POST',
      }),
    );
    destination = dest.ApiDestinationArn!;
    account = destination.split(':')[4]!;
    role = await eventsInvokeRole(iam, 'team-b-invoke', destination);
  });
  after(async () => berth?.cleanup());

  it("PutRule's RoleArn is passed too: a role of the account, with iam:PassRole; a refusal puts no rule", async () => {
    const rule = (name: string) => `arn:aws:events:${berth.region}:${account}:rule/${name}`;
    const putter = async (name: string, ...extra: object[]) =>
      events((await createUser(berth, iam, name, [], [doc({ Effect: 'Allow', Action: 'events:PutRule', Resource: rule(name) }, ...extra)])).keys);
    const put = (client: EventBridgeClient, name: string, RoleArn: string) =>
      client.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify({ source: ['aws.ecr'] }), RoleArn }));
    const noPass = await putter('rule-no-pass');
    await assert.rejects(put(noPass, 'rule-no-pass', role), (e: Error) => e.name === 'AccessDeniedException' && e.message.includes('iam:PassRole'));
    await assert.rejects(admin.send(new DescribeRuleCommand({ Name: 'rule-no-pass' })), (e: Error) => e.name === 'ResourceNotFoundException');
    await assert.rejects(put(admin, 'rule-elsewhere', 'arn:aws:iam::999999999999:role/team-b-invoke'), (e: Error) => e.name === 'ValidationException');

    const pass = { Effect: 'Allow', Action: 'iam:PassRole', Resource: role, Condition: { StringEquals: { 'iam:PassedToService': 'events.amazonaws.com' } } };
    await put(await putter('rule-pass', pass), 'rule-pass', role);
    assert.equal((await admin.send(new DescribeRuleCommand({ Name: 'rule-pass' }))).RoleArn, role);
  });

  it('refuses a target that names no role, or a role of another account, as a failed entry', async () => {
    const user = await ruleOwner('no-role');
    const noRole = await user.send(new PutTargetsCommand({ Rule: 'no-role', Targets: [{ Id: 'b', Arn: destination }] }));
    assert.equal(noRole.FailedEntryCount, 1);
    assert.match(noRole.FailedEntries![0]!.ErrorMessage!, /RoleArn/);
    const elsewhere = await admin.send(
      new PutTargetsCommand({ Rule: 'no-role', Targets: [{ Id: 'b', Arn: destination, RoleArn: 'arn:aws:iam::999999999999:role/team-b-invoke' }] }),
    );
    assert.equal(elsewhere.FailedEntryCount, 1);
    assert.deepEqual(await targetsOf('no-role'), []);
  });

  it('needs iam:PassRole on the role, passed to events.amazonaws.com; a refusal puts nothing', async () => {
    const noPass = await ruleOwner('no-pass');
    await assert.rejects(
      noPass.send(new PutTargetsCommand({ Rule: 'no-pass', Targets: [{ Id: 'b', Arn: destination, RoleArn: role }] })),
      (e: Error) => e.name === 'AccessDeniedException' && e.message.includes('iam:PassRole'),
    );
    assert.deepEqual(await targetsOf('no-pass'), []);

    const toEcr = await ruleOwner('pass-to-ecr', {
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: role,
      Condition: { StringEquals: { 'iam:PassedToService': 'ecr.amazonaws.com' } },
    });
    await assert.rejects(
      toEcr.send(new PutTargetsCommand({ Rule: 'pass-to-ecr', Targets: [{ Id: 'b', Arn: destination, RoleArn: role }] })),
      (e: Error) => e.name === 'AccessDeniedException',
    );
    assert.deepEqual(await targetsOf('pass-to-ecr'), []);

    const toEvents = await ruleOwner('pass-to-events', {
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: role,
      Condition: { StringEquals: { 'iam:PassedToService': 'events.amazonaws.com' } },
    });
    const put = await toEvents.send(new PutTargetsCommand({ Rule: 'pass-to-events', Targets: [{ Id: 'b', Arn: destination, RoleArn: role }] }));
    assert.equal(put.FailedEntryCount, 0);
    assert.deepEqual(
      (await targetsOf('pass-to-events')).map((t) => [t.Arn, t.RoleArn]),
      [[destination, role]],
    );
  });

  it('delivers only with a role that trusts EventBridge: a role trusting only its account is dropped, with the reason logged', async () => {
    const got: string[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const port = (hook.address() as AddressInfo).port;
      const conn = await admin.send(
        new CreateConnectionCommand({
          Name: 'hook',
          AuthorizationType: 'API_KEY',
          AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Key', ApiKeyValue: 'k' } },
        }),
      );
      const hookDest = (
        await admin.send(
          new CreateApiDestinationCommand({
            Name: 'hook',
            ConnectionArn: conn.ConnectionArn,
            InvocationEndpoint: `http://127.0.0.1:${port}/in`,
            HttpMethod: 'POST',
          }),
        )
      ).ApiDestinationArn!;
      const trusted = await eventsInvokeRole(iam, 'hook-trusted', hookDest);
      // The same permission, but only the account's own principals may assume it, not EventBridge.
      const ownTrust = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' });
      await iam.send(new CreateRoleCommand({ RoleName: 'hook-untrusted', AssumeRolePolicyDocument: JSON.stringify(ownTrust) }));
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: 'hook-untrusted',
          PolicyName: 'invoke',
          PolicyDocument: JSON.stringify(doc({ Effect: 'Allow', Action: 'events:InvokeApiDestination', Resource: hookDest })),
        }),
      );
      const untrusted = trusted.replace('hook-trusted', 'hook-untrusted');
      await admin.send(new PutRuleCommand({ Name: 'hook-rule', EventPattern: JSON.stringify({ source: ['aws.ecr'] }) }));
      const put = await admin.send(
        new PutTargetsCommand({
          Rule: 'hook-rule',
          Targets: [
            { Id: 'untrusted', Arn: hookDest, RoleArn: untrusted, Input: '{"who":"untrusted"}' },
            { Id: 'trusted', Arn: hookDest, RoleArn: trusted, Input: '{"who":"trusted"}' },
          ],
        }),
      );
      assert.equal(put.FailedEntryCount, 0, 'PutTargets takes both: the admin may pass either role');
      // A push: an ECR Image Action event, which the rule matches.
      await imageRepository(berth.url, ecrClient(berth), 'hooked', Buffer.from('{"hooked":1}'));
      await waitFor('the trusted target to be delivered', () => got.find((b) => b.includes('"trusted"')));
      await waitFor('the untrusted target to be dropped', () =>
        berth
          .output()
          .split('\n')
          .find((l) => l.includes('event not delivered: dropped') && l.includes('hook-untrusted')),
      );
      assert.deepEqual(
        got.filter((b) => b.includes('untrusted')),
        [],
      );
    } finally {
      hook.close();
    }
  });
});
