/** Pushing an image with the ECR API alone (no /v2): what tests of queues fed by pushes use. */
import { CompleteLayerUploadCommand, InitiateLayerUploadCommand, PutImageCommand, UploadLayerPartCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { sha256 } from '../../e2e/helpers/registry-http.js';

/**
 * Pushes a one-config image (layer upload, then PutImage) whose config names `salt`, so that
 * each salt is its own image; returns its digest and manifest (to put again under other tags).
 */
export async function pushImage(ecr: ECRClient, repositoryName: string, tag: string, salt = tag): Promise<{ digest: string; manifest: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag: salt }));
  const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
  await ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 0, partLastByte: config.length - 1, layerPartBlob: config }));
  await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256(config)] }));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [],
  });
  await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: tag }));
  return { digest: sha256(manifest), manifest };
}
