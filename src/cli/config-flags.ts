/**
 * One flag per configuration key (`gcGraceSeconds` ↔ `--gc-grace-seconds` ↔
 * BERTH_GC_GRACE_SECONDS), derived from the schema so that a new key is a new flag with no edit
 * here, and the mapping from parsed flags back to schema keys.
 */
import { configKeys, configSchema, envNameOf } from '../config/schema.js';
import type { Options } from './command.js';

export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function keyOf(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

const defaults = configSchema.parse({}) as Record<string, unknown>;

/** --config plus a string flag for every key (booleans take true/false, as in the environment). */
export function configOptions(): Options {
  const options: Options = { config: { type: 'string', value: 'FILE', help: 'JSON config file (BERTH_CONFIG); env and flags override it' } };
  for (const key of configKeys) {
    const description = configSchema.shape[key].description;
    const def = defaults[key];
    const shown = def === undefined ? 'unset' : String(def);
    options[flagOf(key)] = {
      type: 'string',
      value: typeof def === 'number' ? 'N' : typeof def === 'boolean' ? 'true|false' : key === 'dataDir' ? 'DIR' : 'VALUE',
      help: `${description ? description + '; ' : ''}${envNameOf(key)}, default ${shown}`,
    };
  }
  return options;
}

/** The parsed values that name configuration keys, keyed by schema key (for loadConfig's flags). */
export function configFlags(values: Record<string, unknown>): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  const keys = new Set<string>(configKeys);
  for (const [flag, v] of Object.entries(values)) {
    const key = keyOf(flag);
    // A repeatable option (tls init --host NAME...) is the command's own, never a configuration key.
    if (v !== undefined && !Array.isArray(v) && keys.has(key)) flags[key] = v;
  }
  return flags;
}
