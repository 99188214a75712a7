/**
 * A container client's login that ends with the access key it was minted with, as docker and
 * podman see it: a pull-only user logs the client in with a token from one of its keys and pulls;
 * the key is deleted, or made inactive, through the IAM API (the SDK); the next pull is refused
 * at the token endpoint, where both clients exchange the stored login (the access log's 401, as
 * that user); the user's other key logs in again and pulls. A fresh credential store per login.
 */
import { CreateAccessKeyCommand, DeleteAccessKeyCommand, UpdateAccessKeyCommand, type IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import type { AccessLog } from './access-lines.js';
import type { BerthProcess } from './berth-process.js';
import type { Credentials } from './ecr-client.js';
import { createUser } from './iam-users.js';
import { waitFor } from './wait-for.js';

export interface LoginClient {
  /** A fresh credential store logged in with a login token of `keys` (`aws ecr get-login-password | <client> login`). */
  login(keys: Credentials): Promise<string>;
  /** Pulls the image the test file already pushed, with the logins of `store`. */
  pull(store: string): Promise<void>;
  /** The same pull, which must fail: the client's error. */
  pullFails(store: string): Promise<string>;
}

export interface Revoked {
  end: 'deleted' | 'inactive';
  keyId: string;
  /** The client's error for the refused pull. */
  printed: string;
}

/**
 * Runs the check for both ends of a key (deleted, made inactive), each with its own user named
 * `<prefix>-<end>`, and returns what the client printed for each refused pull.
 */
export async function assertLoginEndsWithKey(berth: BerthProcess, iam: IAMClient, log: AccessLog, prefix: string, client: LoginClient): Promise<Revoked[]> {
  const revoked: Revoked[] = [];
  for (const end of ['deleted', 'inactive'] as const) {
    const userName = `${prefix}-${end}`;
    const user = await createUser(berth, iam, userName, ['ReadOnly']);
    const store = await client.login(user.keys);
    await client.pull(store);

    const keyId = user.keys.accessKeyId;
    if (end === 'deleted') await iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: keyId }));
    else await iam.send(new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: keyId, Status: 'Inactive' }));
    const from = await log.mark();
    const printed = await client.pullFails(store);
    const refused = await waitFor(`the refused login of ${userName} in the access log`, async () => {
      const lines = (await log.lines()).slice(from).filter((l) => l.status === 401 && l.principal.endsWith(`:user/${userName}`));
      return lines.length > 0 && lines;
    });
    for (const l of refused) assert.deepEqual([l.method, l.path.split('?')[0], l.operation], ['GET', '/token', 'token'], `${end}: ${JSON.stringify(l)}`);
    revoked.push({ end, keyId, printed });

    const other = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
    await client.pull(await client.login({ accessKeyId: other.AccessKey!.AccessKeyId!, secretAccessKey: other.AccessKey!.SecretAccessKey! }));
  }
  return revoked;
}
