/**
 * ECR's service quotas, in one place: each quota's ECR value, Berth's default, the deployment's
 * override (config `quotas`) and each account's (`berth admin set-quota`), and the refusal that
 * names the quota. Counts are checked by the metadata store inside the transaction that would
 * exceed them (see metadata/quotas.ts); sizes and other counts are checked here or by the use
 * case that holds the number. Other features call `require` with their own counts.
 */
import { ChangeSignal, ExpiringCache } from '../core/expiring-cache.js';
import { Codes, RegistryError } from '../core/errors.js';
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import type { ManifestQuotaLimits, QuotaOverride, QuotaRefusal } from '../metadata/quotas.js';
import type { RegistryContext } from './context.js';

const MiB = 1024 * 1024;

export interface QuotaDefinition {
  /** ECR's name for it (Service Quotas console). */
  title: string;
  /** ECR's published default; undefined where ECR publishes none. */
  ecr: number | undefined;
  /** Berth's default (before config `quotas`). */
  berth: number;
  unit: 'count' | 'bytes';
}

/**
 * Values checked 2026-12 against ECR's service quotas page. Where Berth's default differs, the
 * README says why. maxLayerBytes and maxManifestBytes default to the deployment's
 * maxBlobBytes and maxManifestBytes settings, which keep their own keys.
 */
export const QUOTAS = {
  repositoriesPerRegistry: { title: 'Registered repositories', ecr: 10_000, berth: 10_000, unit: 'count' },
  imagesPerRepository: { title: 'Images per repository', ecr: 100_000, berth: 100_000, unit: 'count' },
  tagsPerImage: { title: 'Tags per image', ecr: undefined, berth: 1000, unit: 'count' },
  referrersPerSubject: { title: 'Referrers per subject', ecr: undefined, berth: 10_000, unit: 'count' },
  layerParts: { title: 'Layer parts', ecr: 4200, berth: 4200, unit: 'count' },
  minLayerPartBytes: { title: 'Minimum layer part size', ecr: 5 * MiB, berth: 0, unit: 'bytes' },
  maxLayerPartBytes: { title: 'Maximum layer part size', ecr: 10 * MiB, berth: 10 * MiB, unit: 'bytes' },
  maxLayerBytes: { title: 'Maximum layer size', ecr: 52_000 * MiB, berth: 52_000 * MiB, unit: 'bytes' },
  maxManifestBytes: { title: 'Maximum manifest size', ecr: 4 * MiB, berth: 4 * MiB, unit: 'bytes' },
  lifecyclePolicyRules: { title: 'Rules per lifecycle policy', ecr: undefined, berth: 50, unit: 'count' },
  pullThroughCacheRules: { title: 'Pull through cache rules per registry', ecr: 50, berth: 50, unit: 'count' },
  replicationRules: { title: 'Rules per replication configuration', ecr: 10, berth: 10, unit: 'count' },
  replicationDestinations: { title: 'Unique destinations across all rules in a replication configuration', ecr: 25, berth: 25, unit: 'count' },
  replicationFiltersPerRule: { title: 'Filters per rule in a replication configuration', ecr: 100, berth: 100, unit: 'count' },
  /**
   * Berth's own: upload sessions open at once in an account, so one account's pusher cannot use
   * up the deployment's `maxUploadSessions` and refuse every account's uploads. A session is
   * freed when its upload completes, is cancelled, or is idle for `uploadMaxAgeSeconds`.
   */
  uploadSessions: { title: 'Open upload sessions per account', ecr: undefined, berth: 1000, unit: 'count' },
  /** Managed signing's Signer stand-in: profiles per account and region, canceled ones included (each keeps its sealed key). */
  signingProfiles: { title: 'Signing profiles (AWS Signer)', ecr: undefined, berth: 1000, unit: 'count' },
} as const satisfies Record<string, QuotaDefinition>;

export type QuotaName = keyof typeof QUOTAS;
export type QuotaValues = Record<QuotaName, number>;

export function isQuotaName(name: string): name is QuotaName {
  return Object.hasOwn(QUOTAS, name);
}

/**
 * Checks a map of overrides (config `quotas`, or one `set-quota`): known names, whole numbers
 * from 0 (counts from 1). Returns the first problem, naming the key.
 */
export function quotaOverrideProblem(overrides: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(overrides)) {
    if (!isQuotaName(name)) return `unknown quota '${name}' (known: ${Object.keys(QUOTAS).join(', ')})`;
    const min = QUOTAS[name].unit === 'count' ? 1 : 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) return `quota ${name} must be a whole number ≥ ${min}`;
  }
  return undefined;
}

/** The deployment's values: Berth's defaults, the size settings, then config `quotas`. */
export function deploymentQuotaValues(limits: { quotas?: Record<string, number>; maxBlobBytes: number; maxManifestBytes: number }): QuotaValues {
  const configured = limits.quotas ?? {};
  const problem = quotaOverrideProblem(configured);
  if (problem) throw new Error(`quotas: ${problem}`);
  const defaults = Object.fromEntries(Object.entries(QUOTAS).map(([k, d]) => [k, d.berth])) as QuotaValues;
  return { ...defaults, maxLayerBytes: limits.maxBlobBytes, maxManifestBytes: limits.maxManifestBytes, ...configured };
}

export class Quotas {
  private readonly deployment: QuotaValues;
  private readonly changes = new ChangeSignal();
  private readonly cache: ExpiringCache<QuotaValues>;

  constructor(private readonly ctx: RegistryContext) {
    this.deployment = deploymentQuotaValues(ctx.limits);
    // A value set on another node (or by `berth admin set-quota`) applies within the TTL.
    this.cache = new ExpiringCache({ ttlMs: 5000, maxEntries: 10_000, changes: this.changes, now: () => ctx.clock.now().getTime() });
  }

  /** The deployment's values (defaults and config), before any account's. */
  deploymentValues(): QuotaValues {
    return { ...this.deployment };
  }

  /** Every quota's value for the account of `registryKey`. */
  async values(registryKey: RegistryKey): Promise<QuotaValues> {
    const accountId = accountOf(registryKey);
    return this.cache.get(accountId, async () => {
      const out = { ...this.deployment };
      for (const o of await this.ctx.meta.quotas.list(accountId)) if (isQuotaName(o.name)) out[o.name] = o.value;
      return out;
    });
  }

  async value(registryKey: RegistryKey, name: QuotaName): Promise<number> {
    return (await this.values(registryKey))[name];
  }

  /** The limits a manifest put checks in its transaction. */
  async manifestLimits(registryKey: RegistryKey): Promise<Required<ManifestQuotaLimits>> {
    const v = await this.values(registryKey);
    return {
      repositoriesPerRegistry: v.repositoriesPerRegistry,
      imagesPerRepository: v.imagesPerRepository,
      tagsPerImage: v.tagsPerImage,
      referrersPerSubject: v.referrersPerSubject,
    };
  }

  /** Refuses (LimitExceededException) when `count` would exceed the account's value of `name`. */
  async require(registryKey: RegistryKey, name: QuotaName, count: number): Promise<void> {
    const limit = await this.value(registryKey, name);
    if (count > limit) throw quotaExceeded(name, limit);
  }

  /** Sets (or, with undefined, removes) an account's own value. */
  async set(accountId: string, name: string, value: number | undefined): Promise<void> {
    const problem = value === undefined ? (isQuotaName(name) ? undefined : quotaOverrideProblem({ [name]: 0 })) : quotaOverrideProblem({ [name]: value });
    if (problem) throw new RegistryError(Codes.InvalidParameter, problem);
    await this.ctx.meta.quotas.set(accountId, name, value);
    this.changes.bump();
  }

  /** The accounts' own values (one account's, or every account's). */
  async overrides(accountId?: string): Promise<QuotaOverride[]> {
    return this.ctx.meta.quotas.list(accountId);
  }
}

/** The error for a quota reached: ECR's LimitExceededException; on /v2 DENIED, naming the quota. */
export function quotaExceeded(name: QuotaName, limit: number): RegistryError {
  const d = QUOTAS[name];
  const code =
    name === 'maxManifestBytes'
      ? Codes.ManifestQuotaExceeded
      : name === 'maxLayerBytes' || name === 'maxLayerPartBytes' || name === 'minLayerPartBytes'
        ? Codes.LayerQuotaExceeded
        : Codes.QuotaExceeded;
  return new RegistryError(code, `The service quota ${name} (${d.title}) of ${limit}${d.unit === 'bytes' ? ' bytes' : ''} has been exceeded.`, {
    quota: name,
    limit,
  });
}

/** A store's refusal, as the registry reports it. */
export function quotaRefused(e: QuotaRefusal): RegistryError {
  return quotaExceeded(e.quota, e.limit);
}
