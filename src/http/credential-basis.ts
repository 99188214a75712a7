/**
 * What a login token or temporary credentials stand on, checked to still stand at each request:
 * the user they name (the same user: name, path and unique id), the access key a login token was
 * minted with (active, its holder's), the role a session assumed (the same role id). Read per
 * request, so kept as policies are: a change through this node holds from the next request
 * (IdentityAdmin bumps the change signal), one through another node within the cache's time.
 */
import { AuthError } from '../auth/errors.js';
import type { IdentityAdmin } from '../auth/identity-admin.js';
import { userArn, type Principal } from '../auth/principal.js';
import { ExpiringCache, type ChangeSignal } from '../core/expiring-cache.js';
import type { Policy } from '../iam/policy.js';
import type { Tag } from './condition-keys/tags.js';

const MAX_ENTRIES = 10_000;
const NOTHING: Policy = { statements: [] };

export class CredentialBasis {
  private readonly roles: ExpiringCache<boolean>;
  /** A user's tags (its aws:PrincipalTag/*) and unique id; false once the user is gone. */
  private readonly users: ExpiringCache<{ tags: readonly Tag[]; userId: string } | false>;
  private readonly keys: ExpiringCache<boolean>;
  private readonly managed: ExpiringCache<Policy | false>;

  constructor(
    private readonly identities: IdentityAdmin,
    cache: { ttlMs: number; changes: ChangeSignal },
  ) {
    this.roles = new ExpiringCache({ ...cache, maxEntries: MAX_ENTRIES });
    this.users = new ExpiringCache({ ...cache, maxEntries: MAX_ENTRIES });
    this.keys = new ExpiringCache({ ...cache, maxEntries: MAX_ENTRIES });
    this.managed = new ExpiringCache({ ...cache, maxEntries: MAX_ENTRIES });
  }

  /**
   * The session policies of a role session: its inline one and its managed ones (PolicyArns) as
   * they are now, any of which may allow (STS: the session's permissions are the role's policies'
   * intersection with the session policies). A managed policy gone allows nothing; none given:
   * the principal as it is.
   */
  async withManagedSessionPolicies(p: Principal): Promise<Principal> {
    const arns = p.session?.policyArns;
    if (arns === undefined || arns.length === 0) return p;
    const managed = await Promise.all(
      arns.map(
        async (arn) =>
          (await this.managed.get(`${p.accountId}\n${arn}`, async () => (await this.identities.managedPolicyOf(p.accountId, arn)) ?? false)) || NOTHING,
      ),
    );
    return { ...p, sessionPolicies: [...(p.sessionPolicies ?? []), ...managed] };
  }

  /** Whether the role still exists as the session assumed it: deleted, or deleted and made again (another id), it does not. */
  roleStands(accountId: string, roleName: string, roleId: string): Promise<boolean> {
    return this.roles.get(`role\n${accountId}\n${roleName}\n${roleId}`, async () => {
      const role = await this.identities.roles?.roleRecord(accountId, roleName);
      return role !== undefined && role.roleId === roleId && role.name === roleName;
    });
  }

  /**
   * The tags of the user `p` is (its ARN: name exactly, and path; and its unique id, when the
   * credential names one); false once there is no such user. Found in any case, so the name is
   * compared too: a session or token of a deleted bob is not one of a new Bob, nor of a bob made
   * again on another path, nor (by its id) of a bob made again on the same one.
   */
  async userTags(p: Principal, userId: string | undefined): Promise<readonly Tag[] | false> {
    const user = await this.users.get(p.arn, async () => {
      const u = await this.identities.userRecord(p.accountId, p.userName!);
      return u !== undefined && userArn(p.accountId, u.name, u.path) === p.arn ? { tags: u.tags, userId: u.userId } : false;
    });
    if (user === false || (userId !== undefined && user.userId !== userId)) return false;
    return user.tags;
  }

  /** Refuses a login minted with an access key that is no longer active (deleted, inactive) or no longer `p`'s. */
  async requireActiveKey(accessKeyId: string, p: Principal): Promise<void> {
    const active = await this.keys.get(`${accessKeyId}\n${p.accountId}\n${p.userName ?? ''}`, () =>
      this.identities.keyStandsFor(accessKeyId, p.accountId, p.userName),
    );
    if (!active) throw new AuthError('InvalidLoginToken', `the access key ${accessKeyId} of this login token is no longer active`);
  }
}
