/**
 * `berth admin` from the shell: accounts, users and keys created offline are honoured by a
 * running server, and bad input gets a clear message and a non-zero exit.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';

const run = promisify(execFile);
const berthCli = (...args: string[]) => run(process.execPath, [cliPath, ...args]);

describe('berth admin', () => {
  let berth: BerthProcess | undefined;
  after(async () => berth?.cleanup());

  it('creates an account, a user and a key that the server then accepts', async () => {
    const dataDir = await tempDir();
    await berthCli('admin', 'create-account', '--account-id', '111122223333', '--data-dir', dataDir);
    await berthCli('admin', 'create-user', '--account-id', '111122223333', '--user-name', 'deploy', '--data-dir', dataDir);
    const { stdout } = await berthCli('admin', 'create-access-key', '--account-id', '111122223333', '--user-name', 'deploy', '--data-dir', dataDir);
    const key = JSON.parse(stdout) as { accessKeyId: string; secretAccessKey: string };
    const { stdout: users } = await berthCli('admin', 'list-users', '--account-id', '111122223333', '--data-dir', dataDir);
    assert.deepEqual(
      (JSON.parse(users) as Array<{ name: string }>).map((u) => u.name),
      ['deploy'],
    );

    berth = await startBerth({ dataDir });
    const sts = new STSClient({ endpoint: berth.url, region: 'us-east-1', credentials: key });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, 'arn:aws:iam::111122223333:user/deploy');
  });

  it('refuses bad input with a message and exit code, not a stack trace', async () => {
    const dataDir = await tempDir();
    await assert.rejects(
      berthCli('admin', 'create-user', '--account-id', '999999999999', '--user-name', 'x', '--data-dir', dataDir),
      (e: { code: number; stderr: string }) => {
        assert.equal(e.code, 1);
        assert.equal(e.stderr.trim(), 'berth: The account 999999999999 does not exist.');
        return true;
      },
    );
    await assert.rejects(berthCli('admin', 'create-user', '--data-dir', dataDir), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /needs --user-name/);
      return true;
    });
    await assert.rejects(berthCli('serve', '--port', 'eighty'), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /--port/);
      return true;
    });
  });
});
