/** Tags list, catalog and referrers: the content-discovery endpoints. */
import { parseDigest, type Digest } from '../../core/digest.js';
import { Codes, RegistryError } from '../../core/errors.js';
import { MediaTypes } from '../../core/media-types.js';
import { parseRepositoryName } from '../../core/names.js';
import type { ReferrerRecord } from '../../metadata/types.js';
import type { RepoScope } from '../../registry/context.js';
import type { PageResult } from '../../registry/listings.js';
import { queryInt } from '../request.js';
import { scopeOf, v2Path, type OciRequest } from './context.js';
import { sendJson } from './headers.js';

function pageRequest(r: OciRequest): { limit?: number; last?: string } {
  const limit = queryInt(r.url, 'n');
  const last = r.url.searchParams.get('last') ?? undefined;
  return { ...(limit !== undefined && { limit }), ...(last !== undefined && { last }) };
}

/** RFC 8288 `Link` to the next page, as the distribution spec shows it. */
function linkHeader(path: string, page: PageResult, limit: number | undefined): Record<string, string> {
  if (page.next === undefined) return {};
  const q = new URLSearchParams();
  q.set('n', String(limit ?? page.items.length));
  q.set('last', page.next);
  return { Link: `<${path}?${q.toString()}>; rel="next"` };
}

export async function listTags(r: OciRequest, name: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const req = pageRequest(r);
  const page = await r.registry.listings.tags(scope, req);
  sendJson(r.res, 200, { name, tags: page.items }, linkHeader(v2Path(r, `${name}/tags/list`), page, req.limit));
}

export async function catalog(r: OciRequest): Promise<void> {
  const req = pageRequest(r);
  const page = await r.registry.listings.catalog(r.registryKey, req);
  sendJson(r.res, 200, { repositories: page.items }, linkHeader(v2Path(r, '_catalog'), page, req.limit));
}

/**
 * The referrers API answers every subject, known or not, with an index (OCI 1.1): a repository
 * nobody pushed to yet has no referrers, not an error. The caller was authorized on it already.
 */
async function referrersOrNone(r: OciRequest, scope: RepoScope, subject: Digest, artifactType: string | undefined): Promise<ReferrerRecord[]> {
  try {
    return await r.registry.manifests.referrers(scope, subject, artifactType);
  } catch (e) {
    if (e instanceof RegistryError && e.code === Codes.NameUnknown) return [];
    throw e;
  }
}

export async function referrers(r: OciRequest, name: string, digestText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const subject = parseDigest(digestText);
  const artifactType = r.url.searchParams.get('artifactType') ?? undefined;
  const list = await referrersOrNone(r, scope, subject, artifactType);
  const index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: list };
  const headers: Record<string, string> = { 'Content-Type': MediaTypes.ociIndex };
  if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
  sendJson(r.res, 200, index, headers);
}
