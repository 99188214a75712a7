import { S3Client } from '@aws-sdk/client-s3';
import type { S3Location } from './s3-location.js';

/**
 * An SDK client for a location. `endpoint` overrides the location's (for the presigning client).
 * Checksums only where S3 requires them: Ceph pacific and older MinIO reject the SDK's newer
 * default of CRC32 trailers on every upload; parts carry a Content-MD5 of our own instead.
 */
export function createS3Client(loc: S3Location, endpoint = loc.endpoint): S3Client {
  return new S3Client({
    region: loc.region,
    ...(endpoint && { endpoint }),
    forcePathStyle: loc.forcePathStyle,
    // AWS_ENDPOINT_URL points the aws CLI at Berth itself (see design.md); the SDK would obey it
    // too and send blobs to Berth. The endpoint comes from Berth's config or nowhere.
    ignoreConfiguredEndpointUrls: true,
    ...(loc.credentials && { credentials: loc.credentials }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Blob reads are held open for as long as a client takes to download; 50 (the default) would
    // let a few slow pulls starve every other request.
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: 512 }, httpsAgent: { keepAlive: true, maxSockets: 512 } },
  });
}
