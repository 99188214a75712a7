/**
 * What a `berth` command is: its words, options, help text and what it needs of the data
 * directory. Every command is one entry of the table in berth.ts; parsing (util.parseArgs, strict)
 * and help are derived from the entry, so a new command or flag is one edit in one place.
 *
 * A command's module imports the registry's modules (app.js and what it opens) inside run(), not
 * at its top: the table is loaded whole for every `berth` start, and help, usage errors and the
 * data-directory checks then cost ~0.3 s of CPU instead of the ~0.8 s of loading all of Berth.
 */
import type { Config } from '../config/schema.js';
import { accountOf, regionOf, type RegistryKey } from '../core/registry-key.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given several times; the value is then a list. */
  multiple?: boolean;
  /** Placeholder for the value in help (`--account-id ID`). */
  value?: string;
  help: string;
}

export type Options = Record<string, OptionSpec>;

/**
 * What the command keeps in the local data directory, which must then exist:
 * 'none' — it does not open the registry's stores; 'creates' — it makes the directory (serve);
 * 'metadata' — metadata and server key (identities, KMS keys); 'registry' — those and the blobs.
 */
export type DataDirUse = 'none' | 'creates' | 'metadata' | 'registry';

export interface CommandInput {
  values: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
  /** The configuration (file, env, then this command's flags); loaded only for commands that use it. */
  config: Config;
}

export interface Command {
  /** The words that name it: ['gc'], ['admin', 'create-user']. */
  words: string[];
  /** One line for the command list. */
  summary: string;
  /** Positional arguments as shown in usage, e.g. 'DIR'; absent means none are accepted. */
  args?: string;
  /** How many positionals are required (default: none). */
  minArgs?: number;
  /** Longer explanation for --help (optional). */
  details?: string;
  options: Options;
  example: string;
  dataDir: DataDirUse;
  /** Flag values applied unless the user gave the flag (e.g. a quieter log for report commands). */
  flagDefaults?: Record<string, string>;
  run(input: CommandInput): Promise<number>;
}

/** An error meant for the user, printed without a stack, with the exit code it calls for. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** --config and --data-dir: every command that opens the registry's stores takes them. */
export const storeOptions: Options = {
  config: { type: 'string', value: 'FILE', help: 'JSON config file (BERTH_CONFIG)' },
  'data-dir': { type: 'string', value: 'DIR', help: 'the data directory (BERTH_DATA_DIR, default ./data); must exist' },
};

export const accountOption: Options = {
  'account-id': { type: 'string', value: 'ID', help: '12-digit account (default: defaultAccountId, 000000000000)' },
};

export const jsonOption: Options = {
  json: { type: 'boolean', help: 'print JSON instead of text' },
};

/** --log-level of a command that reports on stdout: its log goes to stderr, never into the report. */
export const logLevelOption = (byDefault: string): Options => ({
  'log-level': { type: 'string', value: 'LEVEL', help: `log level (the log goes to stderr), default ${byDefault}` },
});

/**
 * A record's registry key as --json prints it: the account (ECR's registryId) and the region,
 * never the key's stored form.
 */
export function withAccountAndRegion<T extends { registryKey: RegistryKey }>({
  registryKey,
  ...rest
}: T): Omit<T, 'registryKey'> & { accountId: string; region: string } {
  return { accountId: accountOf(registryKey), region: regionOf(registryKey), ...rest };
}
