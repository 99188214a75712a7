/**
 * STS's own condition keys (the Service Authorization Reference's "AWS Security Token Service")
 * that an AssumeRole request carries, for the trust policy and the caller's identity policies:
 * sts:ExternalId and sts:TransitiveTagKeys, as the request gives them. sts:RoleSessionName,
 * sts:SourceIdentity (a chained session's is the one it carries, whatever the request says) and
 * the session tags (aws:RequestTag/*, aws:TagKeys) are set by auth/sts.ts, which also decides
 * sts:TagSession and sts:SetSourceIdentity with them.
 */
import { members } from '../iam/role-actions.js';
import type { ConditionContext } from './global.js';

export function assumeRoleKeys(form: URLSearchParams): ConditionContext {
  const transitive = members(form, 'TransitiveTagKeys');
  return {
    // The confused-deputy guard; its length and characters are the model's (iam/input.ts).
    'sts:ExternalId': form.get('ExternalId') ?? undefined,
    ...(transitive.length > 0 && { 'sts:TransitiveTagKeys': transitive }),
  };
}
