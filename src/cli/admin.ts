/**
 * `berth admin ...`: accounts, users and access keys from the shell, through the same rules as
 * the IAM API (src/auth/identity-admin.ts), and the KMS keys Berth keeps (src/kms/kms-keys.ts),
 * against the data directory's metadata. KMS keys print as KMS's KeyMetadata.
 */
import { isManagedPolicy } from '../app/policy-checks.js';
import type { IdentityAdmin } from '../auth/identity-admin.js';
import { ConfigError } from '../config/load.js';
import type { KmsKeys } from '../kms/kms-keys.js';
import { keyMetadata } from '../kms/key-metadata.js';
import { accountOption, storeOptions, type Command, type CommandInput, type Options } from './command.js';

const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');

function needFlag(sub: string, input: CommandInput, flag: string): void {
  if (typeof input.values[flag] !== 'string') throw new ConfigError(`${sub} needs --${flag}`);
}

function accountOf(input: CommandInput): string {
  const accountId = (input.values['account-id'] as string | undefined) ?? input.config.defaultAccountId;
  // Checked before anything is opened: a usage error leaves nothing behind.
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError(`--account-id must be 12 digits, got ${JSON.stringify(accountId)}`);
  return accountId;
}

const userName: Options = { 'user-name': { type: 'string', value: 'NAME', help: 'the IAM user' } };
const keyId: Options = { 'key-id': { type: 'string', value: 'ID', help: 'key id, key ARN or alias/NAME (required)' } };

function identityCommand(
  sub: string,
  summary: string,
  options: Options,
  example: string,
  required: string[],
  body: (identities: IdentityAdmin, accountId: string, input: CommandInput) => Promise<void>,
): Command {
  return {
    words: ['admin', sub],
    summary,
    options: { ...accountOption, ...options, ...storeOptions },
    example,
    dataDir: 'metadata',
    async run(input) {
      const accountId = accountOf(input);
      for (const flag of required) needFlag(sub, input, flag);
      const { openIdentityAdmin } = await import('../app/open-stores.js');
      const { identities, close } = await openIdentityAdmin(input.config);
      try {
        await body(identities, accountId, input);
        return 0;
      } finally {
        await close();
      }
    },
  };
}

function kmsCommand(
  sub: string,
  summary: string,
  options: Options,
  example: string,
  body: (kms: KmsKeys, accountId: string, region: string, input: CommandInput) => Promise<unknown>,
): Command {
  return {
    words: ['admin', sub],
    summary,
    details: "KMS keys are the configured region's; --account-id defaults to defaultAccountId.",
    options: { ...accountOption, ...options, ...storeOptions },
    example,
    dataDir: 'metadata',
    async run(input) {
      const accountId = accountOf(input);
      if ('key-id' in options) needFlag(sub, input, 'key-id');
      const { openKmsAdmin } = await import('../app/kms-admin.js');
      const { kms, region, close } = await openKmsAdmin(input.config);
      try {
        print(await body(kms, accountId, region, input));
        return 0;
      } finally {
        await close();
      }
    },
  };
}

const str = (input: CommandInput, flag: string) => input.values[flag] as string | undefined;

/** `set-quota ACCOUNT NAME VALUE|default` and `list-quotas`: per-account service quotas. */
const quotaCommands: Command[] = [
  {
    words: ['admin', 'set-quota'],
    summary: "set an account's value of a service quota (N: a number, or 'default' for the deployment's)",
    details: 'Names and ECR values: `berth admin list-quotas`, or the README. Sizes are in bytes. Running servers apply it within 5 seconds.',
    options: { ...storeOptions },
    args: 'ACCOUNT NAME N',
    minArgs: 3,
    example: 'berth admin set-quota 111122223333 repositoriesPerRegistry 50000',
    dataDir: 'metadata',
    async run(input) {
      const [accountId, name, raw] = input.positionals as [string, string, string];
      if (!/^\d{12}$/.test(accountId)) throw new ConfigError(`the account must be 12 digits, got ${JSON.stringify(accountId)}`);
      const value = raw === 'default' ? undefined : /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (value !== undefined && !Number.isSafeInteger(value))
        throw new ConfigError(`the value must be a whole number or 'default', got ${JSON.stringify(raw)}`);
      const quotas = await (await import('../app/quota-admin.js')).openQuotaAdmin(input.config);
      try {
        await quotas.set(accountId, name, value).catch((e: Error) => {
          throw new ConfigError(e.message);
        });
        print((await quotas.list(accountId)).find((q) => q.name === name));
        return 0;
      } finally {
        await quotas.close();
      }
    },
  },
  {
    words: ['admin', 'list-quotas'],
    summary: "list every service quota's value for an account, with ECR's default and where the value comes from",
    options: { ...accountOption, ...storeOptions },
    example: 'berth admin list-quotas --account-id 111122223333',
    dataDir: 'metadata',
    async run(input) {
      const accountId = accountOf(input);
      const quotas = await (await import('../app/quota-admin.js')).openQuotaAdmin(input.config);
      try {
        print({ accountId, quotas: await quotas.list(accountId) });
        return 0;
      } finally {
        await quotas.close();
      }
    },
  },
];

export const adminCommands: Command[] = [
  ...quotaCommands,
  identityCommand(
    'create-account',
    'create an account (a registry of its own)',
    { name: { type: 'string', value: 'NAME', help: 'a display name (default: the account id)' } },
    'berth admin create-account --account-id 111122223333 --name team-a',
    [],
    async (identities, accountId, input) => {
      await identities.createAccount(accountId, str(input, 'name') ?? accountId);
      print({ accountId });
    },
  ),
  identityCommand(
    'create-user',
    'create an IAM user in an account',
    userName,
    'berth admin create-user --account-id 111122223333 --user-name ci',
    ['user-name'],
    async (identities, accountId, input) => {
      print(await identities.createUser(accountId, str(input, 'user-name')!));
    },
  ),
  identityCommand(
    'create-access-key',
    "create an access key for a user (for the account's root without --user-name); prints the secret once",
    userName,
    'berth admin create-access-key --account-id 111122223333 --user-name ci',
    [],
    async (identities, accountId, input) => {
      const { record, secretAccessKey } = await identities.createAccessKey(accountId, str(input, 'user-name'));
      print({ accessKeyId: record.id, secretAccessKey, accountId, userName: record.userName ?? null });
    },
  ),
  identityCommand('list-users', "list an account's IAM users", {}, 'berth admin list-users --account-id 111122223333', [], async (identities, accountId) => {
    print(await identities.listUsers(accountId));
  }),
  identityCommand(
    'attach-policy',
    'attach an ECR managed policy to a user',
    { ...userName, 'policy-arn': { type: 'string', value: 'ARN', help: 'a managed policy, e.g. arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser' } },
    'berth admin attach-policy --account-id 111122223333 --user-name ci \\\n    --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
    ['user-name', 'policy-arn'],
    async (identities, accountId, input) => {
      const arn = str(input, 'policy-arn')!;
      if (!isManagedPolicy(arn)) throw new ConfigError(`unknown managed policy ${arn}`);
      await identities.attachUserPolicy(accountId, str(input, 'user-name')!, arn);
    },
  ),
  kmsCommand(
    'create-kms-key',
    'create a KMS key kept by Berth (kmsProvider=berth); prints its KeyMetadata',
    { alias: { type: 'string', value: 'alias/NAME', help: "the key's alias" }, description: { type: 'string', value: 'TEXT', help: "the key's description" } },
    'berth admin create-kms-key --alias alias/team-a --description "team A images"',
    async (kms, accountId, region, input) => {
      const alias = str(input, 'alias');
      const description = str(input, 'description');
      const opts = { ...(alias !== undefined && { alias }), ...(description !== undefined && { description }) };
      return { KeyMetadata: keyMetadata(await kms.create(accountId, region, opts)) };
    },
  ),
  kmsCommand('list-kms-keys', "list an account's KMS keys", {}, 'berth admin list-kms-keys', async (kms, accountId, region) => ({
    Keys: (await kms.list(accountId, region)).map(keyMetadata),
  })),
  kmsCommand(
    'describe-kms-key',
    "print a KMS key's KeyMetadata",
    keyId,
    'berth admin describe-kms-key --key-id alias/team-a',
    async (kms, accountId, region, input) => ({
      KeyMetadata: keyMetadata(await kms.describe(accountId, region, str(input, 'key-id')!)),
    }),
  ),
  kmsCommand(
    'disable-kms-key',
    "disable a KMS key: its repositories' pulls and pushes are refused",
    keyId,
    'berth admin disable-kms-key --key-id alias/team-a',
    async (kms, accountId, region, input) => ({
      KeyMetadata: keyMetadata(await kms.disable(accountId, region, str(input, 'key-id')!)),
    }),
  ),
  kmsCommand(
    'enable-kms-key',
    'enable a disabled KMS key',
    keyId,
    'berth admin enable-kms-key --key-id alias/team-a',
    async (kms, accountId, region, input) => ({
      KeyMetadata: keyMetadata(await kms.enable(accountId, region, str(input, 'key-id')!)),
    }),
  ),
];
