/** Manifest media types Berth stores, and the ones it knows to refuse. */

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestMediaType =
  | typeof MediaTypes.ociManifest
  | typeof MediaTypes.ociIndex
  | typeof MediaTypes.dockerManifest
  | typeof MediaTypes.dockerManifestList;

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList]);

export function isManifestMediaType(s: string): s is ManifestMediaType {
  return MANIFEST_TYPES.has(s);
}

export function isIndexMediaType(s: string): boolean {
  return s === MediaTypes.ociIndex || s === MediaTypes.dockerManifestList;
}

/**
 * Layers a registry is not expected to hold (Windows foreign layers, OCI non-distributable
 * layers): clients fetch them from their `urls`, so a manifest may reference them without
 * uploading them.
 */
export function isForeignLayer(mediaType: string): boolean {
  return mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' || mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.');
}

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/**
 * A container image (something with a file system to scan), as opposed to an index or an
 * artifact: a manifest whose artifact type, if any, is just its image config's media type.
 */
export function isContainerImage(mediaType: string, artifactType: string | undefined): boolean {
  return !isIndexMediaType(mediaType) && (artifactType === undefined || IMAGE_CONFIG_TYPES.has(artifactType));
}
