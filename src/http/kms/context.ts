/** What a KMS API action receives: the keys' rules, the caller, and how to authorize it. */
import type { Principal } from '../../auth/principal.js';
import type { KmsService } from '../../kms/kms-service.js';
import type { KmsKeyRecord } from '../../metadata/types.js';

export interface KmsCall {
  kms: KmsService;
  body: Record<string, unknown>;
  principal: Principal;
  /** The caller's account: the only one whose keys it can see. */
  accountId: string;
  /** The region of the request's signature. */
  region: string;
  /**
   * Authorizes this operation (`kms:<Op>`) on `resource` (a key, whose ARN it is and whose
   * condition keys the context gets, or an alias ARN, or "*"), with extra condition keys;
   * rejects with AccessDeniedException.
   */
  authorize(resource: string | KmsKeyRecord, context?: Record<string, string | string[]>): Promise<void>;
}

export type KmsAction = (call: KmsCall) => Promise<unknown>;
