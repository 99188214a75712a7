/**
 * What creating a repository under a customer managed KMS key asks of the principal that
 * creates it, as ECR asks it. ECR calls KMS's DescribeKey and CreateGrant on the key with that
 * principal's credentials (the ECR guide, "Encryption at rest"), so KMS judges the principal:
 * the caller of CreateRepository, or for a repository a creation template makes (create on
 * push, pull-through cache, replication) the template's `customRoleArn`, the role ECR assumes
 * for it. Judged here by the KMS door's own authorizer (kms/authz.ts), with the condition keys
 * KMS sets when ECR calls on a principal's behalf (kms:ViaService, kms:CallerAccount,
 * kms:GrantIsForAWSResource).
 *
 * Berth's keys carry KMS's default key policy, which lets the key's account's IAM policies
 * decide and names no other account: a principal of another account is refused. The AWS managed
 * key (`alias/aws/ecr`) asks nothing: its key policy lets every principal of the account that
 * may use ECR use it through ECR. Refusals are ECR's KmsException, carrying KMS's words and its
 * error code (`kmsError`), and nothing is created.
 */
import type { IncomingMessage } from 'node:http';
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { Principal } from '../auth/principal.js';
import { Codes, KmsCodes, RegistryError } from '../core/errors.js';
import { accountOf, regionOf, type RegistryKey } from '../core/registry-key.js';
import { deniedMessage } from '../iam/denial.js';
import { isAwsManaged } from '../kms/key-metadata.js';
import { parseKeyRef } from '../kms/key-refs.js';
import { ECR_MANAGED_ALIAS } from '../kms/kms-keys.js';
import type { KmsKeyRecord } from '../metadata/types.js';
import type { KeyUse } from '../registry/repository-admin.js';
import { requestOrigin, type RequestOrigin } from './condition-keys/global.js';
import { kmsKeyResourceKeys } from './condition-keys/kms.js';
import { EcrError } from './ecr/protocol.js';
import type { KmsAuthorizer } from './kms/authz.js';
import { noteDenied } from './request-facts.js';
import { serviceRoleSession } from './role-session.js';

/** The calls ECR makes with the principal's credentials when it creates the repository. */
const ACTIONS = ['kms:DescribeKey', 'kms:CreateGrant'] as const;

/** What ECR's grants on a repository's key allow it (CreateGrant's kms:GrantOperations). */
const GRANT_OPERATIONS = ['Decrypt', 'Encrypt', 'GenerateDataKey', 'ReEncryptFrom', 'ReEncryptTo', 'RetireGrant', 'DescribeKey'];

export interface KeyUseJudge {
  authorizer: KmsAuthorizer;
  /** Berth's record of a key by ARN (its condition keys); absent for the object store's keys. */
  findKey(arn: string): Promise<KmsKeyRecord | undefined>;
}

/** How a refusal reaches its door: the JSON API's error with KMS's code, or the core's (rendered on /v2 as well). */
type Refusal = (action: string, resource: string, message: string) => Error;

/** The check for a repository created in `registry` by `principal` (CreateRepository's caller, or a template's role). */
function keyUseBy(judge: KeyUseJudge, principal: Principal, registry: RegistryKey, origin: RequestOrigin, refusal: Refusal): KeyUse {
  const region = regionOf(registry);
  return async ({ asked, arn }) => {
    if (isEcrManagedRef(asked)) return;
    const key = await judge.findKey(arn);
    if (key && isAwsManaged(key)) return;
    // The object store's keys (kmsProvider s3) are recorded as given: a key id or alias, named by its ARN here.
    const resource = arn.startsWith('arn:') ? arn : parseKeyRef(accountOf(registry), region, arn).shown;
    for (const action of ACTIONS) {
      const refuse = (message: string) => refusal(action, resource, message);
      // KMS's default key policy trusts the key's own account alone.
      if (principal.accountId !== accountOf(registry)) {
        throw refuse(deniedMessage(principal.arn, action, resource, { explicitDeny: false, policyType: 'resource-based policy' }));
      }
      await judge.authorizer
        .check(principal, {
          action,
          resource,
          origin,
          region,
          context: {
            'kms:CallerAccount': principal.accountId,
            'kms:ViaService': `ecr.${region}.amazonaws.com`,
            ...(action === 'kms:CreateGrant' && { 'kms:GrantIsForAWSResource': 'true', 'kms:GrantOperations': GRANT_OPERATIONS }),
            ...(key?.origin === 'BERTH' && kmsKeyResourceKeys(key)),
          },
        })
        .catch((e: unknown) => {
          throw e instanceof EcrError && e.type === KmsCodes.AccessDenied.code ? refuse(e.message) : e;
        });
    }
  };
}

/** The check for a JSON API caller's CreateRepository. */
export function callerKeyUse(judge: KeyUseJudge, principal: Principal, registry: RegistryKey, req: IncomingMessage): KeyUse {
  return keyUseBy(judge, principal, registry, requestOrigin(req), (action, resource, message) => {
    noteDenied(req, action, resource);
    return new EcrError(Codes.KmsException, message, { kmsError: KmsCodes.AccessDenied.code });
  });
}

/** The session of a template's role ECR holds while it creates a repository with the template (Berth's name for it). */
const ROLE_SESSION = 'ecr-repository-creation';

/**
 * The check for a repository a creation template makes (create on push, pull-through cache,
 * replication): ECR makes it with the template's `customRoleArn`, which ECR's guide requires
 * for a template with a customer managed key; without one, ECR's service-linked role would
 * call KMS and has no permission on the customer's key, so the creation is refused.
 */
export function templateKeyUse(
  judge: KeyUseJudge,
  identities: IdentityAdmin,
  registry: RegistryKey,
  template: { prefix: string; customRoleArn?: string },
): KeyUse {
  return async (key) => {
    // ECR assumes the role: its trust policy must let ecr.amazonaws.com, for this registry's account.
    const assumedBy = { service: 'ecr.amazonaws.com', sourceAccount: accountOf(registry) };
    const role = template.customRoleArn === undefined ? undefined : await serviceRoleSession(identities, template.customRoleArn, ROLE_SESSION, assumedBy);
    if (!role) {
      if (isEcrManagedRef(key.asked)) return;
      if (template.customRoleArn !== undefined) {
        throw new RegistryError(
          Codes.KmsException,
          `The repository creation template '${template.prefix}' names the customer managed key ${key.arn} and the customRoleArn ${template.customRoleArn.slice(0, 300)}, which names no role that trusts ecr.amazonaws.com: the role ECR creates the repository with must be allowed kms:DescribeKey and kms:CreateGrant on the key`,
        );
      }
      throw new RegistryError(
        Codes.KmsException,
        `The repository creation template '${template.prefix}' names the customer managed key ${key.arn} but no customRoleArn: the role ECR creates the repository with must be allowed kms:DescribeKey and kms:CreateGrant on the key`,
      );
    }
    // ECR calls KMS over TLS, from no client's address.
    return keyUseBy(judge, role, registry, { secureTransport: true }, (_action, _resource, message) => new RegistryError(Codes.KmsException, message))(key);
  };
}

/** `alias/aws/ecr`, by name or alias ARN. */
function isEcrManagedRef(ref: string): boolean {
  return ref === ECR_MANAGED_ALIAS || /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias\/aws\/ecr$/.test(ref);
}
