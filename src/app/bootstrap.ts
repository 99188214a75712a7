/**
 * First start: creates the default account and an access key for its root, and writes the key
 * to `<data-dir>/admin-credentials` in the AWS shared-credentials format (owner-only), so
 * `AWS_SHARED_CREDENTIALS_FILE=<data-dir>/admin-credentials aws ecr ...` works at once. The
 * secret is printed nowhere; the log says only where the file is.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { IdentityStore } from '../metadata/identities.js';

export async function bootstrapAdmin(opts: {
  identities: IdentityAdmin;
  store: IdentityStore;
  accountId: string;
  region: string;
  dataDir: string;
  log: Logger;
}): Promise<void> {
  await opts.identities.ensureAccount(opts.accountId, 'default');
  if ((await opts.store.listAccessKeys(opts.accountId, undefined)).length > 0) return;
  const { record, secretAccessKey } = await opts.identities.createAccessKey(opts.accountId, undefined);
  const path = join(opts.dataDir, 'admin-credentials');
  const text = `[default]\naws_access_key_id = ${record.id}\naws_secret_access_key = ${secretAccessKey}\nregion = ${opts.region}\n`;
  // Written whole or not at all, so a crash can't leave a truncated credentials file.
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  opts.log.warn({ path, accountId: opts.accountId, accessKeyId: record.id }, 'created the admin access key');
}
