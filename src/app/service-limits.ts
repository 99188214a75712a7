/**
 * The service quotas and API rates of the configuration, checked at start: a bad quota name or
 * rate stops the start with an error naming the key (the schema checks only their shape; the
 * names are the registry core's).
 */
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { resolveApiRates } from '../registry/api-rates.js';
import { quotaOverrideProblem } from '../registry/quotas.js';

export function serviceLimits(config: Config): { quotas?: Record<string, number>; apiRates?: Record<string, number>; apiRateNodes?: number } {
  const out: { quotas?: Record<string, number>; apiRates?: Record<string, number>; apiRateNodes?: number } = {};
  if (config.quotas !== undefined) {
    const problem = quotaOverrideProblem(config.quotas);
    if (problem) throw new ConfigError(`invalid configuration:\n  quotas: ${problem}`);
    out.quotas = config.quotas;
  }
  if (config.apiRates !== undefined) {
    try {
      out.apiRates = resolveApiRates(config.apiRates);
    } catch (e) {
      throw new ConfigError(`invalid configuration:\n  ${(e as Error).message}`);
    }
    out.apiRateNodes = config.apiRateNodes;
  }
  return out;
}
