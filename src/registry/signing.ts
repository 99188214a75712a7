/**
 * Managed signing's registry side: the signing configuration (ECR's rules, each a signing
 * profile and optional wildcard repository filters), which profiles a push to a repository calls
 * for, the job a push enqueues with its manifest, and each image's signing status per profile.
 * The configuration is a registry setting (beside scanning's and replication's, so a push reads
 * them in one query: registry-config.ts), statuses are named documents; the signing itself is the
 * job's (signer/signing-job.ts).
 *
 * A status is written IN_PROGRESS just after the push's transaction (which enqueued the job),
 * and final by the job; both carry the push's id, so an IN_PROGRESS written late never hides a
 * result the job already wrote for the same push.
 */
import { randomUUID } from 'node:crypto';
import type { Digest } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import { parseSigningProfileArn } from '../core/arns.js';
import { accountOf, parseRegistryKey, registryKeyText, type RegistryKey } from '../core/registry-key.js';
import { wildcardMatch } from '../core/repository-settings.js';
import { SIGNING_STATUS_KIND, signingStatusPrefix } from '../metadata/signing-statuses.js';
import type { JobRequest } from '../metadata/types.js';
import type { RegistryContext, RepoScope } from './context.js';
import type { ImageId, Images } from './images.js';

export const SIGN_JOB = 'sign-image';
/** The configuration's name among the registry's settings. */
export const SIGNING_SETTING = 'signing';

export interface SigningRule {
  signingProfileArn: string;
  repositoryFilters?: Array<{ filter: string; filterType: 'WILDCARD_MATCH' }>;
}

export interface SigningConfiguration {
  rules: SigningRule[];
}

export type SigningState = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface ImageSigningStatus {
  signingProfileArn: string;
  status: SigningState;
  failureCode?: string;
  failureReason?: string;
}

interface StatusDoc extends ImageSigningStatus {
  pushId: string;
}

/** The job's payload: the image, the profiles the push's rules named, and those the pusher may not sign with. */
export interface SignJobPayload {
  registryKey: string;
  repository: string;
  digest: Digest;
  profileArns: string[];
  /** Named by a rule, but the pusher may not sign with them (signer:SignPayload): reported FAILED. */
  denied?: string[];
  pushId: string;
}

/** Whether the pusher may sign with a profile (the door's signer:SignPayload decision). */
export type MaySign = (profileArn: string) => Promise<boolean>;

/** The status of a profile the pusher may not sign with. */
export function deniedStatus(arn: string): ImageSigningStatus {
  return {
    signingProfileArn: arn,
    status: 'FAILED',
    failureCode: 'ACCESS_DENIED',
    failureReason: `The principal that pushed the image is not authorized to perform signer:SignPayload on ${arn}.`,
  };
}

export class Signing {
  constructor(
    private readonly ctx: RegistryContext,
    /** The image listing (built after the manifests, which need this first). */
    private readonly images: () => Images,
  ) {}

  async configuration(registryKey: RegistryKey): Promise<SigningConfiguration | undefined> {
    return parseSigningConfiguration(await this.ctx.meta.registrySettings.get(registryKey, SIGNING_SETTING));
  }

  /** The configuration; SigningConfigurationNotFoundException when there is none. */
  async required(registryKey: RegistryKey): Promise<SigningConfiguration> {
    const config = await this.configuration(registryKey);
    if (!config) throw notConfigured(registryKey);
    return config;
  }

  /**
   * Replaces the configuration. A rule must name a profile of the registry's own account and
   * region: Berth's signer holds no other account's keys, and a rule that could never sign would
   * only report FAILED on every push.
   */
  async put(registryKey: RegistryKey, region: string, config: SigningConfiguration): Promise<SigningConfiguration> {
    for (const rule of config.rules) {
      const scope = parseSigningProfileArn(rule.signingProfileArn);
      if (!scope || scope.accountId !== accountOf(registryKey) || scope.region !== region) {
        throw new RegistryError(
          Codes.InvalidParameter,
          `Invalid parameter at 'signingProfileArn' failed to satisfy constraint: 'must name a signing profile of account ${accountOf(registryKey)} in ${region}'`,
        );
      }
    }
    await this.ctx.meta.registrySettings.put(registryKey, SIGNING_SETTING, JSON.stringify(config));
    return config;
  }

  /** Deletes it and answers what it was; SigningConfigurationNotFoundException when there is none. */
  async delete(registryKey: RegistryKey): Promise<SigningConfiguration> {
    const config = parseSigningConfiguration(await this.ctx.meta.registrySettings.delete(registryKey, SIGNING_SETTING));
    if (!config) throw notConfigured(registryKey);
    return config;
  }

  /**
   * The job signing a push with the profiles its rules matched (`signingProfilesFor`), or
   * undefined when none did. As ECR signs with the identity of who pushed, a profile the pusher
   * may not sign with (`maySign`) is not used, only reported.
   */
  async jobFor(scope: RepoScope, digest: Digest, matched: string[], maySign?: MaySign): Promise<JobRequest | undefined> {
    if (matched.length === 0) return undefined;
    const profileArns: string[] = [];
    const denied: string[] = [];
    for (const arn of matched) (maySign === undefined || (await maySign(arn)) ? profileArns : denied).push(arn);
    const payload: SignJobPayload = {
      registryKey: registryKeyText(scope.registryKey),
      repository: scope.name,
      digest,
      profileArns,
      ...(denied.length > 0 && { denied }),
      pushId: randomUUID(),
    };
    return { kind: SIGN_JOB, account: accountOf(scope.registryKey), payload };
  }

  /** Marks the push's profiles IN_PROGRESS (those it may not use, FAILED), unless its job already recorded them. */
  async started(payload: SignJobPayload): Promise<void> {
    for (const arn of payload.profileArns) await this.record(payload, { signingProfileArn: arn, status: 'IN_PROGRESS' }, false);
    for (const arn of payload.denied ?? []) await this.record(payload, deniedStatus(arn), false);
  }

  /** Records the job's result for one profile. */
  async finished(payload: SignJobPayload, status: ImageSigningStatus): Promise<void> {
    await this.record(payload, status, true);
  }

  /** DescribeImageSigningStatus: the image's digest and a status per profile its pushes were signed with. */
  async describe(scope: RepoScope, id: ImageId): Promise<{ digest: Digest; statuses: ImageSigningStatus[] }> {
    const digest = await this.images().digestOf(scope, id);
    return { digest, statuses: await this.statuses(scope, digest) };
  }

  async statuses(scope: RepoScope, digest: Digest): Promise<ImageSigningStatus[]> {
    const records = await this.ctx.meta.documents.list(scope.registryKey, SIGNING_STATUS_KIND, { limit: 100, prefix: signingStatusPrefix(scope.name, digest) });
    return records.map((r) => {
      const { pushId: _p, ...status } = JSON.parse(r.document) as StatusDoc;
      return status;
    });
  }

  private async record(payload: SignJobPayload, status: ImageSigningStatus, final: boolean): Promise<void> {
    const registryKey = parseRegistryKey(payload.registryKey);
    const name = signingStatusPrefix(payload.repository, payload.digest) + status.signingProfileArn;
    if (!(await this.write(registryKey, name, { ...status, pushId: payload.pushId }, final))) return;
    // An image delete removes its statuses in its own transaction; one that committed since the
    // job looked at the image would leave this one behind, so it is removed here instead.
    const found = await this.ctx.meta.manifests.lookup(registryKey, payload.repository, { digest: payload.digest });
    if (!found?.manifest) await this.ctx.meta.documents.delete(registryKey, SIGNING_STATUS_KIND, name);
  }

  /** Writes a status; false when an IN_PROGRESS is not written, its push's job having already recorded one. */
  private async write(registryKey: RegistryKey, name: string, status: StatusDoc, final: boolean): Promise<boolean> {
    const document = JSON.stringify(status);
    const now = this.ctx.clock.now();
    if (final) {
      await this.ctx.meta.documents.replace({ registryKey, kind: SIGNING_STATUS_KIND, name, document, now });
      return true;
    }
    for (;;) {
      const current = await this.ctx.meta.documents.get(registryKey, SIGNING_STATUS_KIND, name);
      if (!current) {
        if (await this.ctx.meta.documents.create({ registryKey, kind: SIGNING_STATUS_KIND, name, document, now })) return true;
        continue;
      }
      if ((JSON.parse(current.document) as StatusDoc).pushId === status.pushId) return false;
      if (await this.ctx.meta.documents.replace({ registryKey, kind: SIGNING_STATUS_KIND, name, document, now }, current.document)) return true;
    }
  }
}

export function parseSigningConfiguration(raw: string | undefined): SigningConfiguration | undefined {
  return raw === undefined ? undefined : (JSON.parse(raw) as SigningConfiguration);
}

/** The profiles a push to the repository is signed with: every rule that matches it (no filters: every repository), each profile once. */
export function signingProfilesFor(config: SigningConfiguration | undefined, repository: string): string[] {
  const arns = new Set<string>();
  for (const rule of config?.rules ?? []) {
    const filters = rule.repositoryFilters ?? [];
    if (filters.length === 0 || filters.some((f) => wildcardMatch(f.filter, repository))) arns.add(rule.signingProfileArn);
  }
  return [...arns];
}

function notConfigured(registryKey: RegistryKey): RegistryError {
  return new RegistryError(Codes.SigningConfigurationNotFound, `No signing configuration is set for the registry with id '${accountOf(registryKey)}'`);
}
