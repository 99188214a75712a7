/**
 * The event outbox is claimed in turns between accounts: account A (the admin) and account B each
 * have an EventBridge rule whose target is an API destination on a loopback receiver, made with
 * @aws-sdk/client-eventbridge and @aws-sdk/client-iam. With the node's deliverer stopped, A puts
 * 250 tags through @aws-sdk/client-ecr (an event each: more than a deliverer's batch of 200),
 * then B one. A second node on the same data directory, one delivery at a time, then drains the
 * outbox: B's event arrives among the first few, where it used to arrive after a batch of A's.
 */
import { CreateRepositoryCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateApiDestinationCommand, CreateConnectionCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { eventsInvokeRole } from '../e2e/helpers/events-role.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { pushImage } from './helpers/ecr-push.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const A = '000000000000';
const B = '222222222222';
const BACKLOG = 250;

describe("events: one account's burst does not hold back another account's event", () => {
  let berth: BerthInProcess;
  let second: BerthInProcess | undefined;
  let receiver: Server;
  let b: TestIdentity;
  /** The account of each event received, in arrival order. */
  const received: string[] = [];

  /** A rule on aws.ecr events whose target is an API destination on the receiver, in the account of `credentials`. */
  async function ruleToReceiver(credentials: Credentials, path: string): Promise<void> {
    const events = new EventBridgeClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
    const conn = await events.send(
      new CreateConnectionCommand({
        Name: 'hook',
        AuthorizationType: 'API_KEY',
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Key', ApiKeyValue: 'k' } },
      }),
    );
    const { port } = receiver.address() as AddressInfo;
    const dest = await events.send(
      new CreateApiDestinationCommand({
        Name: 'hook',
        ConnectionArn: conn.ConnectionArn,
        InvocationEndpoint: `http://127.0.0.1:${port}${path}`,
        HttpMethod: 'POST',
      }),
    );
    const role = await eventsInvokeRole(iam, 'hook-invoke', dest.ApiDestinationArn!);
    await events.send(new PutRuleCommand({ Name: 'pushes', EventPattern: JSON.stringify({ source: ['aws.ecr'] }) }));
    const put = await events.send(new PutTargetsCommand({ Rule: 'pushes', Targets: [{ Id: 'hook', Arn: dest.ApiDestinationArn, RoleArn: role }] }));
    assert.equal(put.FailedEntryCount, 0);
  }

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push((JSON.parse(body) as { account: string }).account);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    berth = await startInProcess({ onDisk: true });
    await createAccount(berth, B);
    b = await otherAccountIdentity(berth, B);
  });
  after(async () => {
    await second?.cleanup();
    await berth?.cleanup();
    receiver?.close();
  });

  it(`delivers B's one event among the first few, not behind A's ${BACKLOG}`, async () => {
    await ruleToReceiver(adminCredentials(berth), '/a');
    await ruleToReceiver(b.keys, '/b');
    // This node delivers nothing from now on: the outbox fills.
    await berth.app.eventDeliverer.stop();
    const a = ecrClient(berth);
    await a.send(new CreateRepositoryCommand({ repositoryName: 'a/app' }));
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b/app' }));
    // One image, then a tag put for each further event (a call each).
    const { manifest } = await pushImage(a, 'a/app', 'v0');
    for (let i = 1; i < BACKLOG; i++) await a.send(new PutImageCommand({ repositoryName: 'a/app', imageManifest: manifest, imageTag: `v${i}` }));
    await pushImage(b.ecr, 'b/app', 'v0');
    const meta = berth.app.registry.ctx.meta;
    assert.equal(await meta.eventOutbox.pending(), BACKLOG + 1, 'every tag put wrote its event');

    // Another node on the same data directory (and server key), one delivery at a time.
    second = await startInProcess({ dataDir: berth.dataDir, onDisk: true, env: { BERTH_EVENTS_DELIVERY_CONCURRENCY: '1' } });
    const { at } = await waitFor("B's event", () => (received.includes(B) ? { at: received.indexOf(B) } : undefined));
    assert.ok(at <= 2, `B's event was delivery ${at + 1} of ${BACKLOG + 1}, after ${at} of A's`);
    await waitFor('every event', () => received.length === BACKLOG + 1);
    assert.deepEqual(received.filter((x) => x === A).length, BACKLOG, "A's events all arrive, once each");
  });
});
