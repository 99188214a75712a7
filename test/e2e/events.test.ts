/**
 * Events in EventBridge's shapes, delivered to a webhook on loopback: rules, connections and API
 * destinations made with the real `aws events` CLI against a running Berth; images pushed,
 * deleted, scanned and expired through /v2, the SDK and `berth lifecycle run`; a small HTTP
 * receiver in this process records what arrives, field by field. Also: the receiver's outage
 * (events arrive after it returns), the connection's credentials (API key, Basic, OAuth client
 * credentials), a rule whose pattern does not match, bad input, and IAM denial.
 *
 * The CLI makes at least one call of each kind of resource (rules, targets, connections, API
 * destinations), its refusals and its denial, so botocore's view of each shape stays checked; the
 * other calls go through the EventBridge SDK, another real client, at a thousandth of a CLI
 * process's CPU (~0.9 s each on a 2-core machine).
 */
import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  PutLifecyclePolicyCommand,
  UpdateImageStorageClassCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import {
  type ConnectionAuthorizationType,
  type CreateConnectionAuthRequestParameters,
  CreateApiDestinationCommand,
  CreateConnectionCommand,
  DeleteApiDestinationCommand,
  DeleteConnectionCommand,
  DeleteRuleCommand,
  DescribeApiDestinationCommand,
  DescribeConnectionCommand,
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListRulesCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { tar } from '../../src/scan/layers/testing/tar-writer.js';
import { cliPath, freePort, startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { eventsInvokeRole } from './helpers/events-role.js';
import { createUser } from './helpers/iam-users.js';
import { refusal } from './helpers/refusal.js';
import { pushBlob, pushManifest, request, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

interface ConnectionAuth {
  AuthorizationType: ConnectionAuthorizationType;
  AuthParameters: CreateConnectionAuthRequestParameters;
}

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  event: Record<string, unknown> & { detail: Record<string, unknown> };
}

/** A webhook receiver on loopback that can go away and come back on the same port. */
class Receiver {
  readonly got: Received[] = [];
  readonly tokenRequests: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  private server: Server | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.url === '/oauth/token') {
          this.tokenRequests.push({ headers: req.headers, body });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'token-123', token_type: 'bearer', expires_in: 3600 }));
          return;
        }
        let event: Received['event'];
        try {
          event = JSON.parse(body) as Received['event'];
        } catch {
          res.writeHead(400).end('not JSON');
          return;
        }
        this.got.push({ path: req.url ?? '', headers: req.headers, body, event });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((res) => this.server!.listen(this.port, '127.0.0.1', res));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((res) => s.close(() => res()));
  }

  /** The first event at `path` that satisfies `pred`, once it has arrived. */
  async next(what: string, path: string, pred: (e: Received['event']) => boolean): Promise<Received> {
    return waitFor(what, () => this.got.find((r) => r.path.startsWith(path) && pred(r.event)));
  }
}

describe('events delivered to API destinations', () => {
  let berth: BerthProcess;
  let ecr: ECRClient;
  let receiver: Receiver;
  let env: NodeJS.ProcessEnv;
  let sdk: EventBridgeClient;
  /** The role every target here invokes its API destination with (events:InvokeApiDestination on any). */
  let invokeRole: string;

  const events = async (...args: string[]) =>
    JSON.parse((await run('aws', ['events', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
  const eventsFails = async (args: string[], cliEnv = env) => {
    const err = await run('aws', ['events', ...args, '--output', 'json'], { env: cliEnv }).then(
      () => assert.fail(`aws events ${args[0]} succeeded`),
      (e: { stderr: string }) => e,
    );
    return err.stderr;
  };

  /** A connection, an API destination on the receiver at `path`, and a rule with it as target: through the CLI or the SDK. */
  async function route(name: string, pattern: object, path: string, auth: ConnectionAuth, via: 'cli' | 'sdk'): Promise<void> {
    const destination = (ConnectionArn: unknown) => ({
      Name: `${name}-dest`,
      ConnectionArn: String(ConnectionArn),
      InvocationEndpoint: `${receiver.url}${path}`,
      HttpMethod: 'POST' as const,
      InvocationRateLimitPerSecond: 100,
    });
    if (via === 'sdk') {
      const conn = await sdk.send(new CreateConnectionCommand({ Name: `${name}-conn`, ...auth }));
      const dest = await sdk.send(new CreateApiDestinationCommand(destination(conn.ConnectionArn)));
      await sdk.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern) }));
      const put = await sdk.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'hook', Arn: dest.ApiDestinationArn, RoleArn: invokeRole }] }));
      assert.equal(put.FailedEntryCount, 0);
      return;
    }
    const conn = await events(
      'create-connection',
      '--name',
      `${name}-conn`,
      '--authorization-type',
      auth.AuthorizationType,
      '--auth-parameters',
      JSON.stringify(auth.AuthParameters),
    );
    // As JSON: the CLI (v1) would fetch an http:// parameter value as a "URL parameter".
    const dest = await events('create-api-destination', '--cli-input-json', JSON.stringify(destination(conn.ConnectionArn)));
    await events('put-rule', '--name', name, '--event-pattern', JSON.stringify(pattern));
    const put = await events('put-targets', '--rule', name, '--targets', JSON.stringify([{ Id: 'hook', Arn: dest.ApiDestinationArn, RoleArn: invokeRole }]));
    assert.equal(put.FailedEntryCount, 0);
  }

  const apiKey: ConnectionAuth = {
    AuthorizationType: 'API_KEY',
    AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Hook-Key', ApiKeyValue: 's3cret-key' } },
  };

  async function pushImage(repo: string, tag: string, salt: string, extra: Record<string, unknown> = {}): Promise<string> {
    const layer = gzipSync(
      tar([
        { path: 'etc/os-release', data: Buffer.from('ID=debian\nVERSION_ID="12"\n') },
        { path: `salt-${salt}`, data: Buffer.from(salt) },
      ]),
    );
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, salt }));
    for (const b of [config, layer]) assert.equal((await pushBlob(berth.url, repo, b)).status, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
        ...extra,
      }),
    );
    const res = await pushManifest(berth.url, repo, tag, manifest, OCI_MANIFEST);
    assert.equal(res.status, 201, res.body.toString());
    return sha256(manifest);
  }

  /** The envelope every event shares, checked field by field. */
  function assertEnvelope(e: Received['event'], detailType: string, resources: string[]): void {
    assert.equal(e.version, '0');
    assert.match(String(e.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(e['detail-type'], detailType);
    assert.equal(e.source, 'aws.ecr');
    assert.equal(e.account, ACCOUNT);
    assert.match(String(e.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(e.region, REGION);
    assert.deepEqual(e.resources, resources);
    assert.deepEqual(Object.keys(e), ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail']);
  }

  before(async () => {
    receiver = new Receiver(await freePort());
    await receiver.start();
    // Info: the test sees delivery failures in the log, and checks no secret is in it.
    berth = await startBerth({ env: { BERTH_LOG_LEVEL: 'info' } });
    ecr = ecrClient(berth);
    env = awsCliEnv(berth);
    sdk = new EventBridgeClient({ endpoint: berth.url, region: REGION, credentials: adminCredentials(berth), maxAttempts: 1 });
    invokeRole = await eventsInvokeRole(
      new IAMClient({ endpoint: berth.url, region: REGION, credentials: adminCredentials(berth), maxAttempts: 1 }),
      'events-invoke',
    );
    await route('all-ecr', { source: ['aws.ecr'] }, '/all', apiKey, 'cli');
  });
  after(async () => {
    await berth?.cleanup();
    await receiver?.stop();
  });

  it('a /v2 push arrives as "ECR Image Action" PUSH, exactly as EventBridge sends it, with the API key', async () => {
    const digest = await pushImage('team/web', 'v1', 'a');
    const got = await receiver.next('the push event', '/all', (e) => e.detail['image-digest'] === digest);
    assertEnvelope(got.event, 'ECR Image Action', []);
    assert.deepEqual(got.event.detail, {
      result: 'SUCCESS',
      'repository-name': 'team/web',
      'image-digest': digest,
      'action-type': 'PUSH',
      'image-tag': 'v1',
      'manifest-media-type': OCI_MANIFEST,
      'artifact-media-type': OCI_CONFIG,
    });
    assert.equal(got.headers['x-hook-key'], 's3cret-key');
    assert.match(String(got.headers['content-type']), /^application\/json/);
    assert.equal(got.body, JSON.stringify(got.event), 'the body is the event JSON');
  });

  it('deletes by every door arrive as "ECR Image Action" DELETE', async () => {
    const byDigest = await pushImage('team/del', 'd1', 'd1');
    const byBatch = await pushImage('team/del', 'd2', 'd2');
    assert.equal((await request(`${berth.url}/v2/team/del/manifests/${byDigest}`, { method: 'DELETE' })).status, 202);
    const res = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'team/del', imageIds: [{ imageTag: 'd2' }] }));
    assert.equal(res.failures?.length, 0);
    const v2 = await receiver.next('the /v2 delete', '/all', (e) => e.detail['action-type'] === 'DELETE' && e.detail['image-digest'] === byDigest);
    assertEnvelope(v2.event, 'ECR Image Action', []);
    assert.deepEqual(v2.event.detail, {
      result: 'SUCCESS',
      'repository-name': 'team/del',
      'image-digest': byDigest,
      'action-type': 'DELETE',
      'manifest-media-type': OCI_MANIFEST,
      'artifact-media-type': OCI_CONFIG,
    });
    const batch = await receiver.next(
      'the BatchDeleteImage delete',
      '/all',
      (e) => e.detail['action-type'] === 'DELETE' && e.detail['image-digest'] === byBatch,
    );
    assert.deepEqual(batch.event.detail, {
      result: 'SUCCESS',
      'repository-name': 'team/del',
      'image-digest': byBatch,
      'action-type': 'DELETE',
      'image-tag': 'd2',
      'manifest-media-type': OCI_MANIFEST,
      'artifact-media-type': OCI_CONFIG,
    });
  });

  it('a referrer push arrives as "ECR Referrer Action" with its artifact type', async () => {
    const subject = await pushImage('team/ref', 'base', 'subject');
    const sig = await pushImage('team/ref', 'sig', 'sig', {
      artifactType: 'application/vnd.example.signature',
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: 1 },
    });
    const got = await receiver.next('the referrer event', '/all', (e) => e.detail['image-digest'] === sig);
    assertEnvelope(got.event, 'ECR Referrer Action', []);
    assert.deepEqual(got.event.detail, {
      result: 'SUCCESS',
      'repository-name': 'team/ref',
      'image-digest': sig,
      'action-type': 'PUSH',
      'image-tag': 'sig',
      'manifest-media-type': OCI_MANIFEST,
      'artifact-media-type': 'application/vnd.example.signature',
    });
  });

  it('a finished scan arrives as "ECR Image Scan" with the repository ARN and severity counts', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/scan', imageScanningConfiguration: { scanOnPush: true } }));
    const digest = await pushImage('team/scan', 's1', 'scan');
    const got = await receiver.next('the scan event', '/all', (e) => e['detail-type'] === 'ECR Image Scan' && e.detail['image-digest'] === digest);
    assertEnvelope(got.event, 'ECR Image Scan', [`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/scan`]);
    assert.deepEqual(got.event.detail, {
      'scan-status': 'COMPLETE',
      'repository-name': 'team/scan',
      'finding-severity-counts': {},
      'image-digest': digest,
      'image-tags': ['s1'],
    });
  });

  it('a lifecycle expiry arrives as "ECR Lifecycle Policy Action" EXPIRE', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/old' }));
    const old = await pushImage('team/old', 'old', 'old');
    await pushImage('team/old', 'new', 'new');
    const policy = {
      rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }],
    };
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'team/old', lifecyclePolicyText: JSON.stringify(policy) }));
    await run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', 'team/old']);
    const got = await receiver.next('the lifecycle event', '/all', (e) => e['detail-type'] === 'ECR Lifecycle Policy Action');
    assertEnvelope(got.event, 'ECR Lifecycle Policy Action', [`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/old`]);
    assert.deepEqual(got.event.detail, { 'repository-name': 'team/old', 'action-type': 'EXPIRE', 'image-digest': old, 'image-tags': ['old'] });
  });

  it('a lifecycle transition arrives as "ECR Lifecycle Policy Action" TRANSITION; a restore as "ECR Image Action" UPDATE_STORAGE_CLASS', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/cold' }));
    const old = await pushImage('team/cold', 'old', 'cold-old');
    await pushImage('team/cold', 'new', 'cold-new');
    const policy = {
      rules: [
        {
          rulePriority: 1,
          selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 },
          action: { type: 'transition', targetStorageClass: 'archive' },
        },
      ],
    };
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: 'team/cold', lifecyclePolicyText: JSON.stringify(policy) }));
    await run(process.execPath, [cliPath, 'lifecycle', 'run', '--data-dir', berth.dataDir, '--repository', 'team/cold']);
    const got = await receiver.next(
      'the transition event',
      '/all',
      (e) => e['detail-type'] === 'ECR Lifecycle Policy Action' && e.detail['repository-name'] === 'team/cold',
    );
    assertEnvelope(got.event, 'ECR Lifecycle Policy Action', [`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/cold`]);
    assert.deepEqual(got.event.detail, {
      'repository-name': 'team/cold',
      'action-type': 'TRANSITION',
      'image-digest': old,
      'image-tags': ['old'],
      'target-storage-class': 'ARCHIVE',
    });
    await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'team/cold', imageId: { imageTag: 'old' }, targetStorageClass: 'STANDARD' }));
    const restored = await receiver.next(
      'the restore event',
      '/all',
      (e) => e.detail['action-type'] === 'UPDATE_STORAGE_CLASS' && e.detail['image-digest'] === old,
    );
    assertEnvelope(restored.event, 'ECR Image Action', []);
    const { 'last-activated-at': activatedAt, ...detail } = restored.event.detail;
    assert.deepEqual(detail, {
      result: 'SUCCESS',
      'repository-name': 'team/cold',
      'image-digest': old,
      'action-type': 'UPDATE_STORAGE_CLASS',
      'target-storage-class': 'STANDARD',
      'manifest-media-type': OCI_MANIFEST,
      'artifact-media-type': OCI_CONFIG,
    });
    assert.match(String(activatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('events written while the receiver is down arrive once it is back', async () => {
    await receiver.stop();
    const digest = await pushImage('team/outage', 'o1', 'outage');
    // Delivery has been attempted (and failed) before the receiver returns.
    await waitFor('a failed delivery attempt', () => /event delivery failed, will retry/.test(berth.output()));
    await receiver.start();
    const got = await receiver.next('the event written during the outage', '/all', (e) => e.detail['image-digest'] === digest);
    assert.equal(got.event.detail['image-tag'], 'o1');
  });

  it('Basic and OAuth client-credentials connections send their credentials; a rule that does not match gets nothing', async () => {
    const only = (repo: string) => ({ source: ['aws.ecr'], detail: { 'repository-name': [repo], 'action-type': ['PUSH'] } });
    await route(
      'basic',
      only('team/basic'),
      '/basic',
      { AuthorizationType: 'BASIC', AuthParameters: { BasicAuthParameters: { Username: 'hook', Password: 'pa55' } } },
      'sdk',
    );
    await route(
      'oauth',
      only('team/oauth'),
      '/oauth',
      {
        AuthorizationType: 'OAUTH_CLIENT_CREDENTIALS',
        AuthParameters: {
          OAuthParameters: {
            ClientParameters: { ClientID: 'berth-client', ClientSecret: 'client-secret' },
            AuthorizationEndpoint: `${receiver.url}/oauth/token`,
            HttpMethod: 'POST',
            OAuthHttpParameters: { BodyParameters: [{ Key: 'scope', Value: 'events', IsValueSecret: false }] },
          },
        },
      },
      'sdk',
    );
    const first = await pushImage('team/first', 'x', 'first');
    const basic = await pushImage('team/basic', 'b', 'basic');
    const oauth = await pushImage('team/oauth', 'o', 'oauth');
    const b = await receiver.next('the Basic delivery', '/basic', (e) => e.detail['image-digest'] === basic);
    assert.equal(b.headers.authorization, `Basic ${Buffer.from('hook:pa55').toString('base64')}`);
    const o = await receiver.next('the OAuth delivery', '/oauth', (e) => e.detail['image-digest'] === oauth);
    assert.equal(o.headers.authorization, 'Bearer token-123');
    const token = receiver.tokenRequests[0]!;
    assert.equal(token.headers.authorization, `Basic ${Buffer.from('berth-client:client-secret').toString('base64')}`);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(token.body)), { grant_type: 'client_credentials', scope: 'events' });
    // The outbox is fanned out in order: by the time team/basic's event reached /basic, the
    // earlier push to team/first had been matched against every rule.
    await receiver.next('team/first at /all', '/all', (e) => e.detail['image-digest'] === first);
    for (const [path, repo] of [
      ['/basic', 'team/basic'],
      ['/oauth', 'team/oauth'],
    ]) {
      const repos = new Set(receiver.got.filter((r) => r.path === path).map((r) => r.event.detail['repository-name']));
      assert.deepEqual([...repos], [repo], `${path} got only what its rule matches`);
    }
  });

  it('manages rules, targets, connections and API destinations through `aws events`', async () => {
    const rules = (await events('list-rules', '--name-prefix', 'all')).Rules as Array<Record<string, unknown>>;
    assert.deepEqual(rules, [
      {
        Name: 'all-ecr',
        Arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/all-ecr`,
        EventPattern: JSON.stringify({ source: ['aws.ecr'] }),
        State: 'ENABLED',
        EventBusName: 'default',
      },
    ]);
    const page1 = await sdk.send(new ListRulesCommand({ Limit: 2 }));
    assert.equal(page1.Rules?.length, 2);
    assert.ok(page1.NextToken);
    const page2 = await sdk.send(new ListRulesCommand({ Limit: 2, NextToken: page1.NextToken }));
    assert.deepEqual(
      [...(page1.Rules ?? []), ...(page2.Rules ?? [])].map((r) => r.Name),
      ['all-ecr', 'basic', 'oauth'],
    );
    const described = await events('describe-rule', '--name', 'basic');
    assert.equal(described.State, 'ENABLED');
    assert.equal(described.CreatedBy, ACCOUNT);
    await sdk.send(new DisableRuleCommand({ Name: 'basic' }));
    assert.equal((await sdk.send(new DescribeRuleCommand({ Name: 'basic' }))).State, 'DISABLED');
    await sdk.send(new EnableRuleCommand({ Name: 'basic' }));
    assert.equal((await sdk.send(new DescribeRuleCommand({ Name: 'basic' }))).State, 'ENABLED');

    const targets = (await events('list-targets-by-rule', '--rule', 'basic')).Targets as Array<Record<string, unknown>>;
    assert.deepEqual(
      targets.map((t) => [t.Id, t.Arn]),
      [['hook', (await sdk.send(new DescribeApiDestinationCommand({ Name: 'basic-dest' }))).ApiDestinationArn]],
    );
    const conn = await events('describe-connection', '--name', 'basic-conn');
    assert.deepEqual(conn.AuthParameters, { BasicAuthParameters: { Username: 'hook' } });
    assert.doesNotMatch(JSON.stringify(conn), /pa55/, 'the password is never returned');
    const oauthConn = await sdk.send(new DescribeConnectionCommand({ Name: 'oauth-conn' }));
    assert.doesNotMatch(JSON.stringify(oauthConn), /client-secret/);
    assert.doesNotMatch(berth.output(), /pa55|client-secret|s3cret-key/, 'nor logged');

    assert.match(await refusal(sdk.send(new DeleteRuleCommand({ Name: 'basic' }))), /ValidationException.*has targets/);
    const removed = await events('remove-targets', '--rule', 'basic', '--ids', 'hook', 'nope');
    assert.deepEqual(removed.FailedEntries, [
      { TargetId: 'nope', ErrorCode: 'ResourceNotFoundException', ErrorMessage: 'Target nope does not exist on rule basic.' },
    ]);
    await sdk.send(new DeleteRuleCommand({ Name: 'basic' }));
    assert.match(await refusal(sdk.send(new DescribeRuleCommand({ Name: 'basic' }))), /ResourceNotFoundException/);
    await sdk.send(new DeleteApiDestinationCommand({ Name: 'basic-dest' }));
    const gone = await sdk.send(new DeleteConnectionCommand({ Name: 'basic-conn' }));
    assert.equal(gone.ConnectionState, 'DELETING');
    assert.match(await refusal(sdk.send(new DescribeConnectionCommand({ Name: 'basic-conn' }))), /ResourceNotFoundException/);
  });

  it('refuses bad input with EventBridge errors and changes nothing', async () => {
    const before = (await sdk.send(new ListRulesCommand({}))).Rules;
    // One refusal through the CLI; the rest through the SDK (the refusals are the server's,
    // whichever real client asks). The unchanged rules are checked after all of them.
    assert.match(await eventsFails(['put-rule', '--name', 'bad', '--event-pattern', '{"source": "aws.ecr"}']), /InvalidEventPatternException/);
    const badPatterns = ['not json', '{"detail": {"n": [{"numeric": [">"]}]}}', '{"source": [{"wildcard": "*"}]}'];
    for (const EventPattern of badPatterns) {
      assert.match(await refusal(sdk.send(new PutRuleCommand({ Name: 'bad', EventPattern }))), /InvalidEventPatternException/, EventPattern);
    }
    assert.match(await refusal(sdk.send(new PutRuleCommand({ Name: 'bad name', EventPattern: '{"source":["aws.ecr"]}' }))), /ValidationException/);
    assert.match(await refusal(sdk.send(new PutRuleCommand({ Name: 'sched', ScheduleExpression: 'rate(5 minutes)' }))), /ValidationException/);
    const sqs = [{ Id: 't', Arn: 'arn:aws:sqs:us-east-1:000000000000:q' }];
    assert.match(await refusal(sdk.send(new PutTargetsCommand({ Rule: 'nope', Targets: sqs }))), /ResourceNotFoundException/);
    const failed = await sdk.send(new PutTargetsCommand({ Rule: 'all-ecr', Targets: [{ Id: 'q', Arn: 'arn:aws:sqs:us-east-1:000000000000:q' }] }));
    assert.equal(failed.FailedEntryCount, 1);
    assert.deepEqual(before, (await sdk.send(new ListRulesCommand({}))).Rules);
    const conn = await sdk.send(new DescribeConnectionCommand({ Name: 'all-ecr-conn' }));
    assert.match(
      await refusal(
        sdk.send(
          new CreateApiDestinationCommand({
            Name: 'plain',
            ConnectionArn: conn.ConnectionArn,
            InvocationEndpoint: 'http://example.com/hook',
            HttpMethod: 'POST',
          }),
        ),
      ),
      /ValidationException.*https/,
    );
    assert.match(await refusal(sdk.send(new CreateConnectionCommand({ Name: 'all-ecr-conn', ...apiKey }))), /ResourceAlreadyExistsException/);
    assert.match(await refusal(sdk.send(new ListRulesCommand({ EventBusName: 'other' }))), /ResourceNotFoundException/);
  });

  it('is authorized by IAM: events:PutRule is needed to put a rule', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: REGION, credentials: adminCredentials(berth), maxAttempts: 1 });
    const reader = await createUser(
      berth,
      iam,
      'events-reader',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:ListRules', Resource: '*' }] }],
    );
    const readerEnv = awsCliEnv(berth, reader.keys);
    const asReader = new EventBridgeClient({ endpoint: berth.url, region: REGION, credentials: reader.keys, maxAttempts: 1 });
    const listed = await asReader.send(new ListRulesCommand({}));
    assert.ok((listed.Rules ?? []).length > 0);
    const denied = await eventsFails(['put-rule', '--name', 'sneaky', '--event-pattern', '{"source":["aws.ecr"]}'], readerEnv);
    assert.match(denied, /AccessDeniedException/);
    assert.match(denied, /events:PutRule/);
    assert.match(await refusal(sdk.send(new DescribeRuleCommand({ Name: 'sneaky' }))), /ResourceNotFoundException/, 'nothing was created');
  });
});
