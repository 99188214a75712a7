/**
 * Loads the configuration: file (JSON), then environment, then flags, each overriding the last,
 * validated once against the schema with errors naming the bad key and where it came from.
 */
import { readFileSync } from 'node:fs';
import { configKeys, configSchema, envNameOf, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** Path of a JSON config file, if any. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from CLI flags, keyed by schema key. */
  flags?: Record<string, unknown>;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  const env = sources.env ?? process.env;
  const file = sources.file ?? env.BERTH_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      merged[k] = v;
      origin[k] = `${file}: ${k}`;
    }
  }
  for (const key of configKeys) {
    const v = env[envNameOf(key)];
    if (v !== undefined && v !== '') {
      merged[key] = v;
      origin[key] = envNameOf(key);
    }
  }
  for (const [k, v] of Object.entries(sources.flags ?? {})) {
    if (v !== undefined) {
      merged[k] = v;
      origin[k] = `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
    }
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? (i.code === 'unrecognized_keys' ? i.keys.join(', ') : ''));
      return `  ${origin[key] ?? key}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
