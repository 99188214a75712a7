/**
 * Secrets Manager through the real `aws secretsmanager` CLI against Berth: create, read, new
 * values (AWSCURRENT/AWSPREVIOUS), describe, list with filters and pages, tags, deletion with a
 * recovery window (the app's clock moved past it) and without; refusals in Secrets Manager's
 * words; `secretsmanager:<Op>` authorization by identity policies; values sealed at rest and
 * never in the audit trail nor the log.
 */
import { IAMClient } from '@aws-sdk/client-iam';
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

  before(async () => {
    auditLog = join(await tempDir('berth-sm-'), 'audit.jsonl');
    berth = await startInProcess({ sqliteFile: true, env: { BERTH_AUDIT_LOG: auditLog, BERTH_LOG_LEVEL: 'debug' } });
    admin = adminCredentials(berth);
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('creates, reads, replaces and describes a secret', async () => {
    const value = JSON.stringify({ username: 'puller', accessToken: 'tok-CREATE-7f3a' });
    const created = await sm(['create-secret', '--name', 'ecr-pullthroughcache/hub', '--secret-string', value, '--description', 'hub creds']);
    assert.match(String(created.ARN), /^arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache\/hub-[A-Za-z0-9]{6}$/);
    assert.equal(created.Name, 'ecr-pullthroughcache/hub');
    const first = String(created.VersionId);

    // Reads side by side: each AWS CLI process is most of a second of CPU.
    const ids = ['ecr-pullthroughcache/hub', String(created.ARN), 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/hub'];
    const gots = await Promise.all(ids.map((id) => sm(['get-secret-value', '--secret-id', id])));
    ids.forEach((id, i) => {
      const got = gots[i]!;
      assert.equal(got.SecretString, value, `by ${id}`);
      assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
      assert.equal(got.VersionId, first);
    });

    const put = await sm(['put-secret-value', '--secret-id', 'ecr-pullthroughcache/hub', '--secret-string', 'tok-PUT-91bd']);
    assert.notEqual(put.VersionId, first);
    assert.equal((await sm(['get-secret-value', '--secret-id', 'ecr-pullthroughcache/hub'])).SecretString, 'tok-PUT-91bd');
    const previous = await sm(['get-secret-value', '--secret-id', 'ecr-pullthroughcache/hub', '--version-stage', 'AWSPREVIOUS']);
    assert.equal(previous.SecretString, value);
    assert.equal(previous.VersionId, first);

    const described = await sm(['describe-secret', '--secret-id', String(created.ARN)]);
    assert.equal(described.Description, 'hub creds');
    assert.deepEqual(described.VersionIdsToStages, { [String(put.VersionId)]: ['AWSCURRENT'], [first]: ['AWSPREVIOUS'] });
    assert.equal(typeof described.CreatedDate, 'number');
    assert.equal(described.SecretString, undefined, 'DescribeSecret never returns the value');

    const binFile = join(await tempDir('berth-sm-bin-'), 'value.bin');
    await writeFile(binFile, Buffer.from([0, 1, 2, 255]));
    const bin = await sm(['create-secret', '--name', 'bin', '--secret-binary', `fileb://${binFile}`]);
    const gotBin = await sm(['get-secret-value', '--secret-id', String(bin.ARN)]);
    assert.deepEqual(Buffer.from(String(gotBin.SecretBinary), 'base64'), Buffer.from([0, 1, 2, 255]));
  });

  it('refuses what Secrets Manager refuses, changing nothing', async () => {
    await sm(['create-secret', '--name', 'dup', '--secret-string', 'one']);
    assert.match(await smFails(['create-secret', '--name', 'dup', '--secret-string', 'two']), /ResourceExistsException/);
    assert.equal((await sm(['get-secret-value', '--secret-id', 'dup'])).SecretString, 'one');
    assert.match(await smFails(['get-secret-value', '--secret-id', 'nope']), /ResourceNotFoundException/);
    assert.match(
      await smFails(['get-secret-value', '--secret-id', 'arn:aws:secretsmanager:us-east-1:000000000000:secret:dup-AAAAAA']),
      /ResourceNotFoundException/,
    );
    assert.match(await smFails(['create-secret', '--name', 'bad name!', '--secret-string', 'x']), /ValidationException/);
    assert.match(await smFails(['put-secret-value', '--secret-id', 'dup']), /InvalidParameterException/);
    assert.match(await smFails(['delete-secret', '--secret-id', 'dup', '--recovery-window-in-days', '3']), /InvalidParameterException/);
    assert.match(
      await smFails(['delete-secret', '--secret-id', 'dup', '--recovery-window-in-days', '7', '--force-delete-without-recovery']),
      /InvalidParameterException/,
    );
    assert.equal((await sm(['get-secret-value', '--secret-id', 'dup'])).SecretString, 'one');
    const empty = await sm(['create-secret', '--name', 'empty']);
    assert.equal(empty.VersionId, undefined);
    assert.match(await smFails(['get-secret-value', '--secret-id', 'empty']), /ResourceNotFoundException/);
  });

  it('lists with filters and pages, and tags', async () => {
    for (const n of ['list/a', 'list/b', 'list/c']) await sm(['create-secret', '--name', n, '--secret-string', 'v', '--tags', 'Key=team,Value=web']);
    await sm(['tag-resource', '--secret-id', 'list/b', '--tags', 'Key=env,Value=prod']);
    await sm(['untag-resource', '--secret-id', 'list/c', '--tag-keys', 'team']);
    const names = async (args: string[]) => ((await sm(['list-secrets', ...args])).SecretList as Array<{ Name: string }>).map((s) => s.Name);
    assert.deepEqual(await names(['--filters', 'Key=name,Values=list/']), ['list/a', 'list/b', 'list/c']);
    assert.deepEqual(await names(['--filters', 'Key=tag-key,Values=env']), ['list/b']);
    assert.deepEqual(await names(['--filters', 'Key=name,Values=list/', 'Key=tag-value,Values=web']), ['list/a', 'list/b']);
    const page = await sm(['list-secrets', '--filters', 'Key=name,Values=list/', '--max-results', '2', '--no-paginate']);
    assert.equal((page.SecretList as unknown[]).length, 2);
    const rest = await sm([
      'list-secrets',
      '--filters',
      'Key=name,Values=list/',
      '--max-results',
      '2',
      '--no-paginate',
      '--next-token',
      String(page.NextToken),
    ]);
    assert.deepEqual(
      (rest.SecretList as Array<{ Name: string }>).map((s) => s.Name),
      ['list/c'],
    );
    const b = await sm(['describe-secret', '--secret-id', 'list/b']);
    assert.deepEqual(b.Tags, [
      { Key: 'team', Value: 'web' },
      { Key: 'env', Value: 'prod' },
    ]);
  });

  it('deletes after the recovery window, or at once when forced', async () => {
    await sm(['create-secret', '--name', 'doomed', '--secret-string', 'bye']);
    const del = await sm(['delete-secret', '--secret-id', 'doomed', '--recovery-window-in-days', '7']);
    assert.ok(Number(del.DeletionDate) * 1000 > Date.now() + 6 * DAY_MS);
    assert.match(await smFails(['get-secret-value', '--secret-id', 'doomed']), /InvalidRequestException.*marked for deletion/);
    assert.match(await smFails(['create-secret', '--name', 'doomed', '--secret-string', 'again']), /InvalidRequestException/);
    assert.equal(typeof (await sm(['describe-secret', '--secret-id', 'doomed'])).DeletedDate, 'number');
    const listed = async (include: boolean) =>
      ((await sm(['list-secrets', '--filters', 'Key=name,Values=doomed', ...(include ? ['--include-planned-deletion'] : [])])).SecretList as unknown[]).length;
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
    await sm(['create-secret', '--name', 'doomed', '--secret-string', 'again']);
    assert.equal((await sm(['get-secret-value', '--secret-id', 'doomed'])).SecretString, 'again');
    await sm(['delete-secret', '--secret-id', 'doomed', '--force-delete-without-recovery']);
    assert.match(await smFails(['describe-secret', '--secret-id', 'doomed']), /ResourceNotFoundException/);
  });

  it('authorizes secretsmanager:<Op> by identity policies', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: admin });
    await sm(['create-secret', '--name', 'ecr-pullthroughcache/only', '--secret-string', 'v1']);
    await sm(['create-secret', '--name', 'other/one', '--secret-string', 'v2']);
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
    assert.equal((await sm(['get-secret-value', '--secret-id', 'ecr-pullthroughcache/only'], reader.keys)).SecretString, 'v1');
    assert.match(await smFails(['get-secret-value', '--secret-id', 'other/one'], reader.keys), /AccessDeniedException/);
    assert.match(await smFails(['put-secret-value', '--secret-id', 'ecr-pullthroughcache/only', '--secret-string', 'x'], reader.keys), /AccessDeniedException/);
    assert.match(await smFails(['create-secret', '--name', 'ecr-pullthroughcache/new', '--secret-string', 'x'], reader.keys), /AccessDeniedException/);
    assert.equal((await sm(['get-secret-value', '--secret-id', 'ecr-pullthroughcache/only'])).SecretString, 'v1');
  });

  it('keeps values sealed at rest, out of the audit trail and the log', async () => {
    const marker = 'tok-SEALED-4c1e9d';
    await sm(['create-secret', '--name', 'sealed', '--secret-string', marker]);
    await sm(['put-secret-value', '--secret-id', 'sealed', '--secret-string', `${marker}-2`]);
    await sm(['get-secret-value', '--secret-id', 'sealed']);
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
