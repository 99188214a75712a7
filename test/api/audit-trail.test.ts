/**
 * The audit trail through real clients: calls made with the AWS CLI, the SDK, skopeo and raw
 * /v2 requests are recorded in CloudTrail's shape and read back with `aws cloudtrail
 * lookup-events` (attribute filters, time range, pagination); denials are recorded; no secret
 * reaches the stored rows or the auditLog file; accounts see only their own events; retention
 * prunes on the app's clock.
 *
 * The CLI makes the calls whose record or lookup is about the CLI (its user agent, its lookups by
 * name and time range, its pages and tokens, one refusal); the other calls, and every wait for the
 * trail's writer (a lookup per probe), go through the SDKs, other real clients, at a thousandth
 * of a CLI process's CPU (~0.9 s each on a 2-core machine).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CloudTrailClient,
  DescribeTrailsCommand,
  type Event,
  type LookupAttribute,
  LookupEventsCommand,
  type LookupEventsCommandInput,
} from '@aws-sdk/client-cloudtrail';
import {
  DescribeImagesCommand,
  DescribeRegistryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  GetLifecyclePolicyCommand,
} from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import type { Clock } from '../../src/core/clock.js';
import { ALL_CHUNKS, unpackBlob } from '../../src/metadata/audit-rows.js';
import { cliPath, tempDir } from '../e2e/helpers/berth-process.js';
import { adminCredentials, ecrClient, type Credentials } from '../e2e/helpers/ecr-client.js';
import { buildImageLayout } from '../e2e/helpers/oci-layout.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { createSkopeo, type Skopeo } from '../e2e/helpers/skopeo.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const OTHER_ACCOUNT = '444455556666';

interface TrailEvent {
  EventId: string;
  EventName: string;
  ReadOnly: string;
  AccessKeyId?: string;
  EventTime: string;
  EventSource: string;
  Username?: string;
  Resources: Array<{ ResourceType: string; ResourceName: string }>;
  CloudTrailEvent: string;
}

interface Record_ {
  eventVersion: string;
  userIdentity: { type: string; arn: string; accountId: string; accessKeyId?: string; userName?: string };
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: null;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  resources?: Array<{ accountId: string; type: string; ARN: string }>;
  eventType: string;
  recipientAccountId: string;
}

/** Wall time plus an offset the test moves: retention is tested without waiting. */
class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

describe('the audit trail', () => {
  let berth: BerthInProcess;
  let admin: Credentials;
  let skopeo: Skopeo;
  let auditLog: string;
  const clock = new ShiftedClock();
  const started = new Date(Date.now() - 1000);

  const env = (creds: Credentials): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_ENDPOINT_URL: berth.url,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_DEFAULT_REGION: berth.region,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
  });
  const aws = async (args: string[], creds = admin): Promise<Record<string, unknown>> => {
    const { stdout } = await run('aws', [...args, '--output', 'json'], { env: env(creds) });
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  };
  /** The CLI's stderr of a call that must fail. */
  const awsFails = async (args: string[], creds = admin): Promise<string> => {
    try {
      await run('aws', args, { env: env(creds) });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws ${args.join(' ')} succeeded`);
  };
  const lookup = async (args: string[], creds = admin): Promise<{ Events: TrailEvent[]; NextToken?: string }> =>
    (await aws(['cloudtrail', 'lookup-events', ...args], creds)) as unknown as { Events: TrailEvent[]; NextToken?: string };
  const byName = (name: string) => ['--lookup-attributes', `AttributeKey=EventName,AttributeValue=${name}`];
  const trail = (creds = admin) => new CloudTrailClient({ endpoint: berth.url, region: berth.region, credentials: creds, maxAttempts: 1 });
  /** LookupEvents through the SDK, every page followed (as the CLI does unless told otherwise). */
  const lookupSdk = async (input: LookupEventsCommandInput, creds = admin): Promise<Event[]> => {
    const client = trail(creds);
    const events: Event[] = [];
    let NextToken: string | undefined;
    do {
      const page = await client.send(new LookupEventsCommand({ ...input, NextToken }));
      events.push(...(page.Events ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return events;
  };
  const attr = (AttributeKey: LookupAttribute['AttributeKey'], AttributeValue: string) => ({ LookupAttributes: [{ AttributeKey, AttributeValue }] });
  const nameIs = (name: string) => attr('EventName', name);
  /** Waits until the writer has flushed events matching `input` (at least `n`), then returns them. */
  const eventually = (what: string, input: LookupEventsCommandInput, n = 1, creds = admin) =>
    waitFor(what, async () => {
      const found = await lookupSdk(input, creds);
      return found.length >= n ? found : undefined;
    });
  const recordOf = (e: { CloudTrailEvent?: string | undefined }) => JSON.parse(e.CloudTrailEvent!) as Record_;
  const ecr = (creds = admin) => ecrClient(berth, creds);
  const iam = () => new IAMClient({ endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 });
  /** A user and its access key, through the SDK. */
  const newUser = async (UserName: string): Promise<Credentials> => {
    await iam().send(new CreateUserCommand({ UserName }));
    const key = (await iam().send(new CreateAccessKeyCommand({ UserName }))).AccessKey!;
    return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  };
  const berthAdmin = (args: string[]) => run(process.execPath, [cliPath, 'admin', ...args, '--data-dir', berth.dataDir]);

  before(async () => {
    const dir = await tempDir('berth-audit-');
    auditLog = join(dir, 'audit.jsonl');
    berth = await startInProcess({ clock, sqliteFile: true, env: { BERTH_AUDIT_LOG: auditLog } });
    admin = adminCredentials(berth);
    skopeo = await createSkopeo();
  });
  after(async () => {
    await skopeo?.cleanup();
    await berth?.cleanup();
  });

  it('records an ECR call in CloudTrail shape, found by the CLI by event name', async () => {
    await aws(['ecr', 'create-repository', '--repository-name', 'audit/web']);
    await eventually('CreateRepository recorded', nameIs('CreateRepository'));
    const [event] = (await lookup(byName('CreateRepository'))).Events;
    assert.equal(event!.EventName, 'CreateRepository');
    assert.equal(event!.EventSource, 'ecr.amazonaws.com');
    assert.equal(event!.ReadOnly, 'false');
    assert.equal(event!.Username, 'root');
    assert.equal(event!.AccessKeyId, admin.accessKeyId);
    assert.deepEqual(event!.Resources, [{ ResourceType: 'AWS::ECR::Repository', ResourceName: 'audit/web' }]);
    const r = recordOf(event!);
    const account = r.recipientAccountId;
    assert.match(account, /^\d{12}$/);
    assert.deepEqual(r.userIdentity, {
      type: 'Root',
      principalId: account,
      arn: `arn:aws:iam::${account}:root`,
      accountId: account,
      accessKeyId: admin.accessKeyId,
    });
    assert.equal(r.eventVersion, '1.08');
    assert.match(r.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(r.eventSource, 'ecr.amazonaws.com');
    assert.equal(r.eventName, 'CreateRepository');
    assert.equal(r.awsRegion, berth.region);
    assert.equal(r.sourceIPAddress, '127.0.0.1');
    assert.match(r.userAgent, /^aws-cli\//);
    assert.equal(r.errorCode, undefined);
    assert.deepEqual(r.requestParameters, { repositoryName: 'audit/web' });
    assert.equal(r.responseElements, null);
    assert.match(r.requestID, /^[0-9a-f-]{36}$/);
    assert.equal(r.eventID, event!.EventId);
    assert.equal(r.readOnly, false);
    assert.deepEqual(r.resources, [{ accountId: account, type: 'AWS::ECR::Repository', ARN: `arn:aws:ecr:${berth.region}:${account}:repository/audit/web` }]);
    assert.equal(r.eventType, 'AwsApiCall');
    // Looked up by its id, and by the time range around it.
    assert.deepEqual(
      (await lookupSdk(attr('EventId', event!.EventId))).map((e) => e.EventId),
      [event!.EventId],
    );
    const t = Date.parse(r.eventTime) / 1000;
    const window = await lookup(['--start-time', String(t - 1), '--end-time', String(t + 1), ...byName('CreateRepository')]);
    assert.deepEqual(
      window.Events.map((e) => e.EventId),
      [event!.EventId],
    );
    const before = await lookupSdk({ EndTime: new Date((t - 2) * 1000), ...nameIs('CreateRepository') });
    assert.deepEqual(before, []);
  });

  it('names a skopeo push and pull as CloudTrail names docker traffic', async () => {
    const src = await tempDir('berth-audit-image-');
    const image = await buildImageLayout(src, { layers: 2, layerBytes: [40_000, 2000], tag: 'v1' });
    await skopeo.copy(`oci:${src}:v1`, `docker://${berth.host}/audit/app:v1`, ['--preserve-digests']);
    const out = await tempDir('berth-audit-pulled-');
    await skopeo.copy(`docker://${berth.host}/audit/app:v1`, `oci:${out}:v1`);
    const events = await waitFor('the push and pull recorded', async () => {
      const found = await lookupSdk(attr('ResourceName', 'audit/app'));
      const names = new Set(found.map((e) => e.EventName));
      // Records are stored in batches: wait until every layer's pull is in, not only the first.
      const pulled = new Set(found.filter((e) => e.EventName === 'GetDownloadUrlForLayer').map((e) => recordOf(e).requestParameters?.layerDigest));
      return ['PutImage', 'BatchGetImage', 'GetDownloadUrlForLayer', 'InitiateLayerUpload', 'CompleteLayerUpload'].every((n) => names.has(n)) &&
        image.layers.every((l) => pulled.has(l.digest))
        ? found
        : undefined;
    });
    for (const e of events) {
      const r = recordOf(e);
      assert.equal(r.eventSource, 'ecr.amazonaws.com');
      assert.equal(r.errorCode, undefined, `${r.eventName} succeeded`);
      assert.match(r.userAgent, /skopeo|containers/i);
      assert.equal(r.userIdentity.type, 'Root', 'the login token names the account root');
      assert.equal(r.resources?.[0]?.ARN, `arn:aws:ecr:${berth.region}:${r.recipientAccountId}:repository/audit/app`);
    }
    const put = recordOf(events.find((e) => e.EventName === 'PutImage')!);
    assert.deepEqual(put.requestParameters, { registryId: put.recipientAccountId, repositoryName: 'audit/app', imageTag: 'v1' });
    assert.equal(put.readOnly, false);
    const pulls = events.filter((e) => e.EventName === 'BatchGetImage').map(recordOf);
    assert.ok(pulls.some((p) => JSON.stringify(p.requestParameters?.imageIds) === JSON.stringify([{ imageTag: 'v1' }])));
    assert.ok(pulls.every((p) => p.readOnly));
    const layers = events.filter((e) => e.EventName === 'GetDownloadUrlForLayer').map((e) => recordOf(e).requestParameters?.layerDigest);
    for (const l of image.layers) assert.ok(layers.includes(l.digest), `pulling ${l.digest} is recorded`);
    // Blob HEADs (one per layer per push) are not worth a record.
    assert.ok(!events.some((e) => e.EventName === 'BatchCheckLayerAvailability'));
  });

  it('pages through the CLI and refuses bad parameters with CloudTrail errors', async () => {
    for (let i = 0; i < 5; i++) await ecr().send(new DescribeRepositoriesCommand({}));
    const all = await eventually('five DescribeRepositories', nameIs('DescribeRepositories'), 5);
    // Pages of two, followed by the CLI through NextToken: the same events, newest first.
    const paged = await lookup([...byName('DescribeRepositories'), '--page-size', '2']);
    assert.deepEqual(
      paged.Events.map((e) => e.EventId),
      all.map((e) => e.EventId),
    );
    const times = all.map((e) => e.EventTime!.getTime());
    assert.deepEqual(
      times,
      [...times].sort((x, y) => y - x),
      'newest first',
    );
    // One page at a time: --max-items hands back the CLI's token, --starting-token resumes.
    const first = await lookup([...byName('DescribeRepositories'), '--max-items', '3', '--page-size', '2']);
    assert.equal(first.Events.length, 3);
    assert.ok(first.NextToken);
    const rest = await lookup([...byName('DescribeRepositories'), '--starting-token', first.NextToken, '--page-size', '2']);
    assert.deepEqual(
      [...first.Events, ...rest.Events].map((e) => e.EventId),
      all.map((e) => e.EventId),
    );
    assert.ok(all.every((e) => e.ReadOnly === 'true'));

    const readOnly = await lookupSdk(attr('ReadOnly', 'false'));
    assert.ok(readOnly.length > 0 && readOnly.every((e) => e.ReadOnly === 'false'));

    // One refusal through the CLI; the others through the SDK (the refusals are the server's).
    const refused = (input: LookupEventsCommandInput) => refusal(trail().send(new LookupEventsCommand(input)));
    assert.match(await refused({ MaxResults: 51 }), /InvalidMaxResultsException/);
    assert.match(
      await awsFails([
        'cloudtrail',
        'lookup-events',
        '--lookup-attributes',
        'AttributeKey=EventName,AttributeValue=PutImage',
        'AttributeKey=Username,AttributeValue=root',
      ]),
      /InvalidLookupAttributesException/,
    );
    assert.match(await refused({ StartTime: new Date(2000_000), EndTime: new Date(1000_000) }), /InvalidTimeRangeException/);
    // A token issued for other parameters (or made up) is refused.
    const token = (await trail().send(new LookupEventsCommand({ ...nameIs('DescribeRepositories'), MaxResults: 1 }))).NextToken;
    assert.ok(token);
    assert.match(await refused({ ...nameIs('CreateRepository'), NextToken: token }), /InvalidNextTokenException/);
  });

  it('serves LookupEvents alone, refusing any other operation under either target form', async () => {
    // The SDK sends the short target (`CloudTrail_20131101.DescribeTrails`), the CLI the long one.
    assert.match(await refusal(trail().send(new DescribeTrailsCommand({}))), /UnknownOperationException/);
    assert.match(await awsFails(['cloudtrail', 'describe-trails']), /UnknownOperationException/);
  });

  it('records denied calls with their error, under the caller', async () => {
    const nobody = await newUser('nobody');
    const asNobody = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: nobody, maxAttempts: 1 });
    assert.match(await refusal(asNobody.send(new ListUsersCommand({}))), /AccessDenied/);
    assert.match(await refusal(ecr(nobody).send(new DescribeImagesCommand({ repositoryName: 'audit/web' }))), /AccessDeniedException/);
    assert.match(await refusal(trail(nobody).send(new LookupEventsCommand({}))), /AccessDeniedException/);
    const events = await eventually('the denials recorded', attr('Username', 'nobody'), 3);
    const iamRecord = recordOf(events.find((e) => e.EventName === 'ListUsers')!);
    assert.equal(iamRecord.errorCode, 'AccessDenied');
    assert.equal(iamRecord.eventSource, 'iam.amazonaws.com');
    assert.deepEqual(iamRecord.userIdentity, {
      type: 'IAMUser',
      arn: `arn:aws:iam::${iamRecord.recipientAccountId}:user/nobody`,
      accountId: iamRecord.recipientAccountId,
      accessKeyId: nobody.accessKeyId,
      userName: 'nobody',
    });
    const ecrRecord = recordOf(events.find((e) => e.EventName === 'DescribeImages')!);
    assert.equal(ecrRecord.errorCode, 'AccessDeniedException');
    assert.match(ecrRecord.errorMessage!, /not authorized to perform: ecr:DescribeImages/);
    const trailRecord = recordOf(events.find((e) => e.EventName === 'LookupEvents')!);
    assert.equal(trailRecord.errorCode, 'AccessDeniedException');
    assert.equal(trailRecord.eventSource, 'cloudtrail.amazonaws.com');
    // Also by access key.
    const byKey = await lookupSdk(attr('AccessKeyId', nobody.accessKeyId));
    assert.deepEqual(new Set(byKey.map((e) => e.EventId)), new Set(events.map((e) => e.EventId)));
  });

  it('never stores a secret: not in the rows, not in the auditLog file', async () => {
    const key = await newUser('keyholder');
    const kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: admin, maxAttempts: 1 });
    const KeyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const plaintext = Buffer.from('audit-plaintext-that-must-not-be-kept');
    const encrypted = Buffer.from((await kms.send(new EncryptCommand({ KeyId, Plaintext: plaintext }))).CiphertextBlob!).toString('base64');
    await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(encrypted, 'base64') }));
    const dataKey = Buffer.from((await kms.send(new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256' }))).Plaintext!).toString('base64');
    const token = (await ecr().send(new GetAuthorizationTokenCommand({}))).authorizationData!;
    // A token endpoint exchange (not an event: the trail records no /v2 login either): its token is never stored.
    const exchanged = await fetch(`${berth.url}/token?service=${berth.host}&scope=repository:a/b:pull`, {
      headers: { authorization: `Basic ${token[0]!.authorizationToken!}` },
    });
    assert.equal(exchanged.status, 200);
    const bearer = ((await exchanged.json()) as { token: string }).token;
    const events = await eventually('the calls recorded', nameIs('GenerateDataKey'));
    await eventually('the token recorded', nameIs('GetAuthorizationToken'));
    const encrypt = recordOf((await eventually('Encrypt recorded', nameIs('Encrypt')))[0]!);
    assert.equal(encrypt.readOnly, true);
    assert.deepEqual(Object.keys(encrypt.requestParameters ?? {}).sort(), ['keyId'], 'the plaintext is left out');
    assert.equal(recordOf(events[0]!).resources?.[0]?.type, 'AWS::KMS::Key');
    const created = recordOf((await eventually('CreateAccessKey recorded', nameIs('CreateAccessKey')))[0]!);
    assert.deepEqual(created.requestParameters, { userName: 'keyholder' });
    // Everything the trail holds, as stored: the SQLite files (the registry's and the trail's, WAL
    // included) and the JSON lines.
    const storedBytes = async () => {
      const db = (await readdir(berth.dataDir)).filter((f) => f.startsWith('metadata')).map((f) => join(berth.dataDir, f));
      return Buffer.concat(await Promise.all([auditLog, ...db].map((f) => readFile(f))));
    };
    const stored = await waitFor('the auditLog file has the last records', async () => {
      const b = await storedBytes();
      return b.includes(`"eventName":"GetAuthorizationToken"`) && b.includes(`"eventName":"CreateAccessKey"`) ? b : undefined;
    });
    const secrets = {
      'the new secret access key': key.secretAccessKey,
      "the admin's secret access key": admin.secretAccessKey,
      'the KMS plaintext': plaintext.toString('base64'),
      'the KMS plaintext, raw': plaintext.toString(),
      'the data key': dataKey,
      'the login token': token[0]!.authorizationToken!,
      'the Bearer token': bearer,
      'the ciphertext': encrypted,
    };
    for (const [what, secret] of Object.entries(secrets)) assert.ok(!stored.includes(secret), `${what} is not stored`);
  });

  it('stores a call compactly in its batch, and returns the record the auditLog file has', async () => {
    await refusal(ecr().send(new GetLifecyclePolicyCommand({ repositoryName: 'audit/none' })));
    const [event] = await eventually('GetLifecyclePolicy recorded', nameIs('GetLifecyclePolicy'));
    assert.equal(recordOf(event!).errorCode, 'RepositoryNotFoundException');
    const line = await waitFor('the auditLog file has it', async () => (await readFile(auditLog, 'utf8')).split('\n').find((l) => l.includes(event!.EventId!)));
    assert.equal(event!.CloudTrailEvent, line, 'LookupEvents rebuilds the very record the file holds');
    const db = new Database(join(berth.dataDir, 'metadata-audit.db'), { readonly: true });
    try {
      // The event id names its batch: the id with the call's index in its last four hex digits.
      const batch = db.prepare('SELECT calls FROM audit_batches WHERE batch_id = ?').get(`${event!.EventId!.slice(0, 32)}0000`) as { calls: Buffer };
      const texts = unpackBlob(batch.calls, ALL_CHUNKS) as string[];
      const calls = texts.reduce((n, t) => n + (JSON.parse(t) as unknown[]).length / 20, 0);
      const stored = texts.join('');
      assert.ok(stored.includes('"GetLifecyclePolicy"') && !stored.includes('eventVersion') && !stored.includes(event!.EventId!), stored.slice(0, 300));
      assert.ok(stored.length / calls < line!.length / 2, `${stored.length} characters for ${calls} calls`);
      assert.ok(batch.calls.length < stored.length, 'and deflated');
    } finally {
      db.close();
    }
  });

  it('shows an account only its own events', async () => {
    await ecr().send(new DescribeRegistryCommand({}));
    const mine = await eventually('DescribeRegistry recorded', nameIs('DescribeRegistry'));
    await berthAdmin(['create-account', '--account-id', OTHER_ACCOUNT]);
    const { stdout } = await berthAdmin(['create-access-key', '--account-id', OTHER_ACCOUNT]);
    const other = JSON.parse(stdout) as Credentials;
    assert.deepEqual(await lookupSdk(nameIs('DescribeRegistry'), other), []);
    assert.deepEqual(await lookupSdk(attr('EventId', mine[0]!.EventId!), other), []);
    // Its own calls are its own.
    await ecr(other).send(new DescribeRepositoriesCommand({}));
    const theirs = await eventually('the other account sees its call', nameIs('DescribeRepositories'), 1, other);
    assert.ok(theirs.every((e) => recordOf(e).recipientAccountId === OTHER_ACCOUNT));
  });

  it('prunes records past auditRetentionDays on the app clock', async () => {
    await ecr().send(new DescribeRepositoriesCommand({}));
    await eventually('a call recorded', nameIs('DescribeRepositories'));
    const retention = berth.app.tasks.find((t) => t.name === 'audit-retention');
    assert.ok(retention, 'the retention task runs with the server');
    // LookupEvents calls are recorded too: counted apart.
    const all = async () => (await lookupSdk({ StartTime: started })).filter((e) => e.EventName !== 'LookupEvents').length;
    const count = await all();
    assert.ok(count > 0);
    clock.offsetMs = 89 * 86_400_000;
    assert.equal(await retention.tick(), true);
    clock.offsetMs = 0;
    assert.equal(await all(), count, '89 days on, nothing is pruned');
    clock.offsetMs = 91 * 86_400_000;
    assert.equal(await retention.tick(), true);
    clock.offsetMs = 0;
    // Only LookupEvents' own record (written after the prune) can be left.
    const left = await lookupSdk({ StartTime: started });
    assert.ok(
      left.every((e) => e.EventName === 'LookupEvents'),
      `pruned: ${left.map((e) => e.EventName).join(', ')}`,
    );
  });
});
