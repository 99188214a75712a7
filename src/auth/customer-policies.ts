/**
 * Customer managed policies with IAM's rules: names unique in the account, at most five versions
 * with one the default, no deleting the default version, nor a policy still attached, used as a
 * boundary or holding other versions. A policy is named by its ARN, and only in its own account:
 * another account's ARN is one that does not exist. Documents are checked by the caller (the
 * IAM door's checkPolicy, as inline policies are). A change of what a policy allows (its default
 * version) bumps the authorization caches, so it holds from the next request.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { IamCodes } from '../core/errors.js';
import type { ChangeSignal } from '../core/expiring-cache.js';
import type { CustomerPolicyRecord, CustomerPolicyStore, PolicyVersionRecord } from '../metadata/customer-policies.js';
import { IdentityError } from './identity-admin.js';
import { checkTagChangeNamesSome, checkTags, MAX_TAGS } from './role-admin.js';

const NAME_RE = /^[\w+=,.@-]{1,128}$/;
const PATH_RE = /^(?:\/[A-Za-z0-9.,+@=_-]+)*\/$/;
const ARN_RE = /^arn:aws:iam::(\d{12}):policy((?:\/[A-Za-z0-9.,+@=_-]+)*\/)([\w+=,.@-]{1,128})$/;
const VERSION_RE = /^v([1-9]\d{0,8})$/;
/** IAM's limit on a managed policy's versions. */
export const MAX_POLICY_VERSIONS = 5;

export interface NewCustomerPolicy {
  name: string;
  path?: string;
  description?: string;
  document: string;
  tags?: Array<{ Key: string; Value: string }>;
}

export type Tags = Array<{ Key: string; Value: string }>;

/** `arn:aws:iam::<account>:policy<path><name>`. */
export function customerPolicyArn(p: Pick<CustomerPolicyRecord, 'accountId' | 'path' | 'name'>): string {
  return `arn:aws:iam::${p.accountId}:policy${p.path}${p.name}`;
}

const notFound = (arn: string) => new IdentityError(IamCodes.NoSuchEntity, `Policy ${arn.slice(0, 2048)} was not found.`);

export class CustomerPolicies {
  constructor(
    private readonly store: CustomerPolicyStore,
    private readonly clock: Clock,
    private readonly requireAccount: (accountId: string) => Promise<void>,
    /** Bumped when what a policy allows changes, so cached authorization data is dropped. */
    private readonly authzChanges?: ChangeSignal,
  ) {}

  async create(accountId: string, p: NewCustomerPolicy): Promise<CustomerPolicyRecord> {
    await this.requireAccount(accountId);
    const path = p.path ?? '/';
    if (!NAME_RE.test(p.name)) throw new IdentityError(IamCodes.Validation, 'The specified value for policyName is invalid.');
    if (!PATH_RE.test(path) || path.length > 512) throw new IdentityError(IamCodes.Validation, 'The specified value for path is invalid.');
    const description = p.description ?? '';
    if (description.length > 1000) throw new IdentityError(IamCodes.Validation, 'The description must be at most 1000 characters.');
    const tags = p.tags ?? [];
    checkTags(tags);
    const policyId = 'ANPA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 17);
    const now = this.clock.now();
    const created = await this.store.create({ accountId, name: p.name, policyId, path, description, tags, document: p.document, now });
    if (!created) throw new IdentityError(IamCodes.EntityAlreadyExists, `A policy called ${p.name} already exists. Duplicate names are not allowed.`);
    return (await this.store.get(accountId, p.name))!;
  }

  /** The policy `arn` names in `accountId`; NoSuchEntity when there is none. */
  async get(accountId: string, arn: string): Promise<CustomerPolicyRecord> {
    const found = await this.lookup(accountId, arn);
    if (!found) throw notFound(arn);
    return found;
  }

  /** Whether `arn` names a policy of `accountId` (for attachments and boundaries). */
  async exists(accountId: string, arn: string): Promise<boolean> {
    return (await this.lookup(accountId, arn)) !== undefined;
  }

  /** The default version's document of the policy `arn` names in `accountId`; undefined when there is none. */
  async defaultDocument(accountId: string, arn: string): Promise<string | undefined> {
    const p = await this.lookup(accountId, arn);
    if (!p) return undefined;
    return (await this.store.versions(accountId, p.name)).find((v) => v.version === p.defaultVersion)?.document;
  }

  list(accountId: string): Promise<CustomerPolicyRecord[]> {
    return this.store.list(accountId);
  }

  usage(accountId: string, arn: string): Promise<{ attachments: number; boundaries: number }> {
    return this.store.usage(accountId, arn);
  }

  /** As IAM: detached from everyone, no longer a boundary, and its other versions deleted first. */
  async delete(accountId: string, arn: string): Promise<void> {
    const p = await this.get(accountId, arn);
    // One transaction: an attachment racing this is either counted or refused (attachCustomer).
    const outcome = await this.store.deleteIfUnused(accountId, p.name, arn);
    if (outcome === undefined) throw notFound(arn);
    if (outcome === 'attached') throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete a policy attached to entities.');
    if (outcome === 'versions') {
      throw new IdentityError(
        IamCodes.DeleteConflict,
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
      );
    }
    this.authzChanges?.bump();
  }

  async createVersion(accountId: string, arn: string, document: string, setAsDefault: boolean): Promise<PolicyVersionRecord & { isDefault: boolean }> {
    const p = await this.get(accountId, arn);
    const now = this.clock.now();
    const version = await this.store.addVersion(accountId, p.name, document, setAsDefault, MAX_POLICY_VERSIONS, now);
    if (version === undefined) throw notFound(arn);
    if (version === 'limit') {
      throw new IdentityError(
        IamCodes.LimitExceeded,
        `A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
      );
    }
    if (setAsDefault) this.authzChanges?.bump();
    return { version, document, createdAt: now, isDefault: setAsDefault };
  }

  async versions(accountId: string, arn: string): Promise<{ policy: CustomerPolicyRecord; versions: PolicyVersionRecord[] }> {
    const policy = await this.get(accountId, arn);
    return { policy, versions: await this.store.versions(accountId, policy.name) };
  }

  async version(accountId: string, arn: string, versionId: string): Promise<{ policy: CustomerPolicyRecord; version: PolicyVersionRecord }> {
    const { policy, versions } = await this.versions(accountId, arn);
    const n = versionNumber(versionId);
    const version = versions.find((v) => v.version === n);
    if (!version) throw noVersion(arn, versionId);
    return { policy, version };
  }

  async deleteVersion(accountId: string, arn: string, versionId: string): Promise<void> {
    const p = await this.get(accountId, arn);
    const n = versionNumber(versionId);
    if (n === p.defaultVersion) throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete the default version of a policy.');
    if (!(await this.store.deleteVersion(accountId, p.name, n ?? 0))) throw noVersion(arn, versionId);
  }

  async setDefaultVersion(accountId: string, arn: string, versionId: string): Promise<void> {
    const p = await this.get(accountId, arn);
    const n = versionNumber(versionId);
    if (n === undefined || !(await this.store.setDefaultVersion(accountId, p.name, n, this.clock.now()))) throw noVersion(arn, versionId);
    this.authzChanges?.bump();
  }

  /**
   * TagPolicy: adds tags, a key the policy has (in any case, as IAM compares them) taking the new
   * value; at most 50 in all (LimitExceeded, nothing changed), in one step with any other change.
   */
  async tag(accountId: string, arn: string, tags: Tags): Promise<void> {
    checkTagChangeNamesSome(tags, 'tags');
    checkTags(tags);
    await this.changeTags(accountId, arn, { add: tags, remove: [] });
  }

  /** UntagPolicy: removes the tags of `keys` (in any case; a key the policy lacks is no error). */
  async untag(accountId: string, arn: string, keys: string[]): Promise<void> {
    checkTagChangeNamesSome(keys, 'tagKeys');
    await this.changeTags(accountId, arn, { add: [], remove: keys });
  }

  private async changeTags(accountId: string, arn: string, change: { add: Tags; remove: string[] }): Promise<void> {
    const p = await this.get(accountId, arn);
    const outcome = await this.store.changeTags(accountId, p.name, { ...change, max: MAX_TAGS });
    if (outcome === false) throw notFound(arn);
    if (outcome === 'limit') throw new IdentityError(IamCodes.LimitExceeded, `Cannot exceed quota for tags: ${MAX_TAGS}`);
  }

  private async lookup(accountId: string, arn: string): Promise<CustomerPolicyRecord | undefined> {
    const m = ARN_RE.exec(arn);
    if (!m || m[1] !== accountId) return undefined;
    const found = await this.store.get(accountId, m[3]!);
    return found?.path === m[2] ? found : undefined;
  }
}

/** `v3` → 3 (undefined for anything else: no version has that id). */
function versionNumber(id: string): number | undefined {
  const m = VERSION_RE.exec(id);
  return m ? Number(m[1]) : undefined;
}

function noVersion(arn: string, versionId: string): IdentityError {
  return new IdentityError(IamCodes.NoSuchEntity, `Policy ${arn.slice(0, 2048)} version ${versionId.slice(0, 128)} does not exist or is not attachable.`);
}
