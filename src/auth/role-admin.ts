/**
 * Role and OIDC provider administration with IAM's rules: names, paths, trust policies (which
 * must name a Principal and may not name a Resource), session duration bounds, tags, and the
 * order deletions must happen in (a role with policies cannot be deleted). Used by the IAM
 * Query API; STS (sts.ts) reads roles and providers through it.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { IamCodes } from '../core/errors.js';
import { ReachPolicy } from '../core/outbound-reach.js';
import type { ChangeSignal } from '../core/expiring-cache.js';
import { parsePolicy, PolicyError, type Policy } from '../iam/policy.js';
import type { OidcProviderRecord, RolePolicyRecord, RoleRecord, RoleStore } from '../metadata/roles.js';
import { attachManaged } from './attach-managed.js';
import { checkPermissionsBoundary, noBoundary, writeBoundary } from './boundaries.js';
import { IdentityError } from './identity-admin.js';
import { inlinePolicyOverflow } from './inline-policy-size.js';
import { bindTrustPrincipals } from './trust-principals.js';

const ROLE_NAME_RE = /^[\w+=,.@-]{1,64}$/;
const PATH_RE = /^\/(?:[\x21-\x7e]*\/)?$/;
const POLICY_NAME_RE = /^[\w+=,.@-]{1,128}$/;
const TAG_KEY_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const MAX_TRUST_POLICY_CHARS = 2048;
/** IAM's limit on an entity's tags. */
export const MAX_TAGS = 50;
export const MIN_MAX_SESSION_SECONDS = 3600;
export const MAX_MAX_SESSION_SECONDS = 43200;

export interface NewRole {
  name: string;
  path?: string;
  trustPolicy: string;
  description?: string;
  maxSessionDuration?: number;
  tags?: Array<{ Key: string; Value: string }>;
  /** A managed policy's ARN (auth/boundaries.ts). */
  permissionsBoundary?: string;
}

/** `arn:aws:iam::<account>:oidc-provider/<url without its scheme>`. */
export function oidcProviderArn(accountId: string, url: string): string {
  return `arn:aws:iam::${accountId}:oidc-provider/${url.replace(/^https?:\/\//, '')}`;
}

/** Whether a host is this machine, the one place an issuer may be plain http (tests, local IdPs). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** An issuer URL as providers are keyed: https (or http on loopback), no query, fragment, credentials or trailing slash. */
export function normalizeIssuer(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) return undefined;
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '' || url.length > 255) return undefined;
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * Validates tags the IAM way (also STS's session tags); throws IdentityError. A key named twice in
 * any case is IAM's InvalidInput, worded as IAM words it; STS documents no InvalidInput, so its
 * session tags keep the ValidationError.
 */
export function checkTags(tags: Array<{ Key: string; Value: string }>, what: 'tags' | 'session tags' = 'tags'): void {
  if (tags.length > MAX_TAGS) throw new IdentityError(IamCodes.LimitExceeded, `Cannot exceed quota for ${what}: ${MAX_TAGS}`);
  const seen = new Set<string>();
  for (const t of tags) {
    if (!TAG_KEY_RE.test(t.Key)) throw new IdentityError(IamCodes.Validation, `The tag key '${t.Key.slice(0, 128)}' is invalid.`);
    if (!TAG_VALUE_RE.test(t.Value)) throw new IdentityError(IamCodes.Validation, `The tag value for '${t.Key}' is invalid.`);
    if (seen.has(t.Key.toLowerCase())) {
      if (what === 'session tags') throw new IdentityError(IamCodes.Validation, `Duplicate tag keys found: ${t.Key}`);
      throw new IdentityError(IamCodes.InvalidInput, 'Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    }
    seen.add(t.Key.toLowerCase());
  }
}

/**
 * Tag/Untag User, Role and Policy name at least one tag or key: IAM refuses an empty list with
 * InvalidInput (a missing one is the model's null refusal, http/iam/query.ts `requiredList`).
 */
export function checkTagChangeNamesSome(items: unknown[], member: 'tags' | 'tagKeys'): void {
  if (items.length === 0) throw new IdentityError(IamCodes.InvalidInput, `The specified value for ${member} is invalid. It must contain at least one entry.`);
}

/** A trust policy, parsed: a resource policy whose statements name principals and no resource. */
export function parseTrustPolicy(document: string, lenient = false): Policy {
  const policy = parsePolicy(document, { kind: 'resource', maxLength: lenient ? 1_000_000 : MAX_TRUST_POLICY_CHARS, lenient });
  for (const st of lenient ? [] : policy.statements) {
    if (st.resources || st.notResources) throw new PolicyError('Has prohibited field Resource');
    if (st.notPrincipals) throw new PolicyError('Has prohibited field NotPrincipal');
    for (const a of st.actions ?? st.notActions ?? []) {
      if (!/^(sts:|\*$)/i.test(a)) throw new PolicyError(`Trust policies may only name sts: actions, not '${a}'`);
    }
  }
  return policy;
}

export class RoleAdmin {
  constructor(
    private readonly store: RoleStore,
    private readonly clock: Clock,
    private readonly requireAccount: (accountId: string) => Promise<void>,
    /** Bumped when a role or its policies change, so cached authorization data is dropped. */
    private readonly authzChanges: ChangeSignal | undefined,
    /** Whether an ARN names a managed policy the account may attach (AWS's or its own); also STS's managed session policies' check. */
    readonly hasManagedPolicy: (accountId: string, arn: string) => Promise<boolean>,
    /** The unique id of an IAM user, for the users a trust policy names (trust-principals.ts). */
    private readonly userIdOf: (accountId: string, name: string, path: string) => Promise<string | undefined> = async () => undefined,
  ) {}

  /** The ids of the users and roles a trust policy names, as it is saved (trust-principals.ts). */
  private principalIds(document: string): Promise<Record<string, string>> {
    return bindTrustPrincipals(parseTrustPolicy(document), async (accountId, kind, name, path) => {
      if (kind === 'user') return this.userIdOf(accountId, name, path);
      const r = await this.store.role(accountId, name);
      return r !== undefined && r.name === name && r.path === path ? r.roleId : undefined;
    });
  }

  /** Which issuers a provider may name (outbound-reach.ts); the composition root sets the configured one. */
  reach = new ReachPolicy();

  async createRole(accountId: string, r: NewRole): Promise<RoleRecord> {
    await this.requireAccount(accountId);
    const path = r.path ?? '/';
    if (!ROLE_NAME_RE.test(r.name)) throw new IdentityError(IamCodes.Validation, 'The specified value for roleName is invalid.');
    if (!PATH_RE.test(path) || path.length > 512) throw new IdentityError(IamCodes.Validation, 'The specified value for path is invalid.');
    checkTrust(r.trustPolicy);
    const trustPrincipalIds = await this.principalIds(r.trustPolicy);
    const description = r.description ?? '';
    checkDescription(description);
    const maxSessionDuration = r.maxSessionDuration ?? MIN_MAX_SESSION_SECONDS;
    checkMaxSession(maxSessionDuration);
    const tags = r.tags ?? [];
    checkTags(tags);
    if (r.permissionsBoundary !== undefined) await checkPermissionsBoundary(r.permissionsBoundary, (arn) => this.hasManagedPolicy(accountId, arn));
    const roleId = 'AROA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 17);
    const created = await this.store.createRole({
      accountId,
      name: r.name,
      roleId,
      path,
      trustPolicy: r.trustPolicy,
      trustPrincipalIds,
      description,
      maxSessionDuration,
      tags,
      ...(r.permissionsBoundary !== undefined && { permissionsBoundary: r.permissionsBoundary }),
      now: this.clock.now(),
    });
    if (!created) {
      // Nothing made: the name is taken, or the boundary's policy was deleted since it was checked.
      if (r.permissionsBoundary !== undefined && !(await this.store.role(accountId, r.name))) throw noBoundary(r.permissionsBoundary);
      throw new IdentityError(IamCodes.EntityAlreadyExists, `Role with name ${r.name} already exists.`);
    }
    return (await this.store.role(accountId, r.name))!;
  }

  /** The role named `name` in any case (IAM's names are not told apart by case): its record carries the name as created. */
  async role(accountId: string, name: string): Promise<RoleRecord> {
    const r = await this.store.role(accountId, name);
    if (!r) throw new IdentityError(IamCodes.NoSuchEntity, `The role with name ${name} cannot be found.`);
    return r;
  }

  /** The role (named in any case), or undefined (no error: STS answers a missing role as a denial). */
  roleRecord(accountId: string, name: string): Promise<RoleRecord | undefined> {
    return this.store.role(accountId, name);
  }

  async listRoles(accountId: string, pathPrefix = '/'): Promise<RoleRecord[]> {
    return (await this.store.listRoles(accountId)).filter((r) => r.path.startsWith(pathPrefix));
  }

  async updateRole(accountId: string, name: string, changes: { description?: string; maxSessionDuration?: number }): Promise<void> {
    if (changes.description !== undefined) checkDescription(changes.description);
    if (changes.maxSessionDuration !== undefined) checkMaxSession(changes.maxSessionDuration);
    const r = await this.role(accountId, name);
    await this.store.updateRole(accountId, r.name, changes);
  }

  async updateTrustPolicy(accountId: string, name: string, document: string): Promise<void> {
    checkTrust(document);
    const r = await this.role(accountId, name);
    await this.store.updateRole(accountId, r.name, { trustPolicy: document, trustPrincipalIds: await this.principalIds(document) });
  }

  /** Sets (an ARN) or removes (null) the role's permissions boundary, which caps its sessions at once. */
  async setRoleBoundary(accountId: string, name: string, arn: string | null): Promise<void> {
    if (arn !== null) await checkPermissionsBoundary(arn, (a) => this.hasManagedPolicy(accountId, a));
    const r = await this.role(accountId, name);
    await writeBoundary(arn, {
      set: () => this.store.setRoleBoundary(accountId, r.name, arn),
      setCustomer: (a) => this.store.setRoleCustomerBoundary(accountId, r.name, a),
      stillThere: () => this.role(accountId, r.name),
    });
    this.authzChanges?.bump();
  }

  /**
   * TagRole: adds tags, a key the role has taking the new value; at most 50 in all (LimitExceeded,
   * nothing changed). A role's tags are its sessions' aws:PrincipalTag/* from their next AssumeRole
   * (a session keeps the tags it was made with) and its iam:ResourceTag/*.
   */
  async tagRole(accountId: string, name: string, tags: Array<{ Key: string; Value: string }>): Promise<void> {
    checkTagChangeNamesSome(tags, 'tags');
    checkTags(tags);
    await this.changeRoleTags(accountId, name, { add: tags, remove: [] });
  }

  /** UntagRole: removes the tags of `keys` (a key the role does not have is no error, as in IAM). */
  async untagRole(accountId: string, name: string, keys: string[]): Promise<void> {
    checkTagChangeNamesSome(keys, 'tagKeys');
    await this.changeRoleTags(accountId, name, { add: [], remove: keys });
  }

  private async changeRoleTags(accountId: string, given: string, change: { add: Array<{ Key: string; Value: string }>; remove: string[] }): Promise<void> {
    const r = await this.role(accountId, given);
    const outcome = await this.store.changeRoleTags(accountId, r.name, { ...change, max: MAX_TAGS });
    if (outcome === false) throw new IdentityError(IamCodes.NoSuchEntity, `The role with name ${given} cannot be found.`);
    if (outcome === 'limit') throw new IdentityError(IamCodes.LimitExceeded, `Cannot exceed quota for tags: ${MAX_TAGS}`);
    this.authzChanges?.bump();
  }

  /** As IAM: a role with inline or attached policies must be stripped of them first (a boundary goes with it). */
  async deleteRole(accountId: string, given: string): Promise<void> {
    const { name } = await this.role(accountId, given);
    const policies = await this.store.rolePolicies(accountId, name);
    if (policies.some((p) => p.kind === 'managed')) throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must detach all policies first.');
    if (policies.length > 0) throw new IdentityError(IamCodes.DeleteConflict, 'Cannot delete entity, must delete policies first.');
    await this.store.deleteRole(accountId, name);
    // Sessions of the role end: the authenticator's role-exists check reads through this cache.
    this.authzChanges?.bump();
  }

  async putRolePolicy(accountId: string, roleName: string, policyName: string, document: string): Promise<void> {
    if (!POLICY_NAME_RE.test(policyName)) throw new IdentityError(IamCodes.Validation, 'The specified value for policyName is invalid.');
    const r = await this.role(accountId, roleName);
    const over = inlinePolicyOverflow('role', r.name, await this.store.rolePolicies(accountId, r.name), policyName, document);
    if (over !== undefined) throw new IdentityError(IamCodes.LimitExceeded, over);
    await this.store.putRolePolicy(accountId, r.name, { kind: 'inline', name: policyName, document });
    this.authzChanges?.bump();
  }

  async rolePolicies(accountId: string, roleName: string): Promise<RolePolicyRecord[]> {
    const r = await this.role(accountId, roleName);
    return this.store.rolePolicies(accountId, r.name);
  }

  async attachRolePolicy(accountId: string, roleName: string, policyArn: string): Promise<void> {
    const r = await this.role(accountId, roleName);
    await attachManaged(policyArn, {
      put: () => this.store.putRolePolicy(accountId, r.name, { kind: 'managed', name: policyArn }),
      attachCustomer: () => this.store.attachCustomerPolicy(accountId, r.name, policyArn),
    });
    this.authzChanges?.bump();
  }

  async removeRolePolicy(accountId: string, roleName: string, kind: 'inline' | 'managed', name: string): Promise<void> {
    const r = await this.role(accountId, roleName);
    const removed = await this.store.deleteRolePolicy(accountId, r.name, kind, name);
    this.authzChanges?.bump();
    if (!removed) {
      throw new IdentityError(
        IamCodes.NoSuchEntity,
        kind === 'inline' ? `The role policy with name ${name} cannot be found.` : `Policy ${name} was not attached.`,
      );
    }
  }

  async createOidcProvider(accountId: string, url: string, clientIds: string[], thumbprints: string[]): Promise<OidcProviderRecord> {
    await this.requireAccount(accountId);
    const issuer = normalizeIssuer(url);
    if (issuer === undefined) {
      throw new IdentityError(IamCodes.Validation, 'The URL must be an https:// URL (http:// only on a loopback host) without query, fragment or credentials.');
    }
    const host = new URL(issuer).hostname;
    const refused = this.reach.hostRefusal(host);
    if (refused) throw new IdentityError(IamCodes.InvalidInput, `Berth does not reach ${host} (${refused}; see outboundAllow).`);
    if (clientIds.length > 100 || clientIds.some((c) => c.length < 1 || c.length > 255)) {
      throw new IdentityError(IamCodes.Validation, 'Each client ID must be 1 to 255 characters, at most 100 of them.');
    }
    if (thumbprints.length > 5 || thumbprints.some((t) => !/^[0-9a-fA-F]{40}$/.test(t))) {
      throw new IdentityError(IamCodes.Validation, 'Each thumbprint must be 40 hexadecimal characters, at most 5 of them.');
    }
    const created = await this.store.createOidcProvider({ accountId, url: issuer, clientIds: [...new Set(clientIds)], thumbprints, now: this.clock.now() });
    if (!created) throw new IdentityError(IamCodes.EntityAlreadyExists, `Provider with url ${issuer} already exists.`);
    return (await this.store.oidcProvider(accountId, issuer))!;
  }

  /** The provider an ARN names, in the ARN's account. */
  async oidcProviderByArn(arn: string): Promise<OidcProviderRecord> {
    const m = /^arn:aws:iam::(\d{12}):oidc-provider\/(.+)$/.exec(arn);
    const found = m ? (await this.store.listOidcProviders(m[1]!)).find((p) => oidcProviderArn(p.accountId, p.url) === arn) : undefined;
    if (!found) throw new IdentityError(IamCodes.NoSuchEntity, `OpenIDConnect Provider not found for arn ${arn.slice(0, 300)}`);
    return found;
  }

  /** The provider registered for an issuer (a token's `iss`) in an account, if any. */
  async oidcProviderForIssuer(accountId: string, issuer: string): Promise<OidcProviderRecord | undefined> {
    const key = normalizeIssuer(issuer);
    return key === undefined ? undefined : this.store.oidcProvider(accountId, key);
  }

  listOidcProviders(accountId: string): Promise<OidcProviderRecord[]> {
    return this.store.listOidcProviders(accountId);
  }

  async deleteOidcProvider(arn: string): Promise<void> {
    const p = await this.oidcProviderByArn(arn);
    await this.store.deleteOidcProvider(p.accountId, p.url);
  }
}

function checkTrust(document: string): void {
  try {
    parseTrustPolicy(document);
  } catch (e) {
    if (e instanceof PolicyError) throw new IdentityError(IamCodes.MalformedPolicyDocument, e.message);
    throw e;
  }
}

function checkDescription(d: string): void {
  if (d.length > 1000) throw new IdentityError(IamCodes.Validation, 'The description must be at most 1000 characters.');
}

function checkMaxSession(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < MIN_MAX_SESSION_SECONDS || seconds > MAX_MAX_SESSION_SECONDS) {
    throw new IdentityError(IamCodes.Validation, `The MaxSessionDuration must be between ${MIN_MAX_SESSION_SECONDS} and ${MAX_MAX_SESSION_SECONDS} seconds.`);
  }
}
