/**
 * EventBridge's own condition keys, for the actions Berth serves, as the Service Authorization
 * Reference lists them per action: `events:creatorAccount` on every action on a rule (the account
 * that made it: in Berth always the rule's own account, as no other account can make rules on a
 * bus here); on PutRule what its event pattern matches (`events:source`, `events:detail-type`,
 * `events:detail.service`, `events:detail.eventTypeCode`, `events:detail.userIdentity.principalId`);
 * on PutTargets the targets' ARNs (`events:TargetArn`). The user guide's older
 * `events:detail.userIdentityArn` is no key of PutRule's in the reference, so it stays absent, as
 * do `events:ManagedBy` (rules a service manages) and `events:eventBusInvocation` (PutEvents):
 * Berth has neither, as AWS leaves them out for a customer's own rule. Berth's rules take no tags
 * (PutRule refuses them before authorizing), so no tag keys either.
 */
import type { ConditionContext } from './global.js';

/** The actions that act on a rule (their resource is the rule's ARN). */
const ON_RULE = new Set(['PutRule', 'DescribeRule', 'DeleteRule', 'EnableRule', 'DisableRule', 'PutTargets', 'RemoveTargets', 'ListTargetsByRule']);

/** An event pattern's exact string values at `path` (`{"prefix": ...}` and other matchers are no value the key can carry). */
function patternValues(pattern: unknown, path: string[]): string[] | undefined {
  let at: unknown = pattern;
  for (const p of path) at = typeof at === 'object' && at !== null && !Array.isArray(at) ? (at as Record<string, unknown>)[p] : undefined;
  if (!Array.isArray(at)) return undefined;
  const values = at.filter((v): v is string => typeof v === 'string');
  return values.length > 0 ? values : undefined;
}

function parsedPattern(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // the action refuses a pattern that is no JSON, in EventBridge's words
  }
}

/** The keys of EventBridge action `op` on `accountId`'s resources, from its request body. */
export function eventsRequestKeys(op: string, body: Record<string, unknown>, accountId: string): ConditionContext {
  if (!ON_RULE.has(op)) return {};
  const out: ConditionContext = { 'events:creatorAccount': accountId };
  if (op === 'PutRule') {
    const pattern = parsedPattern(body.EventPattern);
    out['events:source'] = patternValues(pattern, ['source']);
    out['events:detail-type'] = patternValues(pattern, ['detail-type']);
    out['events:detail.service'] = patternValues(pattern, ['detail', 'service']);
    out['events:detail.eventTypeCode'] = patternValues(pattern, ['detail', 'eventTypeCode']);
    out['events:detail.userIdentity.principalId'] = patternValues(pattern, ['detail', 'userIdentity', 'principalId']);
  }
  if (op === 'PutTargets' && Array.isArray(body.Targets)) {
    const arns = body.Targets.map((t) => (typeof t === 'object' && t !== null ? (t as { Arn?: unknown }).Arn : undefined)).filter(
      (a): a is string => typeof a === 'string',
    );
    if (arns.length > 0) out['events:TargetArn'] = arns;
  }
  return out;
}
