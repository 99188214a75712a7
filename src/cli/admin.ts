/**
 * `berth admin ...`: accounts, users and access keys from the shell, through the same rules as
 * the IAM API (src/auth/identity-admin.ts), against the data directory's metadata.
 */
import { parseArgs } from 'node:util';
import { openIdentityAdmin } from '../app/app.js';
import { isManagedPolicy } from '../app/policy-checks.js';
import { ConfigError, loadConfig } from '../config/load.js';

export const ADMIN_USAGE = `  admin SUBCOMMAND [--config FILE] [--data-dir DIR] ...
  admin create-account --account-id ID [--name NAME]
  admin create-user --account-id ID --user-name NAME
  admin create-access-key --account-id ID [--user-name NAME]   (root key without --user-name)
  admin list-users --account-id ID
  admin attach-policy --account-id ID --user-name NAME --policy-arn ARN
`;

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
  const { identities, close } = await openIdentityAdmin(config);
  const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
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
