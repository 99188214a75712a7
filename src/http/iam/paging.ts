/** IAM's paging of a list it holds whole (MaxItems and Marker), shared by its list actions. */
import { IamCodes } from '../../core/errors.js';
import { integerParam } from '../model/query.js';
import { QueryError } from './query.js';

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
