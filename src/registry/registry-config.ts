/**
 * A registry's scanning and replication configuration: ECR's rules for each, stored whole as
 * JSON. The scanning and replication engines (later issues) read them from here.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { wildcardMatch } from '../core/repository-settings.js';
import type { RegistryContext } from './context.js';
import { accountOf, type RegistryKey } from '../core/registry-key.js';

export type ScanType = 'BASIC' | 'ENHANCED';
export type ScanFrequency = 'SCAN_ON_PUSH' | 'CONTINUOUS_SCAN' | 'MANUAL';

export interface ScanningRule {
  scanFrequency: ScanFrequency;
  repositoryFilters: Array<{ filter: string; filterType: 'WILDCARD' }>;
}

export interface ScanningConfiguration {
  scanType: ScanType;
  rules: ScanningRule[];
}

export interface ReplicationRule {
  destinations: Array<{ region: string; registryId: string }>;
  repositoryFilters?: Array<{ filter: string; filterType: 'PREFIX_MATCH' }>;
}

export interface ReplicationConfiguration {
  rules: ReplicationRule[];
}

const SCAN_FILTER_RE = /^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$/;
const NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

function invalid(message: string): never {
  throw new RegistryError(Codes.InvalidParameter, message);
}

export class RegistryConfig {
  constructor(private readonly ctx: RegistryContext) {}

  async scanning(registryKey: RegistryKey): Promise<ScanningConfiguration> {
    const raw = await this.ctx.meta.registrySettings.get(registryKey, 'scanning');
    return raw ? (JSON.parse(raw) as ScanningConfiguration) : { scanType: 'BASIC', rules: [] };
  }

  async setScanning(registryKey: RegistryKey, config: ScanningConfiguration): Promise<ScanningConfiguration> {
    if (config.rules.length > 2) invalid('A registry scanning configuration can have at most 2 rules');
    for (const rule of config.rules) {
      if (config.scanType === 'BASIC' && rule.scanFrequency === 'CONTINUOUS_SCAN') {
        invalid('CONTINUOUS_SCAN is only supported with the ENHANCED scan type');
      }
      if (rule.repositoryFilters.length < 1 || rule.repositoryFilters.length > 100) invalid('A scanning rule needs 1 to 100 repository filters');
      for (const f of rule.repositoryFilters) {
        if (f.filter.length > 255 || !SCAN_FILTER_RE.test(f.filter)) invalid(`Invalid repository filter '${f.filter.slice(0, 300)}'`);
      }
    }
    await this.ctx.meta.registrySettings.put(registryKey, 'scanning', JSON.stringify(config));
    return config;
  }

  /** The frequency and filters that apply to one repository: the first matching rule wins. */
  async scanningFor(registryKey: RegistryKey, repository: string, scanOnPush: boolean) {
    const config = await this.scanning(registryKey);
    for (const rule of config.rules) {
      const matched = rule.repositoryFilters.filter((f) => wildcardMatch(f.filter, repository));
      if (matched.length > 0) return { scanFrequency: rule.scanFrequency, appliedScanFilters: matched };
    }
    return { scanFrequency: scanOnPush ? ('SCAN_ON_PUSH' as const) : ('MANUAL' as const), appliedScanFilters: [] };
  }

  async replication(registryKey: RegistryKey): Promise<ReplicationConfiguration> {
    const raw = await this.ctx.meta.registrySettings.get(registryKey, 'replication');
    return raw ? (JSON.parse(raw) as ReplicationConfiguration) : { rules: [] };
  }

  async setReplication(registryKey: RegistryKey, region: string, config: ReplicationConfiguration): Promise<ReplicationConfiguration> {
    if (config.rules.length > 10) invalid('A replication configuration can have at most 10 rules');
    const destinations = new Set<string>();
    for (const rule of config.rules) {
      if (rule.destinations.length < 1) invalid('A replication rule needs at least one destination');
      for (const d of rule.destinations) {
        if (d.region === region && d.registryId === accountOf(registryKey)) {
          invalid('Replication destination cannot be the same as the source registry');
        }
        destinations.add(`${d.registryId}:${d.region}`);
      }
      const filters = rule.repositoryFilters ?? [];
      if (rule.repositoryFilters !== undefined && (filters.length < 1 || filters.length > 100)) invalid('A replication rule has 1 to 100 repository filters');
      for (const f of filters) {
        if (f.filter.length < 2 || f.filter.length > 256 || !NAME_RE.test(f.filter.replace(/[-_.]+$/, '') || '-')) {
          invalid(`Invalid repository filter '${f.filter.slice(0, 300)}'`);
        }
      }
    }
    if (destinations.size > 25) invalid('A replication configuration can have at most 25 unique destinations');
    await this.ctx.meta.registrySettings.put(registryKey, 'replication', JSON.stringify(config));
    return config;
  }
}
