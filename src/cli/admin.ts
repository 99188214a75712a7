/**
 * `berth admin ...`: accounts, users and access keys from the shell, through the same rules as
 * the IAM API (src/auth/identity-admin.ts), and the KMS keys Berth keeps (src/kms/kms-keys.ts),
 * against the data directory's metadata. KMS keys print as KMS's KeyMetadata.
 */
import { parseArgs } from 'node:util';
import { openIdentityAdmin } from '../app/app.js';
import { openKmsAdmin } from '../app/kms-admin.js';
import { isManagedPolicy } from '../app/policy-checks.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { keyMetadata } from '../kms/key-metadata.js';

export const ADMIN_USAGE = `  admin SUBCOMMAND [--config FILE] [--data-dir DIR] ...
  admin create-account --account-id ID [--name NAME]
  admin create-user --account-id ID --user-name NAME
  admin create-access-key --account-id ID [--user-name NAME]   (root key without --user-name)
  admin list-users --account-id ID
  admin attach-policy --account-id ID --user-name NAME --policy-arn ARN
  admin create-kms-key [--account-id ID] [--alias alias/NAME] [--description TEXT]
  admin list-kms-keys [--account-id ID]
  admin describe-kms-key|disable-kms-key|enable-kms-key [--account-id ID] --key-id ID|ARN|alias/NAME
        (KMS keys are the configured region's; --account-id defaults to defaultAccountId)
`;

const KMS_COMMANDS = new Set(['create-kms-key', 'list-kms-keys', 'describe-kms-key', 'disable-kms-key', 'enable-kms-key']);

export async function admin(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      'account-id': { type: 'string' },
      'user-name': { type: 'string' },
      name: { type: 'string' },
      'policy-arn': { type: 'string' },
      alias: { type: 'string' },
      description: { type: 'string' },
      'key-id': { type: 'string' },
    },
    strict: true,
  });
  const config = loadConfig({ ...(values.config !== undefined && { file: values.config }), flags: { dataDir: values['data-dir'] } });
  const accountId = values['account-id'] ?? config.defaultAccountId;
  const userName = values['user-name'];
  const need = (v: string | undefined, flag: string): string => {
    if (v === undefined) throw new ConfigError(`${sub} needs --${flag}`);
    return v;
  };
  const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  if (sub !== undefined && KMS_COMMANDS.has(sub)) {
    // Checked before anything is opened: a usage error leaves no data directory behind.
    if (!/^\d{12}$/.test(accountId)) throw new ConfigError(`--account-id must be 12 digits, got ${JSON.stringify(accountId)}`);
    const keyId = sub === 'create-kms-key' || sub === 'list-kms-keys' ? undefined : need(values['key-id'], 'key-id');
    const output = await kmsAdmin({ sub, config, accountId, keyId, alias: values.alias, description: values.description });
    print(output);
    return 0;
  }
  const { identities, close } = await openIdentityAdmin(config);
  try {
    switch (sub) {
      case 'create-account':
        await identities.createAccount(accountId, values.name ?? accountId);
        print({ accountId });
        return 0;
      case 'create-user':
        print(await identities.createUser(accountId, need(userName, 'user-name')));
        return 0;
      case 'create-access-key': {
        const { record, secretAccessKey } = await identities.createAccessKey(accountId, userName);
        print({ accessKeyId: record.id, secretAccessKey, accountId, userName: record.userName ?? null });
        return 0;
      }
      case 'list-users':
        print(await identities.listUsers(accountId));
        return 0;
      case 'attach-policy':
        if (!isManagedPolicy(need(values['policy-arn'], 'policy-arn'))) throw new ConfigError(`unknown managed policy ${values['policy-arn']}`);
        await identities.attachUserPolicy(accountId, need(userName, 'user-name'), need(values['policy-arn'], 'policy-arn'));
        return 0;
      default:
        process.stderr.write(`berth: unknown admin command ${sub ?? ''}\n${ADMIN_USAGE}`);
        return 2;
    }
  } finally {
    await close();
  }
}

interface KmsCommand {
  sub: string;
  config: Config;
  accountId: string;
  /** Required by every command but create and list (checked by the caller). */
  keyId: string | undefined;
  alias: string | undefined;
  description: string | undefined;
}

/** Runs a KMS key command; returns what to print, shaped as KMS's CreateKey/DescribeKey/ListKeys answers. */
async function kmsAdmin(c: KmsCommand): Promise<unknown> {
  const { kms, region, close } = await openKmsAdmin(c.config);
  try {
    switch (c.sub) {
      case 'create-kms-key': {
        const opts = { ...(c.alias !== undefined && { alias: c.alias }), ...(c.description !== undefined && { description: c.description }) };
        return { KeyMetadata: keyMetadata(await kms.create(c.accountId, region, opts)) };
      }
      case 'list-kms-keys':
        return { Keys: (await kms.list(c.accountId, region)).map(keyMetadata) };
      case 'describe-kms-key':
        return { KeyMetadata: keyMetadata(await kms.describe(c.accountId, region, c.keyId!)) };
      case 'disable-kms-key':
        return { KeyMetadata: keyMetadata(await kms.disable(c.accountId, region, c.keyId!)) };
      default:
        return { KeyMetadata: keyMetadata(await kms.enable(c.accountId, region, c.keyId!)) };
    }
  } finally {
    await close();
  }
}
