/** IAM's paging of a list it holds whole (MaxItems and Marker), shared by its list actions. */
import { IamCodes } from '../../core/errors.js';
import { integerParam } from '../model/query.js';
import { QueryError, type XmlValue } from './query.js';

/**
 * One page of `items` as IAM pages: at most MaxItems (100 by default), IsTruncated, and a Marker
 * to continue from. The marker is the position, which a caller can only have been given.
 */
export function page<T>(form: URLSearchParams, items: T[]): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const marker = form.get('Marker');
  const at = marker === null ? 'at:0' : Buffer.from(marker, 'base64url').toString();
  const start = /^at:\d{1,9}$/.test(at) ? Number(at.slice(3)) : undefined;
  if (start === undefined) throw new QueryError(IamCodes.InvalidInput, 'Invalid Marker.');
  const end = start + (integerParam(form, 'MaxItems') ?? 100);
  const truncated = end < items.length;
  return { items: items.slice(start, end), IsTruncated: truncated, ...(truncated && { Marker: Buffer.from(`at:${end}`).toString('base64url') }) };
}

/** A list action's answer: one page of `items` under `key`, each made by `xml`, with IsTruncated and Marker. */
export function pageOf<T>(form: URLSearchParams, key: string, items: T[], xml: (item: T) => XmlValue): XmlValue {
  const { items: shown, ...more } = page(form, items);
  return { [key]: shown.map(xml), ...more };
}

/** A user's, role's or group's policies as the stores give them: inline by name, managed by ARN. */
type Held = { kind: string; name: string };

/** ListUserPolicies, ListRolePolicies, ListGroupPolicies: the inline policies' names. */
export function inlinePage(form: URLSearchParams, policies: Held[]): XmlValue {
  return pageOf(
    form,
    'PolicyNames',
    policies.filter((p) => p.kind === 'inline'),
    (p) => p.name,
  );
}

/**
 * ListAttached*Policies: the managed policies whose path (the ARN's part between `policy` and the
 * name) begins with PathPrefix.
 */
export function attachedPage(form: URLSearchParams, policies: Held[]): XmlValue {
  const prefix = form.get('PathPrefix') ?? '/';
  const path = (arn: string) => arn.slice(arn.indexOf(':policy/') + 7, arn.lastIndexOf('/') + 1);
  const shown = policies.filter((p) => p.kind === 'managed' && path(p.name).startsWith(prefix));
  return pageOf(form, 'AttachedPolicies', shown, (p) => ({ PolicyName: p.name.slice(p.name.lastIndexOf('/') + 1), PolicyArn: p.name }));
}
