/**
 * The deliverer over a real SQLite store and a real HTTP receiver, with a clock the test moves:
 * retries until the 24-hour window closes, drops what the endpoint refuses for good, and keeps
 * within the destination's rate limit. (The end-to-end paths are in test/e2e/events.test.ts.)
 */
import { registryKey } from '../core/registry-key.js';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import type { Clock } from '../core/clock.js';
import { ReachPolicy } from '../core/outbound-reach.js';
import { push } from '../metadata/contract-fixtures.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../metadata/types.js';
import { ecrEvent } from '../registry/events.js';
import { EVENT_DELIVERY_JOB, EventDeliverer } from './deliverer.js';
import { EventBridgeService, type EventsScope } from './service.js';

const SCOPE: EventsScope = { accountId: '123456789012', region: 'us-east-1' };
const REGISTRY = registryKey('123456789012', 'us-east-1');
const ROLE = 'arn:aws:iam::123456789012:role/events-invoke';
const OTHER_SCOPE: EventsScope = { accountId: '210987654321', region: 'us-east-1' };
const OTHER_REGISTRY = registryKey('210987654321', 'us-east-1');
/** Ends a wait that would otherwise hang; no delivery here takes near it. */
const HANG_MS = 30_000;
const plain = { seal: (s: string) => `sealed:${s}`, open: (s: string) => s.slice('sealed:'.length) };

/** The receivers listen on loopback, which Berth refuses to reach by default. */
const LOOPBACK = { outboundAllow: ['127.0.0.0/8', '::1'], outboundDeny: [] };
describe('event deliverer', () => {
  let receiver: Server;
  let url = '';
  let status = 200;
  const bodies: string[] = [];
  let meta: MetadataStore;
  let now = Date.parse('2026-12-03T00:00:00Z');
  const clock: Clock = { now: () => new Date(now) };
  let deliverer: EventDeliverer;
  let salt = 0;
  /** What the deliverer asked of the targets' roles, and whether they may invoke. */
  const asked: Array<[string, string]> = [];
  let invokable = true;
  const mayInvoke = async (role: string, destination: string) => {
    asked.push([role, destination]);
    return invokable;
  };

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const addr = receiver.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
  });
  after(() => receiver.close());

  beforeEach(async () => {
    meta = createSqliteMetadataStore({ path: ':memory:' });
    bodies.length = 0;
    asked.length = 0;
    invokable = true;
    status = 200;
    deliverer = new EventDeliverer({
      meta,
      clock,
      log: pino({ level: 'silent' }),
      secrets: plain,
      nodeId: 'n1',
      concurrency: 4,
      pollMs: 60_000,
      reach: LOOPBACK,
      mayInvoke,
    });
  });

  async function route(rate = 300, scope = SCOPE, endpoint = url, role: string | null = ROLE): Promise<string> {
    const events = new EventBridgeService(meta.eventResources, clock, plain, { allowHttp: false, reach: new ReachPolicy(LOOPBACK) });
    const auth = { ApiKeyName: 'x-key' };
    const conn = await events.createConnection(scope, { name: 'c', authorizationType: 'API_KEY', public: auth, secrets: { apiKeyValue: 'v' } });
    const dest = await events.createApiDestination(scope, { name: 'd', connectionArn: conn.arn, endpoint, method: 'POST', rateLimit: rate });
    await events.putRule(scope, { name: 'r', eventPattern: '{"source":["aws.ecr"]}' });
    assert.deepEqual(await events.putTargets(scope, 'r', [{ Id: 't', Arn: dest.arn, ...(role !== null && { RoleArn: role }) }]), []);
    return dest.arn;
  }

  async function emit(registry = REGISTRY): Promise<string> {
    const e = ecrEvent(registry, 'ECR Image Action', new Date(now), [], { n: ++salt });
    await push(meta, { registryKey: registry, salt: String(salt), events: [e], now: new Date(now) });
    return e.body;
  }

  it('delivers the event body once and removes the job', async () => {
    await route();
    const body = await emit();
    await deliverer.drain();
    assert.deepEqual(bodies, [body]);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0);
    assert.equal(await meta.eventOutbox.pending(), 0);
  });

  it("asks before each send whether the target's role may invoke the destination, and sends nothing when it may not", async () => {
    const dest = await route();
    invokable = false;
    await emit();
    await deliverer.drain();
    assert.deepEqual(asked, [[ROLE, dest]]);
    assert.deepEqual(bodies, [], 'nothing sent');
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0, 'dropped, not retried');
    invokable = true;
    const body = await emit();
    await deliverer.drain();
    assert.deepEqual(bodies, [body], 'a role allowed since is used for the next event');
  });

  it('sends nothing for a target that names no role (one put before roles were asked for)', async () => {
    await route(300, SCOPE, url, null);
    await emit();
    await deliverer.drain();
    assert.deepEqual([bodies, asked], [[], []]);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0);
  });

  it('an event no rule matches is pruned from the outbox without a delivery', async () => {
    await emit();
    await deliverer.drain();
    assert.equal(await meta.eventOutbox.pending(), 0);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0);
    assert.deepEqual(bodies, []);
  });

  it('retries a failing endpoint with backoff until 24 hours have passed, then drops the event', async () => {
    await route();
    status = 503;
    await emit();
    await deliverer.drain();
    assert.equal(bodies.length, 1);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 1, 'kept for a retry');
    await deliverer.drain();
    assert.equal(bodies.length, 1, 'not retried before its backoff has passed');
    now += 60_000;
    await deliverer.drain();
    assert.equal(bodies.length, 2);
    now += 25 * 3600_000;
    await deliverer.drain();
    assert.equal(bodies.length, 3, 'one last attempt');
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0, 'then dropped');
  });

  it('drops at once what the endpoint refuses for good (a 4xx other than 401, 407, 409, 429)', async () => {
    await route();
    status = 400;
    await emit();
    await deliverer.drain();
    assert.equal(bodies.length, 1);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0);
  });

  it('claims the outbox once per kick: a short batch ends the round (each claim is a commit)', async () => {
    await route();
    let claims = 0;
    const outbox = meta.eventOutbox;
    const claim = (...a: Parameters<typeof outbox.claim>) => {
      claims++;
      return outbox.claim(...a);
    };
    const counted = new EventDeliverer({
      meta: { ...meta, eventOutbox: { ...outbox, claim } },
      clock,
      log: pino({ level: 'silent' }),
      secrets: plain,
      nodeId: 'n1',
      concurrency: 4,
      pollMs: 60_000,
      reach: LOOPBACK,
      mayInvoke,
    });
    for (let i = 0; i < 3; i++) await emit();
    counted.kick();
    while (bodies.length < 3 || (await meta.eventOutbox.pending()) > 0) await new Promise((r) => setTimeout(r, 20));
    await counted.stop();
    assert.equal(claims, 1, 'the three events were claimed together, and nothing was claimed again on the spot');
  });

  it("an account whose target hangs holds half of the request slots: another account's events go meanwhile", async () => {
    // This account's target takes requests and never answers (each attempt holds its slot
    // until the request timeout); the other account's is the receiver.
    let open = 0;
    let most = 0;
    const hang = createServer((_req, res) => {
      most = Math.max(most, ++open);
      res.on('close', () => open--);
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const addr = hang.address();
    await route(300, SCOPE, `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hang`);
    await route(300, OTHER_SCOPE, url);
    const two = new EventDeliverer({
      meta,
      clock,
      log: pino({ level: 'silent' }),
      secrets: plain,
      nodeId: 'n1',
      concurrency: 2,
      pollMs: 60_000,
      reach: LOOPBACK,
      mayInvoke,
    });
    try {
      await emit();
      await emit();
      const theirs = await emit(OTHER_REGISTRY);
      two.kick();
      // The deadline only ends a hang (the other account's event held back for good).
      for (const end = Date.now() + HANG_MS; !bodies.includes(theirs) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      assert.ok(bodies.includes(theirs), "the other account's event was delivered");
      assert.equal(open, 1, "the other account's event went while this account's attempt still hung");
      assert.equal(most, 1, "this account's two attempts never held both slots");
    } finally {
      await two.stop();
      hang.closeAllConnections();
      hang.close();
    }
  });

  it('keeps within the destination rate limit: a second event in the same second waits', async () => {
    await route(1);
    await emit();
    await emit();
    await deliverer.drain();
    assert.equal(bodies.length, 1);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 1);
    now += 1000;
    await deliverer.drain();
    assert.equal(bodies.length, 2);
    assert.equal(await meta.jobs.pending(EVENT_DELIVERY_JOB), 0);
  });
});
