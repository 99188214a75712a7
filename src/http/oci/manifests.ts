/** /v2/<name>/manifests/<reference>: HEAD, GET (with Accept negotiation), PUT, DELETE. */
import { maySignAs } from '../signer/may-sign.js';
import { Codes, RegistryError } from '../../core/errors.js';
import { isTag, parseReference, parseRepositoryName, parseTag, type Reference } from '../../core/names.js';
import { readBody } from '../request.js';
import { pullThroughOf, scopeOf, type OciRequest } from './context.js';
import { repoPath, send, type HeaderValues } from './headers.js';
import { holdBytes, holdBytesNow, releaseWhenSent, SharedHolds } from '../download-hold.js';
import type { DownloadBudget } from '../../core/download-budget.js';
import { pullerArn } from '../puller.js';

/**
 * Whether the client's Accept header admits `mediaType`. No Accept (or a wildcard) admits
 * everything; a client that lists only other manifest types gets MANIFEST_UNKNOWN, as
 * distribution answers, rather than a manifest it can't parse.
 */
function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  return types.some((t) => t === mediaType || t === '*/*' || t === 'application/*' || t === '');
}

/**
 * A reference to read. No manifest can be stored under a tag that is not one, so asking for it
 * is a manifest the registry does not know (404), as distribution answers; a PUT of such a tag
 * stays a client error (400 TAG_INVALID).
 */
function readReference(text: string): Reference {
  if (!text.includes(':') && !isTag(text)) {
    throw new RegistryError(Codes.ManifestUnknown, 'manifest unknown to registry: not a valid tag', { reference: text.slice(0, 200) });
  }
  return parseReference(text);
}

/** Manifest buffers being sent, per budget (one per cached manifest, whatever the number of readers). */
const shared = new WeakMap<DownloadBudget, SharedHolds>();
const EMPTY = Buffer.alloc(0);

export async function headOrGetManifest(r: OciRequest, name: string, referenceText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const reference = readReference(referenceText);
  const pull = r.req.method === 'GET';
  const cache = pullThroughOf(r, scope);
  const pulledBy = pullerArn(r.principal);
  const read = (ref: Reference, asPull: boolean) => {
    const opts = { pull: asPull, ...(pulledBy !== undefined && { pulledBy }) };
    return cache ? cache.cache.manifest(scope, ref, cache.access, opts) : r.registry.manifests.get(scope, ref, opts);
  };
  let m: Awaited<ReturnType<typeof read>> | undefined = await read(reference, pull);
  const accept = r.req.headers.accept;
  if (!accepts(accept, m.mediaType)) {
    throw new RegistryError(Codes.ManifestUnknown, `manifest is ${m.mediaType}, which the Accept header does not list`, {
      mediaType: m.mediaType,
    });
  }
  const headers = {
    'Content-Type': m.mediaType,
    'Docker-Content-Digest': m.digest,
    ETag: `"${m.digest}"`,
    'Content-Length': m.payload.length,
  };
  if (!pull) {
    send(r.res, 200, headers);
    return;
  }
  const budget = r.registry.ctx.budgets?.manifests;
  if (!budget) {
    send(r.res, 200, headers, m.payload);
    return;
  }
  let holds = shared.get(budget);
  if (!holds) shared.set(budget, (holds = new SharedHolds()));
  let payload = m.payload;
  let release = holds.join(payload);
  if (!release) {
    const granted = holdBytesNow(budget, payload.length);
    if (granted) release = holds.begin(payload, granted);
  }
  if (!release) {
    // Waiting holds only the digest: the manifest is read again once there is room.
    const digest = m.digest;
    m = undefined;
    payload = EMPTY;
    const granted = await holdBytes(budget, headers['Content-Length']);
    try {
      payload = (await read(parseReference(digest), false)).payload;
    } catch (e) {
      granted();
      throw e;
    }
    // Another response may have begun holding the same buffer meanwhile: count it once.
    const joined = holds.join(payload);
    if (joined) granted();
    release = joined ?? holds.begin(payload, granted);
  }
  send(r.res, 200, headers, payload);
  releaseWhenSent(r.res, release, r.signal);
}

/**
 * PUT by tag, or by digest with any number of `?tag=` parameters (distribution-spec, after
 * v1.1): the tags are written with the manifest, all or none, and each is confirmed in
 * `OCI-Tag`, one header line per tag: RFC 9110 makes that the same as one comma-joined line, but
 * clients that read the lines as values (Go's Header.Values, as the OCI conformance suite does)
 * only find a tag in a line of its own.
 */
export async function putManifest(r: OciRequest, name: string, referenceText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  const reference = parseReference(referenceText);
  const tags = r.url.searchParams.getAll('tag').map(parseTag);
  const payload = await readBody(r.req, r.registry.ctx.limits.maxManifestBytes);
  const from = r.principal.replication && { accountId: r.principal.accountId, region: r.principal.replication.sourceRegion };
  const pushed = await r.registry.manifests.push(scope, reference, payload, r.req.headers['content-type'], {
    extraTags: tags,
    pushedBy: r.principal.arn,
    maySign: maySignAs(r.authorizer, r.principal, r.req),
    ...(from && { replicatedFrom: from, createRepository: false }),
  });
  const headers: HeaderValues = {
    Location: repoPath(r.pathPrefix, name, 'manifests', pushed.digest),
    'Docker-Content-Digest': pushed.digest,
  };
  if (pushed.subject) headers['OCI-Subject'] = pushed.subject;
  if (tags.length > 0) headers['OCI-Tag'] = pushed.tags;
  send(r.res, 201, headers);
}

export async function deleteManifest(r: OciRequest, name: string, referenceText: string): Promise<void> {
  const scope = scopeOf(r, parseRepositoryName(name));
  await r.registry.manifests.delete(scope, parseReference(referenceText));
  send(r.res, 202);
}
