/**
 * A registry's scanning and replication configuration: ECR's rules for each, stored whole as
 * JSON among the registry's settings (with managed signing's, signing.ts). A manifest push reads
 * them all at once (`pushRules`).
 */
import { Codes, RegistryError } from '../core/errors.js';
import { wildcardMatch } from '../core/repository-settings.js';
import type { ReplicationDestination } from '../metadata/replication.js';
import type { RegistryContext, RepoScope } from './context.js';
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import { replicationDestinations } from './replication.js';
import { parseSigningConfiguration, signingProfilesFor, SIGNING_SETTING } from './signing.js';

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

/** What a registry's settings call for on a push to one repository. */
export interface PushRules {
  /** Whether the push starts a scan, given the repository's own scanOnPush flag. */
  scans(scanOnPushSetting: boolean): boolean;
  /** Where it is replicated. */
  replicateTo: ReplicationDestination[];
  /** The signing profiles of the signing rules that match it. */
  signWith: string[];
}

const SCANNING = 'scanning';
const REPLICATION = 'replication';

/**
 * ECR's scanning filter pattern, `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`, as written
 * there: each run of `[a-z0-9*]` splits among the groups in exponentially many ways, so 25
 * characters and a `!` cost V8 seconds. The same language, each group begun by its separator:
 */
export const SCAN_FILTER_LINEAR = '^[a-z0-9*]+(?:[._\\-/][a-z0-9*]+)*$';
const SCAN_FILTER_RE = new RegExp(SCAN_FILTER_LINEAR);
const NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

function invalid(message: string): never {
  throw new RegistryError(Codes.InvalidParameter, message);
}

export class RegistryConfig {
  constructor(private readonly ctx: RegistryContext) {}

  /** The rules a push to the repository follows, from one read of every registry setting. */
  async pushRules(scope: RepoScope): Promise<PushRules> {
    const settings = await this.ctx.meta.registrySettings.all(scope.registryKey);
    const scanning = parseScanning(settings.get(SCANNING));
    return {
      scans: (scanOnPush) => scanningRuleFor(scanning, scope.name, scanOnPush).scanFrequency !== 'MANUAL',
      replicateTo: replicationDestinations(parseReplication(settings.get(REPLICATION)), scope),
      signWith: signingProfilesFor(parseSigningConfiguration(settings.get(SIGNING_SETTING)), scope.name),
    };
  }

  async scanning(registryKey: RegistryKey): Promise<ScanningConfiguration> {
    return parseScanning(await this.ctx.meta.registrySettings.get(registryKey, SCANNING));
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
    await this.ctx.meta.registrySettings.put(registryKey, SCANNING, JSON.stringify(config));
    return config;
  }

  /** The frequency and filters that apply to one repository: the first matching rule wins. */
  async scanningFor(registryKey: RegistryKey, repository: string, scanOnPush: boolean) {
    return scanningRuleFor(await this.scanning(registryKey), repository, scanOnPush);
  }

  async replication(registryKey: RegistryKey): Promise<ReplicationConfiguration> {
    return parseReplication(await this.ctx.meta.registrySettings.get(registryKey, REPLICATION));
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
    await this.ctx.meta.registrySettings.put(registryKey, REPLICATION, JSON.stringify(config));
    return config;
  }
}

function parseScanning(raw: string | undefined): ScanningConfiguration {
  return raw ? (JSON.parse(raw) as ScanningConfiguration) : { scanType: 'BASIC', rules: [] };
}

function parseReplication(raw: string | undefined): ReplicationConfiguration {
  return raw ? (JSON.parse(raw) as ReplicationConfiguration) : { rules: [] };
}

/** The first matching rule wins; without one, the repository's own flag decides. */
function scanningRuleFor(config: ScanningConfiguration, repository: string, scanOnPush: boolean) {
  for (const rule of config.rules) {
    const matched = rule.repositoryFilters.filter((f) => wildcardMatch(f.filter, repository));
    if (matched.length > 0) return { scanFrequency: rule.scanFrequency, appliedScanFilters: matched };
  }
  return { scanFrequency: scanOnPush ? ('SCAN_ON_PUSH' as const) : ('MANUAL' as const), appliedScanFilters: [] };
}
