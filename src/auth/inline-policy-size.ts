/**
 * IAM's quota on an identity's inline policies: their sizes added up, white space not counted,
 * at most 2,048 characters for a user, 10,240 for a role, 5,120 for a group (IAM's documented
 * quotas). Every request an identity makes evaluates all of them, so without it one user's
 * policies could make each of its requests cost what thousands of statements cost.
 */
export const INLINE_POLICY_CHARS = { user: 2048, role: 10240, group: 5120 } as const;

type Holder = keyof typeof INLINE_POLICY_CHARS;

const counted = (document: string) => document.replace(/\s+/g, '').length;

/**
 * IAM's LimitExceeded message for a put of `document` as `policyName` that takes the holder's
 * inline policies past its quota (a put under an existing name replaces that one); undefined
 * when within it.
 */
export function inlinePolicyOverflow(
  holder: Holder,
  holderName: string,
  existing: ReadonlyArray<{ kind: string; name: string; document?: string }>,
  policyName: string,
  document: string,
): string | undefined {
  const max = INLINE_POLICY_CHARS[holder];
  let total = counted(document);
  for (const p of existing) if (p.kind === 'inline' && p.name !== policyName && p.document !== undefined) total += counted(p.document);
  return total > max ? `Maximum policy size of ${max} bytes exceeded for ${holder} ${holderName}` : undefined;
}
