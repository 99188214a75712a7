/**
 * The documents the OCI conformance suite's Ginkgo workflows (distribution-spec v1.1,
 * `conformance/setup.go`) push, built the same way: one config and one image manifest per
 * workflow (index 0 pull, 1 push, 2 discovery, 3 management, 4 the referrers' subject), each
 * config descriptor carrying `data` and an unknown `newUnspecifiedField`; a manifest with no
 * layers and no mediaType; five referrers of manifest 4 (artifactType in the config media type,
 * in `artifactType`, and an index), one referrer of a manifest never pushed.
 */
import { randomBytes } from 'node:crypto';
import { digestOf, goIndent } from './conformance-client.js';

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGz: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

export interface Doc {
  content: Buffer;
  digest: string;
}

const doc = (content: Buffer): Doc => ({ content, digest: digestOf(content) });

/** setup.go's layerBase64String: a small tar.gz of one text file. */
const LAYER_BASE64 =
  'H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0' +
  'WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD' +
  'jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA';

export const ANNOTATION_KEY = 'org.opencontainers.conformance.test';
export const ARTIFACT_A = 'application/vnd.nhl.peanut.butter.bagel';
export const ARTIFACT_B = 'application/vnd.nba.strawberry.jam.croissant';
export const ARTIFACT_INDEX = 'application/vnd.food.stand';

const desc = (mediaType: string, d: Doc) => ({ mediaType, digest: d.digest, size: d.content.length, newUnspecifiedField: null });

export function v11Data() {
  const configs = Array.from({ length: 5 }, () =>
    doc(goIndent({ author: randomBytes(8).toString('hex'), architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })),
  );
  const layer = doc(Buffer.from(LAYER_BASE64, 'base64'));
  const configDesc = (c: Doc) => ({
    mediaType: MT.config,
    digest: c.digest,
    size: c.content.length,
    data: c.content.toString('base64'),
    newUnspecifiedField: Buffer.from('hello world').toString('base64'),
  });
  const manifests = configs.map((c) => doc(goIndent({ schemaVersion: 2, mediaType: MT.manifest, config: configDesc(c), layers: [desc(MT.layerGz, layer)] })));
  // No mediaType at all: the suite's manifest "with no layers".
  const emptyLayer = doc(goIndent({ schemaVersion: 2, config: configDesc(configs[1]!), layers: [] }));

  const emptyJson = doc(Buffer.from('{}'));
  const refBlobA = doc(Buffer.from('NHL Peanut Butter on my NHL bagel'));
  const refBlobB = doc(Buffer.from('NBA Strawberry Jam on my NBA croissant'));
  const subject = desc(MT.manifest, manifests[4]!);
  const configArtifact = (blob: Doc, type: string, note: string) =>
    doc(
      goIndent({
        schemaVersion: 2,
        mediaType: MT.manifest,
        config: desc(type, blob),
        layers: [desc(MT.empty, emptyJson)],
        subject,
        annotations: { [ANNOTATION_KEY]: note },
      }),
    );
  const layerArtifact = (blob: Doc, type: string, note: string | undefined, subj = subject) =>
    doc(
      goIndent({
        schemaVersion: 2,
        mediaType: MT.manifest,
        artifactType: type,
        config: desc(MT.empty, emptyJson),
        layers: [desc(type, blob)],
        subject: subj,
        ...(note !== undefined && { annotations: { [ANNOTATION_KEY]: note } }),
      }),
    );
  const aConfig = configArtifact(refBlobA, ARTIFACT_A, 'test config a');
  const bConfig = configArtifact(refBlobB, ARTIFACT_B, 'test config b');
  const aLayer = layerArtifact(refBlobA, ARTIFACT_A, 'test layer a');
  const bLayer = layerArtifact(refBlobB, ARTIFACT_B, 'test layer b');
  // Same as bLayer but of a subject that is never pushed.
  const cLayer = layerArtifact(refBlobB, ARTIFACT_B, undefined, desc(MT.manifest, manifests[3]!));
  const refIndex = doc(
    goIndent({
      schemaVersion: 2,
      mediaType: MT.index,
      artifactType: ARTIFACT_INDEX,
      manifests: [desc(MT.manifest, aConfig), desc(MT.manifest, aLayer)],
      subject,
      annotations: { [ANNOTATION_KEY]: 'test index' },
    }),
  );
  const annotations = new Map<string, string>([
    [aConfig.digest, 'test config a'],
    [bConfig.digest, 'test config b'],
    [aLayer.digest, 'test layer a'],
    [bLayer.digest, 'test layer b'],
    [refIndex.digest, 'test index'],
  ]);

  const blobA = doc(randomBytes(42));
  const blobB = doc(randomBytes(42));
  return {
    configs,
    layer,
    manifests,
    emptyLayer,
    emptyJson,
    refBlobA,
    refBlobB,
    aConfig,
    bConfig,
    aLayer,
    bLayer,
    cLayer,
    refIndex,
    annotations,
    blobA,
    blobB,
    /** setupChunkedBlob(42): the first chunk is 22 bytes, the second 20. */
    chunk1: blobB.content.subarray(0, 22),
    chunk2: blobB.content.subarray(22),
    dummyDigest: digestOf('hello world'),
  };
}
