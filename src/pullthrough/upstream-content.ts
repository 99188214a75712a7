/**
 * What the pull-through cache reads from an upstream registry, each bounded and verified: a
 * manifest (≤ maxManifestBytes, its digest checked against the reference or the upstream's
 * word, within the timeout), the digest a tag names now, and the start of a blob's body (its
 * headers within the timeout, its announced size within the layer quota). Failures become the
 * registry's errors, naming the upstream and what it did.
 */
import type { Readable } from 'node:stream';
import { digestAlgorithm, digestOf, type Digest } from '../core/digest.js';
import { Codes, isRegistryError, RegistryError, type ErrorCode } from '../core/errors.js';
import { MediaTypes } from '../core/media-types.js';
import type { Reference, Tag } from '../core/names.js';
import { parseManifest } from '../registry/manifest-parse.js';
import type { PullThroughRule } from './rules.js';
import { drain, UpstreamError, type UpstreamClient, type UpstreamResponse } from './upstream.js';

export interface PulledManifest {
  digest: Digest;
  mediaType: string;
  payload: Buffer;
}

const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
  'application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1',
].join(', ');

/** The manifest from upstream, its digest verified (against the reference, or the upstream's word). */
export async function upstreamManifest(
  client: UpstreamClient,
  up: string,
  ref: Reference,
  limits: { timeoutMs: number; maxManifestBytes: number },
): Promise<PulledManifest> {
  const refText = ref.kind === 'tag' ? ref.tag : ref.digest;
  const what = `the manifest ${up}${ref.kind === 'tag' ? ':' : '@'}${refText}`;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let payload: Buffer;
  let res: UpstreamResponse;
  try {
    res = await client.request('GET', `/v2/${up}/manifests/${refText}`, { scope: pullScope(up), accept: MANIFEST_ACCEPT, signal });
    if (res.status !== 200) {
      await drain(res.body);
      throw answered(Codes.UpstreamImageUnavailable, client.base, what, res.status);
    }
    payload = await readBounded(res.body, limits.maxManifestBytes, `${what} from upstream ${client.base}`);
  } catch (e) {
    throw upstreamFailure(Codes.UpstreamImageUnavailable, client.base, what, e, limits.timeoutMs);
  }
  const digest = digestOf(payload, ref.kind === 'digest' ? digestAlgorithm(ref.digest) : 'sha256');
  const said = res.headers.get('docker-content-digest');
  if ((ref.kind === 'digest' && ref.digest !== digest) || (ref.kind === 'tag' && said?.startsWith('sha256:') && said !== digest)) {
    throw new RegistryError(Codes.UpstreamImageUnavailable, `upstream ${client.base} sent ${what} with the wrong digest (${digest})`);
  }
  const declared = res.headers.get('content-type')?.split(';')[0]?.trim();
  const mediaType = parseManifest(payload, declared || undefined).mediaType;
  return { digest, mediaType, payload };
}

/** The digest an upstream's tag names now (HEAD; GET when the upstream does not say). */
export async function upstreamTagDigest(
  client: UpstreamClient,
  up: string,
  tag: Tag,
  limits: { timeoutMs: number; maxManifestBytes: number },
): Promise<Digest> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const res = await client.request('HEAD', `/v2/${up}/manifests/${tag}`, { scope: pullScope(up), accept: MANIFEST_ACCEPT, signal });
  await drain(res.body);
  if (res.status !== 200) throw new UpstreamError(`upstream ${client.base} answered ${res.status} for ${up}:${tag}`, res.status);
  const said = res.headers.get('docker-content-digest');
  if (said && /^sha256:[0-9a-f]{64}$/.test(said)) return said as Digest;
  return (await upstreamManifest(client, up, { kind: 'tag', tag }, limits)).digest;
}

/** A blob's body from upstream (status 200), with its size when announced; headers within the timeout. */
export async function upstreamBlob(
  client: UpstreamClient,
  up: string,
  digest: Digest,
  limits: { timeoutMs: number; maxBytes: number },
): Promise<{ body: Readable; size: number | undefined }> {
  const what = `the blob ${digest} of ${up}`;
  const abort = new AbortController();
  const headers = setTimeout(() => abort.abort(), limits.timeoutMs);
  let res: UpstreamResponse;
  try {
    res = await client.request('GET', `/v2/${up}/blobs/${digest}`, { scope: pullScope(up), signal: abort.signal });
  } catch (e) {
    throw upstreamFailure(Codes.UpstreamLayerUnavailable, client.base, what, e, limits.timeoutMs);
  } finally {
    clearTimeout(headers);
  }
  if (res.status !== 200) {
    await drain(res.body);
    throw answered(Codes.UpstreamLayerUnavailable, client.base, what, res.status);
  }
  const length = res.headers.get('content-length');
  const size = length !== null && /^\d{1,15}$/.test(length) ? Number(length) : undefined;
  if (size !== undefined && size > limits.maxBytes) {
    res.body.destroy();
    throw new RegistryError(Codes.LayerQuotaExceeded, `${what} at upstream ${client.base} is ${size} bytes, over the layer size quota (${limits.maxBytes})`);
  }
  return { body: res.body, size };
}

/** The upstream repository a cache repository mirrors: the rule's prefix swapped for the upstream's. */
export function upstreamName(rule: Pick<PullThroughRule, 'ecrRepositoryPrefix' | 'upstreamRepositoryPrefix'>, name: string): string {
  const rest = name.slice(rule.ecrRepositoryPrefix.length + 1);
  const up = rule.upstreamRepositoryPrefix;
  return up === undefined || up === 'ROOT' ? rest : `${up.replace(/\/$/, '')}/${rest}`;
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** An upstream's answer other than 200: 404 is the content missing, 429 a retry, anything else the upstream failing. */
function answered(code: ErrorCode, base: string, what: string, status: number): RegistryError {
  if (status === 404) {
    const unknown = code === Codes.UpstreamLayerUnavailable ? Codes.BlobUnknown : Codes.ManifestUnknown;
    return new RegistryError(unknown, `upstream ${base} has no ${what} (404)`);
  }
  return new RegistryError(code, `upstream ${base} answered ${status} for ${what}`, { upstream: base, status }, status === 429 ? { retryAfterSeconds: 5 } : {});
}

function upstreamFailure(code: ErrorCode, base: string, what: string, e: unknown, timeoutMs: number): RegistryError {
  if (isRegistryError(e)) return e;
  if (e instanceof UpstreamError)
    return new RegistryError(code, `${e.message} (for ${what})`, { upstream: base, ...(e.status !== undefined && { status: e.status }) });
  const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
  const why = timedOut ? `did not answer within ${Math.round(timeoutMs / 1000)} s` : `failed (${e instanceof Error ? e.message : String(e)})`;
  return new RegistryError(code, `upstream ${base} ${why} for ${what}`, { upstream: base });
}

/** A body read whole, refused past `max` bytes. */
async function readBounded(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new UpstreamError(`${what} exceeds ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
