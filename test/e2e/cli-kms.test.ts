/**
 * `berth admin *-kms-key` from the shell, as a user runs the built CLI: keys are created, listed,
 * described, disabled and enabled in the data directory, printed as KMS's KeyMetadata, and bad
 * input gets KMS's message and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { KeyMetadata } from '../../src/kms/key-metadata.js';
import { cliPath, tempDir } from './helpers/berth-process.js';

const run = promisify(execFile);
const DEFAULT_ACCOUNT = '000000000000';

// The two tests side by side: each has a data directory of its own, and each of its commands is a
// `berth` process that spends most of its second waiting for a core on a busy machine.
describe('berth admin: KMS keys', { concurrency: 2 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function cli() {
    const dataDir = await tempDir('berth-kms-cli-');
    dirs.push(dataDir);
    return async (...args: string[]): Promise<unknown> => {
      const env: NodeJS.ProcessEnv = { ...process.env, BERTH_REGION: 'eu-west-1' };
      delete env.BERTH_DATABASE_URL;
      const { stdout } = await run(process.execPath, [cliPath, 'admin', ...args, '--data-dir', dataDir], { env });
      return JSON.parse(stdout);
    };
  }
  const meta = (out: unknown) => (out as { KeyMetadata: KeyMetadata }).KeyMetadata;

  it('creates, lists, describes, disables and enables keys', async () => {
    const berth = await cli();
    const created = meta(await berth('create-kms-key', '--alias', 'alias/team-a', '--description', 'team A images'));
    assert.match(created.KeyId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(created, {
      AWSAccountId: DEFAULT_ACCOUNT,
      KeyId: created.KeyId,
      Arn: `arn:aws:kms:eu-west-1:${DEFAULT_ACCOUNT}:key/${created.KeyId}`,
      AliasName: 'alias/team-a',
      Description: 'team A images',
      KeyState: 'Enabled',
      Enabled: true,
      CreationDate: created.CreationDate,
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
    });
    assert.ok(Math.abs(Date.parse(created.CreationDate) - Date.now()) < 60_000);
    const other = meta(await berth('create-kms-key', '--account-id', '111122223333'));
    assert.equal(other.AWSAccountId, '111122223333');
    assert.equal('AliasName' in other, false);

    const listed = (await berth('list-kms-keys')) as { Keys: KeyMetadata[] };
    assert.deepEqual(listed.Keys, [created]);
    // Four reads side by side, each checked.
    const refs = [created.KeyId, created.Arn, 'alias/team-a', `arn:aws:kms:eu-west-1:${DEFAULT_ACCOUNT}:alias/team-a`];
    const described = await Promise.all(refs.map((ref) => berth('describe-kms-key', '--key-id', ref)));
    for (const [i, ref] of refs.entries()) assert.deepEqual(meta(described[i]), created, ref);
    const disabled = meta(await berth('disable-kms-key', '--key-id', 'alias/team-a'));
    assert.deepEqual([disabled.KeyState, disabled.Enabled], ['Disabled', false]);
    assert.equal(meta(await berth('describe-kms-key', '--key-id', created.KeyId)).KeyState, 'Disabled');
    assert.equal(meta(await berth('enable-kms-key', '--key-id', created.Arn)).KeyState, 'Enabled');
  });

  it("refuses bad input with KMS's message and an exit code, not a stack trace", async () => {
    const berth = await cli();
    const fails = (code: number, message: RegExp | string, ...args: string[]) =>
      assert.rejects(berth(...args), (e: { code: number; stderr: string }) => {
        assert.equal(e.code, code);
        if (typeof message === 'string') assert.equal(e.stderr.trim(), `berth: ${message}`);
        else assert.match(e.stderr, message);
        return true;
      });
    await fails(1, `Alias 'arn:aws:kms:eu-west-1:${DEFAULT_ACCOUNT}:alias/nope' is not found.`, 'describe-kms-key', '--key-id', 'alias/nope');
    await fails(1, /Alias 'alias\/a b' is invalid/, 'create-kms-key', '--alias', 'alias/a b');
    await fails(1, /reserved for AWS managed keys/, 'create-kms-key', '--alias', 'alias/aws/ecr');
    await berth('create-kms-key', '--alias', 'alias/dup');
    await fails(1, `An alias with the name arn:aws:kms:eu-west-1:${DEFAULT_ACCOUNT}:alias/dup already exists`, 'create-kms-key', '--alias', 'alias/dup');
    await fails(2, /disable-kms-key needs --key-id/, 'disable-kms-key');
    await fails(2, /--account-id must be 12 digits/, 'list-kms-keys', '--account-id', '12');
    await fails(2, /Unknown option '--color'/, 'list-kms-keys', '--color', 'red');
  });
});
