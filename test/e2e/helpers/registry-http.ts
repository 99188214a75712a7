/**
 * A minimal OCI Distribution client over fetch, for tests that must see the raw wire (status
 * codes, headers, exact bytes) or push without a client tool in the way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { authorizationFor } from './logins.js';
import { MediaTypes } from './oci-layout.js';

export const manifestAccept = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export const sha256 = (data: Uint8Array | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** fetch's types predate Buffer<ArrayBufferLike>; a view over the same memory satisfies them. */
export const asBody = (b: Buffer): BodyInit => new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.length);

export interface Fetched {
  status: number;
  headers: Headers;
  body: Buffer;
}

export async function request(url: string, init: RequestInit = {}): Promise<Fetched> {
  const headers = new Headers(init.headers);
  const auth = authorizationFor(url);
  if (auth && !headers.has('authorization')) headers.set('authorization', auth);
  const res = await fetch(url, { ...init, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** The first error code of an OCI error body, or undefined. */
export function errorCode(res: Fetched): string | undefined {
  try {
    return (JSON.parse(res.body.toString()) as { errors?: { code: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

export const getManifest = (base: string, repo: string, ref: string, method = 'GET') =>
  request(`${base}/v2/${repo}/manifests/${ref}`, { method, headers: { Accept: manifestAccept } });

export const getBlob = (base: string, repo: string, digest: string, method = 'GET') => request(`${base}/v2/${repo}/blobs/${digest}`, { method });

/** GETs a paginated listing, following `Link: <...>; rel="next"` until the end. */
async function paginate<T>(base: string, path: string, key: string): Promise<{ status: number; items: T[] }> {
  const items: T[] = [];
  let next: string | undefined = `${path}?n=100`;
  for (let pages = 0; next; pages++) {
    if (pages > 1000) throw new Error(`GET ${path}: pagination does not end`);
    const res = await request(new URL(next, base).toString());
    if (res.status !== 200) return { status: res.status, items };
    items.push(...((JSON.parse(res.body.toString()) as Record<string, T[] | null>)[key] ?? []));
    next = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
  }
  return { status: 200, items };
}

export async function listTags(base: string, repo: string): Promise<{ status: number; tags: string[] }> {
  const { status, items } = await paginate<string>(base, `/v2/${repo}/tags/list`, 'tags');
  return { status, tags: items };
}

export async function catalog(base: string): Promise<string[]> {
  const { status, items } = await paginate<string>(base, '/v2/_catalog', 'repositories');
  if (status !== 200) throw new Error(`GET /v2/_catalog → ${status}`);
  return items;
}

/** Resolves an upload Location (relative or absolute) and appends a query parameter. */
export function uploadUrl(base: string, location: string, query = ''): string {
  const url = new URL(location, base);
  if (query) url.search = url.search ? `${url.search}&${query}` : `?${query}`;
  return url.toString();
}

/** Starts an upload session and returns its absolute URL. */
export async function startUpload(base: string, repo: string): Promise<string> {
  const res = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = res.headers.get('location');
  if (res.status !== 202 || !location) throw new Error(`POST upload ${repo} → ${res.status} ${res.body.toString()}`);
  return uploadUrl(base, location);
}

/**
 * Pushes a blob: POST then either one PUT with the body (monolithic) or a PATCH with the body
 * followed by an empty PUT (what docker and containerd do). Returns the final response.
 */
export async function pushBlob(base: string, repo: string, data: Buffer, mode: 'put' | 'patch' = 'put'): Promise<Fetched> {
  const digest = sha256(data);
  let location = await startUpload(base, repo);
  if (mode === 'patch') {
    const res = await request(location, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: asBody(data),
    });
    const next = res.headers.get('location');
    if (res.status !== 202 || !next) throw new Error(`PATCH ${location} → ${res.status} ${res.body.toString()}`);
    location = uploadUrl(base, next);
    return request(uploadUrl(base, location, `digest=${digest}`), { method: 'PUT' });
  }
  return request(uploadUrl(base, location, `digest=${digest}`), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: asBody(data),
  });
}

export const pushManifest = (base: string, repo: string, ref: string, bytes: Buffer, mediaType: string) =>
  request(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: asBody(bytes) });

export interface TestImage {
  repo: string;
  tag: string;
  blobs: Map<string, Buffer>;
  manifest: Buffer;
  digest: string;
}

/** A small image of the given layers: a config naming them, a manifest naming both. */
export function makeImage(repo: string, tag: string, layers: Buffer[]): TestImage {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha256) }, nonce: randomBytes(8).toString('hex') }),
  );
  const blobs = new Map<string, Buffer>([[sha256(config), config], ...layers.map((l) => [sha256(l), l] as [string, Buffer])]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.manifest,
      config: { mediaType: MediaTypes.config, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: MediaTypes.layer, digest: sha256(l), size: l.length })),
    }),
  );
  return { repo, tag, blobs, manifest, digest: sha256(manifest) };
}

/** An OCI image manifest of `config` (a blob pushed beside it) and no layers, as JSON text. */
export function configOnlyManifest(config: Buffer): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.manifest,
    config: { mediaType: MediaTypes.config, digest: sha256(config), size: config.length },
    layers: [],
  });
}

/** What a numbered manifest holds beside its config: by default nothing (no layers). */
export interface NumberedParts {
  /** The config's media type; an image config's by default. */
  configMediaType?: string;
  /** Layers, each named as an uncompressed tar. */
  layers?: Buffer[];
  /** An artifact's type, and the manifest it refers to (a referrer). */
  artifactType?: string;
  subject?: Buffer;
}

/**
 * The n-th of many distinct OCI manifests over one config blob, told apart by an annotation: for
 * listings, quotas and tag races that want many images without as many blobs.
 */
export function numberedManifest(config: Buffer, n: number, parts: NumberedParts = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.manifest,
      ...(parts.artifactType !== undefined && { artifactType: parts.artifactType }),
      config: { mediaType: parts.configMediaType ?? MediaTypes.config, digest: sha256(config), size: config.length },
      layers: (parts.layers ?? []).map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
      ...(parts.subject && { subject: { mediaType: MediaTypes.manifest, digest: sha256(parts.subject), size: parts.subject.length } }),
      annotations: { n: String(n) },
    }),
  );
}
