/**
 * Service quotas from the shell (`berth admin set-quota`, `berth admin list-quotas`), against
 * the data directory's metadata. Running servers read an account's values through a cache: a
 * value set here applies there within seconds.
 */
import type { Config } from '../config/schema.js';
import { deploymentQuotaValues, isQuotaName, QUOTAS, quotaOverrideProblem, type QuotaName } from '../registry/quotas.js';
import { openMetadata } from './open-stores.js';
import { serviceLimits } from './service-limits.js';

export interface QuotaLine {
  name: QuotaName;
  title: string;
  /** ECR's published default; null where ECR publishes none. */
  ecrDefault: number | null;
  value: number;
  /** Where the value comes from: Berth's default, the deployment's config, or the account's own. */
  source: 'default' | 'deployment' | 'account';
}

export async function openQuotaAdmin(config: Config) {
  const deployment = deploymentQuotaValues({ ...serviceLimits(config), maxBlobBytes: config.maxBlobBytes, maxManifestBytes: config.maxManifestBytes });
  const meta = await openMetadata(config);
  return {
    /** Sets one account's value; `undefined` returns it to the deployment's. Bad names and values are refused first. */
    async set(accountId: string, name: string, value: number | undefined): Promise<void> {
      if (!isQuotaName(name)) throw new Error(quotaOverrideProblem({ [name]: 1 }));
      if (value !== undefined) {
        const problem = quotaOverrideProblem({ [name]: value });
        if (problem) throw new Error(problem);
      }
      await meta.quotas.set(accountId, name, value);
    },
    /** Every quota's value for the account, and where it comes from. */
    async list(accountId: string): Promise<QuotaLine[]> {
      const own = new Map((await meta.quotas.list(accountId)).map((o) => [o.name, o.value]));
      return (Object.keys(QUOTAS) as QuotaName[]).map((name) => {
        const d = QUOTAS[name];
        const fromAccount = own.get(name);
        const configured = config.quotas?.[name] !== undefined || name === 'maxLayerBytes' || name === 'maxManifestBytes';
        return {
          name,
          title: d.title,
          ecrDefault: d.ecr ?? null,
          value: fromAccount ?? deployment[name],
          source: fromAccount !== undefined ? 'account' : configured && deployment[name] !== d.berth ? 'deployment' : 'default',
        };
      });
    },
    close: () => meta.close(),
  };
}
