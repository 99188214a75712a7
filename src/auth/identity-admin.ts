/**
 * Identity administration: accounts, users, access keys and user policies, with IAM's rules
 * (names, conflicts, the order deletions must happen in). Used by the IAM Query API and by the
 * `berth` admin commands, so the rules live once. Secrets leave this module only when a key is
 * created; at rest they are sealed under the server key.
 */
import type { ChangeSignal } from '../core/expiring-cache.js';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { IamCodes, type WireCode } from '../core/errors.js';
import { inlinePolicyOverflow } from './inline-policy-size.js';
import type { AccessKeyRecord, IdentityStore, ManagedPolicyUsage, UserPolicyRecord, UserRecord } from '../metadata/identities.js';
import type { RoleStore } from '../metadata/roles.js';
import { generateAccessKeyId, generateSecretAccessKey, openSecret, sealSecret } from './access-keys.js';
import { checkTagChangeNamesSome, checkTags, MAX_TAGS, RoleAdmin } from './role-admin.js';
import type { LoginProfileStore } from '../metadata/console.js';
import { LoginProfiles } from './login-profiles.js';
import { checkPermissionsBoundary, noBoundary, writeBoundary } from './boundaries.js';
import { CustomerPolicies } from './customer-policies.js';
import { GroupAdmin } from './group-admin.js';
import { attachManaged } from './attach-managed.js';
import { principalPolicies, storedPolicy, type PrincipalPolicies } from './principal-policies.js';
import type { Policy } from '../iam/policy.js';
import type { GroupStore } from '../metadata/groups.js';
import type { CustomerPolicyStore } from '../metadata/customer-policies.js';
import { managedPolicy } from '../iam/managed.js';

export class IdentityError extends Error {
  constructor(
    /** An `IamCodes` entry. */
    readonly code: WireCode,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}

const USER_NAME_RE = /^[\w+=,.@-]{1,64}$/;
const PATH_RE = /^\/(?:[\x21-\x7e]*\/)?$/;
const POLICY_NAME_RE = /^[\w+=,.@-]{1,128}$/;
const MAX_KEYS_PER_USER = 2;

export interface CreatedAccessKey {
  record: AccessKeyRecord;
  secretAccessKey: string;
}

export class IdentityAdmin {
  /** Roles and OIDC providers, when the store keeps them. */
  readonly roles: RoleAdmin | undefined;
  /** Users' console passwords, when the store keeps them. */
  readonly loginProfiles: LoginProfiles | undefined;
  /** The account's own managed policies, when the store keeps them. */
  readonly policies: CustomerPolicies | undefined;
  /** Groups of users, when the store keeps them. */
  readonly groups: GroupAdmin | undefined;

  constructor(
    private readonly store: IdentityStore,
    private readonly clock: Clock,
    private readonly serverKey: Buffer,
    /** Bumped when a user's policies change, so cached authorization data is dropped. */
    private readonly authzChanges?: ChangeSignal,
    roleStore?: RoleStore,
    loginProfileStore?: LoginProfileStore,
    customerPolicyStore?: CustomerPolicyStore,
    groupStore?: GroupStore,
  ) {
    const requireAccount = (id: string) => this.requireAccount(id);
    this.roles =
      roleStore &&
      new RoleAdmin(
        roleStore,
        clock,
        requireAccount,
        authzChanges,
        (id, arn) => this.hasManagedPolicy(id, arn),
        async (id, name, path) => {
          const u = await this.userRecord(id, name);
          return u !== undefined && u.name === name && u.path === path ? u.userId : undefined;
        },
      );
    this.loginProfiles = loginProfileStore && new LoginProfiles(loginProfileStore, store, clock);
    this.policies = customerPolicyStore && new CustomerPolicies(customerPolicyStore, clock, requireAccount, authzChanges);
    this.groups =
      groupStore &&
      new GroupAdmin(groupStore, clock, {
        requireAccount,
        requireUser: async (id, user) => (await this.user(id, user)).name,
        requireAttachable: (id, arn) => this.requireAttachable(id, arn),
        authzChanges,
      });
  }

  /** Whether `arn` names a managed policy `accountId` may attach: an AWS one Berth keeps, or its own. */
  async hasManagedPolicy(accountId: string, arn: string): Promise<boolean> {
    return managedPolicy(arn) !== undefined || ((await this.policies?.exists(accountId, arn)) ?? false);
  }

  /**
   * A managed policy as the evaluator applies it (AWS's, or the account's own at its default
   * version now): a managed session policy's document. Undefined when `arn` names neither.
   */
  async managedPolicyOf(accountId: string, arn: string): Promise<Policy | undefined> {
    const aws = managedPolicy(arn);
    if (aws) return aws;
    const document = await this.policies?.defaultDocument(accountId, arn);
    return document === undefined ? undefined : storedPolicy(document);
  }

  /** The identity policies of the user or role named exactly `name`, with its boundary, as the evaluator applies them (one store read). */
  principalPolicies(accountId: string, kind: 'user' | 'role', name: string): Promise<PrincipalPolicies> {
    return principalPolicies(this.store, accountId, kind, name);
  }

  async ensureAccount(id: string, name: string): Promise<void> {
    if (!/^\d{12}$/.test(id)) throw new IdentityError(IamCodes.Validation, 'account ids are 12 digits');
    await this.store.createAccount({ id, name, now: this.clock.now() });
  }

  async createAccount(id: string, name: string): Promise<void> {
    if (!/^\d{12}$/.test(id)) throw new IdentityError(IamCodes.Validation, 'account ids are 12 digits');
    if (!(await this.store.createAccount({ id, name, now: this.clock.now() }))) {
      throw new IdentityError(IamCodes.EntityAlreadyExists, `Account ${id} already exists.`);
    }
  }

  async requireAccount(accountId: string): Promise<void> {
    if (!(await this.store.account(accountId))) throw new IdentityError(IamCodes.NoSuchEntity, `The account ${accountId} does not exist.`);
  }

  async createUser(accountId: string, name: string, path = '/', permissionsBoundary?: string, tags: UserRecord['tags'] = []): Promise<UserRecord> {
    await this.requireAccount(accountId);
    if (!USER_NAME_RE.test(name)) throw new IdentityError(IamCodes.Validation, `The specified value for userName is invalid.`);
    if (!PATH_RE.test(path) || path.length > 512) throw new IdentityError(IamCodes.Validation, 'The specified value for path is invalid.');
    checkTags(tags);
    if (permissionsBoundary !== undefined) await checkPermissionsBoundary(permissionsBoundary, (arn) => this.hasManagedPolicy(accountId, arn));
    const userId = 'AIDA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 17);
    const created = await this.store.createUser({
      accountId,
      name,
      userId,
      path,
      ...(permissionsBoundary !== undefined && { permissionsBoundary }),
      tags,
      now: this.clock.now(),
    });
    if (!created) {
      // Nothing made: the name is taken, or the boundary's policy was deleted since it was checked.
      if (permissionsBoundary !== undefined && !(await this.store.user(accountId, name))) throw noBoundary(permissionsBoundary);
      throw new IdentityError(IamCodes.EntityAlreadyExists, `User with name ${name} already exists.`);
    }
    // A user made under a deleted one's name: what the authenticator remembers of the name (gone) is stale.
    this.authzChanges?.bump();
    return (await this.store.user(accountId, name))!;
  }

  /** The user named `name` in any case (IAM's names are not told apart by case): its record carries the name as created. */
  async user(accountId: string, name: string): Promise<UserRecord> {
    const u = await this.store.user(accountId, name);
    if (!u) throw new IdentityError(IamCodes.NoSuchEntity, `The user with name ${name} cannot be found.`);
    return u;
  }

  /**
   * The user, role or group `name` names in any case: its name as it was made and its path (what
   * its ARN, and every policy naming it, are made of); undefined when there is none such.
   */
  async entityNamed(accountId: string, kind: 'user' | 'role' | 'group', name: string): Promise<{ name: string; path: string } | undefined> {
    const found =
      kind === 'user'
        ? await this.store.user(accountId, name)
        : kind === 'role'
          ? await this.roles?.roleRecord(accountId, name)
          : await this.groups?.groupRecord(accountId, name);
    return found === undefined ? undefined : { name: found.name, path: found.path };
  }

  /** The name of the user, role or group `name` names in any case, as it was made; `name` itself when there is none such. */
  async nameAsMade(accountId: string, kind: 'user' | 'role' | 'group', name: string): Promise<string> {
    return (await this.entityNamed(accountId, kind, name))?.name ?? name;
  }

  /** The user (named in any case), or undefined when there is none (no error: a missing user is an answer here). */
  userRecord(accountId: string, name: string): Promise<UserRecord | undefined> {
    return this.store.user(accountId, name);
  }

  listUsers(accountId: string): Promise<UserRecord[]> {
    return this.store.listUsers(accountId);
  }

  managedPolicyUsage(accountId: string): Promise<ManagedPolicyUsage[]> {
    return this.store.managedPolicyUsage(accountId);
  }

  /** Sets (an ARN) or removes (null) the user's permissions boundary, which caps its identity policies at once. */
  async setUserBoundary(accountId: string, name: string, arn: string | null): Promise<void> {
    if (arn !== null) await checkPermissionsBoundary(arn, (a) => this.hasManagedPolicy(accountId, a));
    const u = await this.user(accountId, name);
    await writeBoundary(arn, {
      set: () => this.store.setUserBoundary(accountId, u.name, arn),
      setCustomer: (a) => this.store.setUserCustomerBoundary(accountId, u.name, a),
      stillThere: () => this.user(accountId, u.name),
    });
    this.authzChanges?.bump();
  }

  /**
   * TagUser: adds tags, a key the user has taking the new value; at most 50 in all
   * (LimitExceeded, nothing changed). The tags are the user's aws:PrincipalTag/*, so the
   * authorization caches are told, as for a policy change.
   */
  async tagUser(accountId: string, name: string, tags: UserRecord['tags']): Promise<void> {
    checkTagChangeNamesSome(tags, 'tags');
    checkTags(tags);
    await this.changeUserTags(accountId, name, { add: tags, remove: [] });
  }

  /** UntagUser: removes the tags of `keys` (a key the user does not have is no error, as in IAM). */
  async untagUser(accountId: string, name: string, keys: string[]): Promise<void> {
    checkTagChangeNamesSome(keys, 'tagKeys');
    await this.changeUserTags(accountId, name, { add: [], remove: keys });
  }

  private async changeUserTags(accountId: string, given: string, change: { add: UserRecord['tags']; remove: string[] }): Promise<void> {
    const u = await this.user(accountId, given);
    const outcome = await this.store.changeUserTags(accountId, u.name, { ...change, max: MAX_TAGS });
    if (outcome === false) throw new IdentityError(IamCodes.NoSuchEntity, `The user with name ${given} cannot be found.`);
    if (outcome === 'limit') throw new IdentityError(IamCodes.LimitExceeded, `Cannot exceed quota for tags: ${MAX_TAGS}`);
    this.authzChanges?.bump();
  }

  /** As IAM: a user with access keys, policies, a console password or groups must be stripped of them first (a boundary goes with it). */
  async deleteUser(accountId: string, given: string): Promise<void> {
    const { name } = await this.user(accountId, given);
    if (await this.loginProfiles?.exists(accountId, name)) {
      throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must delete login profile first.');
    }
    if (((await this.groups?.groupsOfUser(accountId, name)) ?? []).length > 0) {
      throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must remove users from group first.');
    }
    const keys = await this.store.listAccessKeys(accountId, name);
    const policies = await this.store.userPolicies(accountId, name);
    if (keys.length > 0 || policies.length > 0) {
      throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must delete access keys and policies first.');
    }
    await this.store.deleteUser(accountId, name);
    // Cached authorization data (and the user-exists check of login tokens) must forget the user.
    this.authzChanges?.bump();
  }

  /** A key for a user, or for the account root when userName is undefined. */
  async createAccessKey(accountId: string, given: string | undefined): Promise<CreatedAccessKey> {
    await this.requireAccount(accountId);
    let userName: string | undefined;
    // The key names its user as the user was made (the principal's ARN is built from it).
    if (given !== undefined) userName = (await this.user(accountId, given)).name;
    if (userName !== undefined) {
      if ((await this.store.listAccessKeys(accountId, userName)).length >= MAX_KEYS_PER_USER) {
        throw new IdentityError(IamCodes.LimitExceeded, `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`);
      }
    }
    const secretAccessKey = generateSecretAccessKey();
    const id = generateAccessKeyId();
    const now = this.clock.now();
    const record: AccessKeyRecord = {
      id,
      accountId,
      ...(userName !== undefined && { userName }),
      // The key id binds the sealed secret to its row: a secret moved onto another key won't open.
      sealedSecret: sealSecret(secretAccessKey, this.serverKey, id),
      status: 'Active',
      createdAt: now,
    };
    await this.store.createAccessKey({ ...record, now });
    return { record, secretAccessKey };
  }

  async listAccessKeys(accountId: string, userName: string | undefined): Promise<AccessKeyRecord[]> {
    return this.store.listAccessKeys(accountId, await this.keyOwner(accountId, userName));
  }

  /** The user name keys are stored under for `given` (in any case); as given when there is no such user, which owns none. */
  private async keyOwner(accountId: string, given: string | undefined): Promise<string | undefined> {
    return given === undefined ? undefined : ((await this.store.user(accountId, given))?.name ?? given);
  }

  async deleteAccessKey(accountId: string, given: string | undefined, id: string): Promise<void> {
    const userName = await this.keyOwner(accountId, given);
    const key = await this.store.accessKey(id);
    if (!key || key.accountId !== accountId || key.userName !== userName) {
      throw new IdentityError(IamCodes.NoSuchEntity, `The Access Key with id ${id} cannot be found.`);
    }
    await this.store.deleteAccessKey(id);
    // Login tokens minted with the key end with it (authn.ts): their cached check must forget it.
    this.authzChanges?.bump();
  }

  async setAccessKeyStatus(accountId: string, given: string | undefined, id: string, status: 'Active' | 'Inactive'): Promise<void> {
    const userName = await this.keyOwner(accountId, given);
    const key = await this.store.accessKey(id);
    if (!key || key.accountId !== accountId || key.userName !== userName) {
      throw new IdentityError(IamCodes.NoSuchEntity, `The Access Key with id ${id} cannot be found.`);
    }
    await this.store.setAccessKeyStatus(id, status);
    this.authzChanges?.bump();
  }

  /** Whether the access key `id` is active and belongs to the account root (no `userName`) or that user. */
  async keyStandsFor(id: string, accountId: string, userName: string | undefined): Promise<boolean> {
    const key = await this.store.accessKey(id);
    return key?.status === 'Active' && key.accountId === accountId && key.userName === userName;
  }

  /** The key and its plaintext secret, for SigV4 verification; undefined when unknown or inactive. */
  async activeKey(id: string): Promise<{ record: AccessKeyRecord; secret: string } | undefined> {
    const key = await this.store.accessKey(id);
    if (key?.status !== 'Active') return undefined;
    return { record: key, secret: openSecret(key.sealedSecret, this.serverKey, key.id) };
  }

  async putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void> {
    if (!POLICY_NAME_RE.test(policyName)) throw new IdentityError(IamCodes.Validation, 'The specified value for policyName is invalid.');
    const u = await this.user(accountId, userName);
    const over = inlinePolicyOverflow('user', u.name, await this.store.userPolicies(accountId, u.name), policyName, document);
    if (over !== undefined) throw new IdentityError(IamCodes.LimitExceeded, over);
    await this.store.putUserPolicy(accountId, u.name, { kind: 'inline', name: policyName, document });
    this.authzChanges?.bump();
  }

  async userPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]> {
    const u = await this.user(accountId, userName);
    return this.store.userPolicies(accountId, u.name);
  }

  async attachUserPolicy(accountId: string, userName: string, policyArn: string): Promise<void> {
    const u = await this.user(accountId, userName);
    await attachManaged(policyArn, {
      put: () => this.store.putUserPolicy(accountId, u.name, { kind: 'managed', name: policyArn }),
      attachCustomer: () => this.store.attachCustomerPolicy(accountId, u.name, policyArn),
    });
    this.authzChanges?.bump();
  }

  /** NoSuchEntity, in IAM's words, unless `arn` names a managed policy `accountId` may attach. */
  async requireAttachable(accountId: string, arn: string): Promise<void> {
    if (!(await this.hasManagedPolicy(accountId, arn))) {
      throw new IdentityError(IamCodes.NoSuchEntity, `Policy ${arn.slice(0, 2048)} does not exist or is not attachable.`);
    }
  }

  async removeUserPolicy(accountId: string, userName: string, kind: 'inline' | 'managed', name: string): Promise<void> {
    const u = await this.user(accountId, userName);
    const removed = await this.store.deleteUserPolicy(accountId, u.name, kind, name);
    this.authzChanges?.bump();
    if (!removed) {
      throw new IdentityError(
        IamCodes.NoSuchEntity,
        kind === 'inline' ? `The user policy with name ${name} cannot be found.` : `Policy ${name} was not found.`,
      );
    }
  }
}
