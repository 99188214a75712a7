/**
 * Pull-time update exclusions (ECR's Register/Deregister/ListPullTimeUpdateExclusions): IAM
 * users and roles whose pulls leave an image's lastRecordedPullTime as it was, so a scanner or
 * a CI job pulling everything does not keep images alive under a "days since last pull"
 * lifecycle rule. The pull recorder (pull-recorder.ts) drops their pulls when it writes.
 *
 * ECR matches the principal's IAM ARN: a user's, or for a role session the role's (ECR's guide
 * speaks only of role ARNs, and the model's pattern admits no sts assumed-role ARN), so a role
 * excludes every session of it.
 */
import { accountOf, type RegistryKey } from '../core/registry-key.js';
import { Codes, RegistryError } from '../core/errors.js';
import type { PullExclusionRecord } from '../metadata/pull-exclusions.js';
import type { RegistryContext } from './context.js';

/** ECR's quota: "You can configure up to 100 exclusions per account." */
export const MAX_PULL_EXCLUSIONS = 100;

export class PullExclusions {
  constructor(private readonly ctx: RegistryContext) {}

  async register(registryKey: RegistryKey, principalArn: string): Promise<PullExclusionRecord> {
    const now = this.ctx.clock.now();
    const outcome = await this.ctx.meta.pullExclusions.add(registryKey, principalArn, now, MAX_PULL_EXCLUSIONS);
    if (outcome === 'exists') {
      throw new RegistryError(
        Codes.ExclusionAlreadyExists,
        `The pull time update exclusion for principal '${principalArn}' already exists in the registry with id '${accountOf(registryKey)}'`,
      );
    }
    if (outcome === 'limit') {
      throw new RegistryError(
        Codes.LimitExceeded,
        `The registry with id '${accountOf(registryKey)}' already has the maximum number of pull time update exclusions (${MAX_PULL_EXCLUSIONS})`,
      );
    }
    return { principalArn, createdAt: now };
  }

  async deregister(registryKey: RegistryKey, principalArn: string): Promise<void> {
    if (!(await this.ctx.meta.pullExclusions.remove(registryKey, principalArn))) {
      throw new RegistryError(
        Codes.ExclusionNotFound,
        `The pull time update exclusion for principal '${principalArn}' was not found in the registry with id '${accountOf(registryKey)}'`,
      );
    }
  }

  list(registryKey: RegistryKey, page: { after?: string; limit: number }): Promise<PullExclusionRecord[]> {
    return this.ctx.meta.pullExclusions.list(registryKey, page);
  }
}
