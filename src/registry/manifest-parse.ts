/**
 * Parses and validates a pushed manifest (OCI image manifest or index, Docker schema 2 manifest
 * or manifest list) and extracts what the registry must know about it: which blobs and child
 * manifests it references, its subject (for referrers) and its artifact type.
 */
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import { MediaTypes, isForeignLayer, isIndexMediaType, isManifestMediaType, type ManifestMediaType } from '../core/media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: ManifestMediaType;
  /** Blobs that must exist in the repository (config and distributable layers). */
  blobs: Digest[];
  /**
   * The distributable layers in their order (repeats kept): the layers the repository holds, so
   * the only ones anything may read on its behalf (a scan). Empty for an index.
   */
  layers: Digest[];
  /** Child manifests that must exist in the repository (index entries). */
  manifests: Digest[];
  /** The size the descriptors declare for each of `blobs` and `manifests` (the store checks it against what it holds). */
  sizes: Map<Digest, number>;
  subject?: Descriptor;
  /** The referrers API's artifactType: the field itself, else the config's media type. */
  artifactType?: string;
  configMediaType?: string;
  annotations?: Record<string, string>;
}

/** Bounds a hostile manifest can't exceed whatever its byte size. */
const MAX_DESCRIPTORS = 10_000;

function invalid(message: string, detail?: unknown): never {
  throw new RegistryError(Codes.ManifestInvalid, message, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseAnnotations(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    invalid(`${where}.annotations must be a map of strings`);
  }
  return v as Record<string, string>;
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, artifactType } = v;
  if (typeof mediaType !== 'string' || mediaType.length === 0 || mediaType.length > 255) {
    invalid(`${where}.mediaType must be a non-empty string`);
  }
  if (typeof digest !== 'string' || !isDigest(digest)) invalid(`${where}.digest is not a valid digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    invalid(`${where}.size must be a non-negative integer`);
  }
  if (artifactType !== undefined && typeof artifactType !== 'string') invalid(`${where}.artifactType must be a string`);
  if (v.data !== undefined) checkEmbeddedData(v.data, digest, size, where);
  const d: Descriptor = { mediaType, digest, size };
  if (artifactType !== undefined) d.artifactType = artifactType;
  const annotations = parseAnnotations(v.annotations, where);
  if (annotations) d.annotations = annotations;
  return d;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A descriptor's `data` is the content itself (image-spec descriptor.md): base64 that MUST decode
 * to exactly the bytes the digest and size name. Refused otherwise, as a client reading the
 * embedded copy instead of the blob would get other content than the digest promises.
 */
function checkEmbeddedData(data: unknown, digest: Digest, size: number, where: string): void {
  if (typeof data !== 'string' || !BASE64_RE.test(data)) invalid(`${where}.data must be base64 (RFC 4648)`);
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== size || digestOf(bytes, digestAlgorithm(digest)) !== digest) {
    invalid(`${where}.data does not match the descriptor's digest and size`, { digest, size, dataSize: bytes.length });
  }
}

/**
 * Each referenced digest's declared size; one digest declared with two sizes is a contradiction
 * no content can satisfy.
 */
function declaredSizes(descriptors: Array<[Descriptor, string]>): Map<Digest, number> {
  const sizes = new Map<Digest, number>();
  for (const [d, where] of descriptors) {
    const seen = sizes.get(d.digest);
    if (seen !== undefined && seen !== d.size) invalid(`${where}.size ${d.size} contradicts another descriptor of ${d.digest} (size ${seen})`);
    sizes.set(d.digest, d.size);
  }
  return sizes;
}

function parseDescriptorList(v: unknown, where: string): Descriptor[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid(`${where} must be an array`);
  if (v.length > MAX_DESCRIPTORS) invalid(`${where} has more than ${MAX_DESCRIPTORS} entries`);
  return v.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/**
 * Determines the media type from the body's `mediaType` and the request's Content-Type. A
 * manifest whose body names a type must be pushed as that type; a body without one (allowed by
 * OCI) takes the Content-Type. A Docker schema 2 body must name its type on /v2, as the
 * reference registry requires; ECR's PutImage instead lets `imageManifestMediaType` say it
 * (`typeDeclared`), since the bytes, and so the digest, can't be changed to add it.
 */
function resolveMediaType(body: Record<string, unknown>, contentType: string | undefined, typeDeclared: boolean): ManifestMediaType {
  const declared = body.mediaType;
  const header = contentType?.split(';')[0]?.trim().toLowerCase();
  if (declared !== undefined && typeof declared !== 'string') invalid('mediaType must be a string');
  const type = (declared as string | undefined) ?? header;
  if (!type) invalid('manifest has no mediaType and the request no Content-Type');
  if (!isManifestMediaType(type)) {
    throw new RegistryError(Codes.Unsupported, `manifest media type ${type.slice(0, 100)} is not supported`);
  }
  if (declared !== undefined && header && header !== declared && isManifestMediaType(header)) {
    invalid(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
  }
  if (declared === undefined && !typeDeclared && (type === MediaTypes.dockerManifest || type === MediaTypes.dockerManifestList)) {
    invalid('a Docker schema 2 manifest must declare its mediaType');
  }
  return type;
}

export function parseManifest(bytes: Buffer, contentType: string | undefined, opts: { typeDeclared?: boolean } = {}): ParsedManifest {
  const header = contentType?.split(';')[0]?.trim().toLowerCase();
  if (header && !isManifestMediaType(header) && header !== 'application/json' && header !== 'application/octet-stream') {
    throw new RegistryError(Codes.Unsupported, `manifest media type ${header.slice(0, 100)} is not supported`);
  }
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    invalid('manifest is not valid JSON');
  }
  if (!isObject(body)) invalid('manifest must be a JSON object');
  if (body.schemaVersion !== 2) {
    if (body.schemaVersion === 1) throw new RegistryError(Codes.Unsupported, 'schema 1 manifests are not supported');
    invalid('schemaVersion must be 2');
  }
  const mediaType = resolveMediaType(body, header, opts.typeDeclared ?? false);
  const subject = body.subject === undefined ? undefined : parseDescriptor(body.subject, 'subject');
  const artifactType = body.artifactType;
  if (artifactType !== undefined && (typeof artifactType !== 'string' || artifactType.length > 255)) {
    invalid('artifactType must be a string');
  }
  const annotations = parseAnnotations(body.annotations, 'manifest');
  const parsed: ParsedManifest = { mediaType, blobs: [], layers: [], manifests: [], sizes: new Map() };
  if (subject) parsed.subject = subject;
  if (annotations) parsed.annotations = annotations;

  // A body with the fields of both kinds reads as a manifest to one client and as an index to
  // another (CVE-2021-41190): refused, as distribution (2.8) refuses it and containerd refuses to pull it.
  if (isIndexMediaType(mediaType) ? body.config !== undefined || body.layers !== undefined : body.manifests !== undefined) {
    invalid(isIndexMediaType(mediaType) ? 'an index must not have config or layers' : 'an image manifest must not have a manifests field');
  }
  if (isIndexMediaType(mediaType)) {
    if (body.manifests === undefined) invalid('an index must have a manifests array');
    const children = parseDescriptorList(body.manifests, 'manifests');
    parsed.manifests = [...new Set(children.map((c) => c.digest))];
    parsed.sizes = declaredSizes(children.map((c, i) => [c, `manifests[${i}]`]));
    if (artifactType !== undefined) parsed.artifactType = artifactType as string;
    return parsed;
  }

  if (body.config === undefined) invalid('an image manifest must have a config descriptor');
  const config = parseDescriptor(body.config, 'config');
  if (body.layers === undefined && mediaType === MediaTypes.dockerManifest) invalid('layers is required');
  const layers = parseDescriptorList(body.layers, 'layers');
  const distributable = layers.filter((l) => !isForeignLayer(l.mediaType)).map((l) => l.digest);
  parsed.sizes = declaredSizes([
    [config, 'config'],
    ...layers.flatMap((l, i): Array<[Descriptor, string]> => (isForeignLayer(l.mediaType) ? [] : [[l, `layers[${i}]`]])),
  ]);
  parsed.blobs = [...new Set<Digest>([config.digest, ...distributable])];
  parsed.layers = distributable;
  parsed.configMediaType = config.mediaType;
  parsed.artifactType = (artifactType as string | undefined) ?? config.mediaType;
  return parsed;
}
