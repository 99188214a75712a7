/**
 * Secrets Manager through the real `aws secretsmanager` CLI against Berth: create, read, new
 * values (AWSCURRENT/AWSPREVIOUS), describe, list with filters and pages, tags, deletion with a
 * recovery window (the app's clock moved past it) and without; refusals in Secrets Manager's
 * words; `secretsmanager:<Op>` authorization by identity policies; values sealed at rest and
 * never in the audit trail nor the log.
 *
 * The CLI makes at least one call of each kind the file covers (create, read, new value, describe,
 * a binary value from a file, list with filters, tags, delete, a refusal, a denial), so botocore's
 * view of each shape stays checked; the other calls go through the Secrets Manager SDK, another
 * real client, at a thousandth of a CLI process's CPU (~0.9 s each on a 2-core machine).
 */
import { IAMClient } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SecretsService } from '../../src/secrets/secrets.js';
import { tempDir } from '../e2e/helpers/berth-process.js';
import { adminCredentials, awsCliEnv, type Credentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const run = promisify(execFile);
const DAY_MS = 86_400_000;

describe('Secrets Manager', () => {
  let berth: BerthInProcess;
  let admin: Credentials;
  let auditLog: string;

  const env = (creds: Credentials): NodeJS.ProcessEnv => awsCliEnv(berth, creds);
  const sm = async (args: string[], creds = admin): Promise<Record<string, unknown>> => {
    const { stdout } = await run('aws', ['secretsmanager', ...args, '--output', 'json'], { env: env(creds) });
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  };
  const smFails = async (args: string[], creds = admin): Promise<string> => {
    try {
      await run('aws', ['secretsmanager', ...args], { env: env(creds) });
    } catch (e) {
      return (e as { stderr: string }).stderr;
    }
    return assert.fail(`aws secretsmanager ${args.join(' ')} succeeded`);
  };

  /** The SDK, as `creds` (the admin when unset). */
  const sdk = (creds = admin) => new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials: creds, maxAttempts: 1 });
  const value = async (SecretId: string, creds = admin) => (await sdk(creds).send(new GetSecretValueCommand({ SecretId }))).SecretString;
  const create = (Name: string, SecretString?: string) => sdk().send(new CreateSecretCommand({ Name, ...(SecretString !== undefined && { SecretString }) }));

  before(async () => {
    auditLog = join(await tempDir('berth-sm-'), 'audit.jsonl');
    berth = await startInProcess({ sqliteFile: true, env: { BERTH_AUDIT_LOG: auditLog, BERTH_LOG_LEVEL: 'debug' } });
    admin = adminCredentials(berth);
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('creates, reads, replaces and describes a secret', async () => {
    const value1 = JSON.stringify({ username: 'puller', accessToken: 'tok-CREATE-7f3a' });
    const created = await sm(['create-secret', '--name', 'ecr-pullthroughcache/hub', '--secret-string', value1, '--description', 'hub creds']);
    assert.match(String(created.ARN), /^arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache\/hub-[A-Za-z0-9]{6}$/);
    assert.equal(created.Name, 'ecr-pullthroughcache/hub');
    const first = String(created.VersionId);

    // By name through the CLI; by ARN and by partial ARN through the SDK.
    const ids = ['ecr-pullthroughcache/hub', String(created.ARN), 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/hub'];
    const gots = [
      await sm(['get-secret-value', '--secret-id', ids[0]!]),
      ...(await Promise.all(ids.slice(1).map((id) => sdk().send(new GetSecretValueCommand({ SecretId: id }))))),
    ] as Array<{ SecretString?: unknown; VersionStages?: unknown; VersionId?: unknown }>;
    ids.forEach((id, i) => {
      const got = gots[i]!;
      assert.equal(got.SecretString, value1, `by ${id}`);
      assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
      assert.equal(got.VersionId, first);
    });

    const put = await sm(['put-secret-value', '--secret-id', 'ecr-pullthroughcache/hub', '--secret-string', 'tok-PUT-91bd']);
    assert.notEqual(put.VersionId, first);
    assert.equal(await value('ecr-pullthroughcache/hub'), 'tok-PUT-91bd');
    const previous = await sdk().send(new GetSecretValueCommand({ SecretId: 'ecr-pullthroughcache/hub', VersionStage: 'AWSPREVIOUS' }));
    assert.equal(previous.SecretString, value1);
    assert.equal(previous.VersionId, first);

    const described = await sm(['describe-secret', '--secret-id', String(created.ARN)]);
    assert.equal(described.Description, 'hub creds');
    assert.deepEqual(described.VersionIdsToStages, { [String(put.VersionId)]: ['AWSCURRENT'], [first]: ['AWSPREVIOUS'] });
    assert.equal(typeof described.CreatedDate, 'number');
    assert.equal(described.SecretString, undefined, 'DescribeSecret never returns the value');

    const binFile = join(await tempDir('berth-sm-bin-'), 'value.bin');
    await writeFile(binFile, Buffer.from([0, 1, 2, 255]));
    const bin = await sm(['create-secret', '--name', 'bin', '--secret-binary', `fileb://${binFile}`]);
    const gotBin = await sdk().send(new GetSecretValueCommand({ SecretId: String(bin.ARN) }));
    assert.deepEqual(Buffer.from(gotBin.SecretBinary!), Buffer.from([0, 1, 2, 255]));
  });

  it('refuses what Secrets Manager refuses, changing nothing', async () => {
    await create('dup', 'one');
    assert.match(await smFails(['create-secret', '--name', 'dup', '--secret-string', 'two']), /ResourceExistsException/);
    assert.equal(await value('dup'), 'one');
    const get = (SecretId: string) => refusal(sdk().send(new GetSecretValueCommand({ SecretId })));
    const del = (input: { RecoveryWindowInDays?: number; ForceDeleteWithoutRecovery?: boolean }) =>
      refusal(sdk().send(new DeleteSecretCommand({ SecretId: 'dup', ...input })));
    assert.match(await get('nope'), /ResourceNotFoundException/);
    assert.match(await get('arn:aws:secretsmanager:us-east-1:000000000000:secret:dup-AAAAAA'), /ResourceNotFoundException/);
    assert.match(await refusal(create('bad name!', 'x')), /ValidationException/);
    assert.match(await refusal(sdk().send(new PutSecretValueCommand({ SecretId: 'dup' }))), /InvalidParameterException/);
    assert.match(await del({ RecoveryWindowInDays: 3 }), /InvalidParameterException/);
    assert.match(await del({ RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }), /InvalidParameterException/);
    assert.equal(await value('dup'), 'one');
    const empty = await create('empty');
    assert.equal(empty.VersionId, undefined);
    assert.match(await get('empty'), /ResourceNotFoundException/);
  });

  it('lists with filters and pages, and tags', async () => {
    for (const n of ['list/a', 'list/b', 'list/c'])
      await sdk().send(new CreateSecretCommand({ Name: n, SecretString: 'v', Tags: [{ Key: 'team', Value: 'web' }] }));
    await sm(['tag-resource', '--secret-id', 'list/b', '--tags', 'Key=env,Value=prod']);
    await sdk().send(new UntagResourceCommand({ SecretId: 'list/c', TagKeys: ['team'] }));
    type Filter = { Key: 'name' | 'tag-key' | 'tag-value'; Values: string[] };
    const names = async (Filters: Filter[]) => ((await sdk().send(new ListSecretsCommand({ Filters }))).SecretList ?? []).map((s) => s.Name);
    const byName: Filter = { Key: 'name', Values: ['list/'] };
    assert.deepEqual(await names([byName]), ['list/a', 'list/b', 'list/c']);
    assert.deepEqual(await names([{ Key: 'tag-key', Values: ['env'] }]), ['list/b']);
    // Two filters in the CLI's shorthand.
    const both = await sm(['list-secrets', '--filters', 'Key=name,Values=list/', 'Key=tag-value,Values=web']);
    assert.deepEqual(
      (both.SecretList as Array<{ Name: string }>).map((s) => s.Name),
      ['list/a', 'list/b'],
    );
    const page = await sdk().send(new ListSecretsCommand({ Filters: [byName], MaxResults: 2 }));
    assert.equal(page.SecretList?.length, 2);
    const rest = await sdk().send(new ListSecretsCommand({ Filters: [byName], MaxResults: 2, NextToken: page.NextToken }));
    assert.deepEqual(
      rest.SecretList?.map((s) => s.Name),
      ['list/c'],
    );
    const b = await sdk().send(new DescribeSecretCommand({ SecretId: 'list/b' }));
    assert.deepEqual(b.Tags, [
      { Key: 'team', Value: 'web' },
      { Key: 'env', Value: 'prod' },
    ]);
  });

  it('deletes after the recovery window, or at once when forced', async () => {
    await create('doomed', 'bye');
    const del = await sm(['delete-secret', '--secret-id', 'doomed', '--recovery-window-in-days', '7']);
    assert.ok(Number(del.DeletionDate) * 1000 > Date.now() + 6 * DAY_MS);
    assert.match(await refusal(value('doomed')), /InvalidRequestException.*marked for deletion/);
    assert.match(await refusal(create('doomed', 'again')), /InvalidRequestException/);
    assert.ok((await sdk().send(new DescribeSecretCommand({ SecretId: 'doomed' }))).DeletedDate instanceof Date);
    const listed = async (IncludePlannedDeletion: boolean) =>
      (await sdk().send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['doomed'] }], IncludePlannedDeletion }))).SecretList?.length;
    assert.equal(await listed(false), 0);
    assert.equal(await listed(true), 1);
    // Eight days on (the CLI's signatures would expire on a moved server clock: the domain over
    // the server's own store is asked, as the next request would be answered).
    const later = new SecretsService(
      berth.app.registry.ctx.meta.documents,
      { now: () => new Date(Date.now() + 8 * DAY_MS) },
      { seal: (s) => s, open: (s) => s },
    );
    await assert.rejects(later.describe({ accountId: '000000000000', region: berth.region }, 'doomed'), /can't find the specified secret/);
    await create('doomed', 'again');
    assert.equal(await value('doomed'), 'again');
    await sdk().send(new DeleteSecretCommand({ SecretId: 'doomed', ForceDeleteWithoutRecovery: true }));
    assert.match(await refusal(sdk().send(new DescribeSecretCommand({ SecretId: 'doomed' }))), /ResourceNotFoundException/);
  });

  it('authorizes secretsmanager:<Op> by identity policies', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: admin });
    await create('ecr-pullthroughcache/only', 'v1');
    await create('other/one', 'v2');
    const reader = await createUser(
      berth,
      iam,
      'sm-reader',
      [],
      [
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:*:*:secret:ecr-pullthroughcache/*' }],
        },
      ],
    );
    assert.equal(await value('ecr-pullthroughcache/only', reader.keys), 'v1');
    assert.match(await smFails(['get-secret-value', '--secret-id', 'other/one'], reader.keys), /AccessDeniedException/);
    const asReader = sdk(reader.keys);
    assert.match(
      await refusal(asReader.send(new PutSecretValueCommand({ SecretId: 'ecr-pullthroughcache/only', SecretString: 'x' }))),
      /AccessDeniedException/,
    );
    assert.match(await refusal(asReader.send(new CreateSecretCommand({ Name: 'ecr-pullthroughcache/new', SecretString: 'x' }))), /AccessDeniedException/);
    assert.equal(await value('ecr-pullthroughcache/only'), 'v1');
  });

  it('keeps values sealed at rest, out of the audit trail and the log', async () => {
    const marker = 'tok-SEALED-4c1e9d';
    await create('sealed', marker);
    await sdk().send(new PutSecretValueCommand({ SecretId: 'sealed', SecretString: `${marker}-2` }));
    await value('sealed');
    const trail = await waitFor('the PutSecretValue record', async () => {
      const text = await readFile(auditLog, 'utf8').catch(() => '');
      return text.includes('"PutSecretValue"') && text.includes('"GetSecretValue"') ? text : undefined;
    });
    assert.ok(!trail.includes(marker), 'a value reached the audit log');
    assert.ok(!berth.output().includes(marker), 'a value reached the log');
    for (const f of await readdir(berth.dataDir)) {
      if (!f.startsWith('metadata.db')) continue;
      const bytes = await readFile(join(berth.dataDir, f));
      assert.ok(!bytes.includes(Buffer.from(marker)), `${f} holds a value in clear`);
    }
  });
});
